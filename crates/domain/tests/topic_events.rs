//! Every topic event type round-trips through its JSON Schema in `schemas/topics/`: events built
//! from the sample notices the way the services build them pass their topic's schema, decode back
//! to the same value, and an event the schema refuses does not decode either.

use chrono::{TimeZone, Utc};
use gongshi_domain::events::{
    self, Decision, DocumentRejected, Envelope, Event, NoticeDecided, NoticePublished,
    NoticeReceived, NoticeValid, Problem, PublicEvent, RecordInvalid, RecordReleased, WindowClosed,
    topics,
};
use gongshi_domain::period::{Engine, Ledger, Outcome};
use gongshi_domain::rules::Catalogue;
use gongshi_domain::values::datetime::shanghai;
use gongshi_domain::{Document, Limits, Notice, Schemas, check_record};
use serde_json::Value;
use std::path::PathBuf;

fn validator(topic: &str) -> jsonschema::Validator {
    events::schema_validator(topic).expect("topic schema compiles")
}

/// The envelope passes its topic's schema, and decodes back to an event that serialises to the
/// same JSON.
fn round_trip<E: Event>(event: &E) -> Value {
    let envelope = event.envelope();
    let wire = serde_json::to_value(&envelope).expect("envelope JSON");
    let errors: Vec<String> = validator(E::TOPIC)
        .iter_errors(&wire)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{} refused by its schema: {errors:#?}",
        E::TYPE
    );
    let read: Envelope = serde_json::from_value(wire.clone()).expect("envelope decodes");
    assert_eq!(read.event_type, E::TYPE);
    assert_eq!(read.id, event.event_id());
    assert_eq!(read.key, event.key());
    let decoded: E = read.decode().expect("payload decodes");
    assert_eq!(
        serde_json::to_value(&decoded).expect("JSON"),
        envelope.payload,
        "{} changed in a round trip",
        E::TYPE
    );
    wire
}

/// The sample works procedure (tender, candidates, award), checked and judged as the pipeline does.
fn sample_notices() -> Vec<(Notice, gongshi_domain::period::Verdict)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/notices/works-procedure.xml");
    let bytes = std::fs::read(path).expect("sample");
    let doc = Document::parse(&bytes, Limits::default()).expect("sample parses");
    let (schemas, catalogue) = (Schemas::embedded(), Catalogue::embedded());
    let engine = Engine::embedded();
    let now = shanghai().with_ymd_and_hms(2025, 6, 1, 9, 0, 0).unwrap();
    let mut ledger = Ledger::new();
    let mut notices = Vec::new();
    for (i, raw) in doc.records().iter().enumerate() {
        let checked = check_record(schemas, catalogue, raw);
        let notice = checked.notice.clone().expect("sample record is valid");
        for (index, verdict) in ledger.submit(&engine, i, notice.clone(), now) {
            assert_eq!(index, i, "nothing parks in the sample");
            notices.push((notice.clone(), verdict));
        }
    }
    notices
}

fn published(notice: &Notice, verdict: &gongshi_domain::period::Verdict) -> NoticePublished {
    let mut public = notice.clone();
    public.canonical = notice.public_record(Schemas::embedded());
    let at = Utc.with_ymd_and_hms(2025, 6, 1, 1, 0, 0).unwrap();
    NoticePublished::new(&public, verdict, at, notice.region.clone())
}

#[test]
fn received_and_rejected_documents() {
    round_trip(&NoticeReceived {
        receipt: "0190f0aa-0000-7000-8000-000000000001".into(),
        content_type: "application/xml".into(),
        records: 3,
    });
    let unreadable = Document::parse(b"<a><b></a>", Limits::default()).expect_err("not XML");
    round_trip(&DocumentRejected {
        receipt: "r1".into(),
        errors: vec![Problem {
            rule: unreadable.rule().to_owned(),
            path: String::new(),
            message: unreadable.to_string(),
            severity: None,
            released: None,
        }],
    });
}

