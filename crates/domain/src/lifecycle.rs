//! A published notice's lifecycle status, as bidders filter by it (search, feeds, the stream,
//! webhooks) and as the notice pages show it. Decided here once:
//!
//! - publication leaves a tender or amendment `open`, a candidate publicity in `publicity`, an
//!   award `awarded`, a termination `terminated` ([`Status::on_publication`]);
//! - the closing of its `bid` or `publicity` window leaves it `closed` ([`Status::after_window`]);
//! - an award or termination of its procedure settles every notice of the procedure
//!   ([`Status::settled_by`]), and nothing later reopens a settled notice; a closed one reopens
//!   only when an amendment of its stage is published while that amendment's window still
//!   runs and holds it (a postponement that reached gongshi after the old deadline: publish's
//!   indexer, as [`Status::at`] counts from the window in force);
//! - a notice of several sections (标段) has a status in each section's procedure, and stands
//!   where its most open section stands ([`Status::most_open`]): a tender whose first section was
//!   terminated is still open for bids in the second;
//! - a termination ends a round of the procedure, and a tender notice sent after it (重新招标,
//!   招标投标法实施条例 第四十四条) opens the next ([`round_of`]): the re-tender and what follows it
//!   stand by their own round, while the notices before it stay terminated.

use crate::period::Window;
use crate::schema::Kind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a published notice stands. Ordered from the most open to the most settled, as
/// [`Status::ALL`] lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// 招标中: bids or responses are accepted.
    Open,
    /// 公示中: the candidate publicity runs.
    Publicity,
    /// 已截止: its bid or publicity window closed.
    Closed,
    /// 已定标: an award of its procedure was published.
    Awarded,
    /// 已终止: a termination of its procedure was published.
    Terminated,
}

impl Status {
    /// Every status, in the order filters list them.
    pub const ALL: [Status; 5] = [
        Status::Open,
        Status::Publicity,
        Status::Closed,
        Status::Awarded,
        Status::Terminated,
    ];

    /// Its name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Publicity => "publicity",
            Status::Closed => "closed",
            Status::Awarded => "awarded",
            Status::Terminated => "terminated",
        }
    }

    /// The status of a wire name.
    pub fn parse(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Its Chinese name, as the public pages show it.
    pub const fn zh(self) -> &'static str {
        match self {
            Status::Open => "招标中",
            Status::Publicity => "公示中",
            Status::Closed => "已截止",
            Status::Awarded => "已定标",
            Status::Terminated => "已终止",
        }
    }

    /// The status a notice of `kind` is in once published.
    pub fn on_publication(kind: Kind) -> Status {
        match kind {
            Kind::Tender | Kind::Amendment => Status::Open,
            Kind::Candidates => Status::Publicity,
            Kind::Award => Status::Awarded,
            Kind::Termination => Status::Terminated,
            // Never published (recorded only); a filter never sees it.
            Kind::Objection => Status::Open,
        }
    }

    /// The status the publication of a notice of `kind` gives every other notice of its
    /// procedure: an award or a termination settles them; other kinds leave them be.
    pub fn settled_by(kind: Kind) -> Option<Status> {
        match kind {
            Kind::Award => Some(Status::Awarded),
            Kind::Termination => Some(Status::Terminated),
            _ => None,
        }
    }

    /// What an award or termination of its procedure (`kind`, see [`Status::settled_by`]) makes
    /// of a notice now in `self`: `None` when it stays as it is. A termination outranks an award
    /// whichever came first, as [`Status::at`] decides.
    pub fn settled(self, kind: Kind) -> Option<Status> {
        let to = Status::settled_by(kind)?;
        (self != to && self != Status::Terminated).then_some(to)
    }

    /// The most open of `statuses` (`None` for none): where a notice of several sections stands.
    pub fn most_open(statuses: impl IntoIterator<Item = Status>) -> Option<Status> {
        statuses.into_iter().min()
    }

    /// The status the closing of window `window` leaves its notice in: `closed` for `bid` and
    /// `publicity`; other windows (documents, announcement, challenge) change nothing.
    pub fn after_window(window: &str) -> Option<Status> {
        matches!(window, "bid" | "publicity" | "listing").then_some(Status::Closed)
    }

    /// The status window `window` keeps its stage's notices in while it runs: `open` for `bid`
    /// and `listing` (the tender, its re-sent versions and its amendments), `publicity` for
    /// `publicity` (the candidates and theirs). Its closing closes every notice of the procedure
    /// in that status, whichever of them set the window in force.
    pub fn held_by(window: &str) -> Option<Status> {
        match window {
            "bid" | "listing" => Some(Status::Open),
            "publicity" => Some(Status::Publicity),
            _ => None,
        }
    }

    /// Whether window `window` still counts for a notice in this status: a bid or listing
    /// window for an open notice, a publicity window for one in publicity, any other window
    /// (documents, announcement, challenge) always. A deadline a settled section's amendment set
    /// is no deadline a bidder can still meet.
    pub fn still_counts(self, window: &str) -> bool {
        Status::held_by(window).is_none_or(|held| held == self)
    }

    /// Whether a window closing may still change it (a closed or settled notice stays so).
    pub fn may_close(self) -> bool {
        matches!(self, Status::Open | Status::Publicity)
    }

    /// The status at `now` of a published notice of `kind` with its `windows` (those in force:
    /// a later notice of its stage may have moved them), given the kinds of the other published
    /// notices of its procedure. Settled by an award or termination of the procedure; closed once
    /// a later stage was published (a tender whose candidates are out takes no more bids, even if
    /// an amendment moved its deadline); else open or in publicity while its window runs.
    pub fn at(
        kind: Kind,
        windows: &BTreeMap<String, Window>,
        procedure_kinds: &[Kind],
        now: DateTime<Utc>,
    ) -> Status {
        let own = Status::on_publication(kind);
        if matches!(own, Status::Awarded | Status::Terminated) {
            return own;
        }
        // A termination outranks an award: it ends the procedure whatever came before.
        for settling in [Kind::Termination, Kind::Award] {
            if procedure_kinds.contains(&settling)
                && let Some(status) = Status::settled_by(settling)
            {
                return status;
            }
        }
        let stage = crate::diff::stage_rank(crate::diff::stage_of(kind));
        if procedure_kinds.iter().any(|k| {
            *k != Kind::Objection && crate::diff::stage_rank(crate::diff::stage_of(*k)) > stage
        }) {
            return Status::Closed;
        }
        let open = |name: &str| windows.get(name).is_some_and(|w| now < w.end);
        if open("publicity") {
            Status::Publicity
        } else if open("bid") || open("listing") {
            Status::Open
        } else {
            Status::Closed
        }
    }
}

