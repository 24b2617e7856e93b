//! `cargo fuzz run feed_cursor`: the body is [`gongshi_fuzz_targets::feed_cursor`], which the corpus replay test
//! also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gongshi_fuzz_targets::feed_cursor(data));
