//! Listings that extend themselves (挂牌期间 with 是否自动延期 `POST_PONE` = 1): when the listing
//! window ends and the procedure has no result yet (no 意向受让方 came), the exchange extends the
//! listing by the agreed number of working days (`POSTPONE_DAYS`, else the `extend_days`
//! parameter of the rule that set the window: each extension at least 5 working days, as the
//! property exchanges' rules have it). The enforcement service asks this when a `listing`
//! window's timer falls due, and extends the window instead of announcing it closed.

use super::counting::{end_date, end_of_day};
use super::{Engine, ProcedureState, UnknownYear, Window};
use crate::notice::Notice;
use crate::schema::Kind;

/// The listing window after one more extension, or `None` when it simply closes: the listing
/// does not extend itself (`POST_PONE` ≠ 1), a result of its procedure is known (an accepted
/// award-kind stage in `procedures`), or no extension length is given by the record or by the
/// rule that set the window (no guess). `Err` when the calendar lacks the year.
pub fn extended_listing(
    engine: &Engine<'_>,
    notice: &Notice,
    procedures: &[&ProcedureState],
    window: &Window,
    region: Option<&str>,
) -> Result<Option<Window>, UnknownYear> {
    let text = |field: &str| {
        notice
            .canonical
            .get(field)
            .and_then(serde_json::Value::as_str)
    };
    if text("POST_PONE") != Some("1") || procedures.iter().any(|p| p.has(Kind::Award)) {
        return Ok(None);
    }
    let days = text("POSTPONE_DAYS")
        .and_then(|d| d.parse::<u32>().ok())
        .or_else(|| {
            engine
                .catalogue
                .rules()
                .filter(|r| r.param_str("window") == Some("listing"))
                .filter(|r| engine.applies_to(r, &notice.table, &notice.canonical))
                .filter_map(|r| engine.catalogue.effective(&r.id, region))
                .find_map(|r| r.param_u32("extend_days"))
        })
        .filter(|d| *d > 0);
    let Some(days) = days else {
        return Ok(None);
    };
    let last = engine
        .calendar
        .add_working_days(end_date(&window.end), days)?;
    Ok(Some(Window {
        start: window.start,
        end: end_of_day(last),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Document, Limits, Schemas, check_record};

    fn listing(extra: &str) -> Notice {
        let xml = format!(
            "<STOCK_LISTING_PUB_INFO><PROJECT_NAME>股权转让</PROJECT_NAME><PROJECT_CODE>P1</PROJECT_CODE>\
             <UNIFIED_DEAL_CODE>U1</UNIFIED_DEAL_CODE><SELLER_NAME>某集团</SELLER_NAME><TOTAL_PERCENT>51%</TOTAL_PERCENT>\
             <PROJECT_PRICE>100</PROJECT_PRICE><PRICE_UNIT>万元</PRICE_UNIT><PUBLISH_DURATION>20</PUBLISH_DURATION>\
             <PUBLISH_DATE>2025-03-03</PUBLISH_DATE>{extra}<PLATFORM_CODE>JSCQ</PLATFORM_CODE>\
             <DATA_TIMESTAMP>2025-03-02 17:00</DATA_TIMESTAMP></STOCK_LISTING_PUB_INFO>"
        );
        let doc = Document::parse(xml.as_bytes(), Limits::default()).expect("parses");
        let raw = doc.records().remove(0);
        let engine = Engine::embedded();
        let checked = check_record(Schemas::embedded(), engine.catalogue, &raw);
        checked.notice.expect("a valid listing")
    }

    fn window() -> Window {
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).expect("instant");
        Window {
            start: at("2025-03-03T00:00:00+08:00"),
            end: at("2025-04-01T00:00:00+08:00"),
        }
    }

    #[test]
    fn an_auto_extending_listing_without_a_result_extends_by_working_days() {
        let engine = Engine::embedded();
        let n = listing("<POST_PONE>1</POST_PONE>");
        let state = ProcedureState::new(n.procedure.clone());
        // Ends with 03-31; 5 working days after it: 04-01..04-03, then 清明 (04-04..06), 04-07, 04-08.
        let w = extended_listing(&engine, &n, &[&state], &window(), None)
            .expect("calendar")
            .expect("extended");
        assert_eq!(w.end.to_rfc3339(), "2025-04-09T00:00:00+08:00");
        assert_eq!(w.start, window().start);
        // The record's own extension length wins over the rule's.
        let n = listing("<POST_PONE>1</POST_PONE><POSTPONE_DAYS>1</POSTPONE_DAYS>");
        let w = extended_listing(&engine, &n, &[&state], &window(), None)
            .expect("calendar")
            .expect("extended");
        assert_eq!(w.end.to_rfc3339(), "2025-04-02T00:00:00+08:00");
    }

    #[test]
    fn a_listing_without_auto_extension_or_with_a_result_closes() {
        let engine = Engine::embedded();
        let n = listing("<POST_PONE>0</POST_PONE>");
        let state = ProcedureState::new(n.procedure.clone());
        assert_eq!(
            extended_listing(&engine, &n, &[&state], &window(), None).expect("calendar"),
            None
        );
        let n = listing("<POST_PONE>1</POST_PONE>");
        let mut state = ProcedureState::new(n.procedure.clone());
        let mut result = n.clone();
        result.kind = Kind::Award;
        result.id = "result".into();
        state.record(
            &result,
            super::super::StageStatus::Published,
            Default::default(),
        );
        assert_eq!(
            extended_listing(&engine, &n, &[&state], &window(), None).expect("calendar"),
            None
        );
    }
}