/// The round (as a range of indexes into `notices`) that notice `i` belongs to. `notices` are a
/// procedure's published notices in publication order, as (kind, send time). A termination (终止
/// 招标, 流标) ends a round; a tender notice sent after it opens the next (重新招标, 招标投标法实施
/// 条例 第四十四条): the kinds [`Status::at`] weighs for a notice are those of its round, so the
/// re-tender is open until its own deadline and the notices before it stay terminated. A tender
/// sent before the termination (a corrected copy of the old one) opens nothing; without a send
/// time on either side, a tender published after the termination opens a round.
pub fn round_of(
    notices: &[(Kind, Option<crate::values::datetime::Instant>)],
    i: usize,
) -> std::ops::Range<usize> {
    let mut starts = vec![0];
    // The send time of the termination that ended the current round, once there is one.
    let mut ended: Option<Option<crate::values::datetime::Instant>> = None;
    for (j, (kind, sent)) in notices.iter().enumerate() {
        if *kind == Kind::Tender
            && let Some(terminated) = ended
            && match (sent, terminated) {
                (Some(sent), Some(terminated)) => *sent > terminated,
                _ => true,
            }
        {
            starts.push(j);
            ended = None;
        }
        if *kind == Kind::Termination {
            ended = Some(*sent);
        }
    }
    let k = starts.partition_point(|&s| s <= i).max(1);
    starts[k - 1]..starts.get(k).copied().unwrap_or(notices.len())
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn window(end_day: u32) -> Window {
        let tz = crate::values::datetime::shanghai();
        Window {
            start: tz.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap(),
            end: tz.with_ymd_and_hms(2025, 3, end_day, 9, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_tender_sent_after_a_termination_opens_a_round() {
        let tz = crate::values::datetime::shanghai();
        let day = |d: u32| Some(tz.with_ymd_and_hms(2025, 3, d, 9, 0, 0).unwrap());
        let notices = [
            (Kind::Tender, day(3)),
            (Kind::Candidates, day(20)),
            (Kind::Termination, day(26)),
            // A corrected copy of the old tender, sent before the termination: no new round.
            (Kind::Tender, day(3)),
            // The re-tender.
            (Kind::Tender, day(27)),
            (Kind::Candidates, day(29)),
        ];
        for i in 0..4 {
            assert_eq!(round_of(&notices, i), 0..4, "{i}");
        }
        assert_eq!(round_of(&notices, 4), 4..6);
        assert_eq!(round_of(&notices, 5), 4..6);
        // Without send times, publication order decides.
        let unsent = [
            (Kind::Tender, None),
            (Kind::Termination, None),
            (Kind::Tender, None),
        ];
        assert_eq!(round_of(&unsent, 2), 2..3);
        assert_eq!(round_of(&unsent, 0), 0..2);
        assert_eq!(round_of(&[], 0), 0..0);
    }

    #[test]
    fn names_round_trip_and_match_serde() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).expect("JSON"), s.as_str());
        }
        assert_eq!(Status::parse("x"), None);
    }

    #[test]
    fn status_follows_windows_and_the_procedure() {
        let now = Utc.with_ymd_and_hms(2025, 3, 10, 0, 0, 0).unwrap();
        let bid_open: BTreeMap<_, _> = [("bid".to_owned(), window(20))].into();
        let bid_closed: BTreeMap<_, _> = [("bid".to_owned(), window(5))].into();
        let publicity: BTreeMap<_, _> = [("publicity".to_owned(), window(20))].into();
        assert_eq!(Status::at(Kind::Tender, &bid_open, &[], now), Status::Open);
        assert_eq!(
            Status::at(Kind::Tender, &bid_closed, &[], now),
            Status::Closed
        );
        assert_eq!(
            Status::at(Kind::Candidates, &publicity, &[], now),
            Status::Publicity
        );
        assert_eq!(
            Status::at(Kind::Tender, &bid_open, &[Kind::Award], now),
            Status::Awarded
        );
        assert_eq!(
            Status::at(
                Kind::Tender,
                &bid_open,
                &[Kind::Award, Kind::Termination],
                now
            ),
            Status::Terminated
        );
        assert_eq!(
            Status::at(Kind::Award, &BTreeMap::new(), &[], now),
            Status::Awarded
        );
        // Candidates are out: the tender takes no more bids, whatever its deadline says.
        assert_eq!(
            Status::at(
                Kind::Amendment,
                &bid_open,
                &[Kind::Tender, Kind::Candidates],
                now
            ),
            Status::Closed
        );
        assert_eq!(
            Status::at(
                Kind::Candidates,
                &publicity,
                &[Kind::Tender, Kind::Amendment],
                now
            ),
            Status::Publicity
        );
    }

    #[test]
    fn a_notice_of_several_sections_stands_where_its_most_open_section_does() {
        use Status::*;
        assert_eq!(Status::most_open([Terminated, Open]), Some(Open));
        assert_eq!(Status::most_open([Awarded, Closed]), Some(Closed));
        assert_eq!(Status::most_open([Terminated, Awarded]), Some(Awarded));
        assert_eq!(Status::most_open([Closed, Publicity]), Some(Publicity));
        assert_eq!(Status::most_open([]), None);
    }

    #[test]
    fn a_termination_outranks_an_award_in_either_order() {
        assert_eq!(Status::Open.settled(Kind::Award), Some(Status::Awarded));
        assert_eq!(
            Status::Awarded.settled(Kind::Termination),
            Some(Status::Terminated)
        );
        assert_eq!(Status::Terminated.settled(Kind::Award), None);
        assert_eq!(Status::Awarded.settled(Kind::Award), None);
        assert_eq!(Status::Open.settled(Kind::Amendment), None);
    }

    #[test]
    fn only_bid_and_publicity_windows_close_a_notice() {
        assert_eq!(Status::after_window("bid"), Some(Status::Closed));
        assert_eq!(Status::after_window("publicity"), Some(Status::Closed));
        assert_eq!(Status::after_window("challenge"), None);
        assert!(Status::Open.may_close() && !Status::Awarded.may_close());
        assert!(Status::Open.still_counts("bid") && !Status::Awarded.still_counts("bid"));
        assert!(Status::Awarded.still_counts("challenge"));
        assert!(!Status::Closed.still_counts("publicity"));
        for window in ["bid", "listing", "publicity", "challenge", "documents"] {
            assert_eq!(
                Status::held_by(window).is_some(),
                Status::after_window(window).is_some(),
                "{window}: a window that closes a notice holds it in a status"
            );
        }
    }
}
