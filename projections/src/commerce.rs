//! Commerce read models (issue 6): sales facts, refunds, money received by
//! method and card, commissions, seller balances, withdrawals, agent prices,
//! discount codes, points balances (the leaderboard) and points lots.
//! Like every projector, they copy what events carry.
use async_trait::async_trait;
use domain::commission::{SellerEvent, WithdrawalStatus};
use domain::discount::{DiscountEvent, DiscountKind};
use domain::payment::{PaymentEvent, PaymentMethod};
use domain::points::{LotTake, PointsEvent, PointsReason};
use domain::sale::SaleEvent;
use domain::{ActorRef, AnyEvent};
use eventstore::StoredEvent;
use sqlx::PgConnection;

use crate::Projector;

fn actor(by: &ActorRef) -> String {
    match by {
        ActorRef::System => "system".to_string(),
        ActorRef::User(id) => id.to_string(),
    }
}

pub struct Sales;

#[async_trait]
impl Projector for Sales {
    fn name(&self) -> &'static str {
        "sales"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, _e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        if let AnyEvent::Sale(SaleEvent::SaleRecorded {
            subscription_id,
            charge_no,
            kind,
            customer,
            plan_id,
            plan_name,
            location,
            amount,
            seller,
            source,
            at,
        }) = decoded
        {
            sqlx::query(&format!(
                "INSERT INTO {t} (subscription_id, charge_no, kind, customer, plan_id, plan_name, location, amount, seller, source, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ))
            .bind(subscription_id)
            .bind(*charge_no as i32)
            .bind(kind)
            .bind(customer.0)
            .bind(plan_id)
            .bind(plan_name)
            .bind(location.as_str())
            .bind(amount.value())
            .bind(seller.map(|s| s.0))
            .bind(source.map(|s| s.name()))
            .bind(at)
            .execute(conn)
            .await?;
        }
        Ok(())
    }
}

pub struct SaleRefunds;

#[async_trait]
impl Projector for SaleRefunds {
    fn name(&self) -> &'static str {
        "sale_refunds"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, _e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        if let AnyEvent::Sale(SaleEvent::SaleRefunded {
            subscription_id,
            customer,
            plan_id,
            plan_name,
            location,
            seller,
            refund,
            paid,
            at,
        }) = decoded
        {
            sqlx::query(&format!(
                "INSERT INTO {t} (subscription_id, customer, plan_id, plan_name, location, seller, refund, paid, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            ))
            .bind(subscription_id)
            .bind(customer.0)
            .bind(plan_id)
            .bind(plan_name)
            .bind(location.as_str())
            .bind(seller.map(|s| s.0))
            .bind(refund.value())
            .bind(paid.value())
            .bind(at)
            .execute(conn)
            .await?;
        }
        Ok(())
    }
}

pub struct PaymentsReceived;

#[async_trait]
impl Projector for PaymentsReceived {
    fn name(&self) -> &'static str {
        "payments_received"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        match decoded {
            AnyEvent::Payment(PaymentEvent::PaymentCreated {
                id,
                customer,
                amount,
                method,
                at,
                ..
            }) => {
                #[allow(irrefutable_let_patterns)]
                let (number, holder) = if let PaymentMethod::CardToCard { card } = method {
                    (Some(card.number.as_str().to_string()), Some(card.holder.clone()))
                } else {
                    (None, None)
                };
                sqlx::query(&format!(
                    "INSERT INTO {t} (payment_id, customer, amount, method, card_id, card_number, card_holder, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ))
                .bind(id)
                .bind(customer.0)
                .bind(amount.value())
                .bind(method.name())
                .bind(method.card_id())
                .bind(number)
                .bind(holder)
                .bind(at)
                .execute(conn)
                .await?;
            }
            AnyEvent::Payment(PaymentEvent::PaymentApproved {
                customer,
                amount,
                method,
                card_id,
                at,
                ..
            }) => {
                let id = uuid::Uuid::parse_str(&e.aggregate_id).map_err(|x| sqlx::Error::Decode(Box::new(x)))?;
                sqlx::query(&format!(
                    "INSERT INTO {t} (payment_id, customer, amount, method, card_id, approved_at) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (payment_id) DO UPDATE SET amount = $3, method = $4, card_id = $5, approved_at = $6"
                ))
                .bind(id)
                .bind(customer.0)
                .bind(amount.value())
                .bind(method)
                .bind(card_id)
                .bind(at)
                .execute(conn)
                .await?;
            }
            _ => {}
        }
        Ok(())
    }
}

pub struct Commissions;

#[async_trait]
impl Projector for Commissions {
    fn name(&self) -> &'static str {
        "commissions"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, _e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let AnyEvent::Seller(event) = decoded else { return Ok(()) };
        match event {
            SellerEvent::CommissionEarned {
                seller,
                subscription_id,
                charge_no,
                customer,
                plan_id,
                sale_amount,
                rate,
                commission,
                releases_at,
                at,
                ..
            } => {
                sqlx::query(&format!(
                    "INSERT INTO {t} (subscription_id, charge_no, seller, customer, plan_id, sale_amount, rate, commission, status, releases_at, earned_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10)"
                ))
                .bind(subscription_id)
                .bind(*charge_no as i32)
                .bind(seller.0)
                .bind(customer.0)
                .bind(plan_id)
                .bind(sale_amount.value())
                .bind(rate.to_string())
                .bind(commission.value())
                .bind(releases_at)
                .bind(at)
                .execute(conn)
                .await?;
            }
            SellerEvent::CommissionReleased {
                subscription_id,
                charge_no,
                at,
                ..
            } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET status = 'released', released_at = $3 WHERE subscription_id = $1 AND charge_no = $2"
                ))
                .bind(subscription_id)
                .bind(*charge_no as i32)
                .bind(at)
                .execute(conn)
                .await?;
            }
            SellerEvent::CommissionReversed {
                subscription_id,
                charge_no,
                amount,
                ..
            } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET reversed = reversed + $3, \
                     status = CASE WHEN reversed + $3 >= commission THEN 'reversed' ELSE status END \
                     WHERE subscription_id = $1 AND charge_no = $2"
                ))
                .bind(subscription_id)
                .bind(*charge_no as i32)
                .bind(amount.value())
                .execute(conn)
                .await?;
            }
            _ => {}
        }
        Ok(())
    }
}

