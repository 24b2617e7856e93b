//! What the store's tests share: a fresh database of their own.

use gongshi_platform::store::Store;

/// A fresh, migrated database on the server of `DATABASE_URL`, or `None` (test skipped).
pub async fn fresh_store() -> Option<Store> {
    let Ok(server_url) = std::env::var("DATABASE_URL") else {
        eprintln!("DATABASE_URL not set: skipping a PostgreSQL test");
        return None;
    };
    let id = uuid::Uuid::new_v4().simple().to_string();
    let db = format!("gongshi_test_{}", &id[..12]);
    let admin = sqlx::PgPool::connect(&server_url)
        .await
        .expect("connect to the test PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&admin)
        .await
        .expect("create database");
    admin.close().await;
    let base = server_url
        .rsplit_once('/')
        .map_or(server_url.as_str(), |(b, _)| b);
    Some(
        Store::connect(&format!("{base}/{db}"))
            .await
            .expect("connect and migrate"),
    )
}
