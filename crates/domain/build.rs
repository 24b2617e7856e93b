//! Embeds every `calendar/<year>.toml` so that adding a year is adding a file.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("../../calendar");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut years: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    years.retain(|p| {
        p.extension().is_some_and(|x| x == "toml")
            && p.file_stem()
                .and_then(|s| s.to_str())
                .is_some_and(|s| s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()))
    });
    years.sort();
    let mut code = String::from(
        "/// Every `calendar/<year>.toml`: (file name, text).\npub const CALENDAR_FILES: &[(&str, &str)] = &[\n",
    );
    for path in &years {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let _ = writeln!(
            code,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("calendar_files.rs");
    if let Err(e) = std::fs::write(&out, code) {
        panic!("writing {}: {e}", out.display());
    }
}