pub struct SellerBalances;

#[async_trait]
impl Projector for SellerBalances {
    fn name(&self) -> &'static str {
        "seller_balances"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let AnyEvent::Seller(event) = decoded else { return Ok(()) };
        let seller = event.seller().0;
        sqlx::query(&format!(
            "INSERT INTO {t} (seller, updated_at) VALUES ($1, $2) ON CONFLICT (seller) DO NOTHING"
        ))
        .bind(seller)
        .bind(e.recorded_at)
        .execute(&mut *conn)
        .await?;
        if let Some(b) = event.balance() {
            sqlx::query(&format!(
                "UPDATE {t} SET pending = $2, available = $3, reserved = $4, paid_out = $5, updated_at = $6 WHERE seller = $1"
            ))
            .bind(seller)
            .bind(b.pending.value())
            .bind(b.available.value())
            .bind(b.reserved.value())
            .bind(b.paid_out.value())
            .bind(e.recorded_at)
            .execute(&mut *conn)
            .await?;
        }
        let (set, amount) = match event {
            SellerEvent::CommissionEarned { commission, .. } => (
                "earned_total = earned_total + $2, commissions_count = commissions_count + 1",
                commission.value(),
            ),
            SellerEvent::CommissionReversed { amount, .. } => ("reversed_total = reversed_total + $2", amount.value()),
            SellerEvent::SellerClientCreated { .. } => {
                sqlx::query(&format!("UPDATE {t} SET clients = clients + 1 WHERE seller = $1"))
                    .bind(seller)
                    .execute(conn)
                    .await?;
                return Ok(());
            }
            _ => return Ok(()),
        };
        sqlx::query(&format!("UPDATE {t} SET {set} WHERE seller = $1"))
            .bind(seller)
            .bind(amount)
            .execute(conn)
            .await?;
        Ok(())
    }
}

pub struct Withdrawals;

