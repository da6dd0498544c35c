//! Read models of the Telegram-facing operations (issue 7): broadcasts and
//! their figures, auto-renewal opt-ins, reminders fired, live-chat
//! conversations, their messages, agents (presence, load and response
//! times) and quick replies. Like every projector, they copy what events carry
//! (response times and durations are in the events); agent figures are sums.
use async_trait::async_trait;
use domain::autorenew::AutoRenewalEvent;
use domain::broadcast::BroadcastEvent;
use domain::reminder::{ReminderEvent, ReminderKind};
use domain::support::{ChatContent, QuickReplyEvent, SupportAgentEvent, SupportChatEvent};
use domain::{ActorRef, AnyEvent};
use eventstore::StoredEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::Projector;

fn actor(by: &ActorRef) -> String {
    match by {
        ActorRef::System => "system".to_string(),
        ActorRef::User(id) => id.to_string(),
    }
}

fn uuid(event: &StoredEvent) -> Result<Uuid, sqlx::Error> {
    Uuid::parse_str(&event.aggregate_id).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn segment_json(v: &domain::broadcast::Segment) -> Result<serde_json::Value, sqlx::Error> {
    serde_json::to_value(v).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

fn reminder_json(v: &ReminderKind) -> Result<serde_json::Value, sqlx::Error> {
    serde_json::to_value(v).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

// ---- broadcasts ------------------------------------------------------------------

pub struct Broadcasts;

#[async_trait]
impl Projector for Broadcasts {
    fn name(&self) -> &'static str {
        "broadcasts"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let AnyEvent::Broadcast(event) = decoded else { return Ok(()) };
        let id = uuid(e)?;
        match event {
            BroadcastEvent::BroadcastCreated {
                text,
                segment,
                progress,
                by,
                at,
                ..
            } => {
                sqlx::query(&format!(
                    "INSERT INTO {t} (id, text, segment, segment_label, status, created_by, progress_chat, progress_message, created_at) \
                     VALUES ($1, $2, $3, $4, 'created', $5, $6, $7, $8)"
                ))
                .bind(id)
                .bind(text)
                .bind(segment_json(segment)?)
                .bind(segment.describe())
                .bind(actor(by))
                .bind(progress.map(|p| p.chat_id))
                .bind(progress.map(|p| p.message_id))
                .bind(at)
                .execute(conn)
                .await?;
            }
            BroadcastEvent::BroadcastStarted { recipients, at } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET status = 'running', recipients = $2, started_at = $3 WHERE id = $1"
                ))
                .bind(id)
                .bind(*recipients as i64)
                .bind(at)
                .execute(conn)
                .await?;
            }
            BroadcastEvent::BroadcastCancelled { at, .. } => {
                sqlx::query(&format!("UPDATE {t} SET status = 'cancelled', cancelled_at = $2 WHERE id = $1"))
                    .bind(id)
                    .bind(at)
                    .execute(conn)
                    .await?;
            }
            BroadcastEvent::BroadcastCompleted {
                recipients,
                figures,
                cancelled,
                at,
            } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET status = $2, recipients = $3, sent = $4, blocked = $5, failed = $6, uncertain = $7, \
                     skipped = $8, completed_at = $9 WHERE id = $1"
                ))
                .bind(id)
                .bind(if *cancelled { "cancelled" } else { "completed" })
                .bind(*recipients as i64)
                .bind(figures.sent as i64)
                .bind(figures.blocked as i64)
                .bind(figures.failed as i64)
                .bind(figures.uncertain as i64)
                .bind(figures.skipped as i64)
                .bind(at)
                .execute(conn)
                .await?;
            }
        }
        Ok(())
    }
}

// ---- auto-renewal and reminders -----------------------------------------------------

pub struct AutoRenewals;

