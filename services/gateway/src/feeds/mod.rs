//! The feeds' rendering: one page of entries (`page`, its items in `item`) as Atom 1.0, RSS 2.0
//! or JSON Feed 1.1, and the opaque paging cursor; rendered pages kept while still true
//! (`cache`), checked against the feed head that store notifications keep current (`head`).
//! The routes are in `routes::feeds`.

use gongshi_platform::telemetry::InternalEvent as _;
use gongshi_platform::telemetry::events::FeedCharsDropped;

pub(crate) mod atom;
pub mod cache;
pub mod cursor;
pub mod head;
pub mod item;
pub(crate) mod json_feed;
pub(crate) mod page;
pub(crate) mod rss;

/// The last step of every XML writer (Atom, RSS, anything later): a character XML 1.0 cannot carry
/// is never emitted. Validation removes such characters from notices already (`TEXT-CHARS`), so
/// one reaching here is a bug elsewhere; it is logged and counted, and dropped, so that one bad
/// text never makes a page ill-formed for every subscriber. Markup never holds such characters,
/// so dropping them from the whole document drops them from the texts.
pub(crate) fn xml_output(document: String) -> String {
    match gongshi_domain::values::text::without_non_xml(&document) {
        None => document,
        Some((clean, removed)) => {
            FeedCharsDropped {
                removed: &removed.to_string(),
            }
            .emit();
            clean
        }
    }
}