#[async_trait]
impl Projector for Withdrawals {
    fn name(&self) -> &'static str {
        "withdrawals"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, _e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let AnyEvent::Seller(event) = decoded else { return Ok(()) };
        match event {
            SellerEvent::WithdrawalRequested {
                seller,
                withdrawal_id,
                amount,
                card,
                holder,
                at,
                ..
            } => {
                sqlx::query(&format!(
                    "INSERT INTO {t} (id, seller, amount, card_number, holder, status, requested_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                ))
                .bind(withdrawal_id)
                .bind(seller.0)
                .bind(amount.value())
                .bind(card.as_str())
                .bind(holder)
                .bind(WithdrawalStatus::Requested.name())
                .bind(at)
                .execute(conn)
                .await?;
            }
            SellerEvent::WithdrawalApproved { withdrawal_id, by, at, .. } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET status = $2, decided_by = $3, decided_at = $4 WHERE id = $1"
                ))
                .bind(withdrawal_id)
                .bind(WithdrawalStatus::Approved.name())
                .bind(actor(by))
                .bind(at)
                .execute(conn)
                .await?;
            }
            SellerEvent::WithdrawalRejected {
                withdrawal_id,
                reason,
                by,
                at,
                ..
            } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET status = $2, decided_by = $3, decided_at = $4, reject_reason = $5 WHERE id = $1"
                ))
                .bind(withdrawal_id)
                .bind(WithdrawalStatus::Rejected.name())
                .bind(actor(by))
                .bind(at)
                .bind(reason)
                .execute(conn)
                .await?;
            }
            SellerEvent::WithdrawalPaid {
                withdrawal_id,
                bank_reference,
                at,
                ..
            } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET status = $2, bank_reference = $3, paid_at = $4 WHERE id = $1"
                ))
                .bind(withdrawal_id)
                .bind(WithdrawalStatus::Paid.name())
                .bind(bank_reference)
                .bind(at)
                .execute(conn)
                .await?;
            }
            _ => {}
        }
        Ok(())
    }
}

pub struct AgentPrices;

#[async_trait]
impl Projector for AgentPrices {
    fn name(&self) -> &'static str {
        "agent_prices"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, _e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        match decoded {
            AnyEvent::Seller(SellerEvent::AgentPriceSet {
                seller,
                plan_id,
                plan_name,
                list_price,
                price,
                at,
                ..
            }) => {
                sqlx::query(&format!(
                    "INSERT INTO {t} (seller, plan_id, plan_name, list_price, price, set_at) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (seller, plan_id) DO UPDATE SET plan_name = $3, list_price = $4, price = $5, set_at = $6"
                ))
                .bind(seller.0)
                .bind(plan_id)
                .bind(plan_name)
                .bind(list_price.value())
                .bind(price.value())
                .bind(at)
                .execute(conn)
                .await?;
            }
            AnyEvent::Seller(SellerEvent::AgentPriceRemoved { seller, plan_id, .. }) => {
                sqlx::query(&format!("DELETE FROM {t} WHERE seller = $1 AND plan_id = $2"))
                    .bind(seller.0)
                    .bind(plan_id)
                    .execute(conn)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }
}

pub struct DiscountCodes;

#[async_trait]
impl Projector for DiscountCodes {
    fn name(&self) -> &'static str {
        "discount_codes"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, _e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let AnyEvent::Discount(event) = decoded else { return Ok(()) };
        match event {
            DiscountEvent::DiscountCodeCreated { code, terms, at, .. } => {
                let (kind, value) = match terms.kind {
                    DiscountKind::Percent { percent } => ("percent", percent),
                    DiscountKind::Fixed { amount } => ("fixed", amount.value()),
                };
                let locations: Vec<String> = terms.locations.iter().map(|l| l.to_string()).collect();
                sqlx::query(&format!(
                    "INSERT INTO {t} (code, kind, value, max_uses, max_uses_per_customer, valid_from, valid_until, plans, locations, \
                     only_customer, active, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, true, $11)"
                ))
                .bind(code)
                .bind(kind)
                .bind(value)
                .bind(terms.max_uses.map(|m| m as i32))
                .bind(terms.max_uses_per_customer.map(|m| m as i32))
                .bind(terms.valid_from)
                .bind(terms.valid_until)
                .bind(&terms.plans)
                .bind(locations)
                .bind(terms.only_customer.map(|c| c.0))
                .bind(at)
                .execute(conn)
                .await?;
            }
            DiscountEvent::DiscountCodeDisabled { code, .. } => {
                sqlx::query(&format!("UPDATE {t} SET active = false WHERE code = $1"))
                    .bind(code)
                    .execute(conn)
                    .await?;
            }
            DiscountEvent::DiscountCodeRedeemed { code, discount, uses, .. } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET uses = $2, discount_total = discount_total + $3 WHERE code = $1"
                ))
                .bind(code)
                .bind(*uses as i32)
                .bind(discount.value())
                .execute(conn)
                .await?;
            }
            DiscountEvent::DiscountRedemptionReleased { code, discount, uses, .. } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET uses = $2, discount_total = discount_total - $3 WHERE code = $1"
                ))
                .bind(code)
                .bind(*uses as i32)
                .bind(discount.value())
                .execute(conn)
                .await?;
            }
        }
        Ok(())
    }
}

