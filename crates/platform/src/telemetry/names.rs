//! Every metric gongshi exports, in one list: name, kind and help text. The events in
//! [`super::events`] count through these constants only, and [`describe`] registers the help
//! texts at start-up so `/metrics` shows a `# HELP` line for each.
//!
//! Names and labels are an interface (dashboards, alerts, tests, the README): change one only
//! with a new name.

/// What kind of metric, and for a histogram its bucket bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A count that only grows (`…_total`).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A distribution, rendered by the Prometheus exporter with these bucket upper bounds.
    Histogram {
        /// Bucket upper bounds (the exporter adds `+Inf`).
        buckets: &'static [f64],
    },
}

/// One exported metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    /// Prometheus name (`gongshi_…`).
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// Label names it carries (documentation; keep them low-cardinality).
    pub labels: &'static [&'static str],
    /// The `# HELP` text.
    pub help: &'static str,
}

/// Bucket bounds in seconds for per-event handler time: 1 ms to 30 s.
pub const PROCESSING_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

const fn counter(
    name: &'static str,
    labels: &'static [&'static str],
    help: &'static str,
) -> Metric {
    Metric {
        name,
        kind: Kind::Counter,
        labels,
        help,
    }
}

// Bus (crates/platform/src/bus.rs).

/// Events a consumer's handler applied.
pub const EVENTS_HANDLED: Metric = counter(
    "gongshi_events_handled_total",
    &["consumer"],
    "Events whose handler succeeded and whose offset was stored, per consumer.",
);
/// Events skipped after a permanent failure.
pub const EVENTS_FAILED: Metric = counter(
    "gongshi_events_failed_total",
    &["consumer"],
    "Events that failed permanently and were skipped (offset stored), per consumer.",
);
/// Transient failures retried.
pub const EVENTS_RETRIED: Metric = counter(
    "gongshi_events_retried_total",
    &["consumer"],
    "Transient handler failures, each retried after a back-off, per consumer.",
);
/// Handler time per event.
pub const EVENT_PROCESSING_SECONDS: Metric = Metric {
    name: "gongshi_event_processing_seconds",
    kind: Kind::Histogram {
        buckets: PROCESSING_BUCKETS,
    },
    labels: &["consumer"],
    help: "Time one handler run took (handled, failed or retried), per consumer.",
};
/// Batches a consumer handled one event at a time after the batch's handler failed.
pub const BATCHES_FELL_BACK: Metric = counter(
    "gongshi_batches_fell_back_total",
    &["consumer"],
    "Batches of events whose one-transaction handler failed, so that each event was handled on \
     its own (and retried or quarantined on its own), per consumer.",
);
/// Messages that were not an event envelope.
pub const BUS_EVENTS_UNDECODABLE: Metric = counter(
    "gongshi_bus_events_undecodable_total",
    &["consumer"],
    "Messages that were not a JSON event envelope and were skipped, per consumer.",
);
/// Receive errors of a consumer.
pub const BUS_RECEIVE_ERRORS: Metric = counter(
    "gongshi_bus_receive_errors_total",
    &["consumer"],
    "Errors receiving from the broker (retried after 500 ms), per consumer.",
);
/// Events the broker acknowledged.
pub const BUS_EVENTS_PRODUCED: Metric = counter(
    "gongshi_bus_events_produced_total",
    &["topic"],
    "Events the broker acknowledged, per topic (without the topic prefix).",
);
/// Outbox sends that failed.
pub const OUTBOX_SEND_FAILURES: Metric = counter(
    "gongshi_outbox_send_failures_total",
    &[],
    "Outbox relay sends that failed; the event stays queued and is sent again.",
);

// Ingest.

/// Documents accepted.
pub const DOCUMENTS_RECEIVED: Metric = counter(
    "gongshi_documents_received_total",
    &[],
    "Documents accepted by ingest (stored and announced on the bus).",
);
/// Records in accepted documents.
pub const RECORDS_RECEIVED: Metric = counter(
    "gongshi_records_received_total",
    &[],
    "Records in the documents accepted by ingest.",
);
/// Documents refused for an outage.
pub const DOCUMENTS_NOT_ACCEPTED: Metric = counter(
    "gongshi_documents_not_accepted_total",
    &[],
    "Well-formed documents refused with 503 because the store or the bus was unavailable.",
);

// Validate.

/// Documents validate could not read.
pub const DOCUMENTS_UNREADABLE: Metric = counter(
    "gongshi_documents_unreadable_total",
    &["rule"],
    "Stored documents validate could not parse (rejected whole), per rule.",
);
/// Valid records.
pub const RECORDS_VALID: Metric = counter(
    "gongshi_records_valid_total",
    &[],
    "Records that passed validation.",
);
/// Invalid records.
pub const RECORDS_INVALID: Metric = counter(
    "gongshi_records_invalid_total",
    &["table"],
    "Records that failed validation, per table code.",
);

