//! Tables the pipeline writes in bulk get planner statistics as soon as they hold rows, not a
//! minute later when autovacuum first visits (`store::statistics`). Needs `DATABASE_URL`.

mod support;

use gongshi_platform::store::receipts::{self, NewReceipt};
use gongshi_platform::store::statistics::{ANALYZE_FROM_ROWS, analyze_unplanned};
use std::time::{Duration, Instant};
use support::fresh_store;

#[tokio::test]
async fn a_bulk_table_is_analyzed_once_it_holds_rows_and_only_once() {
    let Some(store) = fresh_store().await else {
        return;
    };
    // Empty tables are left to autovacuum.
    assert_eq!(
        analyze_unplanned(&store.pool).await.expect("analyze"),
        Vec::<String>::new()
    );

    let tables: Vec<String> = (0..ANALYZE_FROM_ROWS)
        .map(|_| "TENDER_ANN_QUA_INQUERY_ANN".to_owned())
        .collect();
    let mut tx = store.pool.begin().await.expect("begin");
    receipts::insert_many_in(
        &mut tx,
        &[NewReceipt {
            receipt_id: "r-1",
            received_at: None,
            content_type: "application/xml",
            document: b"<BATCH/>",
            source: "test",
            tables: &tables,
        }],
    )
    .await
    .expect("insert");
    tx.commit().await.expect("commit");

    // The server's row counts follow commits within a second or so.
    let start = Instant::now();
    let analyzed = loop {
        let analyzed = analyze_unplanned(&store.pool).await.expect("analyze");
        if !analyzed.is_empty() || start.elapsed() > Duration::from_secs(20) {
            break analyzed;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(analyzed, ["receipt_records"]);
    let planned: Option<f32> = sqlx::query_scalar(
        "SELECT reltuples FROM pg_class WHERE oid = 'receipt_records'::regclass",
    )
    .fetch_one(&store.pool)
    .await
    .expect("reltuples");
    assert_eq!(planned, Some(ANALYZE_FROM_ROWS as f32));
    // Analyzed once: from now on autovacuum keeps its statistics.
    assert_eq!(
        analyze_unplanned(&store.pool).await.expect("analyze"),
        Vec::<String>::new()
    );
}
