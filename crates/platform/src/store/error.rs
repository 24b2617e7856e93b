//! The store's one error type, and the one place where PostgreSQL's answers are sorted into
//! failures that retrying cannot cure (permanent) and outages that it can (transient).
//!
//! Consumers turn a permanent [`StoreError`] into [`crate::HandlerError::Permanent`] (logged,
//! counted, offset stored, processing moves on) and a transient one into
//! [`crate::HandlerError::Transient`] (retried with back-off, offset not stored).

use std::borrow::Cow;

/// A failure of the PostgreSQL store.
///
/// Build one from a [`sqlx::Error`] with `?` or `From`: the conversion classifies it (see
/// [`StoreError::is_permanent`]). The message carries the SQLSTATE when the database answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database refused the data: a data exception (SQLSTATE class `22`, e.g. `22021`
    /// invalid byte sequence, `22P05` a NUL in text) or an integrity constraint violation (class
    /// `23`). The same data fails the same way every time.
    #[error("database refused the data (SQLSTATE {}): {}", sqlstate_or_none(.0), .0)]
    Refused(sqlx::Error),
    /// A value could not be bound or a stored value could not be read as the type asked for
    /// (column decode, decode, encode, unknown type or column). A bug or bad stored data, not an
    /// outage.
    #[error("stored data does not fit its type: {0}")]
    Decode(sqlx::Error),
    /// A stored JSON document could not be turned into (or made from) its Rust type.
    #[error("stored document does not fit its type: {0}")]
    Json(serde_json::Error),
    /// A database error that retrying may cure: the connection, the pool, a serialization
    /// failure or deadlock, an administrator shutdown, exhausted resources, and everything not
    /// known to be permanent.
    #[error("database unavailable or busy{}: {}", sqlstate_suffix(.0), .0)]
    Unavailable(sqlx::Error),
    /// Applying the migrations failed: permanent when the migrations themselves are at fault
    /// (missing, changed or dirty), otherwise as its database error.
    #[error("migrating the store: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    /// The outbox relay could not send every queued event; the unsent ones stay queued.
    #[error("outbox relay stopped after {sent} of {queued} events")]
    RelayIncomplete {
        /// Events sent in the batch that stopped.
        sent: usize,
        /// Events the batch held.
        queued: usize,
    },
}

impl StoreError {
    /// Whether retrying the same operation cannot succeed: the database refused the data, or
    /// stored data does not fit its type. Everything else (outages, conflicts between
    /// transactions, unknown errors) is transient.
    pub fn is_permanent(&self) -> bool {
        match self {
            StoreError::Refused(_) | StoreError::Decode(_) | StoreError::Json(_) => true,
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e)) => is_permanent(e),
            StoreError::Migrate(_) => true,
            StoreError::Unavailable(_) | StoreError::RelayIncomplete { .. } => false,
        }
    }

    /// The SQLSTATE the database answered with, when it answered.
    pub fn sqlstate(&self) -> Option<Cow<'_, str>> {
        match self {
            StoreError::Refused(e) | StoreError::Decode(e) | StoreError::Unavailable(e) => {
                sqlstate(e)
            }
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e)) => sqlstate(e),
            StoreError::Json(_) | StoreError::Migrate(_) | StoreError::RelayIncomplete { .. } => {
                None
            }
        }
    }

    /// The underlying sqlx error, when there is one.
    pub fn as_sqlx(&self) -> Option<&sqlx::Error> {
        match self {
            StoreError::Refused(e) | StoreError::Decode(e) | StoreError::Unavailable(e) => Some(e),
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e)) => Some(e),
            StoreError::Json(_) | StoreError::Migrate(_) | StoreError::RelayIncomplete { .. } => {
                None
            }
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        classify(e)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(e)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Json(e)
    }
}

/// Sorts a sqlx error into its variant.
fn classify(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(_) if is_permanent(&e) => StoreError::Refused(e),
        _ if is_permanent(&e) => StoreError::Decode(e),
        _ => StoreError::Unavailable(e),
    }
}

