//! The bot's own tables (migration 0004): the update inbox and conversation
//! sessions. Business state never lives here.
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use teloxide::types::Update;
use uuid::Uuid;

/// How long an update may be in the hands of one handler before another
/// process (or this one, after a restart) handles it again.
pub const LEASE: Duration = Duration::from_secs(60);

/// Records updates durably before they are confirmed to Telegram. Its
/// primary key makes a redelivered update a no-op.
#[derive(Clone)]
pub struct Inbox {
    pool: PgPool,
}

fn chat_of(u: &Update) -> Option<i64> {
    u.chat().map(|c| c.id.0).or_else(|| u.from().map(|f| f.id.0 as i64))
}

impl Inbox {
    pub fn new(pool: PgPool) -> Inbox {
        Inbox { pool }
    }

    /// Records `updates` and returns those never seen before, leased to the
    /// caller. One statement for the whole batch.
    pub async fn admit(&self, updates: &[Update]) -> Result<Vec<Update>, sqlx::Error> {
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = updates.iter().map(|u| u.id.0 as i64).collect();
        let chats: Vec<Option<i64>> = updates.iter().map(chat_of).collect();
        let payloads: Vec<serde_json::Value> = updates
            .iter()
            .map(|u| serde_json::to_value(u).unwrap_or(serde_json::Value::Null))
            .collect();
        let fresh: Vec<i64> = sqlx::query_scalar(
            "INSERT INTO bot_inbox (update_id, chat_id, payload, lease_until) \
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::jsonb[]) AS u(update_id, chat_id, payload) \
             CROSS JOIN (SELECT now() + make_interval(secs => $4)) AS l(lease_until) \
             ON CONFLICT (update_id) DO NOTHING RETURNING update_id",
        )
        .bind(&ids)
        .bind(&chats)
        .bind(&payloads)
        .bind(LEASE.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        Ok(updates.iter().filter(|u| fresh.contains(&(u.id.0 as i64))).cloned().collect())
    }

    /// Marks an update handled (with the error it ended in, if any).
    pub async fn done(&self, update_id: i64, error: Option<String>) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE bot_inbox SET handled_at = now(), error = $2 WHERE update_id = $1")
            .bind(update_id)
            .bind(error)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Takes over updates whose handler died (lease expired, not handled),
    /// oldest first, and forgets handled updates older than two days
    /// (Telegram keeps an unconfirmed update for 24 hours at most).
    pub async fn reclaim(&self) -> Result<Vec<Update>, sqlx::Error> {
        sqlx::query("DELETE FROM bot_inbox WHERE handled_at IS NOT NULL AND received_at < now() - interval '2 days'")
            .execute(&self.pool)
            .await?;
        let rows: Vec<(i64, serde_json::Value)> = sqlx::query_as(
            "UPDATE bot_inbox SET lease_until = now() + make_interval(secs => $1), attempts = attempts + 1 \
             WHERE update_id IN (SELECT update_id FROM bot_inbox WHERE handled_at IS NULL AND lease_until < now() \
             ORDER BY update_id LIMIT 500 FOR UPDATE SKIP LOCKED) RETURNING update_id, payload",
        )
        .bind(LEASE.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        let mut updates = Vec::new();
        for (id, payload) in rows {
            match serde_json::from_value::<Update>(payload) {
                Ok(u) => updates.push(u),
                Err(e) => self.done(id, Some(format!("undecodable: {e}"))).await?,
            }
        }
        updates.sort_by_key(|u| u.id.0);
        Ok(updates)
    }

    /// Updates received and not yet handled.
    pub async fn unhandled(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT count(*) FROM bot_inbox WHERE handled_at IS NULL")
            .fetch_one(&self.pool)
            .await
    }
}

/// What the bot is waiting for from a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Session {
    Idle,
    /// A receipt photo for this payment.
    Receipt {
        payment: Uuid,
    },
    /// A top-up amount typed in.
    TopUpAmount,
    FindUser,
    BlockReason {
        user: i64,
    },
    AdjustAmount {
        user: i64,
    },
    AdjustNote {
        user: i64,
        delta: String,
        reference: Uuid,
    },
    RejectReason {
        payment: Uuid,
    },
    CancelReason {
        subscription: Uuid,
        refund: String,
    },
    SubsOfCustomer,
    AddPlan,
    PlanPrice {
        plan: Uuid,
    },
    AddCard,
    /// A seller's withdrawal: the amount typed in.
    WithdrawAmount,
    /// … then the card (`number | holder`) for this amount.
    WithdrawCard {
        amount: String,
    },
    /// … then the confirmation button with this nonce.
    WithdrawConfirm {
        amount: String,
        card: String,
        holder: String,
        nonce: u64,
    },
    /// Staff: the bank's tracking reference of a paid withdrawal.
    WithdrawalReference {
        withdrawal: Uuid,
    },
    /// Staff: why a withdrawal is rejected.
    WithdrawalRejectReason {
        withdrawal: Uuid,
    },
    /// Live chat and broadcasts (see `handlers::ops`).
    Ops {
        ops: crate::handlers::ops::OpsState,
    },
}

#[derive(Clone)]
pub struct Sessions {
    pool: PgPool,
}

impl Sessions {
    pub fn new(pool: PgPool) -> Sessions {
        Sessions { pool }
    }

    pub async fn get(&self, chat: i64) -> Result<Session, sqlx::Error> {
        let state: Option<serde_json::Value> = sqlx::query_scalar("SELECT state FROM bot_sessions WHERE chat_id = $1")
            .bind(chat)
            .fetch_optional(&self.pool)
            .await?;
        Ok(state.and_then(|s| serde_json::from_value(s).ok()).unwrap_or(Session::Idle))
    }

    pub async fn set(&self, chat: i64, session: &Session) -> Result<(), sqlx::Error> {
        if *session == Session::Idle {
            sqlx::query("DELETE FROM bot_sessions WHERE chat_id = $1")
                .bind(chat)
                .execute(&self.pool)
                .await?;
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO bot_sessions (chat_id, state, updated_at) VALUES ($1, $2, now()) \
             ON CONFLICT (chat_id) DO UPDATE SET state = EXCLUDED.state, updated_at = now()",
        )
        .bind(chat)
        .bind(serde_json::to_value(session).expect("sessions serialize"))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// Claims `key` for one use: true the first time, false ever after.
pub async fn once(pool: &PgPool, key: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("INSERT INTO bot_once (key) VALUES ($1) ON CONFLICT (key) DO NOTHING")
        .bind(key)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}
