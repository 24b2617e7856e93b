//! `cargo fuzz run json_reader`: the body is [`gongshi_fuzz_targets::json_reader`], which the corpus replay test
//! also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gongshi_fuzz_targets::json_reader(data));
