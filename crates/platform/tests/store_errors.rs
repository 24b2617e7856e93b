//! The store's error classification against real failures: PostgreSQL refusing data is
//! permanent, an unreachable server is transient. The PostgreSQL tests need `DATABASE_URL` (what
//! `eval "$(scripts/stack up)"` exports) and are skipped, with a note, without it; each makes its
//! own database.

use gongshi_platform::HandlerError;
mod support;

use gongshi_platform::store::{self, Store};
use serde_json::json;
use std::time::Duration;
use support::fresh_store;

#[tokio::test]
async fn a_nul_character_in_jsonb_is_refused_permanently() {
    let Some(store) = fresh_store().await else {
        return;
    };
    store::receipts::insert(
        &store.pool,
        "r-nul",
        "application/json",
        b"{}",
        "test",
        &["T".to_owned()],
    )
    .await
    .expect("insert");
    let errors = json!([{"rule": "doc.syntax", "path": "", "message": "bad \u{0} byte"}]);
    let e = store::receipts::set_error(&store.pool, "r-nul", &errors)
        .await
        .expect_err("PostgreSQL refuses \\u0000 in jsonb");
    assert!(e.is_permanent(), "{e}");
    assert_eq!(e.sqlstate().as_deref(), Some("22P05"), "{e}");
    assert!(e.to_string().contains("22P05"), "{e}");
    assert!(matches!(HandlerError::from(e), HandlerError::Permanent(_)));
}

#[tokio::test]
async fn a_nul_character_in_text_is_refused_permanently() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let e = store::receipts::insert(
        &store.pool,
        "r-\u{0}-nul",
        "application/json",
        b"{}",
        "test",
        &[],
    )
    .await
    .expect_err("PostgreSQL refuses NUL in text");
    assert!(e.is_permanent(), "{e}");
    assert!(e.sqlstate().is_some_and(|c| c.starts_with("22")), "{e}");
}

#[tokio::test]
async fn a_duplicate_key_is_refused_permanently_and_the_rest_works() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let insert = || {
        store::receipts::insert(
            &store.pool,
            "r-dup",
            "application/xml",
            b"<a/>",
            "test",
            &[],
        )
    };
    insert().await.expect("first insert");
    let e = insert().await.expect_err("second insert");
    assert!(e.is_permanent(), "{e}");
    assert_eq!(e.sqlstate().as_deref(), Some("23505"), "{e}");

    // The store functions that replaced the services' raw SQL.
    let errors = json!([{"rule": "doc.syntax", "path": "", "message": "broken"}]);
    store::receipts::set_error(&store.pool, "r-dup", &errors)
        .await
        .expect("set error");
    let mut conn = store.pool.acquire().await.expect("connection");
    assert_eq!(
        store::notices::outcome(&mut conn, "no-such-notice")
            .await
            .expect("outcome"),
        None
    );
}

#[tokio::test]
async fn a_closed_port_is_transient() {
    // Bind a port, then free it, so nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy(&format!("postgres://gongshi@127.0.0.1:{port}/gongshi"))
        .expect("lazy pool");
    let e = store::feed::last_seq(&pool)
        .await
        .expect_err("nothing listens");
    assert!(!e.is_permanent(), "{e}");
    assert!(matches!(HandlerError::from(e), HandlerError::Transient(_)));
    let e = Store::connect(&format!("postgres://gongshi@127.0.0.1:{port}/gongshi"))
        .await
        .expect_err("nothing listens");
    assert!(!e.is_permanent(), "{e}");
}
