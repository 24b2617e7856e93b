//! Which legal window is in force in each stage of a procedure, and which notice set it: the one
//! rule enforcement closes windows by and the API, pages and search show deadlines by.
//!
//! A stage (a tender with its amendments, [`crate::diff::stage_of`]) is read in publication
//! order. A notice's window replaces the window of the same name in force — an amendment moving
//! the bid deadline (招标投标法实施条例 第二十一条), a re-sent notice correcting its own — with one
//! exception: a re-sent version that restates the window its own earlier version set (same end)
//! does not undo what a notice published in between set. A tender re-sent to correct a typing
//! error, 投标截止 unchanged at 05-20, leaves the postponement to 05-27 in force; a re-send that
//! changes its deadline is a new decision of the tenderer, and stands.

use super::Window;
use crate::diff::{stage_of, stage_rank};
use crate::schema::Kind;
use std::collections::BTreeMap;

/// One published notice of a procedure, as the rule needs it.
#[derive(Debug, Clone, Copy)]
pub struct Setting<'a> {
    /// Its table: a notice of a table already published in its stage (not an amendment) is a
    /// re-sent version of it.
    pub table: &'a str,
    /// Its kind.
    pub kind: Kind,
    /// Its own windows by name.
    pub windows: &'a BTreeMap<String, Window>,
}

/// A window in force and the notice that set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InForce {
    /// The window.
    pub window: Window,
    /// Index of the notice that set it, in the input of [`windows_in_force`].
    pub set_by: usize,
}

/// The windows in force in each stage of a procedure ([`windows_in_force`]).
#[derive(Debug, Clone)]
pub struct WindowsInForce<'a> {
    notices: &'a [Setting<'a>],
    /// By stage rank, then window name.
    stages: BTreeMap<u8, BTreeMap<String, InForce>>,
}