#[test]
fn valid_and_invalid_records() {
    for (i, (notice, _)) in sample_notices().into_iter().enumerate() {
        let mut public = notice.clone();
        public.canonical = notice.public_record(Schemas::embedded());
        let wire = round_trip(&NoticeValid {
            receipt: "r1".into(),
            index: i32::try_from(i).expect("small"),
            notice: public,
            warnings: Vec::new(),
        });
        assert_eq!(wire["key"], notice.procedure.to_string());
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas/tables/examples/BID_DEAL_ANNOUNCE/invalid/negative_win_price.json");
    let doc =
        Document::parse(&std::fs::read(path).expect("example"), Limits::default()).expect("parses");
    let raw = &doc.records()[0];
    let checked = check_record(Schemas::embedded(), Catalogue::embedded(), raw);
    assert!(!checked.is_valid());
    round_trip(&RecordInvalid {
        receipt: "r2".into(),
        index: 0,
        table: checked.table.clone(),
        errors: checked.errors().map(Problem::from).collect(),
        warnings: checked.warnings().map(Problem::from).collect(),
        canonical: checked.canonical().cloned(),
    });
}

#[test]
fn operator_decisions() {
    round_trip(&RecordReleased {
        receipt: "r1".into(),
        index: 2,
        rule: "USCC-CHECK".into(),
        released_by: "wang".into(),
        reason: "已在国家企业信用信息公示系统核实".into(),
    });
    for (notice, _) in sample_notices() {
        for (decision, rules, quarantine_id) in [
            (Decision::Release, vec!["BID-DOC-PERIOD".to_owned()], None),
            (Decision::Discard, Vec::new(), None),
            // A discarded publication the relay set aside.
            (Decision::Discard, Vec::new(), Some(12)),
        ] {
            let wire = round_trip(&NoticeDecided {
                decision,
                notice_id: notice.id.clone(),
                procedure: notice.procedure.to_string(),
                receipt: "r1".into(),
                index: 0,
                rules,
                decided_by: "wang".into(),
                reason: "中心复核后决定".into(),
                audit_id: 7,
                quarantine_id,
            });
            assert_eq!(wire["key"], notice.procedure.to_string());
        }
    }
}

#[test]
fn published_notices_and_closed_windows() {
    let notices = sample_notices();
    assert!(notices.iter().all(|(_, v)| v.outcome != Outcome::Park));
    let mut windows = 0;
    for (notice, verdict) in &notices {
        let event = published(notice, verdict);
        let wire = round_trip(&event);
        match PublicEvent::decode(&serde_json::from_value(wire).expect("envelope")) {
            Ok(PublicEvent::Published(p)) => assert_eq!(*p, event),
            other => panic!("decoded as {other:?}"),
        }
        for (name, window) in &verdict.windows {
            windows += 1;
            let closed = WindowClosed {
                notice_id: notice.id.clone(),
                window: name.clone(),
                start: window.start,
                end: window.end,
                procedure: notice.procedure.to_string(),
                procedures: notice.procedures.iter().map(ToString::to_string).collect(),
                title: notice.title.clone(),
                closed_at: window.end.with_timezone(&Utc),
                kind: Some(notice.kind),
                regime: Some(notice.regime),
                region: notice.region.clone(),
                notice_status: Some(gongshi_domain::lifecycle::Status::Closed),
            };
            round_trip(&closed);
            // An event from before window events carried kind, regime and region still decodes.
            let mut old = closed.envelope();
            for field in ["kind", "regime", "region"] {
                old.payload.as_object_mut().expect("object").remove(field);
            }
            assert!(validator(topics::PUBLIC).is_valid(&serde_json::to_value(&old).expect("JSON")));
            let decoded: WindowClosed = old.decode().expect("old window event decodes");
            assert_eq!(
                (decoded.kind, decoded.window.as_str()),
                (None, name.as_str())
            );
        }
    }
    assert!(windows > 0, "the sample tender has legal windows");
}

#[test]
fn what_the_schema_refuses_does_not_decode() {
    let (notice, verdict) = &sample_notices()[0];
    let good = published(notice, verdict).envelope();
    for field in ["notice_id", "kind", "published_at", "windows"] {
        let mut bad = good.clone();
        bad.payload.as_object_mut().expect("object").remove(field);
        let wire = serde_json::to_value(&bad).expect("JSON");
        assert!(
            !validator(topics::PUBLIC).is_valid(&wire),
            "schema accepted a payload without {field}"
        );
        assert!(
            PublicEvent::decode(&bad).is_err(),
            "decoded a payload without {field}"
        );
    }
    // A payload of the wrong shape is named down to the field.
    let mut nested = good.clone();
    nested.payload["windows"] = serde_json::json!({"bid": {"start": 7}});
    let message = PublicEvent::decode(&nested)
        .expect_err("a window starting at a number")
        .to_string();
    assert!(
        message.contains(&format!("event {}", nested.id))
            && message.contains("payload field 'windows.bid.start'"),
        "{message}"
    );
    let mut wrong_type = good.clone();
    wrong_type.event_type = "notice.withdrawn".into();
    assert!(PublicEvent::decode(&wrong_type).is_err());
    assert!(wrong_type.decode::<NoticePublished>().is_err());
}
