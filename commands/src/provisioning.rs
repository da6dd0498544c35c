//! Panels and the provisioning steps of a subscription. The provisioner,
//! usage sync and reconciler (crate `panels`) talk to the 3x-UI panels and
//! record what they did through these use cases; the bot and the API call
//! [`Commands::retry_provisioning`] and [`Commands::request_location_switch`].
use chrono::{DateTime, Utc};
use domain::access::Actor;
use domain::panel::{Panel, PanelCommand, PanelCredentials, PanelError, PanelSlots, PanelSlotsCommand, PanelSpec};
use domain::subscription::{ClientTerms, Placement, Subscription, SubscriptionCommand, SubscriptionEvent};
use domain::{CustomerId, Location};
use uuid::Uuid;

use crate::{CommandError, Commands, Store};

/// The customer number shown in client emails: the first customer is 1000.
pub const FIRST_CUSTOMER_NUMBER: i64 = 1000;

impl Commands {
    // ---- panels ------------------------------------------------------------

    /// Registers a panel; `credentials` carry ciphertext only (see the `secrets` crate).
    /// Refused with [`CommandError::NotLicensed`] when the license's panel count is reached.
    pub async fn register_panel(
        &self,
        by: &Actor,
        spec: PanelSpec,
        credentials: PanelCredentials,
        at: DateTime<Utc>,
    ) -> Result<Uuid, CommandError> {
        let id = Uuid::new_v4();
        let key = id.to_string();
        let register = self.panels.execute(
            &key,
            PanelCommand::RegisterPanel {
                id,
                spec,
                credentials,
                by: by.clone(),
                at,
            },
        );
        self.with_panel_slot(at, register).await?;
        Ok(id)
    }

    pub async fn enable_panel(&self, by: &Actor, panel: Uuid, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.panels
            .execute(&panel.to_string(), PanelCommand::EnablePanel { by: by.clone(), at })
            .await?;
        Ok(())
    }