#[async_trait]
impl Projector for AutoRenewals {
    fn name(&self) -> &'static str {
        "auto_renewals"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, _e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let AnyEvent::AutoRenewal(event) = decoded else { return Ok(()) };
        use AutoRenewalEvent as E;
        match event {
            E::AutoRenewalEnabled {
                subscription,
                customer,
                at,
                ..
            }
            | E::AutoRenewalDisabled {
                subscription,
                customer,
                at,
                ..
            } => {
                let enabled = matches!(event, E::AutoRenewalEnabled { .. });
                sqlx::query(&format!(
                    "INSERT INTO {t} (subscription_id, customer, enabled, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (subscription_id) DO UPDATE SET enabled = EXCLUDED.enabled, updated_at = EXCLUDED.updated_at"
                ))
                .bind(subscription)
                .bind(customer.0)
                .bind(enabled)
                .bind(at)
                .execute(conn)
                .await?;
            }
            E::AutoRenewalStarted {
                subscription,
                term_expires_at,
                charge_no,
                at,
                ..
            } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET open_charge = $2, open_term = $3, last_term = $3, started_at = $4, updated_at = $4 WHERE subscription_id = $1"
                ))
                .bind(subscription)
                .bind(*charge_no as i32)
                .bind(term_expires_at)
                .bind(at)
                .execute(conn)
                .await?;
            }
            E::AutoRenewalSucceeded { subscription, at, .. } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET open_charge = NULL, open_term = NULL, renewals = renewals + 1, last_result = 'renewed', \
                     last_reason = NULL, updated_at = $2 WHERE subscription_id = $1"
                ))
                .bind(subscription)
                .bind(at)
                .execute(conn)
                .await?;
            }
            E::AutoRenewalFailed {
                subscription, reason, at, ..
            } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET open_charge = NULL, open_term = NULL, failures = failures + 1, last_result = 'failed', \
                     last_reason = $2, updated_at = $3 WHERE subscription_id = $1"
                ))
                .bind(subscription)
                .bind(reason)
                .bind(at)
                .execute(conn)
                .await?;
            }
        }
        Ok(())
    }
}

pub struct RemindersFired;

#[async_trait]
impl Projector for RemindersFired {
    fn name(&self) -> &'static str {
        "reminders_fired"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, _e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let AnyEvent::Reminder(ReminderEvent::ReminderFired { customer, key, kind, at }) = decoded else {
            return Ok(());
        };
        let name = match kind {
            ReminderKind::PointsExpiring { .. } => "points_expiring",
        };
        sqlx::query(&format!(
            "INSERT INTO {t} (customer, key, kind, details, fired_at) VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(customer.0)
        .bind(key)
        .bind(name)
        .bind(reminder_json(kind)?)
        .bind(at)
        .execute(conn)
        .await?;
        Ok(())
    }
}

// ---- live chat ------------------------------------------------------------------------

pub struct SupportChats;

#[async_trait]
impl Projector for SupportChats {
    fn name(&self) -> &'static str {
        "support_chats"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let AnyEvent::SupportChat(event) = decoded else { return Ok(()) };
        let id = uuid(e)?;
        use SupportChatEvent as E;
        let (sql, at): (String, _) = match event {
            E::ChatOpened { at, .. } => (
                format!("INSERT INTO {t} (id, customer, number, status, opened_at, updated_at) VALUES ($1, $3, $4, 'queued', $2, $2)"),
                at,
            ),
            E::ChatAssigned { at, .. } => (
                format!(
                    "UPDATE {t} SET status = 'assigned', agent = $3, queued_secs = $4, assigned_at = $2, updated_at = $2 WHERE id = $1"
                ),
                at,
            ),
            E::CustomerWrote { at, .. } => (
                format!(
                    "UPDATE {t} SET messages = messages + 1, waiting_since = COALESCE(waiting_since, $2), updated_at = $2 WHERE id = $1"
                ),
                at,
            ),
            E::AgentReplied { at, .. } => (
                format!(
                    "UPDATE {t} SET messages = messages + 1, waiting_since = NULL, \
                     first_response_secs = CASE WHEN $3 = 1 THEN $4 ELSE first_response_secs END, updated_at = $2 WHERE id = $1"
                ),
                at,
            ),
            E::ChatClosed { at, .. } => (
                format!(
                    "UPDATE {t} SET status = 'closed', waiting_since = NULL, closed_at = $2, duration_secs = $3, closed_by = $4, \
                     updated_at = $2 WHERE id = $1"
                ),
                at,
            ),
            E::ChatRated { at, .. } => (format!("UPDATE {t} SET rating = $3, updated_at = $2 WHERE id = $1"), at),
        };
        // Parameters: $1 id, $2 at, then the event's own values.
        let q = sqlx::query(&sql).bind(id).bind(at);
        let q = match event {
            E::ChatOpened { customer, number, .. } => q.bind(customer.0).bind(i64::from(*number)),
            E::ChatAssigned { agent, queued_secs, .. } => q.bind(agent.0).bind(queued_secs),
            E::CustomerWrote { .. } => q,
            E::AgentReplied { response_secs, first, .. } => q.bind(i64::from(*first)).bind(response_secs),
            E::ChatClosed { by, duration_secs, .. } => q.bind(duration_secs).bind(actor(by)),
            E::ChatRated { stars, .. } => q.bind(i64::from(*stars)),
        };
        q.execute(conn).await?;
        Ok(())
    }
}

pub struct SupportMessages;

