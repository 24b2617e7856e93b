//! Receipts: each ingested document and where each of its records is.

use super::StoreError;
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Row};

/// A record's place in the pipeline, as `GET /v1/receipts/{id}` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordStatus {
    /// Position in the document.
    pub index: i32,
    /// Table code.
    pub table: String,
    /// received, invalid, rejected, parked, held, published or duplicate.
    pub status: String,
    /// The notice it became, when valid.
    pub notice_id: Option<String>,
    /// Errors (rule, path, message).
    pub errors: Value,
    /// Warnings.
    pub warnings: Value,
    /// For held records.
    pub hold_until: Option<chrono::DateTime<chrono::Utc>>,
}

/// Stores a received document with one `received` row per record, in one transaction.
pub async fn insert(
    pool: &PgPool,
    receipt_id: &str,
    content_type: &str,
    document: &[u8],
    source: &str,
    tables: &[String],
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    insert_in(&mut tx, receipt_id, content_type, document, source, tables).await?;
    Ok(tx.commit().await?)
}

/// [`insert`] in the caller's transaction (ingest queues the document's event beside it).
pub async fn insert_in(
    tx: &mut PgConnection,
    receipt_id: &str,
    content_type: &str,
    document: &[u8],
    source: &str,
    tables: &[String],
) -> Result<(), StoreError> {
    let receipt = NewReceipt {
        receipt_id,
        received_at: None,
        content_type,
        document,
        source,
        tables,
    };
    insert_many_in(tx, std::slice::from_ref(&receipt)).await
}

/// A document to store as a receipt ([`insert_many_in`]).
#[derive(Debug, Clone, Copy)]
pub struct NewReceipt<'a> {
    /// The receipt id (a UUIDv7, so ids sort by arrival).
    pub receipt_id: &'a str,
    /// When the document arrived; `None` is the transaction's start (`now()`).
    pub received_at: Option<chrono::DateTime<chrono::Utc>>,
    /// `application/xml`, `text/xml` or `application/json`.
    pub content_type: &'a str,
    /// The document's bytes as sent.
    pub document: &'a [u8],
    /// Where it came from (`http`, …).
    pub source: &'a str,
    /// Each record's table code, in document order: one `received` row each.
    pub tables: &'a [String],
}

/// Stores documents with one `received` row per record in the caller's transaction: two
/// statements however many documents there are (ingest commits the documents that arrive
/// together as one group).
pub async fn insert_many_in(
    tx: &mut PgConnection,
    receipts: &[NewReceipt<'_>],
) -> Result<(), StoreError> {
    if receipts.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO receipts (receipt_id, received_at, content_type, size_bytes, document, source) \
         SELECT id, COALESCE(at, now()), content_type, size_bytes, document, source \
         FROM UNNEST($1::text[], $2::timestamptz[], $3::text[], $4::int4[], $5::bytea[], $6::text[]) \
           AS r(id, at, content_type, size_bytes, document, source)",
    )
    .bind(receipts.iter().map(|r| r.receipt_id).collect::<Vec<_>>())
    .bind(receipts.iter().map(|r| r.received_at).collect::<Vec<_>>())
    .bind(receipts.iter().map(|r| r.content_type).collect::<Vec<_>>())
    .bind(
        receipts
            .iter()
            .map(|r| i32::try_from(r.document.len()).unwrap_or(i32::MAX))
            .collect::<Vec<_>>(),
    )
    .bind(receipts.iter().map(|r| r.document).collect::<Vec<_>>())
    .bind(receipts.iter().map(|r| r.source).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    // One statement for all the rows: a document of a thousand records is one round trip.
    let rows = receipts.iter().flat_map(|r| {
        r.tables
            .iter()
            .enumerate()
            .map(move |(i, table)| (r.receipt_id, i32::try_from(i).unwrap_or(i32::MAX), table))
    });
    let (mut ids, mut indexes, mut tables) = (Vec::new(), Vec::new(), Vec::new());
    for (id, index, table) in rows {
        ids.push(id);
        indexes.push(index);
        tables.push(table.as_str());
    }
    sqlx::query(
        "INSERT INTO receipt_records (receipt_id, idx, table_code, status) \
         SELECT id, idx, table_code, 'received' \
         FROM UNNEST($1::text[], $2::int4[], $3::text[]) AS r(id, idx, table_code)",
    )
    .bind(&ids)
    .bind(&indexes)
    .bind(&tables)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Records why a whole document could not be read (its records are then never checked):
/// `errors` is a JSON array of `{rule, path, message}`.
pub async fn set_error(pool: &PgPool, receipt_id: &str, errors: &Value) -> Result<(), StoreError> {
    sqlx::query("UPDATE receipts SET error = $2 WHERE receipt_id = $1")
        .bind(receipt_id)
        .bind(errors)
        .execute(pool)
        .await?;
    Ok(())
}

/// The stored document of a receipt.
pub async fn document(pool: &PgPool, receipt_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(documents(pool, &[receipt_id]).await?.remove(receipt_id))
}

/// The `Content-Type` a receipt's document was sent with.
pub async fn content_type(pool: &PgPool, receipt_id: &str) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT content_type FROM receipts WHERE receipt_id = $1")
            .bind(receipt_id)
            .fetch_optional(pool)
            .await?,
    )
}