    pub async fn disable_panel(&self, by: &Actor, panel: Uuid, reason: String, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.panels
            .execute(
                &panel.to_string(),
                PanelCommand::DisablePanel {
                    reason,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(())
    }

    pub async fn change_panel_credentials(
        &self,
        by: &Actor,
        panel: Uuid,
        credentials: PanelCredentials,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        self.panels
            .execute(
                &panel.to_string(),
                PanelCommand::ChangeCredentials {
                    credentials,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(())
    }

    pub async fn retire_panel(&self, by: &Actor, panel: Uuid, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.panels
            .execute(&panel.to_string(), PanelCommand::RetirePanel { by: by.clone(), at })
            .await?;
        Ok(())
    }

    /// From the monitor; `Ok(true)` when this call changed the panel's health.
    pub async fn mark_panel_health(&self, panel: Uuid, healthy: bool, reason: String, at: DateTime<Utc>) -> Result<bool, CommandError> {
        let command = if healthy {
            PanelCommand::MarkHealthy { at }
        } else {
            PanelCommand::MarkUnhealthy { reason, at }
        };
        Ok(!self.panels.execute(&panel.to_string(), command).await?.is_empty())
    }

    /// The panel as its events say (with its encrypted credentials).
    pub async fn panel(&self, panel: Uuid) -> Result<Panel, CommandError> {
        let p = self.panels.load(&panel.to_string()).await?;
        if p.id.is_none() {
            return Err(CommandError::NotFound("panel"));
        }
        Ok(p)
    }

    // ---- panel slots (capacity as a hard limit) -------------------------------

    fn panel_slots(&self) -> Store<PanelSlots> {
        // A store is a handle on the pool: cheap to make, nothing cached.
        Store::new(self.pool.clone())
    }

    /// The panel's slots as their events say.
    pub async fn panel_slot_state(&self, panel: Uuid) -> Result<PanelSlots, CommandError> {
        self.panel_slots().load(&panel.to_string()).await
    }

    /// Opens the panel's slots once (a no-op afterwards): its capacity, and
    /// the subscriptions that already have a client there, read from the
    /// event store (not from a read model, which may lag). The provisioner
    /// calls this **before** it records an intent on the panel, so every
    /// placement either existed before the slots were opened (and is counted
    /// here) or reserves its own slot after.
    pub async fn open_panel_slots(&self, panel: Uuid, at: DateTime<Utc>) -> Result<(), CommandError> {
        let key = panel.to_string();
        if self.panel_slots().load(&key).await?.is_open() {
            return Ok(());
        }
        let capacity = self
            .panel(panel)
            .await?
            .spec
            .map(|s| s.capacity)
            .ok_or(CommandError::NotFound("panel"))?;
        // Every placement begins with a ProvisioningStarted naming its panel.
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = 'Subscription' \
             AND event_type = 'ProvisioningStarted' AND payload::text LIKE '%' || $1 || '%'",
        )
        .bind(&key)
        .fetch_all(&self.pool)
        .await?;
        let mut existing = Vec::new();
        for id in ids {
            let Ok(id) = Uuid::parse_str(&id) else { continue };
            let sub = self.subscriptions.load(&id.to_string()).await?;
            if holds_placement_on(&sub, panel) {
                existing.push(id);
            }
        }
        self.panel_slots()
            .execute(&key, PanelSlotsCommand::OpenSlots { capacity, existing, at })
            .await?;
        Ok(())
    }

    /// Takes a slot on the panel for the subscription's client; idempotent
    /// per subscription. Refused with [`PanelError::Full`] when every slot is
    /// taken, and with [`PanelError::NotAccepting`] for a panel that is
    /// disabled, unhealthy or retired (unless the subscription holds a slot there).
    /// Racing reservations are serialised by the slots' optimistic
    /// concurrency and decided again on fresh state, so only one wins the last slot.
    pub async fn reserve_panel_slot(&self, panel: Uuid, subscription: Uuid, at: DateTime<Utc>) -> Result<(), CommandError> {
        let accepting = self.panel(panel).await?.accepts_clients();
        let reserve = PanelSlotsCommand::ReserveSlot {
            subscription,
            accepting,
            at,
        };
        match self.panel_slots().execute(&panel.to_string(), reserve.clone()).await {
            Err(CommandError::Panel(PanelError::SlotsNotOpened)) => {
                self.open_panel_slots(panel, at).await?;
                self.panel_slots().execute(&panel.to_string(), reserve).await?;
            }
            other => {
                other?;
            }
        }
        Ok(())
    }

    /// Gives the subscription's slot on the panel back, unless it still has a
    /// placement there (current, or an old one not yet removed). Call it after
    /// the client's removal is recorded.
    pub async fn release_panel_slot(&self, panel: Uuid, subscription: Uuid, at: DateTime<Utc>) -> Result<(), CommandError> {
        let sub = self.subscriptions.load(&subscription.to_string()).await?;
        if holds_placement_on(&sub, panel) {
            return Ok(());
        }
        self.panel_slots()
            .execute(&panel.to_string(), PanelSlotsCommand::ReleaseSlot { subscription, at })
            .await?;
        Ok(())
    }

    // ---- client naming -------------------------------------------------------

    /// The customer's number: 1000 for the first customer ever registered,
    /// then in registration order. Positions are gapless and commit-ordered,
    /// so the rank of a registration never changes once it is committed.
    pub async fn customer_number(&self, customer: CustomerId) -> Result<i64, CommandError> {
        let rank: Option<i64> = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM events r WHERE r.event_type = 'CustomerRegistered' AND r.position <= e.position) \
             FROM events e WHERE e.aggregate_type = 'Customer' AND e.aggregate_id = $1 AND e.event_type = 'CustomerRegistered'",
        )
        .bind(customer.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let rank = rank.ok_or(CommandError::NotFound("customer"))?;
        Ok(FIRST_CUSTOMER_NUMBER - 1 + rank)
    }

    /// The subscription's sequence among its customer's subscriptions (1, 2, …),
    /// in the order they were requested; fixed once committed, like the customer number.
    pub async fn subscription_sequence(&self, subscription: Uuid, customer: CustomerId) -> Result<i64, CommandError> {
        let rank: Option<i64> = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM events r WHERE r.event_type = 'SubscriptionRequested' \
                     AND (r.payload->'SubscriptionRequested'->>'customer') = $2 AND r.position <= e.position) \
             FROM events e WHERE e.aggregate_type = 'Subscription' AND e.aggregate_id = $1 AND e.event_type = 'SubscriptionRequested'",
        )
        .bind(subscription.to_string())
        .bind(customer.0.to_string())
        .fetch_optional(&self.pool)
        .await?;
        rank.ok_or(CommandError::NotFound("subscription"))
    }

    // ---- provisioning steps ------------------------------------------------------

