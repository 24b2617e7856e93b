//! The operators' actions on one record (api.md "Operators"): `retry` a quarantined record,
//! `release` a held, rejected, parked or invalid one (publish now, overriding the rules that block it),
//! `discard` one that should never be published. Each action is checked against the record's
//! status (409 `action-not-applicable` otherwise), written as one append-only audit entry, and
//! carried out by the pipeline through an event sent via the outbox in the same transaction — so
//! an action is either logged and on its way, or neither. Only records no stage holds any more
//! (an invalid record's discard) change status here directly.

use gongshi_domain::events::{Decision, Event as _, NoticeDecided, RecordReleased};
use gongshi_platform::store::operators::{self, NewAuditEntry};
use gongshi_platform::store::records::RecordRow;
use gongshi_platform::store::{self, quarantine};
use gongshi_platform::{ApiError, Bus, ErrorCode, Store};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Shortest reason accepted, in characters.
pub const MIN_REASON_CHARS: usize = 4;

/// An operator action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Process a quarantined record again.
    Retry,
    /// Publish a held, rejected, parked or invalid record now, overriding the rules that block it.
    Release,
    /// Never publish the record.
    Discard,
}

impl Action {
    /// Reads the path segment.
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "retry" => Some(Action::Retry),
            "release" => Some(Action::Release),
            "discard" => Some(Action::Discard),
            _ => None,
        }
    }

    /// Its name in the audit log and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Retry => "retry",
            Action::Release => "release",
            Action::Discard => "discard",
        }
    }

    /// Its Chinese name on the console's buttons.
    pub fn label(self) -> &'static str {
        match self {
            Action::Retry => "重试",
            Action::Release => "放行发布",
            Action::Discard => "作废",
        }
    }

    /// Whether it applies to a record in `status`, and the status it moves the record toward.
    pub fn target(self, status: &str) -> Option<&'static str> {
        match (self, status) {
            (Action::Retry, "quarantined") => Some("received"),
            (Action::Release, "held" | "rejected" | "invalid" | "parked") => Some("published"),
            (Action::Discard, "quarantined" | "invalid" | "held" | "rejected" | "parked") => {
                Some("discarded")
            }
            _ => None,
        }
    }

    /// The actions that apply to a record in `status`.
    pub fn applicable(status: &str) -> Vec<Action> {
        [Action::Retry, Action::Release, Action::Discard]
            .into_iter()
            .filter(|a| a.target(status).is_some())
            .collect()
    }

    /// The actions that apply to `record`: those of its status, without `release` when one of
    /// its errors is one no release can lift ([`unreleasable_rules`]).
    pub fn applicable_to(record: &RecordRow) -> Vec<Action> {
        let mut actions = Action::applicable(&record.status);
        if !unreleasable_rules(&error_rules(record)).is_empty() {
            actions.retain(|a| *a != Action::Release);
        }
        actions
    }
}

/// The body of an action.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ActionRequest {
    /// Why (at least 4 characters; kept in the audit log and, for a release, on the published
    /// notice).
    pub reason: String,
    /// For `release`: the rules to override (default: every rule among the record's errors).
    #[serde(default)]
    pub rules: Option<Vec<String>>,
}

/// What an action did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ActionResult {
    /// The record's receipt.
    pub receipt: String,
    /// The record in it.
    pub index: i32,
    /// The action.
    pub action: Action,
    /// Its status before.
    pub before: String,
    /// Its status now, as this answer is written.
    pub status: String,
    /// The status the action moves it toward (`published` once the pipeline has published a
    /// released record; `status` shows where it is now).
    pub after: String,
    /// The audit entry.
    pub audit_id: i64,
}

/// The longest reason kept, in characters: a reason is shown on the public notice of a release.
pub const MAX_REASON_CHARS: usize = 500;

fn reason_of(request: &ActionRequest) -> Result<&str, ApiError> {
    let reason = request.reason.trim();
    let chars = reason.chars().count();
    if chars < MIN_REASON_CHARS {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!(
                "reason 至少 {MIN_REASON_CHARS} 个字符：请写明操作理由 (a reason of at least {MIN_REASON_CHARS} characters is required)"
            ),
        ));
    }
    if chars > MAX_REASON_CHARS {
        return Err(bad_request(&format!(
            "reason 超过 {MAX_REASON_CHARS} 个字符 (a reason of at most {MAX_REASON_CHARS} characters)"
        )));
    }
    // Shown on the public page and stored as text: control characters (a NUL PostgreSQL
    // refuses) are a paste gone wrong, not a reason. Line breaks are kept.
    if let Some(c) = reason
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(bad_request(&format!(
            "reason 含控制字符 U+{:04X} (a control character is not allowed in a reason)",
            u32::from(c)
        )));
    }
    Ok(reason)
}

