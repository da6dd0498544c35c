//! The panel's data as it travels on the wire (see `shared/3x-ui-api.md` §4).
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `{success, msg, obj}`: every JSON reply, with HTTP 200 even on errors.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    pub success: bool,
    #[serde(default)]
    pub msg: String,
    #[serde(default)]
    pub obj: Value,
}

impl Envelope {
    /// The message without the trailing newline that Go's `fmt.Sprintln` leaves in service errors.
    pub fn message(&self) -> String {
        self.msg.replace('\n', "").trim().to_string()
    }
}

/// Which client API the panel speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiFlavor {
    /// v2.4 to v3.0.x: clients live in the inbound's `settings`, changed through
    /// `/panel/api/inbounds/addClient|updateClient|…/delClient`.
    Classic,
    /// v3.1 and later: `/panel/api/clients/*`.
    Clients,
}

impl ApiFlavor {
    pub fn name(self) -> &'static str {
        match self {
            ApiFlavor::Classic => "classic",
            ApiFlavor::Clients => "v3.1-clients",
        }
    }
}

/// One entry of `settings.clients[]`. Every field is always sent: the panel
/// stores the map as given, so a missing field stays missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Client {
    /// UUID for vless/vmess (their key).
    #[serde(default, deserialize_with = "nullable")]
    pub id: String,
    /// Trojan's key (and shadowsocks' password).
    #[serde(default, deserialize_with = "nullable")]
    pub password: String,
    #[serde(default, deserialize_with = "nullable")]
    pub flow: String,
    /// Unique on the whole panel, case-insensitively.
    pub email: String,
    #[serde(default, deserialize_with = "nullable")]
    pub limit_ip: i64,
    /// Bytes, despite the name; 0 = unlimited.
    #[serde(rename = "totalGB", default, deserialize_with = "nullable")]
    pub total_bytes: i64,
    /// Milliseconds since the epoch; 0 = never; negative = N days from first use.
    #[serde(default, deserialize_with = "nullable")]
    pub expiry_time: i64,
    #[serde(default = "yes", deserialize_with = "nullable_yes")]
    pub enable: bool,
    #[serde(default, deserialize_with = "number_or_string")]
    pub tg_id: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub sub_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub comment: String,
    #[serde(default, deserialize_with = "nullable")]
    pub reset: i64,
    /// The vmess cipher; empty for other protocols.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "String::is_empty")]
    pub security: String,
}

fn yes() -> bool {
    true
}

/// The panel stores client maps as sent, so a field may be missing or `null`.
pub(crate) fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn nullable_yes<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(true))
}

/// Old panels send `tgId` as a string (often `""`).
fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n.as_i64().ok_or_else(|| de::Error::custom("tgId out of range")),
        Value::String(s) if s.trim().is_empty() => Ok(0),
        Value::String(s) => s.trim().parse().map_err(de::Error::custom),
        Value::Null => Ok(0),
        other => Err(de::Error::custom(format!("tgId: unexpected {other}"))),
    }
}

/// JSON-in-JSON: `settings`, `streamSettings` and `sniffing` are strings holding
/// JSON. Newer panels may send an object; both are accepted and kept as text.
fn json_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Null => Ok(String::new()),
        other => Ok(other.to_string()),
    }
}

impl Client {
    /// The key the classic API addresses a client by: the UUID for vless and
    /// vmess, the password for trojan, the email for shadowsocks.
    pub fn key(&self, protocol: &str) -> &str {
        match protocol {
            "trojan" => &self.password,
            "shadowsocks" => &self.email,
            _ => &self.id,
        }
    }
}

/// A row of `client_traffics`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ClientTraffic {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub inbound_id: i64,
    #[serde(default)]
    pub enable: bool,
    pub email: String,
    #[serde(default)]
    pub up: i64,
    #[serde(default)]
    pub down: i64,
    #[serde(default)]
    pub expiry_time: i64,
    #[serde(default)]
    pub total: i64,
    #[serde(default)]
    pub reset: i64,
    /// Milliseconds since the epoch (v2.6+); 0 = never.
    #[serde(default)]
    pub last_online: i64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inbound {
    pub id: i64,
    #[serde(default)]
    pub up: i64,
    #[serde(default)]
    pub down: i64,
    #[serde(default)]
    pub total: i64,
    #[serde(default)]
    pub remark: String,
    #[serde(default)]
    pub enable: bool,
    #[serde(default)]
    pub expiry_time: i64,
    /// Only `list` fills this; `get/:id` sends `null`.
    #[serde(default)]
    pub client_stats: Option<Vec<ClientTraffic>>,
    #[serde(default)]
    pub listen: String,
    #[serde(default)]
    pub port: u16,
    #[serde(default)]
    pub protocol: String,
    #[serde(default, deserialize_with = "json_text")]
    pub settings: String,
    #[serde(default, deserialize_with = "json_text")]
    pub stream_settings: String,
    #[serde(default)]
    pub tag: String,
}

#[derive(Debug, Default, Deserialize)]
struct ClientsOnly {
    #[serde(default)]
    clients: Vec<Client>,
}

impl Inbound {
    /// The clients held in `settings`.
    pub fn clients(&self) -> Result<Vec<Client>, serde_json::Error> {
        if self.settings.trim().is_empty() {
            return Ok(Vec::new());
        }
        Ok(serde_json::from_str::<ClientsOnly>(&self.settings)?.clients)
    }
    pub fn settings_json(&self) -> Value {
        serde_json::from_str(&self.settings).unwrap_or(Value::Null)
    }
    pub fn stream_json(&self) -> Value {
        serde_json::from_str(&self.stream_settings).unwrap_or(Value::Null)
    }
}

/// A client as found on a panel, with its traffic counters.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelClient {
    pub inbound_id: i64,
    pub protocol: String,
    pub client: Client,
    pub up: i64,
    pub down: i64,
    /// Whether the panel still lets it connect (false when depleted or expired).
    pub traffic_enabled: bool,
    pub last_online_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Usage {
    #[serde(default)]
    pub current: u64,
    #[serde(default)]
    pub total: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct XrayState {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub error_msg: String,
    #[serde(default)]
    pub version: String,
}

/// `server/status`. The panel refreshes it every 2 s and may send `null` right after it starts.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerStatus {
    #[serde(default)]
    pub cpu: f64,
    #[serde(default)]
    pub cpu_cores: u32,
    #[serde(default)]
    pub mem: Usage,
    #[serde(default)]
    pub disk: Usage,
    #[serde(default)]
    pub xray: XrayState,
    /// Seconds.
    #[serde(default)]
    pub uptime: u64,
}
