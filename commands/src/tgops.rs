//! Use cases of the Telegram-facing operations (issue 7): auto-renewal,
//! reminders, live chat support and broadcasts. Each loads what the domain
//! needs (the subscription's owner, the `chat`/`broadcasts` feature switches,
//! an agent's permissions from their events) and executes.
use chrono::{DateTime, Duration, Utc};
use domain::access::Actor;
use domain::autorenew::{AutoRenewal, AutoRenewalCommand, RenewalOutcome};
use domain::broadcast::{Broadcast, BroadcastCommand, DeliveryFigures, ProgressMessage, Segment};
use domain::features::Feature;
use domain::reminder::{ReminderCommand, ReminderKind, Reminders};
use domain::subscription::{SubscriptionCommand, SubscriptionStatus};
use domain::support::{
    chat_id, ChatContent, QuickReplies, QuickReplyCommand, SupportAgent, SupportAgentCommand, SupportChat, SupportChatCommand, SupportError,
};
use domain::CustomerId;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{CommandError, Commands, PurchaseOutcome, Store};

/// The event stores of the operations aggregates.
#[derive(Clone)]
pub(crate) struct Stores {
    pub auto_renewals: Store<AutoRenewal>,
    pub reminders: Store<Reminders>,
    pub chats: Store<SupportChat>,
    pub agents: Store<SupportAgent>,
    pub quick_replies: Store<QuickReplies>,
    pub broadcasts: Store<Broadcast>,
}

impl Stores {
    pub fn new(pool: &PgPool) -> Self {
        Stores {
            auto_renewals: Store::new(pool.clone()),
            reminders: Store::new(pool.clone()),
            chats: Store::new(pool.clone()),
            agents: Store::new(pool.clone()),
            quick_replies: Store::new(pool.clone()),
            broadcasts: Store::new(pool.clone()),
        }
    }
}

/// What one auto-renewal pass did for a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoRenewalStep {
    /// Nothing to do (not enabled, not active, a charge in progress, this
    /// term's renewal already finished, or finished by another scheduler now).
    Idle,
    /// The renewal's charge is still being paid by another process.
    InProgress { charge_no: u32 },
    /// The renewal of the term finished now, as recorded.
    Finished { charge_no: u32, outcome: RenewalOutcome },
}

/// How opening a live chat went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenedChat {
    pub chat: Uuid,
    /// False when the customer already had this chat open.
    pub new: bool,
}

impl Commands {
    // ---- auto-renewal -------------------------------------------------------------

    /// Switches auto-renewal of `subscription` on or off for its customer (or
    /// by staff with `manage_subscriptions`). Returns whether it changed.
    pub async fn set_auto_renewal(&self, by: &Actor, subscription: Uuid, enabled: bool, at: DateTime<Utc>) -> Result<bool, CommandError> {
        let sub = self.subscription(subscription).await?;
        let owner = sub.customer.ok_or(CommandError::NotFound("subscription"))?;
        if by.customer_id() == Some(owner) {
            // A blocked customer changes nothing (their actor would carry no power either).
            if self.customers.load(&owner.to_string()).await?.blocked {
                return Err(CommandError::Blocked(owner));
            }
        }
        let command = if enabled {
            AutoRenewalCommand::Enable {
                subscription,
                owner,
                by: by.clone(),
                at,
            }
        } else {
            AutoRenewalCommand::Disable {
                subscription,
                owner,
                by: by.clone(),
                at,
            }
        };
        let events = self.tgops.auto_renewals.execute(&subscription.to_string(), command).await?;
        Ok(!events.is_empty())
    }

    /// The auto-renewal state of a subscription, from its events.
    pub async fn auto_renewal(&self, subscription: Uuid) -> Result<AutoRenewal, CommandError> {
        self.tgops.auto_renewals.load(&subscription.to_string()).await
    }