/// Why a parked record cannot be released, when it cannot: an amendment (its tender, published
/// later, would be taken for a newer version and undo it), or a notice whose awaited parent
/// stage is in gongshi already, parked, held or refused (releasing the child would publish it
/// ahead of a parent that is still to be published: the parent is the one to act on).
async fn parked_release_refusal(
    store: &gongshi_platform::store::Store,
    record: &RecordRow,
) -> Result<Option<String>, ApiError> {
    let Some(notice_id) = record.notice_id.as_deref() else {
        return Ok(None);
    };
    let (kind, awaiting, waiting_parents) = store::notices::parked_parent(&store.pool, notice_id)
        .await
        .map_err(crate::routes::store_error)?;
    if kind.as_deref() == Some("amendment") {
        return Ok(Some(
            "澄清/更正公告依附于其招标公告，不能在招标公告之前单独放行：招标公告到达后它会自动处理；\
             若招标公告不会再来，请作废本记录并由平台重新推送完整的招标公告 \
             (an amendment cannot be released ahead of its tender)"
                .to_owned(),
        ));
    }
    if let Some((parent, status)) = waiting_parents.first() {
        return Ok(Some(format!(
            "本项目的{}已在本系统中（{parent}，状态 {status}），请先处理该公告，本记录随之自动处理 \
             (the parent stage it waits for is here already: act on that one)",
            awaiting.as_deref().map_or("前序公告", |a| {
                gongshi_domain::Kind::parse(a).map_or("前序公告", gongshi_domain::Kind::zh)
            }),
        )));
    }
    Ok(None)
}

/// The rules among a record's errors, in order, each once.
/// Of a record's failing rules, those no release can lift ([`Stage::releasable`]).
///
/// [`Stage::releasable`]: gongshi_domain::rules::Stage::releasable
pub(crate) fn unreleasable_rules(failing: &[String]) -> Vec<&str> {
    let catalogue = gongshi_domain::rules::Catalogue::embedded();
    failing
        .iter()
        .filter(|rule| {
            catalogue
                .get(rule)
                .is_some_and(|def| !def.stage.releasable())
        })
        .map(String::as_str)
        .collect()
}

fn error_rules(record: &RecordRow) -> Vec<String> {
    let mut rules: Vec<String> = Vec::new();
    for e in record.errors.as_array().into_iter().flatten() {
        if let Some(rule) = e.get("rule").and_then(|r| r.as_str())
            && !rules.iter().any(|r| r == rule)
        {
            rules.push(rule.to_owned());
        }
    }
    rules
}