pub struct PointsBalances;

#[async_trait]
impl Projector for PointsBalances {
    fn name(&self) -> &'static str {
        "points_balances"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let AnyEvent::Points(event) = decoded else { return Ok(()) };
        let customer = event.customer().0;
        let (_, balance_after) = event.movement();
        sqlx::query(&format!(
            "INSERT INTO {t} (customer, updated_at) VALUES ($1, $2) ON CONFLICT (customer) DO NOTHING"
        ))
        .bind(customer)
        .bind(e.recorded_at)
        .execute(&mut *conn)
        .await?;
        let (set, points, period): (&str, u64, i32) = match event {
            PointsEvent::PointsEarned { points, reason, .. } => {
                let period = match reason {
                    PointsReason::Longevity { period } => *period as i32,
                    _ => 0,
                };
                (
                    "earned_total = earned_total + $3, longevity_periods = greatest(longevity_periods, $4)",
                    *points,
                    period,
                )
            }
            PointsEvent::PointsRedeemed { points, .. } => ("redeemed_total = redeemed_total + $3", *points, 0),
            PointsEvent::PointsRedemptionCancelled { points, .. } => ("redeemed_total = redeemed_total - $3", *points, 0),
            PointsEvent::PointsExpired { points, .. } => ("expired_total = expired_total + $3", *points, 0),
            PointsEvent::PointsClawedBack { points, .. } => ("clawed_back_total = clawed_back_total + $3", *points, 0),
        };
        sqlx::query(&format!("UPDATE {t} SET balance = $2, {set}, updated_at = $5 WHERE customer = $1"))
            .bind(customer)
            .bind(balance_after as i64)
            .bind(points as i64)
            .bind(period)
            .bind(e.recorded_at)
            .execute(conn)
            .await?;
        Ok(())
    }
}

pub struct PointsLots;

async fn take(conn: &mut PgConnection, t: &str, customer: i64, takes: &[LotTake], sign: i64) -> Result<(), sqlx::Error> {
    for take in takes {
        sqlx::query(&format!(
            "UPDATE {t} SET remaining = remaining + $3 WHERE customer = $1 AND reference = $2"
        ))
        .bind(customer)
        .bind(&take.reference)
        .bind(sign * take.points as i64)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl Projector for PointsLots {
    fn name(&self) -> &'static str {
        "points_lots"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, _e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let AnyEvent::Points(event) = decoded else { return Ok(()) };
        let customer = event.customer().0;
        match event {
            PointsEvent::PointsEarned {
                points,
                reason,
                reference,
                expires_at,
                at,
                ..
            } => {
                sqlx::query(&format!(
                    "INSERT INTO {t} (customer, reference, reason, points, remaining, expires_at, earned_at) \
                     VALUES ($1, $2, $3, $4, $4, $5, $6)"
                ))
                .bind(customer)
                .bind(reference)
                .bind(reason.kind())
                .bind(*points as i64)
                .bind(expires_at)
                .bind(at)
                .execute(conn)
                .await?;
            }
            PointsEvent::PointsRedeemed { taken, .. } | PointsEvent::PointsClawedBack { taken, .. } => {
                take(conn, t, customer, taken, -1).await?;
            }
            PointsEvent::PointsRedemptionCancelled { restored, .. } => take(conn, t, customer, restored, 1).await?,
            PointsEvent::PointsExpired { reference, points, .. } => {
                let taken = [LotTake {
                    reference: reference.clone(),
                    points: *points,
                }];
                take(conn, t, customer, &taken, -1).await?;
            }
        }
        Ok(())
    }
}
