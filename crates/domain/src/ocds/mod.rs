//! OCDS 1.1 (Open Contracting Data Standard) releases from published notices: one release per
//! notice and procedure, in a release package. Pure mapping; the gateway's `GET /v1/export/ocds`
//! reads the store and calls it.
//!
//! Mapping (domain.md §6.2):
//!
//! | notice | release `tag` | what it carries |
//! |---|---|---|
//! | 招标公告 / 采购公告 (first version) | `tender` | `tender` (status `active`, value, method, `tenderPeriod` from the `bid` window), buyer, procuring entity |
//! | the same notice re-sent with other content | `tenderUpdate` | as above |
//! | 澄清/修改, 更正公告 | `tenderAmendment` | `tender.amendments[]`, the moved `tenderPeriod.endDate` |
//! | 中标候选人公示 | `award` (`awardUpdate` when re-sent) | a `pending` award to the first-ranked candidate, every candidate a bid in `bids.details` (bids extension) in rank order, `tender.awardPeriod` from the `publicity` window |
//! | 中标结果公告, 中标（成交）结果公告 | `award` (`awardUpdate` when re-sent) | the same award id, now `active`, with the supplier and value |
//! | 终止/流标公告 | `tenderCancellation` | `tender.status` `cancelled` (`unsuccessful` for 流标) |
//!
//! `ocid` = prefix + platform, project and section codes joined by `-` (a `-`, `/` or `%` inside a
//! code is percent-encoded, so distinct procedures never share an ocid). OCDS asks for a prefix
//! registered with the Open Contracting Partnership: [`PLACEHOLDER_PREFIX`] is a placeholder until
//! the centre registers one. Release `id` = the notice id (stable: it hashes the notice's content),
//! `date` = when gongshi published it. Parties with an 18-character 统一社会信用代码 get the id
//! `CN-USCC-<code>` and an identifier in scheme `CN-USCC`; other parties an id from their code or
//! name.

mod parties;
mod release;
pub mod validate;

pub use release::{PublishedNotice, releases};

use serde_json::{Value, json};

/// The ocid prefix used until a registered one is configured (not registered with OCP).
pub const PLACEHOLDER_PREFIX: &str = "ocds-gongshi-";

/// The OCDS bids extension (ranked candidates are bids).
pub const BIDS_EXTENSION: &str = "https://raw.githubusercontent.com/open-contracting-extensions/ocds_bid_extension/v1.1.5/extension.json";

/// Package-level settings.
#[derive(Debug, Clone)]
pub struct PackageMeta {
    /// The package's own URI (the export URL that produced it).
    pub uri: String,
    /// Publisher name.
    pub publisher: String,
    /// When the newest release in it was published (RFC 3339).
    pub published_date: String,
    /// The next page, when there is one.
    pub next: Option<String>,
}

/// The ocid of a procedure.
pub fn ocid(prefix: &str, key: &crate::ProcedureKey) -> String {
    fn part(s: &str) -> String {
        s.replace('%', "%25")
            .replace('-', "%2D")
            .replace('/', "%2F")
    }
    format!(
        "{prefix}{}-{}-{}",
        part(&key.platform),
        part(&key.project),
        part(&key.section)
    )
}

/// A release package of `releases` (OCDS 1.1). `links.next` pages on (pagination as in the OCDS
/// pagination extension's `links`).
pub fn package(meta: &PackageMeta, releases: Vec<Value>) -> Value {
    let mut package = json!({
        "uri": meta.uri,
        "version": "1.1",
        "publishedDate": meta.published_date,
        "publisher": {"name": meta.publisher},
        "extensions": [BIDS_EXTENSION],
        "releases": releases,
    });
    if let Some(next) = &meta.next {
        package["links"] = json!({"next": next});
    }
    package
}

#[cfg(test)]
mod tests;
