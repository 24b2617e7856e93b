//! The outbox relay on the real store and broker: a pass from a place (what a stage's own commit
//! woke it for) sends what was queued after it and skips what committed behind it meanwhile, which
//! the whole pass of the next tick sends; nothing is sent twice or left behind. Needs
//! `DATABASE_URL` and `GONGSHI_KAFKA_BROKERS` (what `eval "$(scripts/stack up)"` exports);
//! skipped, with a note, without them.

mod support;

use gongshi_platform::bus::{Bus, Envelope};
use gongshi_platform::store::outbox;
use support::fresh_store;

async fn queued(pool: &sqlx::PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT event_id FROM outbox ORDER BY ord")
        .fetch_all(pool)
        .await
        .expect("outbox")
}

#[tokio::test]
async fn a_pass_from_a_place_skips_what_committed_behind_it_and_a_whole_pass_sends_it() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let Ok(brokers) = std::env::var("GONGSHI_KAFKA_BROKERS") else {
        eprintln!("GONGSHI_KAFKA_BROKERS not set: skipping a broker test");
        return;
    };
    let prefix = format!(
        "relaytest-{}.",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let bus = Bus::connect(&brokers, &prefix).expect("bus");
    bus.ensure_topics(&["t"], 1, 1).await.expect("topic");
    let pool = &store.pool;
    let event = |id: &str| Envelope::new(id, "test.event", "k", serde_json::json!({}));

    // `early` takes its place first but commits last: a slow transaction of another writer.
    let mut slow = pool.begin().await.expect("begin");
    outbox::enqueue(&mut slow, "t", &event("early"))
        .await
        .expect("enqueue");
    let mut tx = pool.begin().await.expect("begin");
    outbox::enqueue(&mut tx, "t", &event("late"))
        .await
        .expect("enqueue");
    tx.commit().await.expect("commit");

    let first = outbox::relay_from(pool, &bus, 0).await.expect("relay");
    assert_eq!(first.sent, 1, "only what was committed");
    assert_eq!(queued(pool).await, Vec::<String>::new());
    slow.commit().await.expect("commit");
    assert_eq!(queued(pool).await, ["early"]);

    // A pass from where the last ended does not see it (it sits behind), nor does it move back.
    let from_place = outbox::relay_from(pool, &bus, first.next)
        .await
        .expect("relay");
    assert_eq!((from_place.sent, from_place.next), (0, first.next));
    assert_eq!(queued(pool).await, ["early"]);

    // The whole pass sends it; the queue is empty and stays so.
    let whole = outbox::relay_from(pool, &bus, 0).await.expect("relay");
    assert_eq!(whole.sent, 1);
    assert_eq!(queued(pool).await, Vec::<String>::new());
    assert_eq!(outbox::relay(pool, &bus).await.expect("relay"), 0);
}