/// The store's one SQLSTATE → permanent/transient mapping: whether retrying `e` cannot help.
fn is_permanent(e: &sqlx::Error) -> bool {
    use sqlx::Error as E;
    match e {
        // Everything but the refusals is retried: 40001 serialization failure, 40P01 deadlock,
        // class 08 connection exceptions, 57P01..03 admin/crash shutdown and cannot-connect-now,
        // class 53 insufficient resources — and any other code, on the side of retrying.
        E::Database(db) => db.code().as_deref().is_some_and(is_refusal),
        E::ColumnDecode { .. }
        | E::Decode(_)
        | E::Encode(_)
        | E::TypeNotFound { .. }
        | E::ColumnNotFound(_)
        | E::ColumnIndexOutOfBounds { .. } => true,
        // Io, Tls, Protocol, PoolTimedOut, PoolClosed, WorkerCrashed, RowNotFound, Configuration,
        // Migrate, BeginFailed, …: retried.
        _ => false,
    }
}

/// SQLSTATE classes (and codes) meaning the database refused the data itself.
fn is_refusal(code: &str) -> bool {
    // Class 22: data exception; class 23: integrity constraint violation.
    code.starts_with("22") || code.starts_with("23")
}

fn sqlstate(e: &sqlx::Error) -> Option<Cow<'_, str>> {
    match e {
        sqlx::Error::Database(db) => db.code(),
        _ => None,
    }
}

fn sqlstate_or_none(e: &sqlx::Error) -> Cow<'_, str> {
    sqlstate(e).unwrap_or(Cow::Borrowed("none"))
}

fn sqlstate_suffix(e: &sqlx::Error) -> String {
    sqlstate(e).map_or_else(String::new, |c| format!(" (SQLSTATE {c})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;
    use std::fmt;

    /// A database error with a chosen SQLSTATE, as the PostgreSQL driver would return it.
    #[derive(Debug)]
    struct Db(&'static str);

    impl fmt::Display for Db {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "test error {}", self.0)
        }
    }

    impl std::error::Error for Db {}

    impl sqlx::error::DatabaseError for Db {
        fn message(&self) -> &str {
            "test error"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn db(code: &'static str) -> StoreError {
        StoreError::from(sqlx::Error::Database(Box::new(Db(code))))
    }

    #[test]
    fn data_exceptions_and_constraint_violations_are_permanent() {
        for code in [
            "22021", "22P05", "22001", "22P02", "23505", "23503", "23502", "23514",
        ] {
            let e = db(code);
            assert!(e.is_permanent(), "{code}: {e}");
            assert!(e.to_string().contains(code), "{e}");
            assert_eq!(e.sqlstate().as_deref(), Some(code));
        }
    }

    #[test]
    fn conflicts_outages_and_unknown_codes_are_transient() {
        for code in [
            "40001", "40P01", "08000", "08006", "08003", "57P01", "57P02", "57P03", "53000",
            "53100", "53200", "53300", "XX000", "42P01", "55P03",
        ] {
            let e = db(code);
            assert!(!e.is_permanent(), "{code}: {e}");
            assert!(e.to_string().contains(code), "{e}");
        }
    }

    #[test]
    fn decode_and_type_errors_are_permanent() {
        let errors = [
            sqlx::Error::ColumnDecode {
                index: "\"outcome\"".into(),
                source: "bad".into(),
            },
            sqlx::Error::Decode("bad".into()),
            sqlx::Error::Encode("bad".into()),
            sqlx::Error::TypeNotFound {
                type_name: "nope".into(),
            },
            sqlx::Error::ColumnNotFound("nope".into()),
            sqlx::Error::ColumnIndexOutOfBounds { index: 3, len: 2 },
        ];
        for e in errors {
            let e = StoreError::from(e);
            assert!(e.is_permanent(), "{e}");
        }
        let json = serde_json::from_str::<u8>("\"x\"").expect_err("not a number");
        assert!(StoreError::from(json).is_permanent());
    }

    #[test]
    fn connection_and_pool_errors_are_transient() {
        let errors = [
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
            sqlx::Error::Tls("handshake".into()),
            sqlx::Error::Protocol("garbled".into()),
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
            sqlx::Error::RowNotFound,
        ];
        for e in errors {
            let e = StoreError::from(e);
            assert!(!e.is_permanent(), "{e}");
            assert!(e.sqlstate().is_none());
        }
        assert!(!StoreError::RelayIncomplete { sent: 1, queued: 2 }.is_permanent());
    }

    #[test]
    fn the_message_is_not_repeated_by_the_source_chain() {
        let e = db("22P05");
        assert!(e.source().is_none());
        assert_eq!(
            e.to_string(),
            "database refused the data (SQLSTATE 22P05): error returned from database: test error 22P05"
        );
    }
}
