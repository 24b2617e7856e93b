//! The feeds' opaque paging cursor. The codec is pure and lives in the domain crate
//! ([`gongshi_domain::feed_cursor`]), where it is fuzzed; the gateway uses it from here.

pub use gongshi_domain::feed_cursor::{decode, encode};