    async fn subscription_step(&self, subscription: Uuid, command: SubscriptionCommand) -> Result<Vec<SubscriptionEvent>, CommandError> {
        self.subscriptions.execute(&subscription.to_string(), command).await
    }

    /// Records the intent before the panel is called. `replacing` names the
    /// panel of a started placement being given up (failover).
    pub async fn start_provisioning(
        &self,
        subscription: Uuid,
        placement: Placement,
        replacing: Option<Uuid>,
        at: DateTime<Utc>,
    ) -> Result<Subscription, CommandError> {
        self.subscription_step(subscription, SubscriptionCommand::StartProvisioning { placement, replacing, at })
            .await?;
        self.subscription(subscription).await
    }

    pub async fn record_provisioned(
        &self,
        subscription: Uuid,
        placement: Placement,
        terms: ClientTerms,
        sub_url: String,
        links: Vec<String>,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        self.subscription_step(
            subscription,
            SubscriptionCommand::RecordProvisioned {
                placement,
                terms,
                sub_url,
                links,
                at,
            },
        )
        .await?;
        Ok(())
    }

    pub async fn record_client_updated(
        &self,
        subscription: Uuid,
        placement: Placement,
        terms: ClientTerms,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        self.subscription_step(subscription, SubscriptionCommand::RecordClientUpdated { placement, terms, at })
            .await?;
        Ok(())
    }

    /// After bounded retries: `ProvisioningFailed`, which reaches the admins.
    pub async fn fail_provisioning(&self, subscription: Uuid, reason: String, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.subscription_step(subscription, SubscriptionCommand::FailProvisioning { reason, at })
            .await?;
        Ok(())
    }

    /// An admin (or the customer) asks to try a failed provisioning again; the
    /// provisioner picks it up from the `ProvisioningRetryRequested` event.
    pub async fn retry_provisioning(&self, by: &Actor, subscription: Uuid, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.subscription_step(subscription, SubscriptionCommand::RetryProvisioning { by: by.clone(), at })
            .await?;
        Ok(())
    }

    /// Moves an active, provisioned subscription to another location: the
    /// provisioner creates the new client, then removes the old one.
    pub async fn request_location_switch(
        &self,
        by: &Actor,
        subscription: Uuid,
        to: Location,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        self.subscription_step(subscription, SubscriptionCommand::RequestLocationSwitch { to, by: by.clone(), at })
            .await?;
        Ok(())
    }

    pub async fn record_deprovisioned(
        &self,
        subscription: Uuid,
        placement: Placement,
        deleted: bool,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        self.subscription_step(subscription, SubscriptionCommand::RecordDeprovisioned { placement, deleted, at })
            .await?;
        Ok(())
    }

    /// Traffic used, from the usage sync; returns the thresholds (80, 100) crossed now.
    pub async fn record_usage(&self, subscription: Uuid, used_bytes: i64, at: DateTime<Utc>) -> Result<Vec<u8>, CommandError> {
        let events = self
            .subscription_step(subscription, SubscriptionCommand::RecordUsage { used_bytes, at })
            .await?;
        Ok(events
            .into_iter()
            .filter_map(|e| match e {
                SubscriptionEvent::TrafficThresholdCrossed { threshold, .. } => Some(threshold),
                _ => None,
            })
            .collect())
    }

    /// `Ok(true)` when the event was recorded now (not already known).
    pub async fn record_missing_on_panel(&self, subscription: Uuid, placement: Placement, at: DateTime<Utc>) -> Result<bool, CommandError> {
        Ok(!self
            .subscription_step(subscription, SubscriptionCommand::RecordMissingOnPanel { placement, at })
            .await?
            .is_empty())
    }

    pub async fn record_expired_on_panel(
        &self,
        subscription: Uuid,
        placement: Placement,
        expiry_ms: i64,
        at: DateTime<Utc>,
    ) -> Result<bool, CommandError> {
        Ok(!self
            .subscription_step(subscription, SubscriptionCommand::RecordExpiredOnPanel { placement, expiry_ms, at })
            .await?
            .is_empty())
    }
}

/// Whether the subscription has (or may have) a client on the panel: its
/// current placement, or an old placement whose client is not removed yet.
fn holds_placement_on(sub: &Subscription, panel: Uuid) -> bool {
    sub.provisioning.placement().is_some_and(|p| p.panel_id == panel) || sub.stale.iter().any(|p| p.panel_id == panel)
}