/// Folds a procedure's published notices, in publication order, into the windows in force in
/// each of its stages (the module's rule).
pub fn windows_in_force<'a>(notices: &'a [Setting<'a>]) -> WindowsInForce<'a> {
    let mut stages: BTreeMap<u8, BTreeMap<String, InForce>> = BTreeMap::new();
    for (i, n) in notices.iter().enumerate() {
        let stage = stage_rank(stage_of(n.kind));
        let previous = previous_version(notices, i);
        let in_force = stages.entry(stage).or_default();
        for (name, window) in n.windows {
            let restated = previous.filter(|&p| {
                notices[p]
                    .windows
                    .get(name)
                    .is_some_and(|w| w.end == window.end)
            });
            let set_between = |f: &InForce| restated.is_some_and(|p| f.set_by != p);
            if in_force.get(name).is_some_and(set_between) {
                continue;
            }
            in_force.insert(
                name.clone(),
                InForce {
                    window: *window,
                    set_by: i,
                },
            );
        }
    }
    WindowsInForce { notices, stages }
}

/// The earlier version `notices[i]` re-sends: the last notice before it of its stage and table,
/// when it is not an amendment (amendments add to a stage; they do not replace one another).
fn previous_version(notices: &[Setting<'_>], i: usize) -> Option<usize> {
    let n = &notices[i];
    if n.kind == Kind::Amendment {
        return None;
    }
    notices[..i]
        .iter()
        .rposition(|p| p.table == n.table && p.kind == n.kind)
}

impl WindowsInForce<'_> {
    /// The windows of notice `index` as they stand: each of its own, as the window of that name
    /// in force in its stage. Empty for an index out of range.
    pub fn of(&self, index: usize) -> BTreeMap<String, InForce> {
        let Some(n) = self.notices.get(index) else {
            return BTreeMap::new();
        };
        let stage = self.stages.get(&stage_rank(stage_of(n.kind)));
        n.windows
            .iter()
            .map(|(name, window)| {
                let in_force = stage.and_then(|s| s.get(name)).copied();
                let own = InForce {
                    window: *window,
                    set_by: index,
                };
                (name.clone(), in_force.unwrap_or(own))
            })
            .collect()
    }

    /// Whether window `name` of notice `index` is the one in force (the notice set it, and no
    /// later notice replaced it): only such a window closes anything.
    pub fn holds(&self, index: usize, name: &str) -> bool {
        self.of(index).get(name).is_some_and(|f| f.set_by == index)
    }

    /// Every window in force, by name, across the procedure's stages (window names belong to one
    /// stage each: `documents` and `bid` to the tender, `publicity` to candidates, …).
    pub fn all(&self) -> BTreeMap<&str, InForce> {
        self.stages
            .values()
            .flat_map(|s| s.iter().map(|(name, f)| (name.as_str(), *f)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn windows(list: &[(&str, u32)]) -> BTreeMap<String, Window> {
        let tz = crate::values::datetime::shanghai();
        list.iter()
            .map(|(name, day)| {
                let start = tz.with_ymd_and_hms(2025, 5, 1, 9, 0, 0).unwrap();
                let end = tz.with_ymd_and_hms(2025, 5, *day, 9, 30, 0).unwrap();
                ((*name).to_owned(), Window { start, end })
            })
            .collect()
    }

    fn end_day(f: &InForce) -> u32 {
        use chrono::Datelike as _;
        f.window
            .end
            .with_timezone(&crate::values::datetime::shanghai())
            .day()
    }

    fn tender(windows: &BTreeMap<String, Window>) -> Setting<'_> {
        Setting {
            table: "TENDER_ANN_QUA_INQUERY_ANN",
            kind: Kind::Tender,
            windows,
        }
    }

    fn amendment(windows: &BTreeMap<String, Window>) -> Setting<'_> {
        Setting {
            table: "TENDER_FILE_CLARI_MODI",
            kind: Kind::Amendment,
            windows,
        }
    }

    #[test]
    fn a_resent_tender_restating_its_deadline_leaves_the_postponement_in_force() {
        let (v1, moved, v2) = (
            windows(&[("documents", 8), ("bid", 20)]),
            windows(&[("bid", 27)]),
            windows(&[("documents", 8), ("bid", 20)]),
        );
        let notices = [tender(&v1), amendment(&moved), tender(&v2)];
        let f = windows_in_force(&notices);
        // The re-send stands at the amendment's 05-27, which alone closes the bid window.
        assert_eq!(end_day(&f.of(2)["bid"]), 27);
        assert_eq!(f.of(2)["bid"].set_by, 1);
        assert!(f.holds(1, "bid"));
        assert!(!f.holds(2, "bid") && !f.holds(0, "bid"));
        // Its documents window, restated after nothing else set one, is the re-send's own.
        assert!(f.holds(2, "documents") && !f.holds(0, "documents"));
        assert_eq!(end_day(&f.of(0)["bid"]), 27);
        assert_eq!(f.all()["bid"].set_by, 1);
    }

    #[test]
    fn a_resent_tender_that_changes_its_deadline_replaces_the_postponement() {
        let (v1, moved, v2) = (
            windows(&[("bid", 20)]),
            windows(&[("bid", 27)]),
            windows(&[("bid", 22)]),
        );
        let notices = [tender(&v1), amendment(&moved), tender(&v2)];
        let f = windows_in_force(&notices);
        assert!(f.holds(2, "bid"));
        assert_eq!(end_day(&f.of(1)["bid"]), 22);
    }

    #[test]
    fn re_sends_restating_one_after_another_keep_what_was_set_between() {
        let (v1, moved, v2, v3) = (
            windows(&[("bid", 20)]),
            windows(&[("bid", 27)]),
            windows(&[("bid", 20)]),
            windows(&[("bid", 20)]),
        );
        let notices = [tender(&v1), amendment(&moved), tender(&v2), tender(&v3)];
        let f = windows_in_force(&notices);
        assert!(f.holds(1, "bid"));
        assert_eq!(end_day(&f.of(3)["bid"]), 27);
        // Without the amendment, each re-send takes over its own window.
        let plain = [tender(&v1), tender(&v2), tender(&v3)];
        let f = windows_in_force(&plain);
        assert!(f.holds(2, "bid") && !f.holds(1, "bid") && !f.holds(0, "bid"));
    }

    #[test]
    fn a_later_amendment_replaces_an_earlier_one_and_stages_are_apart() {
        let (v1, a1, a2, publicity) = (
            windows(&[("bid", 20)]),
            windows(&[("bid", 27)]),
            windows(&[("bid", 29)]),
            windows(&[("publicity", 30)]),
        );
        let notices = [
            tender(&v1),
            amendment(&a1),
            amendment(&a2),
            Setting {
                table: "TENDER_CANDIDATE_ANNOUNCE",
                kind: Kind::Candidates,
                windows: &publicity,
            },
        ];
        let f = windows_in_force(&notices);
        assert!(f.holds(2, "bid") && !f.holds(1, "bid"));
        assert!(f.holds(3, "publicity"));
        assert_eq!(f.all().len(), 2);
        assert!(f.of(9).is_empty());
    }
}
