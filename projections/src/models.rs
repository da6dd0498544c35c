//! The projectors. Each matches the events it cares about and copies them.
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::card::CardEvent;
use domain::customer::CustomerEvent;
use domain::payment::{PaymentEvent, PaymentMethod, PaymentPurpose};
use domain::plan::PlanEvent;
use domain::role::RoleEvent;
use domain::subscription::SubscriptionEvent;
use domain::wallet::WalletEvent;
use domain::{ActorRef, AnyEvent};
use eventstore::StoredEvent;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::Projector;

/// Every projector, in no particular order: they are independent.
pub fn all() -> Vec<Box<dyn Projector>> {
    vec![
        Box::new(Customers),
        Box::new(Roles),
        Box::new(Plans),
        Box::new(Cards),
        Box::new(Payments),
        Box::new(PendingReceipts),
        Box::new(Subscriptions),
        Box::new(WalletLedger),
        Box::new(DailyTotals),
        Box::new(Panels),
        Box::new(crate::gateways::GatewayPayments),
        Box::new(crate::gateways::GatewayIncidents),
        Box::new(crate::gateways::ReceiptReadings),
        Box::new(crate::commerce::Sales),
        Box::new(crate::commerce::SaleRefunds),
        Box::new(crate::commerce::PaymentsReceived),
        Box::new(crate::commerce::Commissions),
        Box::new(crate::commerce::SellerBalances),
        Box::new(crate::commerce::Withdrawals),
        Box::new(crate::commerce::AgentPrices),
        Box::new(crate::commerce::DiscountCodes),
        Box::new(crate::commerce::PointsBalances),
        Box::new(crate::commerce::PointsLots),
        Box::new(crate::staff::StaffAccounts),
        Box::new(crate::tgops::Broadcasts),
        Box::new(crate::tgops::AutoRenewals),
        Box::new(crate::tgops::RemindersFired),
        Box::new(crate::tgops::SupportChats),
        Box::new(crate::tgops::SupportMessages),
        Box::new(crate::tgops::SupportAgents),
        Box::new(crate::tgops::QuickRepliesModel),
    ]
}

