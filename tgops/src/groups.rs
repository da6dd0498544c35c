//! The staff groups (one Telegram group per topic, each in its own language)
//! and the one concise line each event type becomes.
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use domain::autorenew::AutoRenewalEvent;
use domain::backup::BackupEvent;
use domain::broadcast::BroadcastEvent;
use domain::commission::SellerEvent;
use domain::customer::CustomerEvent;
use domain::features::FeatureEvent;
use domain::license::LicenseEvent;
use domain::panel::PanelEvent;
use domain::payment::PaymentEvent;
use domain::subscription::{ChargeKind, SubscriptionEvent};
use domain::support::{SupportAgentEvent, SupportChatEvent};
use domain::wallet::{WalletEvent, WalletReason};
use domain::{ActorRef, AnyEvent, CustomerId, Language, Toman};

use crate::i18n;
use crate::texts::t;

/// What a group is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Topic {
    /// Registrations, blocks, roles, broadcasts.
    Users,
    /// Receipts, approvals, sales, refunds, wallet corrections, withdrawals, auto-renewals.
    Finance,
    /// Panels up and down, provisioning failures.
    Servers,
    /// The live-chat queue, assignments, closings, ratings, agents on and off.
    Support,
    /// Backups taken, failed, sent, restored.
    Backups,
    /// Features switched on and off, licenses.
    Toggles,
}

impl Topic {
    pub const ALL: [Topic; 6] = [
        Topic::Users,
        Topic::Finance,
        Topic::Servers,
        Topic::Support,
        Topic::Backups,
        Topic::Toggles,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Topic::Users => "users",
            Topic::Finance => "finance",
            Topic::Servers => "servers",
            Topic::Support => "support",
            Topic::Backups => "backups",
            Topic::Toggles => "toggles",
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A group: its chat id and the language its lines are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    pub chat_id: i64,
    pub language: Language,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a group is `CHAT_ID` or `CHAT_ID:LANG` (a negative group id such as -1001234567890, LANG fa or en): {0:?}")]
pub struct GroupParseError(pub String);

impl FromStr for Group {
    type Err = GroupParseError;
    /// `-1001234567890` (Persian) or `-1001234567890:en`.
    fn from_str(s: &str) -> Result<Group, GroupParseError> {
        let err = || GroupParseError(s.to_string());
        let (id, lang) = match s.trim().rsplit_once(':') {
            Some((id, lang)) => (id, Language::parse(lang).map_err(|_| err())?),
            None => (s.trim(), Language::Fa),
        };
        let chat_id: i64 = id.trim().parse().map_err(|_| err())?;
        if chat_id == 0 {
            return Err(err());
        }
        Ok(Group { chat_id, language: lang })
    }
}

/// The configured groups; a topic without a group is not reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Groups {
    map: BTreeMap<Topic, Group>,
}

impl Groups {
    pub fn new() -> Groups {
        Groups::default()
    }
    pub fn with(mut self, topic: Topic, group: Option<Group>) -> Groups {
        if let Some(g) = group {
            self.map.insert(topic, g);
        }
        self
    }
    pub fn get(&self, topic: Topic) -> Option<Group> {
        self.map.get(&topic).copied()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = (Topic, Group)> + '_ {
        self.map.iter().map(|(t, g)| (*t, *g))
    }
}

/// A value in a line, formatted in the group's language.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text, escaped for HTML.
    Text(String),
    Money(Toman),
    Date(DateTime<Utc>),
    Seconds(i64),
    Number(i64),
    /// A customer, by name when known.
    Who(CustomerId),
    /// Who did it (a person, or the system).
    By(ActorRef),
    Stars(u8),
}

/// An event as a line: the topic, the catalog key and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub topic: Topic,
    pub key: &'static str,
    pub args: Vec<(&'static str, Value)>,
}

impl Line {
    fn new(topic: Topic, key: &'static str) -> Line {
        Line {
            topic,
            key,
            args: Vec::new(),
        }
    }
    fn arg(mut self, name: &'static str, value: Value) -> Line {
        self.args.push((name, value));
        self
    }
    fn text(self, name: &'static str, value: &str) -> Line {
        self.arg(name, Value::Text(i18n::esc(value)))
    }

    /// The customers whose names the line shows.
    pub fn people(&self) -> Vec<CustomerId> {
        self.args
            .iter()
            .filter_map(|(_, v)| match v {
                Value::Who(c) | Value::By(ActorRef::User(c)) => Some(*c),
                _ => None,
            })
            .collect()
    }

