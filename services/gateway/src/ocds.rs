//! The OCDS export's settings, paging cursor, a procedure's release history and releases (the
//! routes, `GET /v1/export/ocds` and `GET /v1/export/ocds/records`, are in `routes::export`; the
//! mapping and the merge in `gongshi_domain::ocds`).

use crate::Gateway;
use crate::views::{kind_of, version_links, version_order};
use chrono::{DateTime, Utc};
use gongshi_domain::ocds::{self, PublishedNotice};
use gongshi_domain::period::Window;
use gongshi_domain::{ProcedureKey, Regime};
use gongshi_platform::store::notices::{self, PublicNotice};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

/// OCDS export settings.
#[derive(Debug, Clone, clap::Args)]
pub struct OcdsConfig {
    /// ocid prefix of OCDS releases. Register one with the Open Contracting Partnership; the
    /// default is a placeholder.
    #[arg(long = "ocds-prefix", env = "GONGSHI_OCDS_PREFIX", default_value = ocds::PLACEHOLDER_PREFIX)]
    pub prefix: String,
    /// Publisher name in OCDS release packages.
    #[arg(
        long = "ocds-publisher",
        env = "GONGSHI_OCDS_PUBLISHER",
        default_value = "公共资源交易中心 (placeholder publisher: set GONGSHI_OCDS_PUBLISHER)"
    )]
    pub publisher: String,
}

impl Default for OcdsConfig {
    fn default() -> Self {
        OcdsConfig {
            prefix: ocds::PLACEHOLDER_PREFIX.into(),
            publisher: "公共资源交易中心 (placeholder publisher: set GONGSHI_OCDS_PUBLISHER)"
                .into(),
        }
    }
}

/// `<published_at in µs>_<notice id>`: the last release of a page.
pub(crate) fn cursor_of(n: &PublicNotice) -> Option<String> {
    n.published_at
        .map(|t| format!("{}_{}", t.timestamp_micros(), n.notice_id))
}

pub(crate) fn parse_cursor(cursor: &str) -> Option<(DateTime<Utc>, String)> {
    let (micros, id) = cursor.split_once('_')?;
    let at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| (at, id.to_owned()))
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
pub(crate) fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// What the releases of one procedure (ocid) need from all of its notices: each notice's version
/// in its stage's chain and its release date.
pub(crate) struct History {
    /// The procedure's published notices in publication order.
    pub notices: Vec<PublicNotice>,
    versions: HashMap<String, usize>,
    dates: HashMap<String, DateTime<Utc>>,
}

impl History {
    /// Loads the procedure's published notices (any of whose sections is this one).
    pub async fn load(
        pool: &sqlx::PgPool,
        key: &ProcedureKey,
    ) -> Result<History, gongshi_platform::store::StoreError> {
        let mut list = notices::of_procedure(pool, &key.to_string()).await?;
        version_order(&mut list);
        let versions = version_links(&list)
            .into_iter()
            .map(|(id, link)| (id, link.version))
            .collect();
        // Publication order (`published_seq`): dates strictly increase along it.
        let published: Vec<&PublicNotice> =
            list.iter().filter(|n| n.published_at.is_some()).collect();
        let instants: Vec<DateTime<Utc>> =
            published.iter().filter_map(|n| n.published_at).collect();
        let dates = published
            .iter()
            .map(|n| n.notice_id.clone())
            .zip(ocds::release_dates(&instants))
            .collect();
        Ok(History {
            notices: list,
            versions,
            dates,
        })
    }

    /// The releases of one of its notices in this procedure.
    pub fn releases_of(&self, gw: &Gateway, n: &PublicNotice, key: &ProcedureKey) -> Vec<Value> {
        let version = self.versions.get(&n.notice_id).copied().unwrap_or(1);
        let date = self.dates.get(&n.notice_id).copied();
        releases_of(gw, n, key, version, date)
    }

    /// Every release of the procedure, in publication order.
    pub fn releases(&self, gw: &Gateway, key: &ProcedureKey) -> Vec<Value> {
        self.notices
            .iter()
            .flat_map(|n| self.releases_of(gw, n, key))
            .collect()
    }
}

/// The release of one stored notice in one of its procedures, dated `date` (its place in the
/// procedure's publication order; its publication instant when not given).
fn releases_of(
    gw: &Gateway,
    n: &PublicNotice,
    key: &ProcedureKey,
    version: usize,
    date: Option<DateTime<Utc>>,
) -> Vec<Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    let record = n.notice["canonical"]
        .as_object()
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new));
    let windows: BTreeMap<String, Window> =
        serde_json::from_value(n.outcome["windows"].clone()).unwrap_or_default();
    let regime: Regime =
        serde_json::from_value(n.notice["regime"].clone()).unwrap_or(Regime::Works);
    let Some(published_at) = n.published_at else {
        return Vec::new();
    };
    ocds::releases(
        &gw.config.ocds.prefix,
        &PublishedNotice {
            notice_id: &n.notice_id,
            table: &n.table,
            kind: kind_of(&n.kind),
            regime,
            procedures: std::slice::from_ref(key),
            title: n.notice["title"].as_str().unwrap_or_default(),
            record,
            windows: &windows,
            published_at,
            date: date.unwrap_or(published_at),
            version,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        let at = DateTime::from_timestamp_micros(1_741_000_000_123_456).expect("instant");
        let c = format!("{}_{}", at.timestamp_micros(), "0123abcd");
        assert_eq!(parse_cursor(&c), Some((at, "0123abcd".into())));
        for junk in ["", "x_0123", "123_", "123_zz", "123"] {
            assert_eq!(parse_cursor(junk), None, "{junk}");
        }
        assert_eq!(
            encode("2025-03-01T00:00+08:00"),
            "2025-03-01T00%3A00%2B08%3A00"
        );
    }
}