/// The stored documents of receipts, in one statement, by receipt id (an unknown receipt is
/// absent).
pub async fn documents(
    pool: &PgPool,
    receipt_ids: &[&str],
) -> Result<std::collections::HashMap<String, Vec<u8>>, StoreError> {
    if receipt_ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT receipt_id, document FROM receipts WHERE receipt_id = ANY($1)")
            .bind(receipt_ids)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().collect())
}

/// One record's new status and what goes with it, for [`set_statuses`].
#[derive(Debug, Clone)]
pub struct RecordUpdate {
    /// Its receipt.
    pub receipt_id: String,
    /// Its position in the document.
    pub idx: i32,
    /// The new status.
    pub status: String,
    /// The notice it became (`None` keeps what is stored).
    pub notice_id: Option<String>,
    /// Error findings (a JSON array).
    pub errors: Value,
    /// Warning findings (a JSON array).
    pub warnings: Value,
    /// When a held record publishes.
    pub hold_until: Option<chrono::DateTime<chrono::Utc>>,
    /// For a record that did not become a notice, what it says it is (`{"title", "procedure",
    /// "region"}`, [`gongshi_domain::notice::subject_of`]); `None` keeps what is stored.
    pub subject: Option<Value>,
}

/// Sets one record's status (and what goes with it); never moves a record back to `received`.
#[allow(clippy::too_many_arguments)]
pub async fn set_status(
    conn: &mut PgConnection,
    receipt_id: &str,
    idx: i32,
    status: &str,
    notice_id: Option<&str>,
    errors: &Value,
    warnings: &Value,
    hold_until: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), StoreError> {
    let update = RecordUpdate {
        receipt_id: receipt_id.to_owned(),
        idx,
        status: status.to_owned(),
        notice_id: notice_id.map(str::to_owned),
        errors: errors.clone(),
        warnings: warnings.clone(),
        hold_until,
        subject: None,
    };
    set_statuses(conn, std::slice::from_ref(&update)).await
}