    /// One pass of auto-renewal for `subscription`: finishes a started
    /// renewal, or starts this term's (once) and pays it from the wallet
    /// through the subscription's charge → debit → settle steps, then
    /// records the outcome. Safe to run twice at once and to redo after a
    /// crash anywhere: a term starts once, its charge number is requested
    /// once, a charge settles once, an outcome is recorded once. A term is
    /// started only when it ends within `lead` of `at`.
    pub async fn run_auto_renewal(&self, subscription: Uuid, lead: Duration, at: DateTime<Utc>) -> Result<AutoRenewalStep, CommandError> {
        self.begin_auto_renewal(subscription, lead, at).await?;
        self.finish_auto_renewal(subscription, at).await
    }

    /// The first step of [`Commands::run_auto_renewal`]: starts this term's
    /// renewal (once) if auto-renewal is on, the term ends within `lead` of
    /// `at`, and no charge is in progress. Returns the open renewal's charge
    /// number, if one is open.
    pub async fn begin_auto_renewal(&self, subscription: Uuid, lead: Duration, at: DateTime<Utc>) -> Result<Option<u32>, CommandError> {
        let key = subscription.to_string();
        let state = self.tgops.auto_renewals.load(&key).await?;
        if let Some(open) = state.open {
            return Ok(Some(open.charge_no));
        }
        if !state.enabled {
            return Ok(None);
        }
        let sub = self.subscriptions.load(&key).await?;
        let Some(term) = sub.expires_at else { return Ok(None) };
        let due = term <= at + lead;
        if !due || sub.status != SubscriptionStatus::Active || sub.pending.is_some() || state.terms.contains(&term.timestamp_millis()) {
            return Ok(None);
        }
        let start = AutoRenewalCommand::Start {
            term_expires_at: term,
            charge_no: sub.charges + 1,
            at,
        };
        match self.tgops.auto_renewals.execute(&key, start).await {
            Ok(_) => {}
            // Another scheduler started a renewal meanwhile: that one is finished instead.
            Err(CommandError::AutoRenewal(domain::autorenew::AutoRenewalError::RenewalOpen(_))) => {}
            Err(e) => return Err(e),
        }
        Ok(self.tgops.auto_renewals.load(&key).await?.open.map(|o| o.charge_no))
    }

    /// The rest of [`Commands::run_auto_renewal`]: requests the open
    /// renewal's charge (once), pays it, records the outcome (once).
    pub async fn finish_auto_renewal(&self, subscription: Uuid, at: DateTime<Utc>) -> Result<AutoRenewalStep, CommandError> {
        let key = subscription.to_string();
        let state = self.tgops.auto_renewals.load(&key).await?;
        let Some(open) = state.open.clone() else {
            return Ok(AutoRenewalStep::Idle);
        };
        let charge_no = open.charge_no;
        let failed = |reason: String| RenewalOutcome::Failed { reason };
        let outcome = match self.request_auto_renewal(subscription, charge_no, at).await {
            Ok(()) if !self.is_renewal_charge(subscription, charge_no).await? => {
                // Another charge (extra traffic bought at that very moment) took
                // the number; the customer renews by hand or at the next term.
                failed(format!("charge #{charge_no} was taken by another purchase"))
            }
            Ok(()) => {
                self.complete_charge(subscription, charge_no, at).await?;
                match self.charge_outcome(subscription, charge_no).await {
                    Ok(PurchaseOutcome::Active { expires_at, .. }) => RenewalOutcome::Renewed { expires_at },
                    Ok(PurchaseOutcome::Failed { reason, .. }) => failed(reason),
                    Err(CommandError::Conflict) => return Ok(AutoRenewalStep::InProgress { charge_no }),
                    Err(e) => return Err(e),
                }
            }
            Err(e) if e.is_user_error() => failed(e.to_string()),
            Err(e) => return Err(e),
        };
        let recorded = self
            .tgops
            .auto_renewals
            .execute(
                &key,
                AutoRenewalCommand::RecordOutcome {
                    charge_no,
                    outcome: outcome.clone(),
                    at,
                },
            )
            .await?;
        if recorded.is_empty() {
            // Another scheduler recorded it first.
            return Ok(AutoRenewalStep::Idle);
        }
        Ok(AutoRenewalStep::Finished { charge_no, outcome })
    }

