//! The fuzz smoke test CI runs: every file of every target's corpus (`fuzz/corpus/<target>/`,
//! minimised by libFuzzer) and of its findings (`fuzz/regressions/<target>/`, kept for good), fed
//! through the same function the fuzz target calls. A finding that was fixed stays fixed.

use gongshi_fuzz_targets::TARGETS;
use std::path::{Path, PathBuf};

fn fuzz_dir(folder: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(folder)
}

/// The files of `fuzz/<folder>/<target>/` (none when the folder does not exist).
fn inputs(folder: &str, target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir(folder).join(target);
    match std::fs::read_dir(&dir) {
        Ok(entries) => entries.map(|e| e.expect("corpus entry").path()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("{}: {e}", dir.display()),
    }
}

#[test]
fn every_corpus_input_passes_its_target() {
    let mut replayed = 0;
    for (name, target) in TARGETS {
        let corpus = inputs("corpus", name);
        assert!(
            !corpus.is_empty(),
            "{name}: no corpus in fuzz/corpus/{name}"
        );
        let mut count = 0;
        for path in corpus.into_iter().chain(inputs("regressions", name)) {
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name}: {} fails", path.display());
            count += 1;
        }
        replayed += count;
    }
    println!("replayed {replayed} corpus inputs");
}

#[test]
fn every_corpus_folder_belongs_to_a_target() {
    for folder in ["corpus", "regressions"] {
        for entry in std::fs::read_dir(fuzz_dir(folder)).expect("fuzz folder") {
            let name = entry.expect("entry").file_name();
            let name = name.to_string_lossy();
            assert!(
                TARGETS.iter().any(|(t, _)| *t == name),
                "fuzz/{folder}/{name} has no target in gongshi_fuzz_targets::TARGETS"
            );
        }
    }
}
