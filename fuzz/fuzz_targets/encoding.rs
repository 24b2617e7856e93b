//! `cargo fuzz run encoding`: the body is [`gongshi_fuzz_targets::encoding`], which the corpus replay test
//! also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gongshi_fuzz_targets::encoding(data));
