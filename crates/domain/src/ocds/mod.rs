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
//! `date` = when gongshi published it, made strictly increasing within the ocid in publication
//! order by [`release_dates`] (RFC 3339 with milliseconds). Parties with an 18-character 统一社会信用代码 get the id
//! `CN-USCC-<code>` and an identifier in scheme `CN-USCC`; other parties an id from their code or
//! name.

pub mod merge;
mod parties;
mod release;
pub mod validate;

pub use release::{PublishedNotice, releases};

use chrono::{DateTime, Duration, DurationRound, Utc};
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

/// The `date`s of one ocid's releases, given when each was published, in the order gongshi
/// published them (the store's `published_seq`).
///
/// Publication instants are not enough to order releases: a back-filled batch publishes a whole
/// procedure within one second, a tender and the notices parked behind it are published in one
/// transaction (one instant), and a transaction's start time can even precede that of a
/// transaction that published earlier. So each date is the publication instant to the
/// millisecond, or 1 ms after the previous release's date when it would not be later — strictly
/// increasing in publication order, and as close to the real instant as that allows (a whole
/// second would push a long back-filled procedure visibly into the future). A release's date
/// depends only on the releases published before it, so it never changes once exported.
pub fn release_dates(published: &[DateTime<Utc>]) -> Vec<DateTime<Utc>> {
    let mut out: Vec<DateTime<Utc>> = Vec::with_capacity(published.len());
    for at in published {
        let ms = at.duration_trunc(Duration::milliseconds(1)).unwrap_or(*at);
        let date = match out.last() {
            Some(prev) if ms <= *prev => *prev + Duration::milliseconds(1),
            _ => ms,
        };
        out.push(date);
    }
    out
}

/// A release date as OCDS text: RFC 3339 at +08:00 with milliseconds.
pub fn date_text(date: &DateTime<Utc>) -> String {
    date.with_timezone(&crate::values::datetime::shanghai())
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

/// The procedure of an ocid made by [`ocid`] with this prefix, or `None`.
pub fn procedure_of(prefix: &str, ocid_text: &str) -> Option<crate::ProcedureKey> {
    fn unpart(s: &str) -> Option<String> {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(i) = rest.find('%') {
            out.push_str(&rest[..i]);
            let code = rest.get(i + 1..i + 3)?;
            out.push(match code.to_ascii_uppercase().as_str() {
                "25" => '%',
                "2D" => '-',
                "2F" => '/',
                _ => return None,
            });
            rest = &rest[i + 3..];
        }
        out.push_str(rest);
        (!out.is_empty()).then_some(out)
    }
    let rest = ocid_text.strip_prefix(prefix)?;
    let mut parts = rest.split('-');
    let (platform, project, section) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let key = crate::ProcedureKey {
        platform: unpart(platform)?,
        project: unpart(project)?,
        section: unpart(section)?,
    };
    (ocid(prefix, &key) == ocid_text).then_some(key)
}

/// The record of one ocid (OCDS 1.1): its releases embedded in date order and the compiled
/// release merged from them by the OCDS merge routine ([`merge`]). `None` without releases. (The
/// gateway's `GET /v1/export/ocds/records` wraps records in a record package.)
pub fn record(releases: &[Value]) -> Option<Value> {
    let compiled = merge::compile(releases, merge::MergeRules::ocds_1_1_5())?;
    Some(json!({
        "ocid": compiled["ocid"],
        "releases": merge::sorted(releases),
        "compiledRelease": compiled,
    }))
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
