//! gongshi's pure core. Turns a provincial platform's XML or JSON into canonical, validated
//! notices, and (with the period engine) decides by law whether and when each may be published.
//! No I/O and no async here: time is an argument and data files are compiled in.

pub mod check;
pub mod codes;
pub mod diff;
pub mod events;
pub mod feed_cursor;
pub mod finding;
pub mod ident;
pub mod lifecycle;
pub mod normalize;
pub mod notice;
pub mod ocds;
pub mod parse;
pub mod period;
pub mod rules;
pub mod schema;
pub mod values;

pub use check::{CheckedRecord, check_record};
pub use finding::{Finding, Release, Severity};
pub use notice::{Notice, NoticeBody, ProcedureKey};
pub use parse::{Document, DocumentError, Limits};
pub use schema::{Kind, Regime, Schemas};
