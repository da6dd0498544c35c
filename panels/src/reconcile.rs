//! Compares the event-sourced truth with what each panel holds, and repairs
//! (or, dry, only reports) every difference: a client missing on its panel
//! (recorded as `ClientMissingOnPanel`, then made again — never a silent
//! "renewed"), a client with the wrong quota, expiry or enable flag, a client
//! that should be gone (cancelled, or an old placement), and orphans — clients
//! named with our brand that no subscription owns. Clients without our brand
//! prefix belong to the operator and are only counted.
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::Utc;
use domain::subscription::{ClientTerms, Provisioning, SubscriptionStatus};
use uuid::Uuid;
use workers::Shutdown;

use crate::provisioner::{Ensured, Provisioner};
use crate::PanelsError;

#[derive(Debug, Clone, PartialEq)]
pub enum Drift {
    Missing {
        subscription: Uuid,
        email: String,
    },
    WrongTerms {
        subscription: Uuid,
        email: String,
        found: ClientTerms,
        wanted: ClientTerms,
    },
    ShouldBeGone {
        subscription: Uuid,
        email: String,
    },
    Orphan {
        email: String,
        inbound_id: i64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Repair {
    /// Dry run: reported only.
    Reported,
    Repaired,
    Failed(String),
}

#[derive(Debug, Clone, Default)]
pub struct ReconcileReport {
    pub dry_run: bool,
    pub panels: usize,
    /// (panel name, error) for panels that could not be read.
    pub unreachable: Vec<(String, String)>,
    /// (panel name, drift, what was done).
    pub drifts: Vec<(String, Drift, Repair)>,
    /// Clients without our brand prefix, left alone.
    pub foreign: usize,
    pub clients_checked: usize,
}

impl ReconcileReport {
    pub fn count(&self, f: impl Fn(&Drift) -> bool) -> usize {
        self.drifts.iter().filter(|(_, d, _)| f(d)).count()
    }
}

#[derive(Clone)]
pub struct Reconciler {
    pub provisioner: Provisioner,
    pub interval: Duration,
}

fn terms_of(c: &xui::Client) -> ClientTerms {
    ClientTerms {
        total_bytes: c.total_bytes,
        expiry_ms: c.expiry_time,
        enabled: c.enable,
    }
}

fn outcome(r: Result<Ensured, PanelsError>) -> Repair {
    match r {
        Ok(Ensured::Deferred(e)) | Ok(Ensured::Failed(e)) => Repair::Failed(e),
        Ok(_) => Repair::Repaired,
        Err(e) => Repair::Failed(e.to_string()),
    }
}

impl Reconciler {
    pub async fn run(&self, dry_run: bool) -> Result<ReconcileReport, PanelsError> {
        let directory = &self.provisioner.directory;
        let commands = &directory.commands;
        let prefix = format!(
            "{}-",
            self.provisioner
                .brand
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        )
        .to_lowercase();
        let mut report = ReconcileReport {
            dry_run,
            ..Default::default()
        };
        let head = eventstore::head(directory.pool()).await?;
        for panel in directory.panels().await? {
            report.panels += 1;
            let xui = directory.client(&panel).await?;
            let clients = match xui.clients().await {
                Ok(c) => c,
                Err(e) => {
                    report.unreachable.push((panel.name.clone(), e.to_string()));
                    continue;
                }
            };
            report.clients_checked += clients.len();
            let on_panel: HashMap<String, &xui::PanelClient> = clients.iter().map(|c| (c.client.email.to_lowercase(), c)).collect();
            let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM subscriptions WHERE panel_id = $1")
                .bind(panel.id)
                .fetch_all(directory.pool())
                .await?;
            let mut known: HashSet<String> = HashSet::new();
            for id in ids {
                let sub = commands.subscription(id).await?;
                for stale in sub.stale.iter().filter(|p| p.panel_id == panel.id) {
                    known.insert(stale.email.to_lowercase());
                    if on_panel.contains_key(&stale.email.to_lowercase()) {
                        let drift = Drift::ShouldBeGone {
                            subscription: id,
                            email: stale.email.clone(),
                        };
                        let repair = if dry_run {
                            Repair::Reported
                        } else {
                            outcome(self.provisioner.remove(id, stale).await)
                        };
                        report.drifts.push((panel.name.clone(), drift, repair));
                    }
                }
                let p = match &sub.provisioning {
                    Provisioning::Provisioned(p) if p.panel_id == panel.id => p.clone(),
                    other => {
                        if let Some(p) = other.placement() {
                            known.insert(p.email.to_lowercase());
                        }
                        continue;
                    }
                };
                known.insert(p.email.to_lowercase());
                let found = on_panel.get(&p.email.to_lowercase());
                if sub.status == SubscriptionStatus::Cancelled {
                    if found.is_some() {
                        let drift = Drift::ShouldBeGone {
                            subscription: id,
                            email: p.email.clone(),
                        };
                        let repair = if dry_run {
                            Repair::Reported
                        } else {
                            outcome(self.provisioner.remove(id, &p).await)
                        };
                        report.drifts.push((panel.name.clone(), drift, repair));
                    }
                    continue;
                }
                let (Some(wanted), Some(customer)) = (sub.desired_terms(), sub.customer) else {
                    continue;
                };
                match found {
                    None => {
                        let drift = Drift::Missing {
                            subscription: id,
                            email: p.email.clone(),
                        };
                        let repair = if dry_run {
                            Repair::Reported
                        } else {
                            commands.record_missing_on_panel(id, p.clone(), Utc::now()).await?;
                            outcome(self.provisioner.ensure(id).await)
                        };
                        report.drifts.push((panel.name.clone(), drift, repair));
                    }
                    Some(c) if terms_of(&c.client) != wanted => {
                        let drift = Drift::WrongTerms {
                            subscription: id,
                            email: p.email.clone(),
                            found: terms_of(&c.client),
                            wanted,
                        };
                        let repair = if dry_run {
                            Repair::Reported
                        } else {
                            outcome(self.provisioner.write_terms(id, &p, wanted, customer).await)
                        };
                        report.drifts.push((panel.name.clone(), drift, repair));
                    }
                    Some(_) => {}
                }
            }
            let mut orphans = Vec::new();
            for c in &clients {
                let email = c.client.email.to_lowercase();
                if known.contains(&email) {
                    continue;
                }
                if email.starts_with(&prefix) {
                    orphans.push(c);
                } else {
                    report.foreign += 1;
                }
            }
            if !orphans.is_empty() && !dry_run {
                // A client made a moment ago may not be in the read model yet:
                // let the subscriptions projector reach the head seen at the start.
                self.wait_for_projector(head).await?;
            }
            for c in orphans {
                let owned: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM subscriptions WHERE lower(client_email) = lower($1) AND panel_id = $2)",
                )
                .bind(&c.client.email)
                .bind(panel.id)
                .fetch_one(directory.pool())
                .await?;
                if owned {
                    continue;
                }
                let drift = Drift::Orphan {
                    email: c.client.email.clone(),
                    inbound_id: c.inbound_id,
                };
                let repair = if dry_run {
                    Repair::Reported
                } else {
                    match xui.delete_client(c.inbound_id, &c.protocol, &c.client).await {
                        Ok(()) => Repair::Repaired,
                        Err(e) if e.is_last_client() => {
                            let mut disabled = c.client.clone();
                            disabled.enable = false;
                            match xui.update_client(c.inbound_id, c.client.key(&c.protocol), &disabled).await {
                                Ok(()) => Repair::Failed("last client of its inbound: disabled, not deleted".into()),
                                Err(e) => Repair::Failed(e.to_string()),
                            }
                        }
                        Err(e) => Repair::Failed(e.to_string()),
                    }
                };
                report.drifts.push((panel.name.clone(), drift, repair));
            }
        }
        Ok(report)
    }

    async fn wait_for_projector(&self, head: i64) -> Result<(), PanelsError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while eventstore::checkpoint(self.provisioner.directory.pool(), "subscriptions").await? < head && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    pub async fn run_until_stopped(self, mut shutdown: Shutdown) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {},
                _ = shutdown.stopped() => return,
            }
            match self.run(false).await {
                Ok(r) => tracing::info!(
                    panels = r.panels,
                    drifts = r.drifts.len(),
                    unreachable = r.unreachable.len(),
                    "reconciled panels"
                ),
                Err(e) => tracing::warn!(error = %e, "reconciliation failed"),
            }
        }
    }
}
