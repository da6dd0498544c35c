//! Makes each paid subscription one client on a panel, and keeps it in step.
//!
//! Exactly one client per subscription, whatever happens: the email and UUID
//! are deterministic (brand-location-customer-sequence, and a v5 UUID of the
//! subscription and the panel), the intent (`ProvisioningStarted`) is recorded
//! before the panel is called, and the panel refuses a second client with the
//! same email — which the provisioner recognises as its own (same UUID) and
//! adopts. So a redelivered event, a worker killed mid-call, a restart or a
//! duplicated purchase event all end with the one client.
//!
//! Capacity is a hard limit: after its intent, and before calling the panel,
//! the worker reserves the subscription's slot on the panel (`PanelSlots`,
//! idempotent per subscription, refused when full; racing workers are
//! serialised by the event store). A full panel sends it to the next panel of
//! the location, and no room anywhere is `ProvisioningFailed` "no room in
//! <location>". The slot is held while a client may exist there (expired
//! clients stay, disabled, and a renewal re-enables them in place) and given
//! back once the client's removal is recorded (cancellation, the old side of a
//! location switch, a placement given up in a failover).
use std::collections::HashSet;

use async_trait::async_trait;
use chrono::Utc;
use commands::{CommandError, Commands};
use domain::panel::PanelError;
use domain::subscription::{ClientTerms, Placement, Provisioning, Subscription, SubscriptionError, SubscriptionEvent, SubscriptionStatus};
use domain::{AnyEvent, CustomerId};
use eventstore::StoredEvent;
use futures::StreamExt;
use uuid::Uuid;
use workers::{Consumer, FeedError};
use xui::{links, Client, Inbound, XuiError};

use crate::directory::{Directory, PanelRow};
use crate::PanelsError;

pub const PROVISIONER_CHECKPOINT: &str = "provisioner";

/// Namespace of the ids derived here.
const NS: Uuid = Uuid::from_u128(0x6d726a62_7061_4e65_8000_000000000003);

/// The client's UUID on a panel: the same for every retry on that panel.
pub fn client_uuid(subscription: Uuid, panel: Uuid) -> Uuid {
    let mut name = subscription.as_bytes().to_vec();
    name.extend_from_slice(panel.as_bytes());
    Uuid::new_v5(&NS, &name)
}

/// The subscription id on the panel's sub server: 16 characters of [0-9a-f].
pub fn sub_id(subscription: Uuid) -> String {
    Uuid::new_v5(&NS, subscription.as_bytes()).simple().to_string()[..16].to_string()
}

fn clean(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// `MoonVpn-France-1000-1`: brand, location, customer number, sequence.
pub fn client_email(brand: &str, location: &str, customer_number: i64, sequence: i64) -> String {
    format!("{}-{}-{customer_number}-{sequence}", clean(brand), clean(location))
}

/// What [`Provisioner::ensure`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Ensured {
    Nothing,
    Provisioned {
        panel: Uuid,
        email: String,
    },
    Updated(ClientTerms),
    Removed,
    Failed(String),
    /// The panel could not be reached; the reconciler will try again.
    Deferred(String),
}

#[derive(Clone)]
pub struct Provisioner {
    pub directory: Directory,
    pub brand: String,
}

enum Attempt {
    Done(String, Vec<String>),
    Transient(XuiError),
    Refused(String),
}

impl Provisioner {
    fn commands(&self) -> &Commands {
        &self.directory.commands
    }