#[async_trait]
impl Projector for SupportMessages {
    fn name(&self) -> &'static str {
        "support_messages"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let (customer, sender, sender_id, message_id, content, response_secs, at) = match decoded {
            AnyEvent::SupportChat(SupportChatEvent::CustomerWrote {
                customer,
                message_id,
                content,
                at,
                ..
            }) => (customer, "customer", customer.0, message_id, content, None, at),
            AnyEvent::SupportChat(SupportChatEvent::AgentReplied {
                customer,
                agent,
                message_id,
                content,
                response_secs,
                at,
                ..
            }) => (customer, "agent", agent.0, message_id, content, *response_secs, at),
            _ => return Ok(()),
        };
        let file_name = match content {
            ChatContent::Document { file_name, .. } => file_name.clone(),
            _ => None,
        };
        sqlx::query(&format!(
            "INSERT INTO {t} (position, chat_id, customer, sender, sender_id, telegram_message_id, content_type, text, file_id, \
             file_name, response_secs, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(e.position)
        .bind(uuid(e)?)
        .bind(customer.0)
        .bind(sender)
        .bind(sender_id)
        .bind(message_id)
        .bind(content.kind())
        .bind(content.text())
        .bind(content.file_id())
        .bind(file_name)
        .bind(response_secs)
        .bind(at)
        .execute(conn)
        .await?;
        Ok(())
    }
}

pub struct SupportAgents;

#[async_trait]
impl Projector for SupportAgents {
    fn name(&self) -> &'static str {
        "support_agents"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, _e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let (agent, set, at, args): (i64, &str, _, Vec<i64>) = match decoded {
            AnyEvent::SupportAgent(SupportAgentEvent::AgentWentOnline { agent, at }) => {
                (agent.0, "online = true, online_since = $2", at, vec![])
            }
            AnyEvent::SupportAgent(SupportAgentEvent::AgentWentOffline { agent, at, .. }) => {
                (agent.0, "online = false, online_since = NULL", at, vec![])
            }
            AnyEvent::SupportChat(SupportChatEvent::ChatAssigned { agent, at, .. }) => (
                agent.0,
                "open_chats = open_chats + 1, chats_assigned = chats_assigned + 1",
                at,
                vec![],
            ),
            AnyEvent::SupportChat(SupportChatEvent::ChatClosed {
                agent: Some(agent), at, ..
            }) => (
                agent.0,
                "open_chats = GREATEST(open_chats - 1, 0), chats_closed = chats_closed + 1",
                at,
                vec![],
            ),
            AnyEvent::SupportChat(SupportChatEvent::AgentReplied {
                agent,
                response_secs,
                first,
                at,
                ..
            }) => {
                let secs = response_secs.unwrap_or(0);
                let responded = i64::from(response_secs.is_some());
                let first_secs = if *first { secs } else { 0 };
                (
                    agent.0,
                    "replies = replies + 1, responses = responses + $3, \
                     response_secs_total = response_secs_total + $4, \
                     response_secs_max = GREATEST(response_secs_max, $4), \
                     first_responses = first_responses + $5, \
                     first_response_secs_total = first_response_secs_total + $6",
                    at,
                    vec![responded, secs, i64::from(*first), first_secs],
                )
            }
            AnyEvent::SupportChat(SupportChatEvent::ChatRated {
                agent: Some(agent),
                stars,
                at,
                ..
            }) => (
                agent.0,
                "ratings = ratings + 1, rating_total = rating_total + $3",
                at,
                vec![i64::from(*stars)],
            ),
            _ => return Ok(()),
        };
        // Make sure the agent has a row, then apply the change to it.
        sqlx::query(&format!(
            "INSERT INTO {t} (agent, updated_at) VALUES ($1, $2) ON CONFLICT (agent) DO NOTHING"
        ))
        .bind(agent)
        .bind(at)
        .execute(&mut *conn)
        .await?;
        let sql = format!("UPDATE {t} SET {set}, updated_at = $2 WHERE agent = $1");
        let mut q = sqlx::query(&sql).bind(agent).bind(at);
        for a in args {
            q = q.bind(a);
        }
        q.execute(conn).await?;
        Ok(())
    }
}

pub struct QuickRepliesModel;

#[async_trait]
impl Projector for QuickRepliesModel {
    fn name(&self) -> &'static str {
        "quick_replies"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, _e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        match decoded {
            AnyEvent::QuickReplies(QuickReplyEvent::QuickReplySaved { title, text, at, .. }) => {
                sqlx::query(&format!(
                    "INSERT INTO {t} (title, text, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (title) DO UPDATE SET text = EXCLUDED.text, updated_at = EXCLUDED.updated_at"
                ))
                .bind(title)
                .bind(text)
                .bind(at)
                .execute(conn)
                .await?;
            }
            AnyEvent::QuickReplies(QuickReplyEvent::QuickReplyRemoved { title, .. }) => {
                sqlx::query(&format!("DELETE FROM {t} WHERE title = $1"))
                    .bind(title)
                    .execute(conn)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }
}
