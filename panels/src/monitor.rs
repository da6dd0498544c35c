//! Polls each panel's server status into `panel_status`. After
//! `unhealthy_after` consecutive failures the panel is marked unhealthy (an
//! event), so the provisioner avoids it; the first good reading marks it
//! healthy again.
use std::time::Duration;

use chrono::{DateTime, Utc};
use workers::Shutdown;

use crate::directory::Directory;
use crate::PanelsError;

#[derive(Debug, Clone, Default)]
pub struct MonitorReport {
    pub checked: usize,
    pub failing: usize,
    pub marked_unhealthy: usize,
    pub marked_healthy: usize,
}

#[derive(Clone)]
pub struct Monitor {
    pub directory: Directory,
    pub interval: Duration,
    pub unhealthy_after: u32,
}

impl Monitor {
    pub async fn step(&self, now: DateTime<Utc>) -> Result<MonitorReport, PanelsError> {
        let mut report = MonitorReport::default();
        for panel in self.directory.panels().await? {
            report.checked += 1;
            let xui = self.directory.client(&panel).await?;
            let reading = async {
                let status = xui.server_status().await?;
                let api = xui.flavor().await?;
                Ok::<_, xui::XuiError>((status, api))
            }
            .await;
            let previous: i32 = sqlx::query_scalar("SELECT consecutive_failures FROM panel_status WHERE panel_id = $1")
                .bind(panel.id)
                .fetch_optional(self.directory.pool())
                .await?
                .unwrap_or(0);
            match reading {
                Ok((s, api)) => {
                    let xray_ok = s.xray.state == "running";
                    sqlx::query(
                        "INSERT INTO panel_status (panel_id, ok, consecutive_failures, last_error, cpu_percent, mem_current, mem_total, \
                         disk_current, disk_total, xray_state, xray_version, uptime_secs, api, checked_at) \
                         VALUES ($1, true, 0, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                         ON CONFLICT (panel_id) DO UPDATE SET ok = true, consecutive_failures = 0, last_error = EXCLUDED.last_error, \
                         cpu_percent = EXCLUDED.cpu_percent, mem_current = EXCLUDED.mem_current, mem_total = EXCLUDED.mem_total, \
                         disk_current = EXCLUDED.disk_current, disk_total = EXCLUDED.disk_total, xray_state = EXCLUDED.xray_state, \
                         xray_version = EXCLUDED.xray_version, uptime_secs = EXCLUDED.uptime_secs, api = EXCLUDED.api, \
                         checked_at = EXCLUDED.checked_at",
                    )
                    .bind(panel.id)
                    .bind((!xray_ok).then(|| format!("xray is {}: {}", s.xray.state, s.xray.error_msg)))
                    .bind(s.cpu)
                    .bind(s.mem.current as i64)
                    .bind(s.mem.total as i64)
                    .bind(s.disk.current as i64)
                    .bind(s.disk.total as i64)
                    .bind(&s.xray.state)
                    .bind(&s.xray.version)
                    .bind(s.uptime as i64)
                    .bind(api.name())
                    .bind(now)
                    .execute(self.directory.pool())
                    .await?;
                    if !panel.healthy
                        && self
                            .directory
                            .commands
                            .mark_panel_health(panel.id, true, String::new(), now)
                            .await?
                    {
                        tracing::info!(panel = %panel.name, "panel recovered; marked healthy");
                        report.marked_healthy += 1;
                    }
                }
                Err(e) => {
                    report.failing += 1;
                    let failures = previous + 1;
                    sqlx::query(
                        "INSERT INTO panel_status (panel_id, ok, consecutive_failures, last_error, checked_at) VALUES ($1, false, $2, $3, $4) \
                         ON CONFLICT (panel_id) DO UPDATE SET ok = false, consecutive_failures = EXCLUDED.consecutive_failures, \
                         last_error = EXCLUDED.last_error, checked_at = EXCLUDED.checked_at",
                    )
                    .bind(panel.id)
                    .bind(failures)
                    .bind(e.to_string())
                    .bind(now)
                    .execute(self.directory.pool())
                    .await?;
                    if failures >= self.unhealthy_after as i32 && panel.healthy {
                        let reason = format!("{failures} failed checks in a row: {e}");
                        if self.directory.commands.mark_panel_health(panel.id, false, reason, now).await? {
                            tracing::warn!(panel = %panel.name, error = %e, "panel marked unhealthy");
                            report.marked_unhealthy += 1;
                        }
                    }
                }
            }
        }
        Ok(report)
    }

    pub async fn run_until_stopped(self, mut shutdown: Shutdown) {
        loop {
            if let Err(e) = self.step(Utc::now()).await {
                tracing::warn!(error = %e, "panel monitor step failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {},
                _ = shutdown.stopped() => return,
            }
        }
    }
}