    /// Brings the subscription's panel client to what its events say it
    /// should be. Idempotent: call it any number of times, from any process.
    pub async fn ensure(&self, id: Uuid) -> Result<Ensured, PanelsError> {
        let sub = match self.commands().subscription(id).await {
            Ok(s) => s,
            Err(CommandError::NotFound(_)) => return Ok(Ensured::Nothing),
            Err(e) => return Err(e.into()),
        };
        use SubscriptionStatus as S;
        let outcome = match (sub.status, sub.provisioning.clone()) {
            (S::Cancelled, prov) => match prov.placement() {
                Some(p) => self.remove(id, p).await?,
                None => Ensured::Nothing,
            },
            (S::Active, Provisioning::NotStarted) => self.place(id, &sub, None).await?,
            (S::Active | S::Expired, Provisioning::Started(p) | Provisioning::Missing(p)) => self.place(id, &sub, Some(p)).await?,
            (S::Active | S::Expired, Provisioning::Provisioned(p)) => self.sync_terms(id, &sub, &p).await?,
            _ => Ensured::Nothing,
        };
        // Old clients go only once the new one exists (a location switch
        // creates before it removes), or when the subscription is cancelled.
        let sub = self.commands().subscription(id).await?;
        if matches!(sub.provisioning, Provisioning::Provisioned(_)) || sub.status == S::Cancelled {
            for p in sub.stale.clone() {
                if let Ensured::Deferred(e) = self.remove(id, &p).await? {
                    tracing::warn!(subscription = %id, panel = %p.panel_id, error = %e, "old client not removed yet");
                }
            }
        }
        Ok(outcome)
    }

    /// Creates the client: at `resume` first (an intent already recorded),
    /// then on each candidate panel of the location, failing over on
    /// transient errors. Records `ProvisioningFailed` when none works.
    async fn place(&self, id: Uuid, sub: &Subscription, resume: Option<Placement>) -> Result<Ensured, PanelsError> {
        let (Some(customer), Some(location), Some(terms)) = (sub.customer, sub.location.clone(), sub.desired_terms()) else {
            return Ok(Ensured::Nothing);
        };
        let mut given_up: Option<Uuid> = None;
        let mut last = format!("no room in {location}: no enabled, healthy panel there has a free slot");
        if let Some(p) = resume {
            match self.directory.panel(p.panel_id).await {
                // The intent may predate the slot (a worker stopped between
                // the two, or an install from before slots): take it now.
                Ok(panel) => match self.reserve(&panel, id).await? {
                    Err(why) => {
                        last = format!("no room in {location}: {why}");
                        given_up = Some(p.panel_id);
                    }
                    Ok(()) => match self.attempt(&panel, &p, terms, customer).await? {
                        Attempt::Done(url, links) => return self.provisioned(id, p, terms, url, links).await,
                        Attempt::Refused(reason) => return self.fail(id, reason).await,
                        Attempt::Transient(e) => {
                            last = format!("{}: {e}", panel.name);
                            given_up = Some(p.panel_id);
                        }
                    },
                },
                Err(PanelsError::NoSuchPanel(_)) => given_up = Some(p.panel_id),
                Err(e) => return Err(e),
            }
        }
        let number = self.commands().customer_number(customer).await?;
        let sequence = self.commands().subscription_sequence(id, customer).await?;
        let email = client_email(&self.brand, location.as_str(), number, sequence);
        let mut tried: HashSet<Uuid> = given_up.into_iter().collect();
        for panel in self.directory.candidates(location.as_str()).await? {
            if !tried.insert(panel.id) {
                continue;
            }
            let placement = Placement {
                panel_id: panel.id,
                inbound_id: self.directory.least_loaded_inbound(&panel).await?,
                email: email.clone(),
                client_uuid: client_uuid(id, panel.id),
                sub_id: sub_id(id),
            };
            // Count the clients placed before slots existed, before our own
            // intent can be among them (see `Commands::open_panel_slots`).
            self.commands().open_panel_slots(panel.id, Utc::now()).await?;
            match self
                .commands()
                .start_provisioning(id, placement.clone(), given_up, Utc::now())
                .await
            {
                Ok(_) => {}
                // Another worker recorded its intent first: it (or the next
                // redelivery) finishes that placement; ours would be a second client.
                Err(CommandError::Subscription(SubscriptionError::ProvisioningInProgress(_) | SubscriptionError::AlreadyProvisioned)) => {
                    let fresh = self.commands().subscription(id).await?;
                    return match fresh.provisioning.clone() {
                        Provisioning::Started(p) if given_up != Some(p.panel_id) => Box::pin(self.place(id, &fresh, Some(p))).await,
                        _ => Ok(Ensured::Nothing),
                    };
                }
                Err(e) => return Err(e.into()),
            }
            // The intent comes first, so only the worker that recorded it
            // takes a slot; a full panel gives this placement up (no client
            // was made there) for the next panel of the location.
            if let Err(why) = self.reserve(&panel, id).await? {
                tracing::info!(subscription = %id, panel = %panel.name, %why, "no slot; trying the next panel");
                last = format!("no room in {location}: {why}");
                given_up = Some(panel.id);
                continue;
            }
            match self.attempt(&panel, &placement, terms, customer).await? {
                Attempt::Done(url, links) => return self.provisioned(id, placement, terms, url, links).await,
                Attempt::Refused(reason) => return self.fail(id, reason).await,
                Attempt::Transient(e) => {
                    tracing::warn!(subscription = %id, panel = %panel.name, error = %e, "panel failed; trying the next one");
                    last = format!("{}: {e}", panel.name);
                    given_up = Some(panel.id);
                }
            }
        }
        self.fail(id, last).await
    }