pub(crate) fn id(event: &StoredEvent) -> Result<Uuid, sqlx::Error> {
    Uuid::parse_str(&event.aggregate_id).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn actor(by: &ActorRef) -> String {
    match by {
        ActorRef::System => "system".to_string(),
        ActorRef::User(id) => id.to_string(),
    }
}

/// Daily totals are kept per UTC day.
pub(crate) fn day(at: &DateTime<Utc>) -> NaiveDate {
    at.date_naive()
}

pub struct Customers;

#[async_trait]
impl Projector for Customers {
    fn name(&self) -> &'static str {
        "customers"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        match decoded {
            AnyEvent::Customer(CustomerEvent::CustomerRegistered {
                id,
                username,
                language,
                referrer,
                at,
            }) => {
                sqlx::query(&format!(
                    "INSERT INTO {t} (telegram_id, username, language, referrer, registered_at) VALUES ($1, $2, $3, $4, $5)"
                ))
                .bind(id.0)
                .bind(username)
                .bind(language.code())
                .bind(referrer.map(|r| r.0))
                .bind(at)
                .execute(conn)
                .await?;
            }
            AnyEvent::Customer(event) => {
                let cid = e.aggregate_id.parse::<i64>().map_err(|x| sqlx::Error::Decode(Box::new(x)))?;
                let (sql, arg): (String, Option<String>) = match event {
                    CustomerEvent::LanguageChanged { language, .. } => (
                        format!("UPDATE {t} SET language = $2 WHERE telegram_id = $1"),
                        Some(language.code().to_string()),
                    ),
                    CustomerEvent::CustomerBlocked { reason, .. } => (
                        format!("UPDATE {t} SET blocked = true, block_reason = $2 WHERE telegram_id = $1"),
                        Some(reason.clone()),
                    ),
                    CustomerEvent::CustomerUnblocked { .. } => (
                        format!("UPDATE {t} SET blocked = false, block_reason = $2 WHERE telegram_id = $1"),
                        None,
                    ),
                    CustomerEvent::RoleGranted { role, .. } => (
                        format!("UPDATE {t} SET roles = array_append(roles, $2) WHERE telegram_id = $1"),
                        Some(role.to_string()),
                    ),
                    CustomerEvent::RoleRevoked { role, .. } => (
                        format!("UPDATE {t} SET roles = array_remove(roles, $2) WHERE telegram_id = $1"),
                        Some(role.to_string()),
                    ),
                    CustomerEvent::CustomerRegistered { .. } => unreachable!("handled above"),
                };
                sqlx::query(&sql).bind(cid).bind(arg).execute(conn).await?;
            }
            AnyEvent::Wallet(
                WalletEvent::WalletCredited {
                    customer, balance_after, ..
                }
                | WalletEvent::WalletDebited {
                    customer, balance_after, ..
                },
            ) => {
                sqlx::query(&format!("UPDATE {t} SET balance = $2 WHERE telegram_id = $1"))
                    .bind(customer.0)
                    .bind(balance_after.value())
                    .execute(conn)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }
}

pub struct Roles;

#[async_trait]
impl Projector for Roles {
    fn name(&self) -> &'static str {
        "roles"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, _e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        match decoded {
            AnyEvent::Role(RoleEvent::RoleDefined { name, permissions, at, .. }) => {
                let perms: Vec<String> = permissions.iter().map(|p| p.name().to_string()).collect();
                sqlx::query(&format!("INSERT INTO {t} (name, permissions, defined_at) VALUES ($1, $2, $3)"))
                    .bind(name.as_str())
                    .bind(perms)
                    .bind(at)
                    .execute(conn)
                    .await?;
            }
            AnyEvent::Role(RoleEvent::RolePermissionsChanged { permissions, .. }) => {
                let perms: Vec<String> = permissions.iter().map(|p| p.name().to_string()).collect();
                sqlx::query(&format!("UPDATE {t} SET permissions = $2 WHERE name = $1"))
                    .bind(&_e.aggregate_id)
                    .bind(perms)
                    .execute(conn)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }
}

pub struct Plans;

#[async_trait]
impl Projector for Plans {
    fn name(&self) -> &'static str {
        "plans"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let AnyEvent::Plan(event) = decoded else { return Ok(()) };
        match event {
            PlanEvent::PlanCreated {
                id,
                name,
                duration_days,
                traffic_gb,
                price,
                locations,
                at,
                ..
            } => {
                let locations: Vec<String> = locations.iter().map(|l| l.to_string()).collect();
                sqlx::query(&format!(
                    "INSERT INTO {t} (id, name, duration_days, traffic_gb, price, locations, active, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, true, $7)"
                ))
                .bind(id)
                .bind(name)
                .bind(*duration_days as i32)
                .bind(*traffic_gb as i32)
                .bind(price.value())
                .bind(locations)
                .bind(at)
                .execute(conn)
                .await?;
            }
            PlanEvent::PlanPriceChanged { new_price, .. } => {
                sqlx::query(&format!("UPDATE {t} SET price = $2 WHERE id = $1"))
                    .bind(id(e)?)
                    .bind(new_price.value())
                    .execute(conn)
                    .await?;
            }
            PlanEvent::PlanLocationsChanged { locations, .. } => {
                let locations: Vec<String> = locations.iter().map(|l| l.to_string()).collect();
                sqlx::query(&format!("UPDATE {t} SET locations = $2 WHERE id = $1"))
                    .bind(id(e)?)
                    .bind(locations)
                    .execute(conn)
                    .await?;
            }
            PlanEvent::PlanRetired { .. } | PlanEvent::PlanReactivated { .. } => {
                sqlx::query(&format!("UPDATE {t} SET active = $2 WHERE id = $1"))
                    .bind(id(e)?)
                    .bind(matches!(event, PlanEvent::PlanReactivated { .. }))
                    .execute(conn)
                    .await?;
            }
        }
        Ok(())
    }
}

pub struct Cards;

#[async_trait]
impl Projector for Cards {
    fn name(&self) -> &'static str {
        "cards"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        match decoded {
            AnyEvent::Card(CardEvent::CardAdded {
                id,
                number,
                holder,
                bank,
                at,
                ..
            }) => {
                sqlx::query(&format!(
                    "INSERT INTO {t} (id, number, holder, bank, active, added_at) VALUES ($1, $2, $3, $4, true, $5)"
                ))
                .bind(id)
                .bind(number.as_str())
                .bind(holder)
                .bind(bank)
                .bind(at)
                .execute(conn)
                .await?;
            }
            AnyEvent::Card(CardEvent::CardRetired { .. }) => {
                sqlx::query(&format!("UPDATE {t} SET active = false WHERE id = $1"))
                    .bind(id(e)?)
                    .execute(conn)
                    .await?;
            }
            AnyEvent::Payment(PaymentEvent::PaymentApproved {
                card_id: Some(card),
                amount,
                ..
            }) => {
                sqlx::query(&format!(
                    "UPDATE {t} SET received_count = received_count + 1, received_total = received_total + $2 WHERE id = $1"
                ))
                .bind(card)
                .bind(amount.value())
                .execute(conn)
                .await?;
            }
            _ => {}
        }
        Ok(())
    }
}

fn purpose_parts(purpose: &PaymentPurpose) -> (&'static str, Option<Uuid>, Option<String>, Option<String>) {
    match purpose {
        PaymentPurpose::WalletTopUp => ("wallet_top_up", None, None, None),
        PaymentPurpose::PlanPurchase { plan, location } => (
            "plan_purchase",
            Some(plan.plan_id),
            Some(location.to_string()),
            Some(plan.name.clone()),
        ),
    }
}

pub struct Payments;

#[async_trait]
impl Projector for Payments {
    fn name(&self) -> &'static str {
        "payments"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let AnyEvent::Payment(event) = decoded else { return Ok(()) };
        match event {
            PaymentEvent::PaymentCreated {
                id,
                customer,
                amount,
                method,
                purpose,
                at,
            } => {
                let (purpose, plan_id, location, _) = purpose_parts(purpose);
                let status = if method.is_gateway() {
                    "awaiting_gateway"
                } else {
                    "awaiting_receipt"
                };
                sqlx::query(&format!(
                    "INSERT INTO {t} (id, customer, amount, method, card_id, purpose, plan_id, location, status, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                ))
                .bind(id)
                .bind(customer.0)
                .bind(amount.value())
                .bind(method.name())
                .bind(method.card_id())
                .bind(purpose)
                .bind(plan_id)
                .bind(location)
                .bind(status)
                .bind(at)
                .execute(conn)
                .await?;
            }
            PaymentEvent::ReceiptSubmitted { file, .. } => {
                sqlx::query(&format!("UPDATE {t} SET receipt = $2, status = 'awaiting_review' WHERE id = $1"))
                    .bind(id(e)?)
                    .bind(file)
                    .execute(conn)
                    .await?;
            }
            PaymentEvent::PaymentApproved { by, at, .. } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET status = 'approved', decided_by = $2, decided_at = $3 WHERE id = $1"
                ))
                .bind(id(e)?)
                .bind(actor(by))
                .bind(at)
                .execute(conn)
                .await?;
            }
            PaymentEvent::PaymentRejected { by, reason, at, .. } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET status = 'rejected', decided_by = $2, decided_at = $3, reject_reason = $4 WHERE id = $1"
                ))
                .bind(id(e)?)
                .bind(actor(by))
                .bind(at)
                .bind(reason)
                .execute(conn)
                .await?;
            }
            PaymentEvent::GatewayPaymentFailed { reason, at, .. } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET status = 'failed', decided_by = 'system', decided_at = $2, reject_reason = $3 WHERE id = $1"
                ))
                .bind(id(e)?)
                .bind(at)
                .bind(reason)
                .execute(conn)
                .await?;
            }
            // Gateway evidence and receipt readings have their own read models (projections::gateways).
            _ => {}
        }
        Ok(())
    }
}