    /// Requests charge `charge_no` as a renewal at today's price of the same
    /// plan (an agent's own price for a seller), unless it exists already.
    pub async fn request_auto_renewal(&self, subscription: Uuid, charge_no: u32, at: DateTime<Utc>) -> Result<(), CommandError> {
        let sub = self.subscription(subscription).await?;
        if sub.charges >= charge_no {
            return Ok(());
        }
        let current = sub.plan.clone().ok_or(CommandError::NotFound("subscription"))?;
        let plan = self.plans.load(&current.plan_id.to_string()).await?;
        if plan.retired {
            return Err(domain::plan::PlanError::Retired.into());
        }
        let agent_price = match sub.customer {
            Some(c) => self.agent_price(c, current.plan_id, plan.price).await?,
            None => None,
        };
        let snapshot = domain::plan::PlanSnapshot {
            price: agent_price.unwrap_or(plan.price),
            duration_days: plan.duration_days,
            traffic_gb: plan.traffic_gb,
            name: plan.name.clone(),
            plan_id: current.plan_id,
        };
        match self
            .subscriptions
            .execute(
                &subscription.to_string(),
                SubscriptionCommand::RequestAutoRenewal {
                    plan: snapshot,
                    charge_no,
                    at,
                },
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Whether charge `charge_no` of the subscription is a renewal (a charge
    /// the customer requested by hand between the start and the request may
    /// have taken the number).
    async fn is_renewal_charge(&self, subscription: Uuid, charge_no: u32) -> Result<bool, CommandError> {
        use domain::subscription::{ChargeKind, SubscriptionEvent as E};
        Ok(self
            .charge_events(subscription)
            .await?
            .into_iter()
            .any(|e| matches!(e, E::ChargeRequested { charge_no: n, kind: ChargeKind::Renewal { .. }, .. } if n == charge_no)))
    }

    // ---- reminders ----------------------------------------------------------------------

    /// Fires reminder `key` for `customer` unless it fired before; returns whether it fired now.
    pub async fn fire_reminder(
        &self,
        customer: CustomerId,
        key: String,
        kind: ReminderKind,
        at: DateTime<Utc>,
    ) -> Result<bool, CommandError> {
        let events = self
            .tgops
            .reminders
            .execute(&customer.to_string(), ReminderCommand::Fire { customer, key, kind, at })
            .await?;
        Ok(!events.is_empty())
    }

    // ---- live chat ------------------------------------------------------------------------

    /// The customer's open chat, or a new one in the queue. Refused while
    /// the `chat` feature is off (or not licensed).
    pub async fn open_support_chat(&self, by: &Actor, at: DateTime<Utc>) -> Result<OpenedChat, CommandError> {
        let customer = by.customer_id().ok_or(CommandError::NotFound("customer"))?;
        if let Some(chat) = self.open_chat_of(customer).await? {
            return Ok(OpenedChat { chat, new: false });
        }
        let chat_enabled = self.feature_enabled(Feature::Chat, at).await?;
        // Chats are numbered per customer; the events decide: a number
        // already used is skipped, an open chat is returned.
        let mut number = self.first_unclosed_chat_number(customer).await?;
        loop {
            let id = chat_id(customer, number);
            let existing = self.tgops.chats.load(&id.to_string()).await?;
            if existing.id.is_some() {
                if existing.is_open() {
                    return Ok(OpenedChat { chat: id, new: false });
                }
                number += 1;
                continue;
            }
            let open = SupportChatCommand::Open {
                id,
                customer,
                number,
                chat_enabled,
                by: by.clone(),
                at,
            };
            match self.tgops.chats.execute(&id.to_string(), open).await {
                Ok(_) => return Ok(OpenedChat { chat: id, new: true }),
                // Opened by a parallel update of the same customer: the same chat.
                Err(CommandError::Support(SupportError::AlreadyExists)) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The customer's open chat, if any. Chats are numbered 1, 2, … per
    /// customer and at most the newest is open, so the events are walked
    /// from the first number the read model does not show as closed: a
    /// lagging read model only makes the walk start lower, never skip the
    /// open chat (starting from a count of all rows could land past a chat
    /// projected a moment ago and open a second one).
    pub async fn open_chat_of(&self, customer: CustomerId) -> Result<Option<Uuid>, CommandError> {
        let mut number = self.first_unclosed_chat_number(customer).await?;
        loop {
            let id = chat_id(customer, number);
            let state = self.tgops.chats.load(&id.to_string()).await?;
            if state.id.is_none() {
                return Ok(None);
            }
            if state.is_open() {
                return Ok(Some(id));
            }
            number += 1;
        }
    }

    /// One more than the chats the read model shows closed (closing is
    /// final, so this never exceeds the number of the open or next chat).
    async fn first_unclosed_chat_number(&self, customer: CustomerId) -> Result<u32, CommandError> {
        let closed: i64 = sqlx::query_scalar("SELECT count(*) FROM support_chats WHERE customer = $1 AND status = 'closed'")
            .bind(customer.0)
            .fetch_one(&self.pool)
            .await?;
        Ok(u32::try_from(closed).unwrap_or(0) + 1)
    }

    pub async fn support_chat(&self, chat: Uuid) -> Result<SupportChat, CommandError> {
        let state = self.tgops.chats.load(&chat.to_string()).await?;
        if state.id.is_none() {
            return Err(CommandError::NotFound("chat"));
        }
        Ok(state)
    }

    /// A message from the customer into their chat.
    pub async fn post_to_support(
        &self,
        by: &Actor,
        chat: Uuid,
        message_id: i64,
        content: ChatContent,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        self.tgops
            .chats
            .execute(
                &chat.to_string(),
                SupportChatCommand::PostCustomerMessage {
                    by: by.clone(),
                    message_id,
                    content,
                    at,
                },
            )
            .await?;
        Ok(())
    }

    /// The assigned agent's answer.
    pub async fn reply_in_support_chat(
        &self,
        by: &Actor,
        chat: Uuid,
        message_id: i64,
        content: ChatContent,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        self.tgops
            .chats
            .execute(
                &chat.to_string(),
                SupportChatCommand::Reply {
                    by: by.clone(),
                    message_id,
                    content,
                    at,
                },
            )
            .await?;
        Ok(())
    }

    /// Sends the quick reply `title` as the agent's answer.
    pub async fn send_quick_reply(
        &self,
        by: &Actor,
        chat: Uuid,
        title: &str,
        message_id: i64,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        let replies = self.tgops.quick_replies.load(QuickReplies::ID).await?;
        let text = replies
            .replies
            .get(title)
            .cloned()
            .ok_or_else(|| SupportError::NoSuchQuickReply(title.to_string()))?;
        self.reply_in_support_chat(by, chat, message_id, ChatContent::Text { text }, at)
            .await
    }

    pub async fn close_support_chat(&self, by: &Actor, chat: Uuid, at: DateTime<Utc>) -> Result<bool, CommandError> {
        let events = self
            .tgops
            .chats
            .execute(&chat.to_string(), SupportChatCommand::Close { by: by.clone(), at })
            .await?;
        Ok(!events.is_empty())
    }

    pub async fn rate_support_chat(&self, by: &Actor, chat: Uuid, stars: u8, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.tgops
            .chats
            .execute(&chat.to_string(), SupportChatCommand::Rate { by: by.clone(), stars, at })
            .await?;
        Ok(())
    }

    /// Gives a queued chat to `agent`; their permission comes from their events.
    pub async fn assign_support_chat(&self, chat: Uuid, agent: CustomerId, at: DateTime<Utc>) -> Result<bool, CommandError> {
        let agent = self.actor(agent).await?;
        let events = self
            .tgops
            .chats
            .execute(&chat.to_string(), SupportChatCommand::Assign { agent, at })
            .await?;
        Ok(!events.is_empty())
    }

    /// An agent switches themselves online or offline (a user manager may switch one off).
    pub async fn set_agent_online(&self, by: &Actor, agent: CustomerId, online: bool, at: DateTime<Utc>) -> Result<bool, CommandError> {
        let command = if online {
            SupportAgentCommand::GoOnline { agent, by: by.clone(), at }
        } else {
            SupportAgentCommand::GoOffline { agent, by: by.clone(), at }
        };
        let events = self.tgops.agents.execute(&agent.to_string(), command).await?;
        Ok(!events.is_empty())
    }

    pub async fn agent_online(&self, agent: CustomerId) -> Result<bool, CommandError> {
        Ok(self.tgops.agents.load(&agent.to_string()).await?.online)
    }

    pub async fn save_quick_reply(&self, by: &Actor, title: String, text: String, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.tgops
            .quick_replies
            .execute(
                QuickReplies::ID,
                QuickReplyCommand::Save {
                    title,
                    text,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(())
    }

    pub async fn remove_quick_reply(&self, by: &Actor, title: String, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.tgops
            .quick_replies
            .execute(QuickReplies::ID, QuickReplyCommand::Remove { title, by: by.clone(), at })
            .await?;
        Ok(())
    }

    /// The quick replies as the events say, by title.
    pub async fn quick_replies(&self) -> Result<QuickReplies, CommandError> {
        self.tgops.quick_replies.load(QuickReplies::ID).await
    }

    // ---- broadcasts --------------------------------------------------------------------------

    /// Records a broadcast under the caller's id (a repeat by the same
    /// request is refused as existing). Refused while the `broadcasts`
    /// feature is off or unlicensed.
    pub async fn create_broadcast(
        &self,
        by: &Actor,
        id: Uuid,
        text: String,
        segment: Segment,
        progress: Option<ProgressMessage>,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        if let Segment::Plan { plan } = &segment {
            if self.plans.load(&plan.to_string()).await?.id.is_none() {
                return Err(CommandError::NotFound("plan"));
            }
        }
        if let Segment::Role { role } = &segment {
            if role.is_custom() && self.roles.load(role.as_str()).await?.name.is_none() {
                return Err(CommandError::NotFound("role"));
            }
        }
        let broadcasts_enabled = self.feature_enabled(Feature::Broadcasts, at).await?;
        self.tgops
            .broadcasts
            .execute(
                &id.to_string(),
                BroadcastCommand::Create {
                    id,
                    text,
                    segment,
                    broadcasts_enabled,
                    progress,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(())
    }

    pub async fn broadcast(&self, id: Uuid) -> Result<Broadcast, CommandError> {
        let b = self.tgops.broadcasts.load(&id.to_string()).await?;
        if b.id.is_none() {
            return Err(CommandError::NotFound("broadcast"));
        }
        Ok(b)
    }

    pub async fn start_broadcast(&self, id: Uuid, recipients: u64, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.tgops
            .broadcasts
            .execute(&id.to_string(), BroadcastCommand::Start { recipients, at })
            .await?;
        Ok(())
    }

    pub async fn cancel_broadcast(&self, by: &Actor, id: Uuid, at: DateTime<Utc>) -> Result<bool, CommandError> {
        let events = self
            .tgops
            .broadcasts
            .execute(&id.to_string(), BroadcastCommand::Cancel { by: by.clone(), at })
            .await?;
        Ok(!events.is_empty())
    }

    pub async fn complete_broadcast(&self, id: Uuid, figures: DeliveryFigures, at: DateTime<Utc>) -> Result<bool, CommandError> {
        let events = self
            .tgops
            .broadcasts
            .execute(&id.to_string(), BroadcastCommand::Complete { figures, at })
            .await?;
        Ok(!events.is_empty())
    }
}