    /// The line in `lang`; `name` gives a customer's display name (escaped).
    pub fn render(&self, lang: Language, name: &dyn Fn(CustomerId) -> String) -> String {
        let args: Vec<(&str, String)> = self
            .args
            .iter()
            .map(|(k, v)| {
                let s = match v {
                    Value::Text(s) => s.clone(),
                    Value::Money(m) => i18n::money(lang, *m),
                    Value::Date(d) => i18n::date(lang, *d),
                    Value::Seconds(s) => i18n::duration(lang, *s),
                    Value::Number(n) => i18n::number(lang, *n),
                    Value::Who(c) => name(*c),
                    Value::By(ActorRef::User(c)) => name(*c),
                    Value::By(ActorRef::System) => t(lang, "g-system", &[]),
                    Value::Stars(n) => "⭐".repeat(usize::from(*n)),
                };
                (*k, s)
            })
            .collect();
        t(lang, self.key, &args)
    }
}

/// Facts a line needs that its event does not carry (names of plans and panels).
pub trait Lookup {
    fn plan_of(&self, subscription: &str) -> Option<String>;
    fn panel_name(&self, panel: &str) -> Option<String>;
}

/// The line `event` makes for the staff groups, if any. `aggregate_id` is the
/// stored event's aggregate id.
pub fn line(event: &AnyEvent, aggregate_id: &str, lookup: &dyn Lookup) -> Option<Line> {
    use Topic::*;
    let who = |c: &CustomerId| Value::Who(*c);
    let by = |b: &ActorRef| Value::By(*b);
    let plan = || {
        lookup
            .plan_of(aggregate_id)
            .unwrap_or_else(|| aggregate_id.chars().take(8).collect())
    };
    let panel = || {
        lookup
            .panel_name(aggregate_id)
            .unwrap_or_else(|| aggregate_id.chars().take(8).collect())
    };
    let customer_of = || aggregate_id.parse::<i64>().ok().map(CustomerId);
    Some(match event {
        AnyEvent::Customer(e) => {
            let c = customer_of()?;
            match e {
                CustomerEvent::CustomerRegistered { referrer: Some(r), .. } => {
                    Line::new(Users, "g-registered-ref").arg("who", who(&c)).arg("referrer", who(r))
                }
                CustomerEvent::CustomerRegistered { .. } => Line::new(Users, "g-registered").arg("who", who(&c)),
                CustomerEvent::CustomerBlocked { by: b, reason, .. } => Line::new(Users, "g-blocked")
                    .arg("who", who(&c))
                    .arg("by", by(b))
                    .text("reason", reason),
                CustomerEvent::CustomerUnblocked { by: b, .. } => Line::new(Users, "g-unblocked").arg("who", who(&c)).arg("by", by(b)),
                CustomerEvent::RoleGranted { role, by: b, .. } => Line::new(Users, "g-role-granted")
                    .arg("who", who(&c))
                    .text("role", role.as_str())
                    .arg("by", by(b)),
                CustomerEvent::RoleRevoked { role, by: b, .. } => Line::new(Users, "g-role-revoked")
                    .arg("who", who(&c))
                    .text("role", role.as_str())
                    .arg("by", by(b)),
                CustomerEvent::LanguageChanged { .. } => return None,
            }
        }
        AnyEvent::Payment(e) => match e {
            PaymentEvent::ReceiptSubmitted { customer, amount, .. } => Line::new(Finance, "g-receipt")
                .arg("who", who(customer))
                .arg("amount", Value::Money(*amount)),
            PaymentEvent::PaymentApproved {
                customer,
                amount,
                method,
                by: b,
                ..
            } => Line::new(Finance, "g-approved")
                .arg("who", who(customer))
                .arg("amount", Value::Money(*amount))
                .text("method", method)
                .arg("by", by(b)),
            PaymentEvent::PaymentRejected {
                customer, reason, by: b, ..
            } => Line::new(Finance, "g-rejected")
                .arg("who", who(customer))
                .arg("by", by(b))
                .text("reason", reason),
            PaymentEvent::GatewayPaymentFailed { customer, reason, .. } => Line::new(Finance, "g-gateway-failed")
                .arg("who", who(customer))
                .text("reason", reason),
            _ => return None,
        },
        AnyEvent::Wallet(e) => {
            let (customer, amount, reason, credit) = match e {
                WalletEvent::WalletCredited {
                    customer, amount, reason, ..
                } => (customer, amount, reason, true),
                WalletEvent::WalletDebited {
                    customer, amount, reason, ..
                } => (customer, amount, reason, false),
            };
            let WalletReason::Adjustment { by: b, note } = reason else {
                return None;
            };
            Line::new(Finance, if credit { "g-adjusted-credit" } else { "g-adjusted-debit" })
                .arg("who", who(customer))
                .arg("amount", Value::Money(*amount))
                .arg("by", by(b))
                .text("note", note)
        }
        AnyEvent::Subscription(e) => match e {
            SubscriptionEvent::ChargeSettled {
                customer, kind, amount, ..
            } => {
                let base = |key| {
                    Line::new(Finance, key)
                        .arg("who", who(customer))
                        .arg("amount", Value::Money(*amount))
                };
                match kind {
                    ChargeKind::Purchase => base("g-sale").text("plan", &plan()),
                    ChargeKind::Renewal { plan: p } => base("g-renewal").text("plan", &p.name),
                    ChargeKind::Traffic { gb } => base("g-traffic").text("plan", &plan()).arg("gb", Value::Number(i64::from(*gb))),
                }
            }
            SubscriptionEvent::SubscriptionCancelled {
                customer,
                refund,
                reason,
                by: b,
                ..
            } => Line::new(Finance, "g-cancelled")
                .text("plan", &plan())
                .arg("who", who(customer))
                .arg("by", by(b))
                .arg("amount", Value::Money(*refund))
                .text("reason", reason),
            SubscriptionEvent::ProvisioningFailed { customer, reason, .. } => Line::new(Servers, "g-provisioning-failed")
                .arg("who", who(customer))
                .text("reason", reason),
            SubscriptionEvent::ClientMissingOnPanel { customer, placement, .. } => {
                let name = lookup
                    .panel_name(&placement.panel_id.to_string())
                    .unwrap_or_else(|| placement.panel_id.to_string());
                Line::new(Servers, "g-client-missing")
                    .arg("who", who(customer))
                    .text("panel", &name)
            }
            _ => return None,
        },
        AnyEvent::AutoRenewal(e) => match e {
            AutoRenewalEvent::AutoRenewalSucceeded { customer, expires_at, .. } => Line::new(Finance, "g-autorenew-ok")
                .text("plan", &plan())
                .arg("who", who(customer))
                .arg("date", Value::Date(*expires_at)),
            AutoRenewalEvent::AutoRenewalFailed { customer, reason, .. } => Line::new(Finance, "g-autorenew-failed")
                .text("plan", &plan())
                .arg("who", who(customer))
                .text("reason", reason),
            _ => return None,
        },
        AnyEvent::Seller(e) => match e {
            SellerEvent::WithdrawalRequested { seller, amount, .. } => Line::new(Finance, "g-withdrawal-requested")
                .arg("who", who(seller))
                .arg("amount", Value::Money(*amount)),
            SellerEvent::WithdrawalApproved { seller, amount, by: b, .. } => Line::new(Finance, "g-withdrawal-approved")
                .arg("who", who(seller))
                .arg("amount", Value::Money(*amount))
                .arg("by", by(b)),
            SellerEvent::WithdrawalRejected {
                seller,
                amount,
                reason,
                by: b,
                ..
            } => Line::new(Finance, "g-withdrawal-rejected")
                .arg("who", who(seller))
                .arg("amount", Value::Money(*amount))
                .arg("by", by(b))
                .text("reason", reason),
            SellerEvent::WithdrawalPaid { seller, amount, by: b, .. } => Line::new(Finance, "g-withdrawal-paid")
                .arg("who", who(seller))
                .arg("amount", Value::Money(*amount))
                .arg("by", by(b)),
            _ => return None,
        },
        AnyEvent::Panel(e) => match e {
            PanelEvent::PanelRegistered { spec, by: b, .. } => {
                Line::new(Servers, "g-panel-registered").text("panel", &spec.name).arg("by", by(b))
            }
            PanelEvent::PanelEnabled { by: b, .. } => Line::new(Servers, "g-panel-enabled").text("panel", &panel()).arg("by", by(b)),
            PanelEvent::PanelDisabled { reason, by: b, .. } => Line::new(Servers, "g-panel-disabled")
                .text("panel", &panel())
                .arg("by", by(b))
                .text("reason", reason),
            PanelEvent::PanelRetired { by: b, .. } => Line::new(Servers, "g-panel-retired").text("panel", &panel()).arg("by", by(b)),
            PanelEvent::PanelMarkedUnhealthy { reason, .. } => {
                Line::new(Servers, "g-panel-down").text("panel", &panel()).text("reason", reason)
            }
            PanelEvent::PanelMarkedHealthy { .. } => Line::new(Servers, "g-panel-up").text("panel", &panel()),
            PanelEvent::PanelCredentialsChanged { .. } => return None,
        },
        AnyEvent::SupportChat(e) => match e {
            SupportChatEvent::ChatOpened { customer, number, .. } => Line::new(Support, "g-chat-opened")
                .arg("who", who(customer))
                .arg("number", Value::Number(i64::from(*number))),
            SupportChatEvent::ChatAssigned {
                customer,
                agent,
                queued_secs,
                ..
            } => Line::new(Support, "g-chat-assigned")
                .arg("who", who(customer))
                .arg("agent", who(agent))
                .arg("waited", Value::Seconds(*queued_secs)),
            SupportChatEvent::ChatClosed {
                customer,
                by: b,
                duration_secs,
                ..
            } => Line::new(Support, "g-chat-closed")
                .arg("who", who(customer))
                .arg("by", by(b))
                .arg("duration", Value::Seconds(*duration_secs)),
            SupportChatEvent::ChatRated {
                customer,
                agent: Some(agent),
                stars,
                ..
            } => Line::new(Support, "g-chat-rated")
                .arg("who", who(customer))
                .arg("agent", who(agent))
                .arg("stars", Value::Stars(*stars)),
            _ => return None,
        },
        AnyEvent::SupportAgent(e) => match e {
            SupportAgentEvent::AgentWentOnline { agent, .. } => Line::new(Support, "g-agent-online").arg("agent", who(agent)),
            SupportAgentEvent::AgentWentOffline { agent, .. } => Line::new(Support, "g-agent-offline").arg("agent", who(agent)),
        },
        AnyEvent::Broadcast(e) => match e {
            BroadcastEvent::BroadcastCreated { segment, by: b, .. } => Line::new(Users, "g-broadcast-created")
                .arg("by", by(b))
                .text("segment", &segment.describe()),
            BroadcastEvent::BroadcastCompleted { recipients, figures, .. } => Line::new(Users, "g-broadcast-done")
                .arg("sent", Value::Number(figures.sent as i64))
                .arg("blocked", Value::Number(figures.blocked as i64))
                .arg("failed", Value::Number(figures.failed as i64))
                .arg("uncertain", Value::Number(figures.uncertain as i64))
                .arg("recipients", Value::Number(*recipients as i64)),
            _ => return None,
        },
        AnyEvent::Backup(e) => match e {
            BackupEvent::BackupTaken { name, file, .. } => Line::new(Backups, "g-backup-taken")
                .text("name", name)
                .text("size", &human_bytes(file.bytes))
                .text("sha", file.sha256.get(..16).unwrap_or(&file.sha256)),
            BackupEvent::BackupFailed { name, reason, .. } => {
                Line::new(Backups, "g-backup-failed").text("name", name).text("reason", reason)
            }
            BackupEvent::BackupUploaded { name, parts, .. } => Line::new(Backups, "g-backup-uploaded")
                .text("name", name)
                .arg("parts", Value::Number(i64::from(*parts))),
            BackupEvent::BackupUploadFailed { name, reason, .. } => Line::new(Backups, "g-backup-upload-failed")
                .text("name", name)
                .text("reason", reason),
            BackupEvent::BackupRestored { name, database, .. } => Line::new(Backups, "g-backup-restored")
                .text("name", name)
                .text("database", database),
            BackupEvent::BackupStarted { .. } => return None,
        },
        AnyEvent::Features(e) => match e {
            FeatureEvent::FeatureEnabled { feature, by: b, .. } => {
                Line::new(Toggles, "g-feature-on").text("feature", feature.name()).arg("by", by(b))
            }
            FeatureEvent::FeatureDisabled { feature, by: b, .. } => {
                Line::new(Toggles, "g-feature-off").text("feature", feature.name()).arg("by", by(b))
            }
        },
        AnyEvent::License(LicenseEvent::LicenseInstalled { claims, by: b, .. }) => Line::new(Toggles, "g-license")
            .arg("by", by(b))
            .arg("date", Value::Date(claims.expires_at)),
        _ => return None,
    })
}

/// `1.5 MB`, `820 KB`.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_parse_with_an_optional_language() {
        assert_eq!(
            "-1001234:en".parse::<Group>().unwrap(),
            Group {
                chat_id: -1001234,
                language: Language::En
            }
        );
        assert_eq!("-42".parse::<Group>().unwrap().language, Language::Fa);
        assert!("abc".parse::<Group>().is_err());
        assert!("-42:de".parse::<Group>().is_err());
        assert!("0".parse::<Group>().is_err());
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_bytes(820), "820 B");
        assert_eq!(human_bytes(1_572_864), "1.5 MB");
    }
}