/// [`set_status`] for several records in one statement (each record at most once).
pub async fn set_statuses(
    conn: &mut PgConnection,
    updates: &[RecordUpdate],
) -> Result<(), StoreError> {
    if updates.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE receipt_records r SET status = u.status, notice_id = COALESCE(u.notice_id, r.notice_id), \
           errors = u.errors, warnings = u.warnings, hold_until = u.hold_until, updated_at = now(), \
           subject = COALESCE(u.subject, r.subject) \
         FROM UNNEST($1::text[], $2::int4[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::timestamptz[], \
           $8::jsonb[]) AS u(receipt_id, idx, status, notice_id, errors, warnings, hold_until, subject) \
         WHERE r.receipt_id = u.receipt_id AND r.idx = u.idx \
           AND (r.status = 'received' OR u.status <> 'received')",
    )
    .bind(updates.iter().map(|u| u.receipt_id.clone()).collect::<Vec<_>>())
    .bind(updates.iter().map(|u| u.idx).collect::<Vec<_>>())
    .bind(updates.iter().map(|u| u.status.clone()).collect::<Vec<_>>())
    .bind(updates.iter().map(|u| u.notice_id.clone()).collect::<Vec<_>>())
    .bind(updates.iter().map(|u| u.errors.clone()).collect::<Vec<_>>())
    .bind(updates.iter().map(|u| u.warnings.clone()).collect::<Vec<_>>())
    .bind(updates.iter().map(|u| u.hold_until).collect::<Vec<_>>())
    .bind(updates.iter().map(|u| u.subject.clone()).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A notice's new status, for every record that became it ([`set_statuses_by_notice`]).
#[derive(Debug, Clone)]
pub struct NoticeUpdate {
    /// The notice.
    pub notice_id: String,
    /// The new status.
    pub status: String,
    /// When a held notice publishes.
    pub hold_until: Option<chrono::DateTime<chrono::Utc>>,
    /// The ERROR findings (a JSON array of `{rule, path, message, …}`) that refuse it when it
    /// was judged again and refused (a parked notice whose parent came, a held one whose hold
    /// ended); `None` keeps the records' errors.
    pub errors: Option<Value>,
    /// Warnings and notes of that judging (a JSON array like `errors`): they replace the
    /// records' warnings of the same rules and join the others (why a notice judged again is
    /// held still, `OBJECTION-HOLD`; W11 with the candidates' new publicity end); `None` keeps
    /// the records' warnings.
    pub warnings: Option<Value>,
}

/// Moves every record that became `notice_id` (except duplicates) to `status`.
pub async fn set_status_by_notice(
    conn: &mut PgConnection,
    notice_id: &str,
    status: &str,
    hold_until: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), StoreError> {
    let update = NoticeUpdate {
        notice_id: notice_id.to_owned(),
        status: status.to_owned(),
        hold_until,
        errors: None,
        warnings: None,
    };
    set_statuses_by_notice(conn, std::slice::from_ref(&update)).await
}

/// [`set_status_by_notice`] for several notices at once, without a hold date.
pub async fn set_status_by_notices(
    conn: &mut PgConnection,
    notice_ids: &[&str],
    status: &str,
) -> Result<(), StoreError> {
    let updates: Vec<NoticeUpdate> = notice_ids
        .iter()
        .map(|id| NoticeUpdate {
            notice_id: (*id).to_owned(),
            status: status.to_owned(),
            hold_until: None,
            errors: None,
            warnings: None,
        })
        .collect();
    set_statuses_by_notice(conn, &updates).await
}

/// [`set_status_by_notice`] for several notices in one statement (each notice at most once).
pub async fn set_statuses_by_notice(
    conn: &mut PgConnection,
    updates: &[NoticeUpdate],
) -> Result<(), StoreError> {
    if updates.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE receipt_records r SET status = u.status, hold_until = u.hold_until, \
           errors = COALESCE(u.errors, r.errors), \
           warnings = CASE WHEN u.warnings IS NULL THEN r.warnings ELSE COALESCE( \
             (SELECT jsonb_agg(w ORDER BY i) FROM jsonb_array_elements(r.warnings) WITH ORDINALITY AS o(w, i) \
              WHERE NOT u.warnings @> jsonb_build_array(jsonb_build_object('rule', w->'rule'))), \
             '[]'::jsonb) || u.warnings END, \
           updated_at = now() \
         FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::jsonb[], $5::jsonb[]) \
           AS u(notice_id, status, hold_until, errors, warnings) \
         WHERE r.notice_id = u.notice_id AND r.status <> 'duplicate'",
    )
    .bind(updates.iter().map(|u| u.notice_id.clone()).collect::<Vec<_>>())
    .bind(updates.iter().map(|u| u.status.clone()).collect::<Vec<_>>())
    .bind(updates.iter().map(|u| u.hold_until).collect::<Vec<_>>())
    .bind(updates.iter().map(|u| u.errors.clone()).collect::<Vec<_>>())
    .bind(updates.iter().map(|u| u.warnings.clone()).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Every record of a receipt, in document order; `None` for an unknown receipt.
pub async fn records(
    pool: &PgPool,
    receipt_id: &str,
) -> Result<Option<Vec<RecordStatus>>, StoreError> {
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM receipts WHERE receipt_id = $1")
        .bind(receipt_id)
        .fetch_optional(pool)
        .await?;
    if exists.is_none() {
        return Ok(None);
    }
    let rows = sqlx::query(
        "SELECT idx, table_code, status, notice_id, errors, warnings, hold_until FROM receipt_records \
         WHERE receipt_id = $1 ORDER BY idx",
    )
    .bind(receipt_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RecordStatus {
                index: r.try_get("idx")?,
                table: r.try_get("table_code")?,
                status: r.try_get("status")?,
                notice_id: r.try_get("notice_id")?,
                errors: r.try_get("errors")?,
                warnings: r.try_get("warnings")?,
                hold_until: r.try_get("hold_until")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()
        .map(Some)
}

/// An operator's release of one record from one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRelease {
    /// The record in its document.
    pub index: i32,
    /// The rule released.
    pub rule: String,
    /// Who released it.
    pub released_by: String,
    /// Why.
    pub reason: String,
}

/// Records a release (once: a repeated release of the same record and rule keeps the first).
pub async fn add_release(
    pool: &PgPool,
    receipt_id: &str,
    release: &RecordRelease,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO record_releases (receipt_id, idx, rule, released_by, reason) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(receipt_id)
    .bind(release.index)
    .bind(&release.rule)
    .bind(&release.released_by)
    .bind(&release.reason)
    .execute(pool)
    .await?;
    Ok(())
}

/// Every release of a receipt's records, in the order they were made.
pub async fn releases(pool: &PgPool, receipt_id: &str) -> Result<Vec<RecordRelease>, StoreError> {
    let rows = sqlx::query(
        "SELECT idx, rule, released_by, reason FROM record_releases WHERE receipt_id = $1 \
         ORDER BY released_at, rule",
    )
    .bind(receipt_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok(RecordRelease {
                index: r.try_get("idx")?,
                rule: r.try_get("rule")?,
                released_by: r.try_get("released_by")?,
                reason: r.try_get("reason")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?)
}

/// The rules an operator released a published notice from at validation (`released` on the
/// warnings of the records that became it), with the reasons, by rule: what the notice's page
/// says about how it came to be published.
pub async fn released_rules_of_notice(
    pool: &PgPool,
    notice_id: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = sqlx::query(
        "SELECT DISTINCT w->>'rule' AS rule, w->'released'->>'reason' AS reason \
         FROM receipt_records, jsonb_array_elements(warnings) AS w \
         WHERE notice_id = $1 AND jsonb_typeof(w->'released') = 'object' ORDER BY 1, 2",
    )
    .bind(notice_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| Ok((r.try_get("rule")?, r.try_get("reason")?)))
        .collect::<Result<_, sqlx::Error>>()?)
}

/// The warnings of rule `rule` on the records that became notice `notice_id`, each (path,
/// message) once, by path: what validation changed in the text that was published (`TEXT-CHARS`).
pub async fn warnings_of_notice(
    pool: &PgPool,
    notice_id: &str,
    rule: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = sqlx::query(
        "SELECT DISTINCT COALESCE(w->>'path', '') AS path, COALESCE(w->>'message', '') AS message \
         FROM receipt_records, jsonb_array_elements(warnings) AS w \
         WHERE notice_id = $1 AND w->>'rule' = $2 ORDER BY 1, 2",
    )
    .bind(notice_id)
    .bind(rule)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| Ok((r.try_get("path")?, r.try_get("message")?)))
        .collect::<Result<_, sqlx::Error>>()?)
}

/// Moves a record from status `from` to `to` (an operator's action: a released `invalid` record
/// goes back to `received` to be validated again); false when it was not in `from`.
pub async fn move_status(
    pool: &PgPool,
    receipt_id: &str,
    index: i32,
    from: &str,
    to: &str,
) -> Result<bool, StoreError> {
    let mut conn = pool.acquire().await?;
    move_status_in(&mut conn, receipt_id, index, from, to).await
}

/// [`move_status`] on the caller's connection or transaction.
pub async fn move_status_in(
    conn: &mut PgConnection,
    receipt_id: &str,
    index: i32,
    from: &str,
    to: &str,
) -> Result<bool, StoreError> {
    let moved = sqlx::query(
        "UPDATE receipt_records SET status = $4, updated_at = now() \
         WHERE receipt_id = $1 AND idx = $2 AND status = $3",
    )
    .bind(receipt_id)
    .bind(index)
    .bind(from)
    .bind(to)
    .execute(&mut *conn)
    .await?;
    Ok(moved.rows_affected() == 1)
}

/// Locks a record's row for the caller's transaction and returns its status (`None`: no such
/// record): an operator's action re-reads what it acts on under the lock.
pub async fn lock_record(
    conn: &mut PgConnection,
    receipt_id: &str,
    index: i32,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT status FROM receipt_records WHERE receipt_id = $1 AND idx = $2 FOR UPDATE",
    )
    .bind(receipt_id)
    .bind(index)
    .fetch_optional(&mut *conn)
    .await?)
}

/// A record's status, `None` when the receipt has no such record.
pub async fn record_status(
    pool: &PgPool,
    receipt_id: &str,
    index: i32,
) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT status FROM receipt_records WHERE receipt_id = $1 AND idx = $2")
            .bind(receipt_id)
            .bind(index)
            .fetch_optional(pool)
            .await?,
    )
}
