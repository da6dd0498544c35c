//! Which panels exist and how to talk to each: rows from the `panels` read
//! model, credentials from the panel's events (decrypted in memory), and one
//! shared [`XuiClient`] per panel so sessions are reused.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use commands::Commands;
use domain::panel::PanelCredentials;
use secrets::SecretKey;
use sqlx::PgPool;
use uuid::Uuid;
use xui::{ClientOptions, Credentials, XuiClient};

use crate::PanelsError;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PanelRow {
    pub id: Uuid,
    pub name: String,
    pub location: String,
    pub base_url: String,
    pub sub_base_url: String,
    pub public_host: String,
    pub inbound_ids: Vec<i64>,
    pub capacity: i32,
    pub enabled: bool,
    pub healthy: bool,
    pub retired: bool,
    /// Clients placed here (started, provisioned or missing).
    pub load: i64,
}

const SELECT: &str = "SELECT p.id, p.name, p.location, p.base_url, p.sub_base_url, p.public_host, p.inbound_ids, p.capacity, \
     p.enabled, p.healthy, p.retired, \
     (SELECT count(*) FROM subscriptions s WHERE s.panel_id = p.id AND s.provisioning IN ('started', 'provisioned', 'missing')) AS load \
     FROM panels p";

/// A panel's client and the URL + credentials it was built from.
type Cached = (String, Arc<XuiClient>);

#[derive(Clone)]
pub struct Directory {
    pub commands: Commands,
    key: SecretKey,
    options: ClientOptions,
    clients: Arc<Mutex<HashMap<Uuid, Cached>>>,
}

impl Directory {
    pub fn new(commands: Commands, key: SecretKey, options: ClientOptions) -> Directory {
        Directory {
            commands,
            key,
            options,
            clients: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.commands.pool
    }

    /// Every panel that is not retired.
    pub async fn panels(&self) -> Result<Vec<PanelRow>, PanelsError> {
        Ok(sqlx::query_as(&format!("{SELECT} WHERE NOT p.retired ORDER BY p.location, p.name"))
            .fetch_all(self.pool())
            .await?)
    }

    pub async fn panel(&self, id: Uuid) -> Result<PanelRow, PanelsError> {
        sqlx::query_as(&format!("{SELECT} WHERE p.id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(PanelsError::NoSuchPanel(id))
    }

    /// Panels that may take a new client in `location`, least loaded (relative
    /// to capacity) first, then the one with more room: enabled, healthy, not retired, with room.
    /// The read model lags, so this is only the order to try them in: the
    /// panel's slots (`Commands::reserve_panel_slot`) decide whether there is room.
    pub async fn candidates(&self, location: &str) -> Result<Vec<PanelRow>, PanelsError> {
        let rows: Vec<PanelRow> = sqlx::query_as(&format!(
            "{SELECT} WHERE lower(p.location) = lower($1) AND p.enabled AND p.healthy AND NOT p.retired"
        ))
        .bind(location)
        .fetch_all(self.pool())
        .await?;
        let mut rows: Vec<PanelRow> = rows.into_iter().filter(|r| r.load < i64::from(r.capacity)).collect();
        rows.sort_by(|a, b| {
            let la = a.load as f64 / f64::from(a.capacity.max(1));
            let lb = b.load as f64 / f64::from(b.capacity.max(1));
            // Equal load: the one with more room, then a stable order.
            let room = |r: &PanelRow| i64::from(r.capacity) - r.load;
            la.total_cmp(&lb).then(room(b).cmp(&room(a))).then(a.id.cmp(&b.id))
        });
        Ok(rows)
    }

    /// The panel's inbound holding the fewest of our clients.
    pub async fn least_loaded_inbound(&self, panel: &PanelRow) -> Result<i64, PanelsError> {
        let counts: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT inbound_id, count(*) FROM subscriptions WHERE panel_id = $1 \
             AND provisioning IN ('started', 'provisioned', 'missing') AND inbound_id IS NOT NULL GROUP BY inbound_id",
        )
        .bind(panel.id)
        .fetch_all(self.pool())
        .await?;
        let load = |id: i64| counts.iter().find(|(i, _)| *i == id).map_or(0, |(_, c)| *c);
        panel
            .inbound_ids
            .iter()
            .copied()
            .min_by_key(|&id| load(id))
            .ok_or(PanelsError::NoSuchPanel(panel.id))
    }

    /// The shared client for a panel (rebuilt when its URL or credentials change).
    pub async fn client(&self, panel: &PanelRow) -> Result<Arc<XuiClient>, PanelsError> {
        let aggregate = self.commands.panel(panel.id).await?;
        let creds = aggregate.credentials.ok_or(PanelsError::NoSuchPanel(panel.id))?;
        let fingerprint = format!(
            "{}|{}",
            panel.base_url,
            match &creds {
                PanelCredentials::Password {
                    username,
                    password_encrypted,
                } => format!("{username}:{password_encrypted}"),
                PanelCredentials::Token { token_encrypted } => token_encrypted.clone(),
            }
        );
        if let Some((fp, c)) = self.clients.lock().expect("directory lock").get(&panel.id) {
            if *fp == fingerprint {
                return Ok(c.clone());
            }
        }
        let decrypt = |c: &str| self.key.decrypt(c).map_err(|e| PanelsError::Credentials(panel.id, e));
        let credentials = match &creds {
            PanelCredentials::Password {
                username,
                password_encrypted,
            } => Credentials::Password {
                username: username.clone(),
                password: decrypt(password_encrypted)?,
            },
            PanelCredentials::Token { token_encrypted } => Credentials::Token(decrypt(token_encrypted)?),
        };
        let client = Arc::new(XuiClient::new(&panel.base_url, credentials, self.options.clone())?);
        self.clients
            .lock()
            .expect("directory lock")
            .insert(panel.id, (fingerprint, client.clone()));
        Ok(client)
    }
}