// Enforce.

/// Notices judged.
pub const NOTICES_JUDGED: Metric = counter(
    "gongshi_notices_judged_total",
    &["outcome"],
    "Notices the period engine judged, per outcome.",
);
/// Duplicate notices.
pub const NOTICES_DUPLICATE: Metric = counter(
    "gongshi_notices_duplicate_total",
    &[],
    "Notices already known (an identical re-send).",
);
/// Holds released.
pub const HOLDS_RELEASED: Metric = counter(
    "gongshi_holds_released_total",
    &[],
    "Held notices published when their hold timer fired.",
);

// Quarantine.

/// Events set aside.
pub const QUARANTINED: Metric = counter(
    "gongshi_quarantined_total",
    &["stage", "reason"],
    "Events a consumer set aside (quarantine) so that nothing behind them waits, per stage and reason (permanent, undecodable, panic, retries-exhausted).",
);
/// Age of the event a consumer is retrying.
pub const CONSUMER_RETRYING_AGE: Metric = Metric {
    name: "gongshi_consumer_retrying_age_seconds",
    kind: Kind::Gauge,
    labels: &["consumer"],
    help: "Seconds since the event a consumer is retrying first failed; 0 when it is retrying nothing.",
};

// The operators' overview, measured by the gateway when `/metrics` is scraped.

/// Broker-side lag of a consumer group.
pub const CONSUMER_LAG: Metric = Metric {
    name: "gongshi_consumer_lag_events",
    kind: Kind::Gauge,
    labels: &["group"],
    help: "Events on the group's topic it has not processed yet (high watermark minus committed offset, from the broker), measured at scrape time.",
};
/// Age of a consumer group's oldest unprocessed event.
pub const CONSUMER_OLDEST_UNPROCESSED_AGE: Metric = Metric {
    name: "gongshi_consumer_oldest_unprocessed_age_seconds",
    kind: Kind::Gauge,
    labels: &["group"],
    help: "Seconds since the oldest event the group has not processed was produced (or since the event it retries first failed); 0 when nothing waits.",
};
/// Whether a consumer group is stuck.
pub const CONSUMER_STUCK: Metric = Metric {
    name: "gongshi_consumer_stuck",
    kind: Kind::Gauge,
    labels: &["group"],
    help: "1 when the group is retrying an event or its oldest unprocessed event waited 30 s or more (red on the operators' overview), else 0.",
};
/// Receipt records by status.
pub const RECORDS_BY_STATUS: Metric = Metric {
    name: "gongshi_records",
    kind: Kind::Gauge,
    labels: &["status"],
    help: "Receipt records in each status (received, published, held, parked, invalid, rejected, quarantined, discarded, duplicate), over every record ever received.",
};
/// Webhook receivers failing now.
pub const WEBHOOK_RECEIVERS_FAILING: Metric = Metric {
    name: "gongshi_webhook_receivers_failing",
    kind: Kind::Gauge,
    labels: &[],
    help: "Subscriptions whose receiver is failing as a whole now (paused between attempts), measured at scrape time. Many at once points at the gateway's own egress rather than the bidders.",
};
/// Webhook deliveries waiting.
pub const WEBHOOK_DELIVERIES_PENDING: Metric = Metric {
    name: "gongshi_webhook_deliveries_pending",
    kind: Kind::Gauge,
    labels: &[],
    help: "Webhook deliveries waiting for a first or further attempt, over every live subscription, measured at scrape time.",
};
/// Whether a dependency answers.
pub const DEPENDENCY_UP: Metric = Metric {
    name: "gongshi_dependency_up",
    kind: Kind::Gauge,
    labels: &["dependency"],
    help: "1 when the dependency (bus, store, index) answers the gateway, else 0.",
};

// Publish.

/// Feed entries appended.
pub const FEED_ENTRIES: Metric = counter(
    "gongshi_feed_entries_total",
    &["type"],
    "Entries appended to the feed store, per event type.",
);

// Gateway.

