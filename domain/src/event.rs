//! Every domain event, tagged by aggregate type: what consumers of the global
//! stream (projectors, process managers, notifiers) decode.
use serde::de::DeserializeOwned;

use crate::autorenew::{AutoRenewal, AutoRenewalEvent};
use crate::backup::{Backup, BackupEvent};
use crate::broadcast::{Broadcast, BroadcastEvent};
use crate::card::{Card, CardEvent};
use crate::commission::{CommissionPolicy, CommissionPolicyEvent, SellerAccount, SellerEvent};
use crate::customer::{Customer, CustomerEvent};
use crate::discount::{DiscountCode, DiscountEvent};
use crate::features::{FeatureEvent, FeatureToggles};
use crate::license::{License, LicenseEvent};
use crate::panel::{Panel, PanelEvent};
use crate::payment::{Payment, PaymentEvent};
use crate::plan::{Plan, PlanEvent};
use crate::points::{PointsAccount, PointsEvent, PointsPolicy, PointsPolicyEvent};
use crate::reference::{PaymentReference, ReferenceEvent};
use crate::reminder::{ReminderEvent, Reminders};
use crate::role::{Role, RoleEvent};
use crate::sale::{SaleBook, SaleEvent};
use crate::staff::{Staff, StaffEvent};
use crate::subscription::{Subscription, SubscriptionEvent};
use crate::support::{QuickReplies, QuickReplyEvent, SupportAgent, SupportAgentEvent, SupportChat, SupportChatEvent};
use crate::wallet::{Wallet, WalletEvent};
use cqrs_es::Aggregate;

#[derive(Debug, Clone, PartialEq)]
pub enum AnyEvent {
    Customer(CustomerEvent),
    Role(RoleEvent),
    Plan(PlanEvent),
    Wallet(WalletEvent),
    Payment(PaymentEvent),
    Subscription(SubscriptionEvent),
    Card(CardEvent),
    Panel(PanelEvent),
    PaymentReference(ReferenceEvent),
    Staff(StaffEvent),
    CommissionPolicy(CommissionPolicyEvent),
    Seller(SellerEvent),
    Sale(SaleEvent),
    Discount(DiscountEvent),
    PointsPolicy(PointsPolicyEvent),
    Points(PointsEvent),
    Features(FeatureEvent),
    License(LicenseEvent),
    Backup(BackupEvent),
    AutoRenewal(AutoRenewalEvent),
    Reminder(ReminderEvent),
    SupportChat(SupportChatEvent),
    SupportAgent(SupportAgentEvent),
    QuickReplies(QuickReplyEvent),
    Broadcast(BroadcastEvent),
    /// An aggregate type this build does not know (written by a newer version).
    Unknown,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot decode {aggregate_type} event: {source}")]
pub struct DecodeError {
    pub aggregate_type: String,
    #[source]
    pub source: serde_json::Error,
}

impl AnyEvent {
    pub fn decode(aggregate_type: &str, payload: &serde_json::Value) -> Result<AnyEvent, DecodeError> {
        fn de<T: DeserializeOwned>(t: &str, p: &serde_json::Value) -> Result<T, DecodeError> {
            T::deserialize(p).map_err(|source| DecodeError {
                aggregate_type: t.to_string(),
                source,
            })
        }
        let t = aggregate_type;
        Ok(match t {
            _ if t == Customer::TYPE => AnyEvent::Customer(de(t, payload)?),
            _ if t == Role::TYPE => AnyEvent::Role(de(t, payload)?),
            _ if t == Plan::TYPE => AnyEvent::Plan(de(t, payload)?),
            _ if t == Wallet::TYPE => AnyEvent::Wallet(de(t, payload)?),
            _ if t == Payment::TYPE => AnyEvent::Payment(de(t, payload)?),
            _ if t == Subscription::TYPE => AnyEvent::Subscription(de(t, payload)?),
            _ if t == Card::TYPE => AnyEvent::Card(de(t, payload)?),
            _ if t == Panel::TYPE => AnyEvent::Panel(de(t, payload)?),
            _ if t == PaymentReference::TYPE => AnyEvent::PaymentReference(de(t, payload)?),
            _ if t == Staff::TYPE => AnyEvent::Staff(de(t, payload)?),
            _ if t == CommissionPolicy::TYPE => AnyEvent::CommissionPolicy(de(t, payload)?),
            _ if t == SellerAccount::TYPE => AnyEvent::Seller(de(t, payload)?),
            _ if t == SaleBook::TYPE => AnyEvent::Sale(de(t, payload)?),
            _ if t == DiscountCode::TYPE => AnyEvent::Discount(de(t, payload)?),
            _ if t == PointsPolicy::TYPE => AnyEvent::PointsPolicy(de(t, payload)?),
            _ if t == PointsAccount::TYPE => AnyEvent::Points(de(t, payload)?),
            _ if t == FeatureToggles::TYPE => AnyEvent::Features(de(t, payload)?),
            _ if t == License::TYPE => AnyEvent::License(de(t, payload)?),
            _ if t == Backup::TYPE => AnyEvent::Backup(de(t, payload)?),
            _ if t == AutoRenewal::TYPE => AnyEvent::AutoRenewal(de(t, payload)?),
            _ if t == Reminders::TYPE => AnyEvent::Reminder(de(t, payload)?),
            _ if t == SupportChat::TYPE => AnyEvent::SupportChat(de(t, payload)?),
            _ if t == SupportAgent::TYPE => AnyEvent::SupportAgent(de(t, payload)?),
            _ if t == QuickReplies::TYPE => AnyEvent::QuickReplies(de(t, payload)?),
            _ if t == Broadcast::TYPE => AnyEvent::Broadcast(de(t, payload)?),
            _ => AnyEvent::Unknown,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{t0, toman};
    use crate::values::CustomerId;
    use crate::wallet::WalletReason;
    use cqrs_es::DomainEvent;

    #[test]
    fn the_stored_tag_is_the_event_type() {
        let e = WalletEvent::WalletCredited {
            customer: CustomerId(1),
            amount: toman(5),
            reason: WalletReason::TopUp {
                payment_id: uuid::Uuid::nil(),
            },
            reference: "r".into(),
            balance_after: toman(5),
            at: t0(),
        };
        let json = serde_json::to_value(&e).unwrap();
        let tag = json.as_object().unwrap().keys().next().unwrap().clone();
        assert_eq!(tag, e.event_type());
        assert_eq!(AnyEvent::decode("Wallet", &json).unwrap(), AnyEvent::Wallet(e));
    }

    #[test]
    fn unknown_aggregate_types_are_skipped_not_fatal() {
        assert_eq!(AnyEvent::decode("Future", &serde_json::json!({})).unwrap(), AnyEvent::Unknown);
        assert!(AnyEvent::decode("Wallet", &serde_json::json!({"Nope": {}})).is_err());
    }
}
