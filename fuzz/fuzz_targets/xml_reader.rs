//! `cargo fuzz run xml_reader`: the body is [`gongshi_fuzz_targets::xml_reader`], which the corpus replay test
//! also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gongshi_fuzz_targets::xml_reader(data));
