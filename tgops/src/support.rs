//! Live chat: the dispatcher that gives each queued chat to the least busy
//! support agent who is online (fewest open chats; ties go to whoever was
//! given fewer chats so far). The read models say who is online and how busy;
//! the aggregates decide — a chat is assigned once, only to someone whose
//! events grant `answer_support`.
use std::time::Duration;

use chrono::{DateTime, Utc};
use commands::{CommandError, Commands};
use domain::support::SupportError;
use domain::CustomerId;
use uuid::Uuid;
use workers::{FeedError, Shutdown};

/// An agent's figures from the `support_agents` read model.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentFigures {
    pub agent: i64,
    pub online: bool,
    pub open_chats: i32,
    pub chats_assigned: i64,
    pub chats_closed: i64,
    pub replies: i64,
    /// Mean seconds from a customer's (first unanswered) message to the answer.
    pub mean_response_secs: Option<f64>,
    pub max_response_secs: i64,
    pub mean_first_response_secs: Option<f64>,
    pub mean_rating: Option<f64>,
    pub ratings: i64,
}

/// Response-time figures per agent, busiest first.
pub async fn agent_figures(pool: &sqlx::PgPool) -> Result<Vec<AgentFigures>, sqlx::Error> {
    type Row = (i64, bool, i32, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT agent, online, open_chats, chats_assigned, chats_closed, replies, responses, response_secs_total, \
         response_secs_max, first_responses, first_response_secs_total, ratings, rating_total \
         FROM support_agents ORDER BY chats_assigned DESC, agent",
    )
    .fetch_all(pool)
    .await?;
    let mean = |total: i64, n: i64| (n > 0).then(|| total as f64 / n as f64);
    Ok(rows
        .into_iter()
        .map(
            |(
                agent,
                online,
                open_chats,
                chats_assigned,
                chats_closed,
                replies,
                responses,
                total,
                max,
                firsts,
                first_total,
                ratings,
                rating_total,
            )| {
                AgentFigures {
                    agent,
                    online,
                    open_chats,
                    chats_assigned,
                    chats_closed,
                    replies,
                    mean_response_secs: mean(total, responses),
                    max_response_secs: max,
                    mean_first_response_secs: mean(first_total, firsts),
                    mean_rating: mean(rating_total, ratings),
                    ratings,
                }
            },
        )
        .collect())
}

pub struct SupportDispatcher {
    pub commands: Commands,
    pub interval: Duration,
}

impl SupportDispatcher {
    /// Assigns every queued chat it can; returns (chat, agent) for each assignment made.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<Vec<(Uuid, CustomerId)>, FeedError> {
        assign_queued(&self.commands, now).await
    }

    pub async fn run_until_stopped(self, mut shutdown: Shutdown) {
        loop {
            if let Err(e) = self.step(Utc::now()).await {
                tracing::warn!(error = %e, "support dispatcher step failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {},
                _ = shutdown.stopped() => return,
            }
        }
    }
}

/// Online agents with their load (open chats, chats given so far), confirmed
/// online by their events (the read model may lag a switch-off). `also` is an
/// agent who just came online (the read model may not show it yet).
async fn online_agents(commands: &Commands, also: Option<CustomerId>) -> Result<Vec<(CustomerId, i64, i64)>, FeedError> {
    let mut candidates: Vec<(i64, i32, i64)> =
        sqlx::query_as("SELECT agent, open_chats, chats_assigned FROM support_agents WHERE online OR agent = $1 ORDER BY agent")
            .bind(also.map(|a| a.0))
            .fetch_all(&commands.pool)
            .await?;
    if let Some(a) = also {
        if !candidates.iter().any(|(id, _, _)| *id == a.0) {
            candidates.push((a.0, 0, 0));
        }
    }
    let mut agents = Vec::new();
    for (agent, open, assigned) in candidates {
        if commands.agent_online(CustomerId(agent)).await? {
            agents.push((CustomerId(agent), i64::from(open), assigned));
        }
    }
    Ok(agents)
}

/// Gives `chat` to the least busy of `agents`, counting the assignment in;
/// `None` when nobody could take it (or it was taken or closed meanwhile).
async fn assign_to_least_busy(
    commands: &Commands,
    agents: &mut Vec<(CustomerId, i64, i64)>,
    chat: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<CustomerId>, FeedError> {
    loop {
        let Some(best) = (0..agents.len()).min_by_key(|&i| (agents[i].1, agents[i].2, agents[i].0)) else {
            return Ok(None);
        };
        let agent = agents[best].0;
        match commands.assign_support_chat(chat, agent, now).await {
            Ok(true) => {
                agents[best].1 += 1;
                agents[best].2 += 1;
                return Ok(Some(agent));
            }
            // Assigned meanwhile (another dispatcher), or closed.
            Ok(false) | Err(CommandError::Support(SupportError::AlreadyAssigned(_) | SupportError::Closed)) => return Ok(None),
            // This agent can no longer answer (role revoked, blocked): drop them.
            Err(CommandError::Support(SupportError::Denied(_)) | CommandError::Blocked(_) | CommandError::NotFound(_)) => {
                agents.remove(best);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Gives one chat (just opened, say) to the least busy online agent.
pub async fn assign_chat(commands: &Commands, chat: Uuid, now: DateTime<Utc>) -> Result<Option<CustomerId>, FeedError> {
    let mut agents = online_agents(commands, None).await?;
    assign_to_least_busy(commands, &mut agents, chat, now).await
}

/// Gives queued chats, oldest first, to the least busy online agents.
pub async fn assign_queued(commands: &Commands, now: DateTime<Utc>) -> Result<Vec<(Uuid, CustomerId)>, FeedError> {
    assign_queued_with(commands, None, now).await
}

/// [`assign_queued`], counting in `agent`, who has just come online.
pub async fn assign_queued_with(
    commands: &Commands,
    agent: Option<CustomerId>,
    now: DateTime<Utc>,
) -> Result<Vec<(Uuid, CustomerId)>, FeedError> {
    let queued: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM support_chats WHERE status = 'queued' ORDER BY opened_at LIMIT 200")
        .fetch_all(&commands.pool)
        .await?;
    if queued.is_empty() {
        return Ok(Vec::new());
    }
    let mut agents = online_agents(commands, agent).await?;
    let mut made = Vec::new();
    for chat in queued {
        if agents.is_empty() {
            break;
        }
        if let Some(agent) = assign_to_least_busy(commands, &mut agents, chat, now).await? {
            made.push((chat, agent));
        }
    }
    Ok(made)
}
