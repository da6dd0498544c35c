//! Load → decide → append for one aggregate type, over postgres-es.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, AggregateContext, AggregateError, EventStore};
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;

use crate::error::CommandError;

/// How often a command is retried after losing an optimistic-concurrency race.
/// Each retry reloads the aggregate, so the domain decides again on fresh state.
const MAX_ATTEMPTS: u32 = 64;

pub struct Store<A: Aggregate> {
    inner: Arc<PersistedEventStore<PostgresEventRepository, A>>,
}

impl<A: Aggregate> Clone for Store<A> {
    fn clone(&self) -> Self {
        Store { inner: self.inner.clone() }
    }
}

impl<A> Store<A>
where
    A: Aggregate<Services = ()> + 'static,
    A::Command: Clone,
    CommandError: From<A::Error>,
{
    pub fn new(pool: PgPool) -> Self {
        Store {
            inner: Arc::new(PersistedEventStore::new_event_store(PostgresEventRepository::new(pool))),
        }
    }

    /// The aggregate's current state (the default state when it has no events).
    pub async fn load(&self, id: &str) -> Result<A, CommandError> {
        let mut ctx = self.inner.load_aggregate(id).await.map_err(storage::<A>)?;
        Ok(std::mem::take(ctx.aggregate()))
    }

    /// Runs `command` against aggregate `id` and returns the events it appended
    /// (none when the command was an idempotent repeat).
    pub async fn execute(&self, id: &str, command: A::Command) -> Result<Vec<A::Event>, CommandError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut ctx = self.inner.load_aggregate(id).await.map_err(storage::<A>)?;
            let sink = EventSink::<A>::default();
            ctx.aggregate()
                .handle(command.clone(), &(), &sink)
                .await
                .map_err(CommandError::from)?;
            let events = sink.collect().await;
            if events.is_empty() {
                return Ok(events);
            }
            match self.inner.commit(events.clone(), ctx, HashMap::new()).await {
                Ok(_) => return Ok(events),
                Err(AggregateError::AggregateConflict) if attempt < MAX_ATTEMPTS => {
                    // Spread racing writers out a little so they do not collide again.
                    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 8);
                    tokio::time::sleep(Duration::from_millis(u64::from(attempt.min(8)) + jitter)).await;
                }
                Err(AggregateError::AggregateConflict) => return Err(CommandError::Conflict),
                Err(e) => return Err(storage::<A>(e)),
            }
        }
    }
}

fn storage<A: Aggregate>(e: AggregateError<A::Error>) -> CommandError {
    match e {
        AggregateError::AggregateConflict => CommandError::Conflict,
        other => CommandError::Storage(other.to_string()),
    }
}
