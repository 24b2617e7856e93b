//! `cargo fuzz run amount`: the body is [`gongshi_fuzz_targets::amount`], which the corpus replay test
//! also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gongshi_fuzz_targets::amount(data));
