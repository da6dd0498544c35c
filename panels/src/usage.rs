//! Pulls client traffic from every panel into `subscription_usage` and records
//! the threshold (80%, 100%) and on-panel-expiry events. One list call per
//! panel (classic: `inbounds/list` with `clientStats`; v3.1+: `clients/list`
//! and `lastOnline`), never one call per client.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use domain::subscription::{Placement, GIB};
use uuid::Uuid;
use workers::Shutdown;

use crate::directory::Directory;
use crate::PanelsError;

#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    pub panels: usize,
    pub panels_failed: usize,
    pub clients_seen: usize,
    pub rows_written: usize,
    pub thresholds_crossed: usize,
    pub expired_on_panel: usize,
    /// HTTP requests sent to panels (logins and retries included).
    pub requests: u64,
    pub elapsed: Duration,
}

#[derive(Clone)]
pub struct UsageSync {
    pub directory: Directory,
    pub interval: Duration,
}

#[derive(sqlx::FromRow)]
struct Placed {
    id: Uuid,
    inbound_id: i64,
    client_email: String,
    client_uuid: Uuid,
    sub_id: String,
    status: String,
    traffic_gb: i32,
    customer_alerts: Vec<i16>,
}

impl UsageSync {
    pub async fn step(&self, now: DateTime<Utc>) -> Result<SyncReport, PanelsError> {
        let started = Instant::now();
        let mut report = SyncReport::default();
        for panel in self.directory.panels().await? {
            if !panel.enabled {
                continue;
            }
            report.panels += 1;
            let xui = self.directory.client(&panel).await?;
            let before = xui.requests();
            let clients = match xui.clients().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(panel = %panel.name, error = %e, "usage sync: panel unreachable");
                    report.panels_failed += 1;
                    report.requests += xui.requests() - before;
                    continue;
                }
            };
            report.requests += xui.requests() - before;
            report.clients_seen += clients.len();
            let by_email: HashMap<String, &xui::PanelClient> = clients.iter().map(|c| (c.client.email.to_lowercase(), c)).collect();
            let placed: Vec<Placed> = sqlx::query_as(
                "SELECT id, inbound_id, client_email, client_uuid, sub_id, status, traffic_gb, customer_alerts FROM subscriptions \
                 WHERE panel_id = $1 AND provisioning = 'provisioned'",
            )
            .bind(panel.id)
            .fetch_all(self.directory.pool())
            .await?;
            let mut ids = Vec::new();
            let mut emails = Vec::new();
            let (mut ups, mut downs, mut totals, mut expiries, mut enables, mut lasts) = (vec![], vec![], vec![], vec![], vec![], vec![]);
            for s in &placed {
                let Some(c) = by_email.get(&s.client_email.to_lowercase()) else {
                    continue;
                };
                ids.push(s.id);
                emails.push(c.client.email.clone());
                ups.push(c.up);
                downs.push(c.down);
                totals.push(c.client.total_bytes);
                expiries.push(c.client.expiry_time);
                enables.push(c.traffic_enabled);
                lasts.push(c.last_online_ms);
                if s.status != "active" {
                    continue;
                }
                let placement = Placement {
                    panel_id: panel.id,
                    inbound_id: s.inbound_id,
                    email: s.client_email.clone(),
                    client_uuid: s.client_uuid,
                    sub_id: s.sub_id.clone(),
                };
                let used = c.up + c.down;
                let limit = i64::from(s.traffic_gb) * GIB;
                let due = [80i16, 100]
                    .into_iter()
                    .any(|t| limit > 0 && i128::from(used) * 100 >= i128::from(limit) * i128::from(t) && !s.customer_alerts.contains(&t));
                if due {
                    report.thresholds_crossed += self.directory.commands.record_usage(s.id, used, now).await?.len();
                }
                let expiry = c.client.expiry_time;
                if expiry > 0
                    && expiry <= now.timestamp_millis()
                    && self
                        .directory
                        .commands
                        .record_expired_on_panel(s.id, placement, expiry, now)
                        .await?
                {
                    report.expired_on_panel += 1;
                }
            }
            // One statement per panel.
            let written = sqlx::query(
                "INSERT INTO subscription_usage (subscription_id, panel_id, email, up_bytes, down_bytes, total_bytes, panel_expiry_ms, \
                 panel_enabled, last_online_ms, synced_at) \
                 SELECT u.id, $2, u.email, u.up, u.down, u.total, u.expiry, u.enable, u.last, $10 \
                 FROM unnest($1::uuid[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bool[], $9::bigint[]) \
                   AS u(id, email, up, down, total, expiry, enable, last) \
                 ON CONFLICT (subscription_id) DO UPDATE SET panel_id = EXCLUDED.panel_id, email = EXCLUDED.email, \
                   up_bytes = EXCLUDED.up_bytes, down_bytes = EXCLUDED.down_bytes, total_bytes = EXCLUDED.total_bytes, \
                   panel_expiry_ms = EXCLUDED.panel_expiry_ms, panel_enabled = EXCLUDED.panel_enabled, \
                   last_online_ms = EXCLUDED.last_online_ms, synced_at = EXCLUDED.synced_at",
            )
            .bind(&ids)
            .bind(panel.id)
            .bind(&emails)
            .bind(&ups)
            .bind(&downs)
            .bind(&totals)
            .bind(&expiries)
            .bind(&enables)
            .bind(&lasts)
            .bind(now)
            .execute(self.directory.pool())
            .await?;
            report.rows_written += written.rows_affected() as usize;
        }
        report.elapsed = started.elapsed();
        Ok(report)
    }

    pub async fn run_until_stopped(self, mut shutdown: Shutdown) {
        loop {
            match self.step(Utc::now()).await {
                Ok(r) => tracing::info!(
                    panels = r.panels,
                    failed = r.panels_failed,
                    clients = r.clients_seen,
                    thresholds = r.thresholds_crossed,
                    ms = r.elapsed.as_millis() as u64,
                    "usage synced"
                ),
                Err(e) => tracing::warn!(error = %e, "usage sync failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {},
                _ = shutdown.stopped() => return,
            }
        }
    }
}
