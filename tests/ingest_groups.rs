//! Ingest commits the documents that arrive together in one transaction (group commit). What a
//! group shares must not become a shared fate: a document the store refuses is the only one
//! refused, and a document carrying what PostgreSQL cannot store gets its own clear answer.

use gongshi_tests::{Pipeline, TOKEN, generated_tender};
use std::time::Duration;

const NOW: &str = "2025-04-10T12:00:00+08:00";

/// Fault injection in the pipeline's own database: a record row of table `ZZ_SLOW` takes a
/// second to insert (so the documents sent meanwhile queue into one group), and one of table
/// `ZZ_POISON` is refused.
const FAULTS: [&str; 2] = [
    "CREATE FUNCTION test_faults() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
       IF NEW.table_code = 'ZZ_SLOW' THEN PERFORM pg_sleep(1); END IF; \
       IF NEW.table_code = 'ZZ_POISON' THEN RAISE EXCEPTION 'test: refused'; END IF; \
       RETURN NEW; END $$",
    "CREATE TRIGGER test_faults BEFORE INSERT ON receipt_records \
       FOR EACH ROW EXECUTE FUNCTION test_faults()",
];

#[tokio::test]
async fn a_document_the_store_refuses_is_the_only_one_of_its_group_refused() {
    let p = Pipeline::start(NOW).await;
    let db = p.db().await;
    for statement in FAULTS {
        sqlx::query(statement).execute(&db).await.expect(statement);
    }
    let p = std::sync::Arc::new(p);

    // The slow document holds the writer in its transaction for a second...
    let slow = {
        let p = p.clone();
        tokio::spawn(async move {
            p.post(
                "application/xml",
                "<ZZ_SLOW><A>1</A></ZZ_SLOW>",
                Some(TOKEN),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ...while 40 good documents and a poisoned one, sent meanwhile, queue into the next group.
    let mut sent = tokio::task::JoinSet::new();
    for i in 0..41 {
        let p = p.clone();
        let doc = if i == 20 {
            "<ZZ_POISON><A>1</A></ZZ_POISON>".to_owned()
        } else {
            generated_tender(i, "7")
        };
        sent.spawn(async move { (i, p.post("application/xml", doc, Some(TOKEN)).await) });
    }
    let mut receipts = Vec::new();
    while let Some(done) = sent.join_next().await {
        let (i, (status, body)) = done.expect("post task");
        if i == 20 {
            assert_eq!(status, 503, "the poisoned document: {body}");
            assert_eq!(body["error"]["code"], "unavailable", "{body}");
        } else {
            assert_eq!(
                status, 202,
                "document {i}, grouped with the poisoned one: {body}"
            );
            receipts.push(body["receipt"].as_str().expect("receipt").to_owned());
        }
    }
    let (status, body) = slow.await.expect("slow post");
    assert_eq!(status, 202, "the slow document: {body}");

    // They were one group: its transaction failed, and each document was committed alone.
    let log = std::fs::read_to_string(p.dir.join("run-0.log")).expect("log");
    let fallback = log
        .lines()
        .find(|l| l.contains("group commit failed"))
        .unwrap_or_else(|| panic!("no group was refused; log in {}", p.dir.display()));
    assert!(fallback.contains("41"), "{fallback}");

    // Every accepted document goes on through the pipeline, and the refused one left nothing.
    assert_eq!(receipts.len(), 40);
    for receipt in &receipts {
        p.wait_receipt(receipt, |s| s == "published").await;
    }
    let stored: Vec<(String, i64)> = sqlx::query_as(
        "SELECT table_code, count(*) FROM receipt_records GROUP BY table_code ORDER BY table_code",
    )
    .fetch_all(&db)
    .await
    .expect("count");
    assert_eq!(
        stored,
        [
            ("TENDER_ANN_QUA_INQUERY_ANN".to_owned(), 40),
            ("ZZ_SLOW".to_owned(), 1)
        ]
    );
}

/// A JSON `TABLE` holding a NUL would reach a text column PostgreSQL cannot store it in; the
/// platform would be told to retry (503) a document that can never be stored. It is refused
/// (400) naming the item, and the documents around it are accepted.
#[tokio::test]
async fn a_table_code_no_store_can_hold_is_refused_as_the_documents_fault() {
    let p = Pipeline::start(NOW).await;
    let doc = r#"[{"TABLE":"WIN_RESULT_ANNO"},{"TABLE":"A\u0000B","X":"1"}]"#;
    let (status, body) = p.post("application/json", doc, Some(TOKEN)).await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("第 1 项") && message.contains("is not a table code"),
        "{body}"
    );
    let receipt = p.submit(&generated_tender(1, "8")).await;
    p.wait_receipt(&receipt, |s| s == "published").await;
}