/// Stream connections.
pub const STREAM_CONNECTIONS: Metric = counter(
    "gongshi_stream_connections_total",
    &[],
    "Server-sent event stream connections opened.",
);
/// Slow stream clients dropped.
pub const STREAM_CLIENTS_DROPPED: Metric = counter(
    "gongshi_stream_clients_dropped_total",
    &[],
    "Stream clients dropped because they fell behind the live buffer.",
);
/// Characters dropped by a feed writer.
pub const FEED_CHARS_DROPPED: Metric = counter(
    "gongshi_feed_chars_dropped_total",
    &[],
    "Feed documents from which a writer dropped characters XML 1.0 cannot carry (validation should have removed them: a bug).",
);
/// Feed pages served, by where they came from.
pub const FEED_PAGES: Metric = counter(
    "gongshi_feed_pages_total",
    &["from"],
    "Feed pages served (200 or 304), by where they came from: `memory` (a rendered page still true for the feed head) or `store` (queried and rendered).",
);
/// Webhook deliveries queued.
pub const WEBHOOK_DELIVERIES_QUEUED: Metric = counter(
    "gongshi_webhook_deliveries_queued_total",
    &[],
    "Webhook deliveries queued by the subscription fan-out.",
);
/// Webhook delivery attempts.
pub const WEBHOOK_DELIVERIES: Metric = counter(
    "gongshi_webhook_deliveries_total",
    &["outcome"],
    "Webhook delivery attempts, per outcome (delivered, failed_attempt).",
);
/// Webhook deliveries given up.
pub const WEBHOOK_DELIVERIES_GIVEN_UP: Metric = counter(
    "gongshi_webhook_deliveries_given_up_total",
    &[],
    "Webhook deliveries given up after the retry horizon.",
);
/// Webhook receivers paused after failing as a whole.
pub const WEBHOOK_RECEIVER_PAUSES: Metric = counter(
    "gongshi_webhook_receiver_pauses_total",
    &[],
    "Times a subscription's receiver failed as a whole (unreachable, timeout, 5xx, an answer about the endpoint) and all its deliveries were paused.",
);

// Process.

/// Tasks aborted at shutdown.
pub const SHUTDOWN_TASKS_ABORTED: Metric = counter(
    "gongshi_shutdown_tasks_aborted_total",
    &[],
    "Tasks aborted because they had not stopped within the shutdown deadline.",
);

/// Requests to public routes refused with 429 (over a client's rate limit).
pub const HTTP_RATE_LIMITED: Metric = counter(
    "gongshi_http_rate_limited_total",
    &[],
    "Requests to public routes refused with 429 because their client exceeded its rate limit.",
);

/// Every metric gongshi exports.
pub const ALL: &[Metric] = &[
    EVENTS_HANDLED,
    EVENTS_FAILED,
    EVENTS_RETRIED,
    BATCHES_FELL_BACK,
    EVENT_PROCESSING_SECONDS,
    BUS_EVENTS_UNDECODABLE,
    BUS_RECEIVE_ERRORS,
    BUS_EVENTS_PRODUCED,
    OUTBOX_SEND_FAILURES,
    DOCUMENTS_RECEIVED,
    RECORDS_RECEIVED,
    DOCUMENTS_NOT_ACCEPTED,
    DOCUMENTS_UNREADABLE,
    RECORDS_VALID,
    RECORDS_INVALID,
    NOTICES_JUDGED,
    NOTICES_DUPLICATE,
    HOLDS_RELEASED,
    QUARANTINED,
    CONSUMER_RETRYING_AGE,
    CONSUMER_LAG,
    CONSUMER_OLDEST_UNPROCESSED_AGE,
    CONSUMER_STUCK,
    RECORDS_BY_STATUS,
    DEPENDENCY_UP,
    FEED_ENTRIES,
    FEED_CHARS_DROPPED,
    FEED_PAGES,
    STREAM_CONNECTIONS,
    STREAM_CLIENTS_DROPPED,
    WEBHOOK_DELIVERIES_QUEUED,
    WEBHOOK_DELIVERIES,
    WEBHOOK_DELIVERIES_GIVEN_UP,
    WEBHOOK_RECEIVER_PAUSES,
    WEBHOOK_RECEIVERS_FAILING,
    WEBHOOK_DELIVERIES_PENDING,
    HTTP_RATE_LIMITED,
    SHUTDOWN_TASKS_ABORTED,
];

/// Registers every metric's help text (and unit) with the installed recorder.
pub fn describe() {
    for m in ALL {
        match m.kind {
            Kind::Counter => metrics::describe_counter!(m.name, m.help),
            Kind::Gauge => metrics::describe_gauge!(m.name, m.help),
            Kind::Histogram { .. } => {
                metrics::describe_histogram!(m.name, metrics::Unit::Seconds, m.help);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_follow_the_conventions() {
        let mut seen = HashSet::new();
        for m in ALL {
            assert!(seen.insert(m.name), "{} listed twice", m.name);
            assert!(m.name.starts_with("gongshi_"), "{}", m.name);
            assert!(!m.help.is_empty(), "{}", m.name);
            match m.kind {
                Kind::Counter => assert!(m.name.ends_with("_total"), "{}", m.name),
                Kind::Gauge => assert!(!m.name.ends_with("_total"), "{}", m.name),
                Kind::Histogram { buckets } => {
                    assert!(m.name.ends_with("_seconds"), "{}", m.name);
                    assert!(!buckets.is_empty(), "{}", m.name);
                    assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{}", m.name);
                }
            }
        }
    }
}
