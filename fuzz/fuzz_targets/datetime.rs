//! `cargo fuzz run datetime`: the body is [`gongshi_fuzz_targets::datetime`], which the corpus replay test
//! also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gongshi_fuzz_targets::datetime(data));
