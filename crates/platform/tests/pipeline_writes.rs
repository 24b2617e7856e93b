//! How the store writes the rows every notice passes through (`notices`, `procedures`): each row
//! version once where it can, with the same locks and publication order as before. Needs
//! `DATABASE_URL` (what `eval "$(scripts/stack up)"` exports); skipped, with a note, without it.

mod support;

use gongshi_domain::ProcedureKey;
use gongshi_domain::period::{ProcedureState, Stage};
use gongshi_platform::store::notices::{self, NoticeRow};
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;
use support::fresh_store;

fn row<'a>(notice_id: &'a str, status: &'a str) -> NoticeRow<'a> {
    NoticeRow {
        notice_id,
        procedure_key: "P/J/1",
        platform: "P",
        project: "J",
        section: "1",
        table_code: "TENDER_ANN_QUA_INQUERY_ANN",
        kind: "tender",
        regime: "works",
        content_hash: "h",
        data_timestamp: None,
        status,
        outcome: json!({}),
        notice: json!({"procedures": []}),
        hold_until: None,
    }
}

/// (row version id `xmin`, status, `published_seq`) of a notice.
async fn version(pool: &PgPool, notice_id: &str) -> (String, String, Option<i64>) {
    sqlx::query_as("SELECT xmin::text, status, published_seq FROM notices WHERE notice_id = $1")
        .bind(notice_id)
        .fetch_one(pool)
        .await
        .expect("notice row")
}

#[tokio::test]
async fn set_published_numbers_the_newly_published_in_order_and_leaves_the_published_unwritten() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let pool = &store.pool;
    let mut tx = pool.begin().await.expect("begin");
    notices::upsert_many(
        &mut tx,
        &[row("A", "published"), row("B", "held"), row("C", "parked")],
    )
    .await
    .expect("upsert");
    tx.commit().await.expect("commit");
    let a = version(pool, "A").await;
    assert!(a.2.is_some(), "enforce's upsert stamps a published notice");

    // What the publish service does for a batch of `notice.published` events: C before B.
    let mut tx = pool.begin().await.expect("begin");
    notices::set_published(&mut tx, &["A", "C", "B"])
        .await
        .expect("set_published");
    tx.commit().await.expect("commit");

    assert_eq!(
        version(pool, "A").await,
        a,
        "an already published notice is not written again"
    );
    let (c, b) = (version(pool, "C").await, version(pool, "B").await);
    assert_eq!((c.1.as_str(), b.1.as_str()), ("published", "published"));
    let (a_seq, c_seq, b_seq) = (a.2.unwrap_or(0), c.2.unwrap_or(0), b.2.unwrap_or(0));
    assert!(
        a_seq < c_seq && c_seq < b_seq,
        "publication order follows the call: A {a_seq}, C {c_seq}, B {b_seq}"
    );

    // The event redelivered: nothing changes.
    let mut tx = pool.begin().await.expect("begin");
    notices::set_published(&mut tx, &["C"])
        .await
        .expect("set_published");
    tx.commit().await.expect("commit");
    assert_eq!(version(pool, "C").await, c);
}

fn key(section: &str) -> ProcedureKey {
    ProcedureKey {
        platform: "P".into(),
        project: "J".into(),
        section: section.into(),
    }
}

fn stage(notice_id: &str) -> Stage {
    serde_json::from_value(json!({
        "notice_id": notice_id, "kind": "termination", "status": "published", "region": null,
        "sent_at": null, "data_timestamp": null, "windows": {},
        "body": {"TABLE": "TENDER_TERMINATION", "NOTICE_SEND_TIME": "2026-11-02T09:00:00+08:00", "REASON": null}
    }))
    .expect("a stage")
}

fn stage_ids(state: &ProcedureState) -> Vec<&str> {
    state.stages.iter().map(|s| s.notice_id.as_str()).collect()
}

#[tokio::test]
async fn lock_procedures_creates_or_reads_each_state_in_key_order_and_holds_both_kinds() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let pool = &store.pool;
    // Procedure 2 is stored with a stage; 1 and 3 are new.
    let mut tx = pool.begin().await.expect("begin");
    let mut two = notices::lock_procedures(&mut tx, &[key("2")])
        .await
        .expect("lock");
    two[0].stages.push(stage("N-2"));
    notices::save_procedures(&mut tx, &[&two[0]])
        .await
        .expect("save");
    tx.commit().await.expect("commit");

    let mut tx = pool.begin().await.expect("begin");
    let states = notices::lock_procedures(&mut tx, &[key("3"), key("2"), key("1"), key("3")])
        .await
        .expect("lock");
    let keys: Vec<String> = states.iter().map(|s| s.key.to_string()).collect();
    assert_eq!(
        keys,
        ["P/J/1", "P/J/2", "P/J/3"],
        "one state per key, in key order"
    );
    let stages: Vec<Vec<&str>> = states.iter().map(stage_ids).collect();
    assert_eq!(stages, [vec![], vec!["N-2"], vec![]]);

    // The stored row is locked ...
    let mut other = pool.acquire().await.expect("connection");
    let e = sqlx::query("SELECT 1 FROM procedures WHERE procedure_key = 'P/J/2' FOR UPDATE NOWAIT")
        .execute(&mut *other)
        .await
        .expect_err("procedure 2 is locked");
    assert_eq!(
        e.as_database_error().and_then(|d| d.code()).as_deref(),
        Some("55P03"),
        "{e}"
    );
    drop(other);
    // ... and so is the created one: another writer of procedure 1 waits for this transaction,
    // then sees what it saved.
    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut tx = pool.begin().await.expect("begin");
            let states = notices::lock_procedures(&mut tx, &[key("1")])
                .await
                .expect("lock");
            tx.commit().await.expect("commit");
            states
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !waiter.is_finished(),
        "a second writer of a procedure created in an open transaction waits for it"
    );
    let mut one = states.into_iter().next().expect("procedure 1");
    one.stages.push(stage("N-1"));
    notices::save_procedures(&mut tx, &[&one])
        .await
        .expect("save");
    tx.commit().await.expect("commit");
    let seen = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the second writer goes on after the commit")
        .expect("task");
    assert_eq!(
        seen.iter().map(stage_ids).collect::<Vec<_>>(),
        [vec!["N-1"]]
    );
}
