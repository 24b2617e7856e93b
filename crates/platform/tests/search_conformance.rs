//! The search conformance suite on every engine that can be reached: Tantivy always (in memory and
//! on disk).

use gongshi_platform::search::{SearchIndex, TantivyIndex, conformance};

#[test]
fn tantivy_in_memory_passes_the_conformance_suite() {
    let index = TantivyIndex::in_memory().expect("index");
    conformance::run(&index);
}

#[test]
fn tantivy_on_disk_passes_and_keeps_its_documents_across_reopening() {
    let dir = std::env::temp_dir().join(format!("gongshi-index-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let index = TantivyIndex::open(&dir).expect("index");
        conformance::run(&index);
    }
    let reopened = TantivyIndex::open(&dir).expect("reopen");
    let all = gongshi_platform::search::SearchQuery {
        page: 1,
        per_page: 10,
        ..Default::default()
    };
    assert_eq!(
        reopened.search(&all).expect("search").total,
        4,
        "five indexed, one deleted"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
