//! The feeds' rendering: one page of entries (`page`, its items in `item`) as Atom 1.0, RSS 2.0
//! or JSON Feed 1.1, and the opaque paging cursor. The routes are in `routes::feeds`.

pub(crate) mod atom;
pub mod cursor;
pub mod item;
pub(crate) mod json_feed;
pub(crate) mod page;
pub(crate) mod rss;