/// Payments waiting for a decision; the admin queue is the rows with a receipt.
pub struct PendingReceipts;

#[async_trait]
impl Projector for PendingReceipts {
    fn name(&self) -> &'static str {
        "pending_receipts"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let AnyEvent::Payment(event) = decoded else { return Ok(()) };
        match event {
            PaymentEvent::PaymentCreated {
                id,
                customer,
                amount,
                method: PaymentMethod::CardToCard { card },
                purpose,
                at,
            } => {
                let (purpose, _, _, plan_name) = purpose_parts(purpose);
                sqlx::query(&format!(
                    "INSERT INTO {t} (payment_id, customer, amount, card_id, card_number, card_holder, purpose, plan_name, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ))
                .bind(id)
                .bind(customer.0)
                .bind(amount.value())
                .bind(card.card_id)
                .bind(card.number.as_str())
                .bind(&card.holder)
                .bind(purpose)
                .bind(plan_name)
                .bind(at)
                .execute(conn)
                .await?;
            }
            PaymentEvent::ReceiptSubmitted { file, at, .. } => {
                sqlx::query(&format!("UPDATE {t} SET receipt = $2, submitted_at = $3 WHERE payment_id = $1"))
                    .bind(id(e)?)
                    .bind(file)
                    .bind(at)
                    .execute(conn)
                    .await?;
            }
            PaymentEvent::PaymentApproved { .. } | PaymentEvent::PaymentRejected { .. } => {
                sqlx::query(&format!("DELETE FROM {t} WHERE payment_id = $1"))
                    .bind(id(e)?)
                    .execute(conn)
                    .await?;
            }
            // Gateway payments never enter the receipt queue.
            _ => {}
        }
        Ok(())
    }
}

pub struct Subscriptions;

#[async_trait]
impl Projector for Subscriptions {
    fn name(&self) -> &'static str {
        "subscriptions"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let AnyEvent::Subscription(event) = decoded else { return Ok(()) };
        match event {
            SubscriptionEvent::SubscriptionRequested {
                id,
                customer,
                plan,
                location,
                at,
                ..
            } => {
                sqlx::query(&format!(
                    "INSERT INTO {t} (id, customer, plan_id, plan_name, location, status, traffic_gb, requested_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $7)"
                ))
                .bind(id)
                .bind(customer.0)
                .bind(plan.plan_id)
                .bind(&plan.name)
                .bind(location.as_str())
                .bind(plan.traffic_gb as i32)
                .bind(at)
                .execute(conn)
                .await?;
            }
            SubscriptionEvent::ChargeRequested { charge_no, at, .. } => {
                sqlx::query(&format!("UPDATE {t} SET pending_charge = $2, updated_at = $3 WHERE id = $1"))
                    .bind(id(e)?)
                    .bind(*charge_no as i32)
                    .bind(at)
                    .execute(conn)
                    .await?;
            }
            SubscriptionEvent::ChargeSettled {
                amount,
                starts_at,
                expires_at,
                traffic_gb,
                at,
                ..
            } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET status = 'active', pending_charge = NULL, paid = paid + $2, starts_at = $3, \
                     expires_at = $4, traffic_gb = $5, updated_at = $6, customer_alerts = '{{}}' WHERE id = $1"
                ))
                .bind(id(e)?)
                .bind(amount.value())
                .bind(starts_at)
                .bind(expires_at)
                .bind(*traffic_gb as i32)
                .bind(at)
                .execute(conn)
                .await?;
            }
            SubscriptionEvent::ChargeFailed { charge_no, reason, at, .. } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET pending_charge = NULL, last_failure = $3, updated_at = $4, \
                     status = CASE WHEN $2 = 1 THEN 'failed' ELSE status END WHERE id = $1"
                ))
                .bind(id(e)?)
                .bind(*charge_no as i32)
                .bind(reason)
                .bind(at)
                .execute(conn)
                .await?;
            }
            SubscriptionEvent::SubscriptionExpired { at, .. } => {
                sqlx::query(&format!("UPDATE {t} SET status = 'expired', updated_at = $2 WHERE id = $1"))
                    .bind(id(e)?)
                    .bind(at)
                    .execute(conn)
                    .await?;
            }
            SubscriptionEvent::SubscriptionCancelled { refund, at, .. } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET status = 'cancelled', refunded = $2, updated_at = $3 WHERE id = $1"
                ))
                .bind(id(e)?)
                .bind(refund.value())
                .bind(at)
                .execute(conn)
                .await?;
            }
            SubscriptionEvent::ProvisioningStarted { placement, at, .. } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET provisioning = 'started', provisioning_error = NULL, panel_id = $2, inbound_id = $3, \
                     client_email = $4, client_uuid = $5, sub_id = $6, updated_at = $7 WHERE id = $1"
                ))
                .bind(id(e)?)
                .bind(placement.panel_id)
                .bind(placement.inbound_id)
                .bind(&placement.email)
                .bind(placement.client_uuid)
                .bind(&placement.sub_id)
                .bind(at)
                .execute(conn)
                .await?;
            }
            SubscriptionEvent::SubscriptionProvisioned { sub_url, links, at, .. } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET provisioning = 'provisioned', sub_url = $2, links = $3, updated_at = $4 WHERE id = $1"
                ))
                .bind(id(e)?)
                .bind(sub_url)
                .bind(links)
                .bind(at)
                .execute(conn)
                .await?;
            }
            SubscriptionEvent::ProvisioningFailed { reason, at, .. } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET provisioning = 'failed', provisioning_error = $2, updated_at = $3 WHERE id = $1"
                ))
                .bind(id(e)?)
                .bind(reason)
                .bind(at)
                .execute(conn)
                .await?;
            }
            SubscriptionEvent::ProvisioningRetryRequested { at, .. } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET provisioning = 'not_started', updated_at = $2 WHERE id = $1"
                ))
                .bind(id(e)?)
                .bind(at)
                .execute(conn)
                .await?;
            }
            SubscriptionEvent::LocationSwitchRequested { to, at, .. } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET location = $2, provisioning = 'not_started', sub_url = NULL, links = '{{}}', updated_at = $3 WHERE id = $1"
                ))
                .bind(id(e)?)
                .bind(to.as_str())
                .bind(at)
                .execute(conn)
                .await?;
            }
            SubscriptionEvent::ClientDeprovisioned { placement, at, .. } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET provisioning = CASE WHEN panel_id = $2 AND client_email = $3 THEN 'removed' ELSE provisioning END, \
                     updated_at = $4 WHERE id = $1"
                ))
                .bind(id(e)?)
                .bind(placement.panel_id)
                .bind(&placement.email)
                .bind(at)
                .execute(conn)
                .await?;
            }
            SubscriptionEvent::ClientUpdated { at, .. } | SubscriptionEvent::ClientExpiredOnPanel { at, .. } => {
                sqlx::query(&format!("UPDATE {t} SET updated_at = $2 WHERE id = $1"))
                    .bind(id(e)?)
                    .bind(at)
                    .execute(conn)
                    .await?;
            }
            SubscriptionEvent::TrafficThresholdCrossed { threshold, .. } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET customer_alerts = array_append(customer_alerts, $2) WHERE id = $1"
                ))
                .bind(id(e)?)
                .bind(i16::from(*threshold))
                .execute(conn)
                .await?;
            }
            SubscriptionEvent::ClientMissingOnPanel { at, .. } => {
                sqlx::query(&format!("UPDATE {t} SET provisioning = 'missing', updated_at = $2 WHERE id = $1"))
                    .bind(id(e)?)
                    .bind(at)
                    .execute(conn)
                    .await?;
            }
            SubscriptionEvent::BonusGranted {
                gb,
                expires_at,
                traffic_gb,
                at,
                ..
            } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET expires_at = $2, traffic_gb = $3, updated_at = $4, \
                     customer_alerts = CASE WHEN $5 THEN '{{}}' ELSE customer_alerts END WHERE id = $1"
                ))
                .bind(id(e)?)
                .bind(expires_at)
                .bind(*traffic_gb as i32)
                .bind(at)
                .bind(*gb > 0)
                .execute(conn)
                .await?;
            }
        }
        Ok(())
    }
}