    /// A slot on the panel for the subscription: `Ok(Err(why))` when the
    /// panel is full or takes no new clients.
    async fn reserve(&self, panel: &PanelRow, id: Uuid) -> Result<Result<(), String>, PanelsError> {
        match self.commands().reserve_panel_slot(panel.id, id, Utc::now()).await {
            Ok(()) => Ok(Ok(())),
            Err(CommandError::Panel(e @ (PanelError::Full { .. } | PanelError::NotAccepting | PanelError::Retired))) => {
                Ok(Err(format!("{}: {e}", panel.name)))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn provisioned(
        &self,
        id: Uuid,
        placement: Placement,
        terms: ClientTerms,
        sub_url: String,
        links: Vec<String>,
    ) -> Result<Ensured, PanelsError> {
        let (panel, email) = (placement.panel_id, placement.email.clone());
        match self
            .commands()
            .record_provisioned(id, placement, terms, sub_url, links, Utc::now())
            .await
        {
            Ok(()) => Ok(Ensured::Provisioned { panel, email }),
            Err(CommandError::Subscription(SubscriptionError::PlacementMismatch)) => Ok(Ensured::Nothing),
            Err(e) => Err(e.into()),
        }
    }

    async fn fail(&self, id: Uuid, reason: String) -> Result<Ensured, PanelsError> {
        tracing::warn!(subscription = %id, %reason, "provisioning failed");
        match self.commands().fail_provisioning(id, reason.clone(), Utc::now()).await {
            Ok(()) | Err(CommandError::Subscription(SubscriptionError::AlreadyProvisioned)) => Ok(Ensured::Failed(reason)),
            Err(e) => Err(e.into()),
        }
    }

    /// One panel: add the client, or adopt it when an earlier attempt made it.
    async fn attempt(&self, panel: &PanelRow, p: &Placement, terms: ClientTerms, customer: CustomerId) -> Result<Attempt, PanelsError> {
        let xui = self.directory.client(panel).await?;
        let result = async {
            let inbound = xui.inbound(p.inbound_id).await?;
            let client = panel_client(p, terms, &inbound, customer);
            match xui.add_client(inbound.id, &client).await {
                Ok(()) => {}
                Err(XuiError::DuplicateEmail(_)) => {
                    let found = xui.find_client(&p.email).await?;
                    match found {
                        Some(f) if f.client.id == client.id => {
                            if !same_terms(&f.client, &client) {
                                xui.update_client(inbound.id, client.key(&inbound.protocol), &client).await?;
                            }
                        }
                        _ => {
                            return Ok(Err(format!(
                                "email {} is taken on panel {} by a client that is not this subscription's",
                                p.email, panel.name
                            )))
                        }
                    }
                }
                Err(e) => return Err(e),
            }
            let links: Vec<String> = links::client_link(&inbound, &client, &panel.public_host).into_iter().collect();
            Ok(Ok((links::sub_url(&panel.sub_base_url, &p.sub_id), links)))
        }
        .await;
        Ok(match result {
            Ok(Ok((url, links))) => Attempt::Done(url, links),
            Ok(Err(reason)) => Attempt::Refused(reason),
            Err(e) if is_transient(&e) => Attempt::Transient(e),
            Err(e) => Attempt::Refused(format!("{}: {e}", panel.name)),
        })
    }

    /// Renewal, top-up, bonus or expiry: write the new terms to the client.
    async fn sync_terms(&self, id: Uuid, sub: &Subscription, p: &Placement) -> Result<Ensured, PanelsError> {
        let (Some(terms), Some(customer)) = (sub.desired_terms(), sub.customer) else {
            return Ok(Ensured::Nothing);
        };
        if sub.applied == Some(terms) {
            return Ok(Ensured::Nothing);
        }
        self.write_terms(id, p, terms, customer).await
    }

    /// Writes `terms` to the client at `p` and records it; a client that is
    /// gone gets the explicit `ClientMissingOnPanel`, then is made again.
    pub(crate) async fn write_terms(
        &self,
        id: Uuid,
        p: &Placement,
        terms: ClientTerms,
        customer: CustomerId,
    ) -> Result<Ensured, PanelsError> {
        let panel = self.directory.panel(p.panel_id).await?;
        let xui = self.directory.client(&panel).await?;
        let result = async {
            let inbound = xui.inbound(p.inbound_id).await?;
            let client = panel_client(p, terms, &inbound, customer);
            xui.update_client(inbound.id, client.key(&inbound.protocol), &client).await
        }
        .await;
        match result {
            Ok(()) => {
                self.commands().record_client_updated(id, p.clone(), terms, Utc::now()).await?;
                Ok(Ensured::Updated(terms))
            }
            Err(XuiError::NotFound(_)) => {
                tracing::warn!(subscription = %id, email = %p.email, "client missing on its panel; recreating it");
                self.commands().record_missing_on_panel(id, p.clone(), Utc::now()).await?;
                let sub = self.commands().subscription(id).await?;
                self.place(id, &sub, Some(p.clone())).await
            }
            Err(e) => Ok(Ensured::Deferred(e.to_string())),
        }
    }

    /// Deletes the client at `p` (cancellation, an old location, a placement
    /// given up). A classic panel keeps an inbound's last client: it is
    /// disabled instead.
    pub(crate) async fn remove(&self, id: Uuid, p: &Placement) -> Result<Ensured, PanelsError> {
        let panel = match self.directory.panel(p.panel_id).await {
            Ok(panel) => panel,
            Err(PanelsError::NoSuchPanel(_)) => {
                self.commands().record_deprovisioned(id, p.clone(), false, Utc::now()).await?;
                self.commands().release_panel_slot(p.panel_id, id, Utc::now()).await?;
                return Ok(Ensured::Removed);
            }
            Err(e) => return Err(e),
        };
        let xui = self.directory.client(&panel).await?;
        let result: Result<bool, XuiError> = async {
            let Some(found) = xui.find_client(&p.email).await? else {
                return Ok(false);
            };
            if found.client.id != p.client_uuid.to_string() {
                return Ok(false); // someone else's client with that email: not ours to delete
            }
            match xui.delete_client(found.inbound_id, &found.protocol, &found.client).await {
                Ok(()) => Ok(true),
                Err(e) if e.is_last_client() => {
                    let mut disabled = found.client.clone();
                    disabled.enable = false;
                    xui.update_client(found.inbound_id, found.client.key(&found.protocol), &disabled)
                        .await?;
                    tracing::warn!(email = %p.email, "last client of its inbound: disabled instead of deleted");
                    Ok(false)
                }
                Err(e) => Err(e),
            }
        }
        .await;
        match result {
            Ok(deleted) => {
                self.commands().record_deprovisioned(id, p.clone(), deleted, Utc::now()).await?;
                // The client is gone (or, as an inbound's last, disabled): its slot is free.
                self.commands().release_panel_slot(p.panel_id, id, Utc::now()).await?;
                Ok(Ensured::Removed)
            }
            Err(e) => Ok(Ensured::Deferred(e.to_string())),
        }
    }
}

fn is_transient(e: &XuiError) -> bool {
    // A panel that refuses our login or answers nonsense is as unusable as a
    // down one: another panel of the location may serve.
    matches!(
        e,
        XuiError::Unreachable(_) | XuiError::BadCredentials | XuiError::UnexpectedReply(_)
    )
}

fn same_terms(a: &Client, b: &Client) -> bool {
    a.total_bytes == b.total_bytes && a.expiry_time == b.expiry_time && a.enable == b.enable
}

/// The client object as the panel stores it, every field filled in.
pub(crate) fn panel_client(p: &Placement, terms: ClientTerms, inbound: &Inbound, customer: CustomerId) -> Client {
    let stream = inbound.stream_json();
    let network = stream["network"].as_str().unwrap_or("tcp");
    let security = stream["security"].as_str().unwrap_or("none");
    let flow = if inbound.protocol == "vless" && network == "tcp" && matches!(security, "reality" | "tls") {
        "xtls-rprx-vision"
    } else {
        ""
    };
    let uuid = p.client_uuid.to_string();
    Client {
        id: uuid.clone(),
        password: if matches!(inbound.protocol.as_str(), "trojan" | "shadowsocks") {
            uuid
        } else {
            String::new()
        },
        flow: flow.into(),
        email: p.email.clone(),
        limit_ip: 0,
        total_bytes: terms.total_bytes,
        expiry_time: terms.expiry_ms,
        enable: terms.enabled,
        tg_id: customer.0,
        sub_id: p.sub_id.clone(),
        comment: String::new(),
        reset: 0,
        security: if inbound.protocol == "vmess" {
            "auto".into()
        } else {
            String::new()
        },
    }
}

/// Runs [`Provisioner::ensure`] for every subscription a batch of events
/// touches, several subscriptions at once; checkpoint `provisioner`.
pub struct ProvisionerConsumer {
    pub provisioner: Provisioner,
    /// Subscriptions handled concurrently within a batch.
    pub concurrency: usize,
}

fn wakes_provisioner(e: &SubscriptionEvent) -> bool {
    use SubscriptionEvent as E;
    matches!(
        e,
        E::ChargeSettled { .. }
            | E::SubscriptionExpired { .. }
            | E::SubscriptionCancelled { .. }
            | E::ProvisioningRetryRequested { .. }
            | E::LocationSwitchRequested { .. }
            | E::BonusGranted { .. }
            | E::ClientMissingOnPanel { .. }
    )
}

#[async_trait]
impl Consumer for ProvisionerConsumer {
    fn name(&self) -> String {
        PROVISIONER_CHECKPOINT.to_string()
    }
    async fn checkpoint(&self) -> Result<i64, FeedError> {
        Ok(eventstore::checkpoint(self.provisioner.directory.pool(), PROVISIONER_CHECKPOINT).await?)
    }
    async fn handle(&self, events: &[StoredEvent]) -> Result<i64, FeedError> {
        let start = self.checkpoint().await?;
        let mut ids: Vec<Uuid> = Vec::new();
        let mut done = start;
        for event in events.iter().filter(|e| e.position > start) {
            done = event.position;
            let decoded = AnyEvent::decode(&event.aggregate_type, &event.payload).map_err(|e| FeedError::Malformed(e.to_string()))?;
            if let AnyEvent::Subscription(e) = decoded {
                if wakes_provisioner(&e) {
                    let id = Uuid::parse_str(&event.aggregate_id).map_err(|e| FeedError::Malformed(e.to_string()))?;
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
            }
        }
        let results: Vec<Result<Ensured, PanelsError>> = futures::stream::iter(ids)
            .map(|id| self.provisioner.ensure(id))
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        for r in results {
            r?;
        }
        let pool = self.provisioner.directory.pool();
        let mut tx = pool.begin().await?;
        if eventstore::lock_checkpoint(&mut tx, PROVISIONER_CHECKPOINT).await? < done {
            eventstore::set_checkpoint(&mut tx, PROVISIONER_CHECKPOINT, done).await?;
        }
        tx.commit().await?;
        Ok(done)
    }
}
