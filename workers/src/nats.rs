//! The JetStream feed. The relay publishes each event once per position on
//! `<prefix>.events.<AggregateType>` with the position as `Nats-Msg-Id`;
//! each consumer has a durable pull consumer with explicit acks.
//!
//! A subscription first catches up from the event store (the source of
//! truth) to the head, then takes live events from JetStream. A message at or
//! below the last position handed out is a redelivery and is acked and
//! dropped; a jump ahead (say, after JetStream's retention dropped messages)
//! is filled from the event store, so consumers always see a contiguous run.
use std::collections::VecDeque;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, consumer::DeliverPolicy, stream};
use async_trait::async_trait;
use eventstore::StoredEvent;
use futures::{FutureExt, StreamExt};
use sqlx::PgPool;

use crate::{Feed, FeedError, Subscription};

#[derive(Debug, Clone)]
pub struct NatsConfig {
    pub url: String,
    /// Subject and stream prefix, so several installs (or tests) share a server.
    pub prefix: String,
}

impl NatsConfig {
    pub fn stream_name(&self) -> String {
        format!("{}_EVENTS", self.prefix.replace(['.', '-', '*', '>'], "_").to_uppercase())
    }
    pub fn subject(&self, aggregate_type: &str) -> String {
        format!("{}.events.{aggregate_type}", self.prefix)
    }
    pub fn all_subjects(&self) -> String {
        format!("{}.events.>", self.prefix)
    }
}

#[derive(Clone)]
pub struct NatsFeed {
    pub config: NatsConfig,
    pub jetstream: jetstream::Context,
    pool: PgPool,
}

impl NatsFeed {
    /// Connects and makes sure the stream exists.
    pub async fn connect(config: NatsConfig, pool: PgPool) -> Result<NatsFeed, FeedError> {
        let client = async_nats::connect(&config.url).await.map_err(FeedError::nats)?;
        let jetstream = jetstream::new(client);
        jetstream
            .get_or_create_stream(stream::Config {
                name: config.stream_name(),
                subjects: vec![config.all_subjects()],
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(120),
                max_age: Duration::from_secs(7 * 24 * 3600),
                ..Default::default()
            })
            .await
            .map_err(FeedError::nats)?;
        Ok(NatsFeed { config, jetstream, pool })
    }

    /// Removes the stream (tests clean up after themselves with this).
    pub async fn delete_stream(&self) -> Result<(), FeedError> {
        self.jetstream
            .delete_stream(self.config.stream_name())
            .await
            .map_err(FeedError::nats)?;
        Ok(())
    }
}

#[async_trait]
impl Feed for NatsFeed {
    async fn subscribe(&self, name: &str, from: i64) -> Result<Box<dyn Subscription>, FeedError> {
        let durable = name.replace(['.', '*', '>', ' ', ':'], "_");
        let stream = self
            .jetstream
            .get_stream(self.config.stream_name())
            .await
            .map_err(FeedError::nats)?;
        let consumer: jetstream::consumer::PullConsumer = stream
            .get_or_create_consumer(
                &durable,
                pull::Config {
                    durable_name: Some(durable.clone()),
                    ack_policy: AckPolicy::Explicit,
                    deliver_policy: DeliverPolicy::New,
                    ack_wait: Duration::from_secs(30),
                    max_ack_pending: 10_000,
                    ..Default::default()
                },
            )
            .await
            .map_err(FeedError::nats)?;
        // A continuous pull: the client keeps requests outstanding, so a
        // message is handed over as soon as it arrives, not when a batch fills.
        let messages = consumer.messages().await.map_err(FeedError::nats)?;
        Ok(Box::new(NatsSubscription {
            pool: self.pool.clone(),
            messages,
            position: from,
            catching_up: true,
            unacked: VecDeque::new(),
            from_nats: 0,
        }))
    }
}

struct NatsSubscription {
    pool: PgPool,
    messages: pull::Stream,
    position: i64,
    catching_up: bool,
    unacked: VecDeque<(i64, jetstream::Message)>,
    /// How many events came from JetStream rather than the store (for tests and logs).
    from_nats: u64,
}

#[async_trait]
impl Subscription for NatsSubscription {
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<StoredEvent>, FeedError> {
        if self.catching_up {
            let events = eventstore::read_after(&self.pool, self.position, max as i64).await?;
            if let Some(last) = events.last() {
                self.position = last.position;
                return Ok(events);
            }
            self.catching_up = false;
        }
        let mut events = Vec::new();
        // Wait up to `wait` for the first message, then take what is already there.
        let mut next = match tokio::time::timeout(wait, self.messages.next()).await {
            Err(_) => return Ok(events),
            Ok(None) => return Err(FeedError::Nats("the JetStream message stream ended".into())),
            Ok(Some(m)) => Some(m),
        };
        while let Some(message) = next.take() {
            let message = message.map_err(FeedError::nats)?;
            let event: StoredEvent = serde_json::from_slice(&message.payload).map_err(|e| FeedError::Malformed(e.to_string()))?;
            if event.position <= self.position {
                message.ack().await.map_err(FeedError::nats)?;
            } else {
                if event.position > self.position + 1 {
                    let missing = eventstore::read_range(&self.pool, self.position, event.position - 1).await?;
                    if missing.len() as i64 != event.position - 1 - self.position {
                        return Err(FeedError::Malformed(format!(
                            "message for position {} but the store has no events {}..{}",
                            event.position,
                            self.position + 1,
                            event.position - 1
                        )));
                    }
                    events.extend(missing);
                }
                self.position = event.position;
                self.unacked.push_back((event.position, message));
                self.from_nats += 1;
                events.push(event);
            }
            if events.len() < max {
                next = self.messages.next().now_or_never().flatten();
            }
        }
        if !events.is_empty() {
            tracing::trace!(from_nats = self.from_nats, "nats batch");
        }
        Ok(events)
    }

    async fn ack(&mut self, position: i64) -> Result<(), FeedError> {
        while self.unacked.front().is_some_and(|(p, _)| *p <= position) {
            let (_, message) = self.unacked.pop_front().expect("checked");
            message.ack().await.map_err(FeedError::nats)?;
        }
        Ok(())
    }
}
