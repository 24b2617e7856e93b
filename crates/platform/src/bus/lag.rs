//! A consumer group's lag as the broker sees it: per partition, the group's committed offset
//! against the partition's high watermark (librdkafka `committed_offsets` and
//! `fetch_watermarks`), and the broker timestamp of the oldest event the group has not processed
//! yet (the message at its committed offset), read without joining the group or committing.
//!
//! Committed offsets trail the consumers by up to their auto-commit interval (1 s, see
//! [`super::Bus::consumer`]): a lag of a few events that lasts a second is normal; an oldest
//! unprocessed event that grows old is not.

use super::{Bus, BusError};
use chrono::{DateTime, Utc};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use serde::Serialize;
use std::time::Duration;

/// How long one broker request of the lag measurement may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// One partition of a group's topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionLag {
    /// Partition number.
    pub partition: i32,
    /// The group's committed offset (the next event it will process), `None` when it has never
    /// committed on this partition (it then starts at the low watermark).
    pub committed: Option<i64>,
    /// The low watermark (oldest offset the broker keeps).
    pub low: i64,
    /// The high watermark (offset of the next event to be produced).
    pub high: i64,
    /// Events produced but not yet processed by the group: `high - max(committed, low)`.
    pub lag: i64,
    /// Broker timestamp of the oldest unprocessed event, when there is one and it could be read.
    pub oldest_unprocessed_at: Option<DateTime<Utc>>,
}

/// A consumer group's lag on one topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupLag {
    /// The group (without the topic prefix).
    pub group: String,
    /// The topic (without the topic prefix).
    pub topic: String,
    /// Per partition.
    pub partitions: Vec<PartitionLag>,
}

impl GroupLag {
    /// Events not yet processed, over every partition.
    pub fn lag(&self) -> i64 {
        self.partitions.iter().map(|p| p.lag).sum()
    }

    /// The broker timestamp of the oldest unprocessed event over every partition.
    pub fn oldest_unprocessed_at(&self) -> Option<DateTime<Utc>> {
        self.partitions
            .iter()
            .filter_map(|p| p.oldest_unprocessed_at)
            .min()
    }

    /// Whether `offset` on `partition` is still unprocessed by the group (at or after its
    /// committed offset): an event a consumer reports retrying is current only then.
    pub fn unprocessed(&self, partition: i32, offset: i64) -> bool {
        self.partitions
            .iter()
            .find(|p| p.partition == partition)
            .is_none_or(|p| offset >= p.committed.unwrap_or(p.low))
    }
}

impl Bus {
    /// The lag of consumer group `group` (unprefixed) on `topic` (unprefixed), from the broker.
    /// Fails when the broker does not answer within a few seconds.
    pub async fn group_lag(&self, group: &str, topic: &str) -> Result<GroupLag, BusError> {
        let brokers = self.brokers.clone();
        let (group_name, topic_name) = (self.name(group), self.name(topic));
        let (group, topic) = (group.to_owned(), topic.to_owned());
        let partitions =
            tokio::task::spawn_blocking(move || measure(&brokers, &group_name, &topic_name))
                .await
                .map_err(|_| BusError::Kafka(rdkafka::error::KafkaError::Canceled))??;
        Ok(GroupLag {
            group,
            topic,
            partitions,
        })
    }
}

/// Measures every partition of `topic` for `group` (both broker-side names). Blocking.
fn measure(brokers: &str, group: &str, topic: &str) -> Result<Vec<PartitionLag>, BusError> {
    // A client in the group's name only to read its committed offsets: it never subscribes
    // (so it never joins the group) and never commits.
    let offsets: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()?;
    let metadata = offsets.fetch_metadata(Some(topic), REQUEST_TIMEOUT)?;
    let mut list = TopicPartitionList::new();
    for t in metadata.topics().iter().filter(|t| t.name() == topic) {
        for p in t.partitions() {
            list.add_partition(topic, p.id());
        }
    }
    let committed = offsets.committed_offsets(list, REQUEST_TIMEOUT)?;
    let mut partitions = Vec::new();
    for element in committed.elements() {
        let partition = element.partition();
        let (low, high) = offsets.fetch_watermarks(topic, partition, REQUEST_TIMEOUT)?;
        let committed = match element.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        };
        let next = committed.unwrap_or(low).max(low);
        let lag = (high - next).max(0);
        partitions.push(PartitionLag {
            partition,
            committed,
            low,
            high,
            lag,
            oldest_unprocessed_at: None,
        });
    }
    partitions.sort_by_key(|p| p.partition);
    drop(offsets);
    if partitions.iter().any(|p| p.lag > 0) {
        peek_oldest(brokers, group, topic, &mut partitions)?;
    }
    Ok(partitions)
}

/// Reads the broker timestamp of the message at each lagging partition's next offset, with a
/// client of its own group that is assigned (never subscribed) and never commits.
fn peek_oldest(
    brokers: &str,
    group: &str,
    topic: &str,
    partitions: &mut [PartitionLag],
) -> Result<(), BusError> {
    let peek: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("{group}.lag-peek"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()?;
    for p in partitions.iter_mut().filter(|p| p.lag > 0) {
        let next = p.committed.unwrap_or(p.low).max(p.low);
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(topic, p.partition, Offset::Offset(next))?;
        peek.assign(&list)?;
        if let Some(Ok(message)) = peek.poll(REQUEST_TIMEOUT) {
            p.oldest_unprocessed_at = message
                .timestamp()
                .to_millis()
                .and_then(DateTime::<Utc>::from_timestamp_millis);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(partition: i32, committed: Option<i64>, low: i64, high: i64) -> PartitionLag {
        let lag = (high - committed.unwrap_or(low).max(low)).max(0);
        PartitionLag {
            partition,
            committed,
            low,
            high,
            lag,
            oldest_unprocessed_at: None,
        }
    }

    #[test]
    fn an_event_is_unprocessed_from_the_committed_offset_on() {
        let g = GroupLag {
            group: "g".into(),
            topic: "t".into(),
            partitions: vec![partition(0, Some(5), 0, 9), partition(1, None, 3, 3)],
        };
        assert_eq!(g.lag(), 4);
        assert!(g.unprocessed(0, 5));
        assert!(!g.unprocessed(0, 4));
        assert!(g.unprocessed(1, 3));
        assert!(!g.unprocessed(1, 2));
        // A partition the broker did not report: the consumer's word stands.
        assert!(g.unprocessed(7, 0));
    }
}
