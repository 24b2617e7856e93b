//! The search conformance suite on every engine that can be reached: Tantivy always (in memory and
//! on disk).

use gongshi_platform::search::{SearchIndex, TantivyIndex, conformance};

#[test]
fn tantivy_in_memory_passes_the_conformance_suite() {
    let index = TantivyIndex::in_memory().expect("index");
    conformance::run(&index);
    conformance::run_clear(&index);
}

#[test]
fn a_read_only_view_follows_the_writer_and_refuses_writes() {
    let dir = std::env::temp_dir().join(format!("gongshi-index-ro-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let writer = TantivyIndex::open(&dir).expect("writer");
    let reader = TantivyIndex::open_read_only(&dir).expect("read-only view");
    assert!(
        TantivyIndex::open(&dir).is_err(),
        "a second writer is refused"
    );
    let docs = conformance::corpus();
    writer.upsert_many(&docs).expect("upsert");
    let all = gongshi_platform::search::SearchQuery {
        page: 1,
        per_page: 10,
        ..Default::default()
    };
    // The view reloads on the writer's commits, shortly after them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while reader.search(&all).expect("search").total < docs.len() {
        assert!(
            std::time::Instant::now() < deadline,
            "the read-only view never saw the commit"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let refused = reader.upsert(&docs[0]).expect_err("writes are refused");
    assert!(refused.to_string().contains("read-only"), "{refused}");
    drop((writer, reader));
    let _ = std::fs::remove_dir_all(&dir);
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
        3,
        "five indexed, two deleted"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Meilisearch, when `GONGSHI_TEST_MEILI_URL` names a running server (with
/// `GONGSHI_TEST_MEILI_KEY` if it has a master key). Each run uses an index of its own. In CI the
/// variable is unset and this prints that it did not run.
#[test]
fn meilisearch_passes_the_conformance_suite_when_reachable() {
    let Ok(url) = std::env::var("GONGSHI_TEST_MEILI_URL") else {
        eprintln!("GONGSHI_TEST_MEILI_URL is not set: Meilisearch conformance not run");
        return;
    };
    let uid = format!(
        "conformance-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    );
    let index =
        gongshi_platform::search::MeiliIndex::connect(gongshi_platform::search::MeiliConfig {
            url,
            key: std::env::var("GONGSHI_TEST_MEILI_KEY").ok(),
            index: uid,
            task_timeout: std::time::Duration::from_secs(60),
        })
        .expect("connect to meilisearch");
    conformance::run(&index);
    conformance::run_clear(&index);
}