pub struct WalletLedger;

#[async_trait]
impl Projector for WalletLedger {
    fn name(&self) -> &'static str {
        "wallet_ledger"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let (direction, customer, amount, reason, reference, balance_after, at) = match decoded {
            AnyEvent::Wallet(WalletEvent::WalletCredited {
                customer,
                amount,
                reason,
                reference,
                balance_after,
                at,
            }) => ("credit", customer, amount, reason, reference, balance_after, at),
            AnyEvent::Wallet(WalletEvent::WalletDebited {
                customer,
                amount,
                reason,
                reference,
                balance_after,
                at,
            }) => ("debit", customer, amount, reason, reference, balance_after, at),
            _ => return Ok(()),
        };
        sqlx::query(&format!(
            "INSERT INTO {t} (position, customer, direction, amount, reason, reference, balance_after, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(e.position)
        .bind(customer.0)
        .bind(direction)
        .bind(amount.value())
        .bind(reason.kind())
        .bind(reference)
        .bind(balance_after.value())
        .bind(at)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// The columns of `daily_totals` an event adds to, with the amounts; shared
/// with the audit so both read the events the same way (the audit sums in
/// Rust, the projector in SQL, and they must agree).
pub(crate) fn daily_contribution(decoded: &AnyEvent) -> Option<(NaiveDate, &'static str, Decimal)> {
    match decoded {
        AnyEvent::Payment(PaymentEvent::PaymentApproved { amount, at, .. }) => Some((day(at), "payments_approved", amount.value())),
        AnyEvent::Wallet(WalletEvent::WalletCredited { amount, at, .. }) => Some((day(at), "wallet_credits", amount.value())),
        AnyEvent::Wallet(WalletEvent::WalletDebited { amount, at, .. }) => Some((day(at), "wallet_debits", amount.value())),
        AnyEvent::Subscription(SubscriptionEvent::ChargeSettled { amount, at, .. }) => Some((day(at), "sales", amount.value())),
        AnyEvent::Subscription(SubscriptionEvent::SubscriptionCancelled { refund, at, .. }) => Some((day(at), "refunds", refund.value())),
        _ => None,
    }
}

pub struct DailyTotals;

#[async_trait]
impl Projector for DailyTotals {
    fn name(&self) -> &'static str {
        "daily_totals"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, _e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let Some((day, kind, amount)) = daily_contribution(decoded) else {
            return Ok(());
        };
        let set = match kind {
            "payments_approved" => {
                "payments_approved_count = {t}.payments_approved_count + 1, payments_approved_total = {t}.payments_approved_total + $2"
            }
            "wallet_credits" => "wallet_credits_total = {t}.wallet_credits_total + $2",
            "wallet_debits" => "wallet_debits_total = {t}.wallet_debits_total + $2",
            "sales" => "sales_count = {t}.sales_count + 1, sales_total = {t}.sales_total + $2",
            _ => "refunds_total = {t}.refunds_total + $2",
        }
        .replace("{t}", t);
        sqlx::query(&format!("INSERT INTO {t} (day) VALUES ($1) ON CONFLICT (day) DO NOTHING"))
            .bind(day)
            .execute(&mut *conn)
            .await?;
        sqlx::query(&format!("UPDATE {t} SET {set} WHERE day = $1"))
            .bind(day)
            .bind(amount)
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// Panels without their credentials: those stay encrypted in the events.
/// A panel's load is counted from `subscriptions` (clients placed there).
pub struct Panels;

#[async_trait]
impl Projector for Panels {
    fn name(&self) -> &'static str {
        "panels"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        use domain::panel::PanelEvent as P;
        let sql = |set: &str| format!("UPDATE {t} SET {set} WHERE id = $1");
        match decoded {
            AnyEvent::Panel(P::PanelRegistered { id, spec, at, .. }) => {
                sqlx::query(&format!(
                    "INSERT INTO {t} (id, name, location, base_url, sub_base_url, public_host, inbound_ids, capacity, enabled, healthy, registered_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, true, true, $9)"
                ))
                .bind(id)
                .bind(&spec.name)
                .bind(spec.location.as_str())
                .bind(&spec.base_url)
                .bind(&spec.sub_base_url)
                .bind(&spec.public_host)
                .bind(&spec.inbound_ids)
                .bind(spec.capacity as i32)
                .bind(at)
                .execute(conn)
                .await?;
            }
            AnyEvent::Panel(P::PanelMarkedUnhealthy { reason, .. }) => {
                sqlx::query(&sql("healthy = false, health_reason = $2"))
                    .bind(id(e)?)
                    .bind(reason)
                    .execute(conn)
                    .await?;
            }
            AnyEvent::Panel(event) => {
                let set = match event {
                    P::PanelEnabled { .. } => "enabled = true",
                    P::PanelDisabled { .. } => "enabled = false",
                    P::PanelRetired { .. } => "enabled = false, retired = true",
                    P::PanelMarkedHealthy { .. } => "healthy = true, health_reason = NULL",
                    _ => return Ok(()),
                };
                sqlx::query(&sql(set)).bind(id(e)?).execute(conn).await?;
            }
            _ => {}
        }
        Ok(())
    }
}