/// Carries out `action` on a record for `operator` (the console's signed-in operator, or
/// `gongshi release --operator`). `bus` is the pipeline's own (the console's): the action's events
/// are sent at once through it, and a retry needs it. `None` (the command line, whose topic
/// prefix nothing checks) queues them in the outbox for the pipeline's relay, which sends them
/// within a tick: a process that relayed with another prefix would send the pipeline's whole
/// outbox to topics nothing reads.
///
/// Errors: 400 for a short reason or a release naming a rule the record does not fail, 404 for
/// an unknown record, 409 when the action does not apply to its status, 503 when the store is
/// unavailable.
pub async fn act(
    store: &Store,
    bus: Option<&Bus>,
    operator: &str,
    receipt: &str,
    index: i32,
    action: Action,
    request: &ActionRequest,
) -> Result<ActionResult, ApiError> {
    let reason = reason_of(request)?;
    if !crate::ops::records::plausible_receipt(receipt) {
        return Err(ApiError::new(
            ErrorCode::RecordNotFound,
            format!("没有记录 {receipt}#{index} (no such record)"),
        ));
    }
    let record = store::records::get(&store.pool, receipt, index)
        .await
        .map_err(crate::routes::store_error)?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::RecordNotFound,
                format!("没有记录 {receipt}#{index} (no such record)"),
            )
        })?;
    let Some(after) = action.target(&record.status) else {
        return Err(ApiError::new(
            ErrorCode::ActionNotApplicable,
            format!(
                "记录 {receipt}#{index} 的状态为 {}，不能{}（{}） (action {} does not apply to status {})",
                record.status,
                action.label(),
                match Action::applicable(&record.status).as_slice() {
                    [] => "该状态没有可用操作".to_owned(),
                    actions => format!(
                        "可用操作：{}",
                        actions
                            .iter()
                            .map(|a| a.label())
                            .collect::<Vec<_>>()
                            .join("、")
                    ),
                },
                action.as_str(),
                record.status
            ),
        ));
    };
    if action == Action::Release
        && record.status == "parked"
        && let Some(why) = parked_release_refusal(store, &record).await?
    {
        return Err(ApiError::new(
            ErrorCode::ActionNotApplicable,
            format!("记录 {receipt}#{index} 不能放行：{why}"),
        ));
    }
    let failing = error_rules(&record);
    let rules = match &request.rules {
        Some(named) if named.is_empty() => {
            return Err(bad_request(
                "rules 为空：不写 rules 即放行该记录违反的全部规则 (an empty rules list names nothing)",
            ));
        }
        Some(named) if action == Action::Release => {
            if let Some(unknown) = named.iter().find(|r| !failing.contains(r)) {
                let fails = if failing.is_empty() {
                    "该记录没有违反任何规则：不写 --rule/rules 即可放行".to_owned()
                } else {
                    format!("违反的规则：{}", failing.join("、"))
                };
                return Err(bad_request(&format!(
                    "记录 {receipt}#{index} 没有违反规则 {unknown}，无需放行（{fails}） (the record does not fail that rule)"
                )));
            }
            named.clone()
        }
        _ => failing.clone(),
    };
    if action == Action::Release {
        let unreleasable = unreleasable_rules(&failing);
        if !unreleasable.is_empty() {
            return Err(ApiError::new(
                ErrorCode::ActionNotApplicable,
                format!(
                    "记录 {receipt}#{index} 违反 {}：其内容无法读成公告（字段值无法读取或不符合数据表结构），放行后也没有可发布的公告，不能放行；请平台改正后重新发送，或作废本记录 (a record failing a document, field or schema rule cannot form a notice: it cannot be released)",
                    unreleasable.join("、")
                ),
            ));
        }
        if record.status == "invalid" && rules.is_empty() {
            return Err(bad_request(&format!(
                "记录 {receipt}#{index} 的错误没有可放行的规则 (no rule to release)"
            )));
        }
        // Enforcement keeps no partial releases: a rejected notice is released from all its rules
        // at once, or not at all.
        let left: Vec<&String> = failing.iter().filter(|r| !rules.contains(r)).collect();
        if record.status == "rejected" && !left.is_empty() {
            return Err(bad_request(&format!(
                "记录 {receipt}#{index} 还违反规则 {}，需一并放行才能发布 (the notice still fails other rules: name them too)",
                left.iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join("、")
            )));
        }
    }
    let entry = NewAuditEntry {
        operator,
        action: action.as_str(),
        receipt,
        index,
        reason,
        before: &record.status,
        after,
        detail: json!({ "rules": rules, "quarantine": record.quarantine, "notice_id": record.notice_id }),
    };
    let store_error = crate::routes::store_error;
    let mut tx = store
        .pool
        .begin()
        .await
        .map_err(|e| store_error(e.into()))?;
    // Locked and read again: another operator's action, or the pipeline, may have moved it.
    let now = store::receipts::lock_record(&mut tx, receipt, index)
        .await
        .map_err(store_error)?;
    if now.as_deref() != Some(record.status.as_str()) {
        return Err(ApiError::new(
            ErrorCode::ActionNotApplicable,
            format!(
                "记录 {receipt}#{index} 的状态刚刚变为 {}，请刷新后再操作 (the record moved meanwhile)",
                now.unwrap_or_default()
            ),
        ));
    }
    let audit_id = operators::append(&mut tx, &entry)
        .await
        .map_err(store_error)?;
    match (action, record.status.as_str()) {
        (Action::Retry | Action::Discard, "quarantined") => {
            let quarantine = record.quarantine.as_ref();
            let id = quarantine
                .and_then(|q| q.get("id"))
                .and_then(serde_json::Value::as_i64)
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::ActionNotApplicable,
                        format!("记录 {receipt}#{index} 没有待处理的隔离事件 (no open quarantine)"),
                    )
                })?;
            let resolved =
                quarantine::resolve_in(&mut tx, id, action == Action::Retry, operator, reason)
                    .await
                    .map_err(store_error)?
                    .ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::ActionNotApplicable,
                            format!(
                                "隔离事件 {id} 已被处理 (the quarantine was resolved meanwhile)"
                            ),
                        )
                    })?;
            // A document-level quarantine moves every quarantined record of the document: each
            // record the resolution moved gets its own audit entry.
            for (sibling_receipt, sibling) in resolved
                .records
                .iter()
                .filter(|(r, i)| (r.as_str(), *i) != (receipt, index))
            {
                operators::append(
                    &mut tx,
                    &NewAuditEntry {
                        receipt: sibling_receipt,
                        index: *sibling,
                        detail: json!({ "quarantine": record.quarantine, "with": index }),
                        ..entry.clone()
                    },
                )
                .await
                .map_err(store_error)?;
            }
            if action == Action::Retry {
                // Sent before the commit: a retry that could not be sent is not logged as done
                // (the record stays quarantined; the operator tries again).
                let bus = bus.ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::Unavailable,
                        "重试需要消息总线：请在运营控制台操作 (a retry is sent through the pipeline's bus)",
                    )
                })?;
                bus.redrive(&resolved).await.map_err(|e| {
                    tracing::error!(error = %e, receipt, index, message = "retry could not be sent");
                    ApiError::new(
                        ErrorCode::Unavailable,
                        "消息总线暂不可用，未重试 (the bus is unavailable; nothing was retried)",
                    )
                })?;
            }
        }
        (Action::Release, "invalid") => {
            for rule in &rules {
                let event = RecordReleased {
                    receipt: receipt.to_owned(),
                    index,
                    rule: rule.clone(),
                    released_by: operator.to_owned(),
                    reason: reason.to_owned(),
                };
                store::outbox::enqueue(&mut tx, RecordReleased::TOPIC, &event.envelope())
                    .await
                    .map_err(store_error)?;
            }
            // In flight until validation has checked it again: a second action meanwhile finds
            // it moved (409), not a record still waiting to be released.
            store::receipts::move_status_in(&mut tx, receipt, index, "invalid", "received")
                .await
                .map_err(store_error)?;
        }
        (Action::Discard, "invalid") => {
            // No stage holds an invalid record any more: the status is the whole action.
            store::receipts::move_status_in(&mut tx, receipt, index, "invalid", "discarded")
                .await
                .map_err(store_error)?;
        }
        (_, _) => {
            // held, rejected, parked: the notice is enforcement's; the decision goes to it, and
            // the record shows `received` (in flight) until enforcement has applied it.
            let notice_id = record.notice_id.clone().ok_or_else(|| {
                ApiError::new(
                    ErrorCode::ActionNotApplicable,
                    format!("记录 {receipt}#{index} 没有对应的公告 (no notice)"),
                )
            })?;
            let event = NoticeDecided {
                decision: if action == Action::Release {
                    Decision::Release
                } else {
                    Decision::Discard
                },
                notice_id,
                procedure: record.procedure.clone().unwrap_or_default(),
                receipt: receipt.to_owned(),
                index,
                rules: if record.status == "held" {
                    Vec::new()
                } else {
                    rules.clone()
                },
                decided_by: operator.to_owned(),
                reason: reason.to_owned(),
                audit_id,
                quarantine_id: None,
            };
            store::outbox::enqueue(&mut tx, NoticeDecided::TOPIC, &event.envelope())
                .await
                .map_err(store_error)?;
            store::receipts::move_status_in(&mut tx, receipt, index, &record.status, "received")
                .await
                .map_err(store_error)?;
        }
    }
    tx.commit().await.map_err(|e| store_error(e.into()))?;
    // Logged and queued: send now (enforce's relay sends whatever this does not).
    if let Some(bus) = bus
        && let Err(e) = store::outbox::relay(&store.pool, bus).await
    {
        tracing::warn!(error = %format!("{e:#}"), message = "outbox relay after an operator action incomplete; enforce relays it");
    }
    tracing::info!(
        operator,
        action = action.as_str(),
        receipt,
        index,
        audit_id,
        message = "operator action"
    );
    let status = store::receipts::record_status(&store.pool, receipt, index)
        .await
        .map_err(store_error)?
        .unwrap_or_else(|| record.status.clone());
    Ok(ActionResult {
        receipt: receipt.to_owned(),
        index,
        action,
        before: record.status,
        status,
        after: after.to_owned(),
        audit_id,
    })
}

fn bad_request(message: &str) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_action_applies_to_its_statuses_only() {
        let statuses = [
            "received",
            "invalid",
            "rejected",
            "parked",
            "held",
            "published",
            "duplicate",
            "quarantined",
            "discarded",
        ];
        let table: Vec<(&str, Vec<&str>)> = statuses
            .iter()
            .map(|s| {
                (
                    *s,
                    Action::applicable(s).iter().map(|a| a.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            table,
            vec![
                ("received", vec![]),
                ("invalid", vec!["release", "discard"]),
                ("rejected", vec!["release", "discard"]),
                ("parked", vec!["release", "discard"]),
                ("held", vec!["release", "discard"]),
                ("published", vec![]),
                ("duplicate", vec![]),
                ("quarantined", vec!["retry", "discard"]),
                ("discarded", vec![]),
            ]
        );
    }
}
