//! The commerce half of `mrjbot audit`: replays sales, refunds, payments,
//! commissions, withdrawals, discount uses and points from the events alone,
//! checks every balance chain they carry, and demands that every report
//! figure the read models give ([`crate::reports::query`]) equals the one
//! the events give ([`crate::reports::compute`]), to the rial.
use std::collections::{BTreeMap, BTreeSet};

use domain::commission::SellerEvent;
use domain::discount::DiscountEvent;
use domain::payment::{PaymentEvent, PaymentMethod};
use domain::points::{PointsEvent, PointsReason};
use domain::sale::SaleEvent;
use domain::subscription::SubscriptionEvent;
use domain::AnyEvent;
use rust_decimal::Decimal;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::reports::{self, Facts, PaymentFact, Range, RefundFact, ReportKind, SaleFact, SellerFact};
use crate::ProjectionError;

/// The checkpoint of the commerce consumer (in `workers`): every charge it
/// has passed must have its sale recorded.
pub const COMMERCE_CHECKPOINT: &str = "commerce";

/// The tables whose figures the reports read, each compared at its own checkpoint.
const TABLES: [&str; 7] = [
    "sales",
    "sale_refunds",
    "payments_received",
    "seller_balances",
    "points_balances",
    "commissions",
    "withdrawals",
];

/// A commission row: seller, commission, reversed, status.
type CommissionFact = (i64, Decimal, Decimal, String);
/// A withdrawal row: seller, amount, status.
type WithdrawalFact = (i64, Decimal, String);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PointsFact {
    pub balance: i128,
    pub earned_total: i128,
    pub redeemed_total: i128,
    pub expired_total: i128,
    pub clawed_back_total: i128,
    pub longevity_periods: i64,
}

#[derive(Debug, Default, Clone)]
struct Fold {
    facts: Facts,
    points: BTreeMap<i64, PointsFact>,
    /// code → (uses, discount total)
    discounts: BTreeMap<String, (i64, Decimal)>,
    settled: BTreeMap<(Uuid, u32), (i64, Decimal)>,
    recorded: BTreeMap<(Uuid, u32), Decimal>,
    commissions: BTreeMap<(Uuid, u32), CommissionFact>,
    withdrawals: BTreeMap<Uuid, WithdrawalFact>,
    broken: Vec<String>,
}

impl Fold {
    fn apply(&mut self, position: i64, decoded: &AnyEvent) {
        match decoded {
            AnyEvent::Sale(SaleEvent::SaleRecorded {
                subscription_id,
                charge_no,
                plan_name,
                location,
                amount,
                seller,
                at,
                ..
            }) => {
                if self.recorded.insert((*subscription_id, *charge_no), amount.value()).is_some() {
                    self.broken
                        .push(format!("event {position}: sale {subscription_id}#{charge_no} is recorded twice"));
                }
                self.facts.sales.push(SaleFact {
                    plan_name: plan_name.clone(),
                    location: location.to_string(),
                    seller: seller.map(|s| s.0),
                    amount: amount.value(),
                    at: *at,
                });
            }
            AnyEvent::Sale(SaleEvent::SaleRefunded {
                plan_name,
                location,
                seller,
                refund,
                paid,
                at,
                ..
            }) => {
                if refund > paid {
                    self.broken.push(format!(
                        "event {position}: a refund of {refund} exceeds the {paid} recorded as sold"
                    ));
                }
                self.facts.refunds.push(RefundFact {
                    plan_name: plan_name.clone(),
                    location: location.to_string(),
                    seller: seller.map(|s| s.0),
                    refund: refund.value(),
                    paid: paid.value(),
                    at: *at,
                });
            }
            AnyEvent::Payment(PaymentEvent::PaymentCreated { id, amount, method, .. }) => {
                #[allow(irrefutable_let_patterns)]
                let (number, holder) = if let PaymentMethod::CardToCard { card } = method {
                    (Some(card.number.as_str().to_string()), Some(card.holder.clone()))
                } else {
                    (None, None)
                };
                self.facts.payments.insert(
                    *id,
                    PaymentFact {
                        method: method.name().to_string(),
                        card_number: number,
                        card_holder: holder,
                        amount: amount.value(),
                        approved_at: None,
                    },
                );
            }
            AnyEvent::Seller(e) => self.seller(position, e),
            AnyEvent::Points(e) => self.points(position, e),
            AnyEvent::Discount(e) => {
                let (code, delta, discount, uses) = match e {
                    DiscountEvent::DiscountCodeCreated { code, .. } => {
                        self.discounts.entry(code.clone()).or_default();
                        return;
                    }
                    DiscountEvent::DiscountCodeDisabled { .. } => return,
                    DiscountEvent::DiscountCodeRedeemed {
                        code,
                        discount,
                        uses,
                        price,
                        final_price,
                        ..
                    } => {
                        if price.checked_sub(*discount) != Some(*final_price) || final_price.is_zero() {
                            self.broken.push(format!(
                                "event {position}: code {code} takes {discount} off {price} but records {final_price}"
                            ));
                        }
                        (code, 1, discount.value(), *uses)
                    }
                    DiscountEvent::DiscountRedemptionReleased { code, discount, uses, .. } => (code, -1, -discount.value(), *uses),
                };
                let entry = self.discounts.entry(code.clone()).or_default();
                entry.0 += delta;
                entry.1 += discount;
                if entry.0 != i64::from(uses) {
                    self.broken.push(format!(
                        "event {position}: code {code} records {uses} uses, its events count {}",
                        entry.0
                    ));
                }
            }
            _ => {}
        }
    }

    fn approve(&mut self, payment: Uuid, method: &str, amount: Decimal, at: chrono::DateTime<chrono::Utc>) {
        let p = self.facts.payments.entry(payment).or_insert_with(|| PaymentFact {
            method: method.to_string(),
            card_number: None,
            card_holder: None,
            amount,
            approved_at: None,
        });
        p.method = method.to_string();
        p.amount = amount;
        p.approved_at = Some(at);
    }

    fn seller(&mut self, position: i64, e: &SellerEvent) {
        let seller = e.seller().0;
        self.seller_rows(seller, e);
        let f: &mut SellerFact = self.facts.sellers.entry(seller).or_default();
        match e {
            SellerEvent::CommissionEarned { commission, .. } => {
                f.pending += commission.value();
                f.earned_total += commission.value();
            }
            SellerEvent::CommissionReleased { amount, .. } => {
                f.pending -= amount.value();
                f.available += amount.value();
            }
            SellerEvent::CommissionReversed {
                amount, from_available, ..
            } => {
                if *from_available {
                    f.available -= amount.value();
                } else {
                    f.pending -= amount.value();
                }
                f.reversed_total += amount.value();
            }
            SellerEvent::WithdrawalRequested { amount, .. } => {
                f.available -= amount.value();
                f.reserved += amount.value();
            }
            SellerEvent::WithdrawalRejected { amount, .. } => {
                f.reserved -= amount.value();
                f.available += amount.value();
            }
            SellerEvent::WithdrawalPaid { amount, .. } => {
                f.reserved -= amount.value();
                f.paid_out += amount.value();
            }
            _ => {}
        }
        if let Some(b) = e.balance() {
            let sums = [f.pending, f.available, f.reserved, f.paid_out];
            let recorded = [b.pending.value(), b.available.value(), b.reserved.value(), b.paid_out.value()];
            if sums != recorded || sums.iter().any(|v| v.is_sign_negative() && !v.is_zero()) {
                self.broken.push(format!(
                    "event {position}: seller {seller} records balance {recorded:?} but its movements sum to {sums:?}"
                ));
            }
        }
    }

    /// The `commissions` and `withdrawals` rows, as the events make them.
    fn seller_rows(&mut self, seller: i64, e: &SellerEvent) {
        match e {
            SellerEvent::CommissionEarned {
                subscription_id,
                charge_no,
                commission,
                ..
            } => {
                self.commissions.insert(
                    (*subscription_id, *charge_no),
                    (seller, commission.value(), Decimal::ZERO, "pending".into()),
                );
            }
            SellerEvent::CommissionReleased {
                subscription_id,
                charge_no,
                ..
            } => {
                if let Some(c) = self.commissions.get_mut(&(*subscription_id, *charge_no)) {
                    c.3 = "released".into();
                }
            }
            SellerEvent::CommissionReversed {
                subscription_id,
                charge_no,
                amount,
                ..
            } => {
                if let Some(c) = self.commissions.get_mut(&(*subscription_id, *charge_no)) {
                    c.2 += amount.value();
                    if c.2 >= c.1 {
                        c.3 = "reversed".into();
                    }
                }
            }
            SellerEvent::WithdrawalRequested { withdrawal_id, amount, .. } => {
                self.withdrawals
                    .insert(*withdrawal_id, (seller, amount.value(), "requested".into()));
            }
            SellerEvent::WithdrawalApproved { withdrawal_id, .. }
            | SellerEvent::WithdrawalRejected { withdrawal_id, .. }
            | SellerEvent::WithdrawalPaid { withdrawal_id, .. } => {
                let status = match e {
                    SellerEvent::WithdrawalApproved { .. } => "approved",
                    SellerEvent::WithdrawalRejected { .. } => "rejected",
                    _ => "paid",
                };
                if let Some(w) = self.withdrawals.get_mut(withdrawal_id) {
                    w.2 = status.into();
                }
            }
            _ => {}
        }
    }

    fn points(&mut self, position: i64, e: &PointsEvent) {
        let customer = e.customer().0;
        let f = self.points.entry(customer).or_default();
        let (delta, after) = e.movement();
        f.balance += delta;
        match e {
            PointsEvent::PointsEarned { points, reason, .. } => {
                f.earned_total += i128::from(*points);
                if let PointsReason::Longevity { period } = reason {
                    f.longevity_periods = f.longevity_periods.max(i64::from(*period));
                }
            }
            PointsEvent::PointsRedeemed { points, taken, .. } => {
                f.redeemed_total += i128::from(*points);
                if taken.iter().map(|t| t.points).sum::<u64>() != *points {
                    self.broken.push(format!(
                        "event {position}: a redemption of {points} points takes a different sum from its lots"
                    ));
                }
            }
            PointsEvent::PointsRedemptionCancelled { points, .. } => f.redeemed_total -= i128::from(*points),
            PointsEvent::PointsExpired { points, .. } => f.expired_total += i128::from(*points),
            PointsEvent::PointsClawedBack { points, .. } => f.clawed_back_total += i128::from(*points),
        }
        if f.balance != i128::from(after) || f.balance < 0 {
            self.broken.push(format!(
                "event {position}: points of {customer} record balance {after} but their movements sum to {}",
                f.balance
            ));
        }
    }
}

/// Checks the commerce events and read models; adds to `mismatches` and
/// returns how many report figures were compared.
pub async fn check(pool: &PgPool, mismatches: &mut Vec<String>) -> Result<usize, ProjectionError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let mut checkpoints = BTreeMap::new();
    for t in TABLES {
        let cp: i64 = sqlx::query_scalar("SELECT coalesce((SELECT position FROM checkpoints WHERE name = $1), 0)")
            .bind(t)
            .fetch_one(&mut *tx)
            .await?;
        checkpoints.insert(t, cp);
    }
    let commerce_cp: i64 = sqlx::query_scalar("SELECT coalesce((SELECT position FROM checkpoints WHERE name = $1), 0)")
        .bind(COMMERCE_CHECKPOINT)
        .fetch_one(&mut *tx)
        .await?;
    let mut from_tables = Vec::new();
    for kind in ReportKind::all() {
        from_tables.push(reports::query(&mut tx, kind, Range::default()).await?);
    }
    let table_points: BTreeMap<i64, PointsFact> = sqlx::query(
        "SELECT customer, balance, earned_total, redeemed_total, expired_total, clawed_back_total, longevity_periods FROM points_balances",
    )
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| {
        (
            r.get::<i64, _>(0),
            PointsFact {
                balance: r.get::<i64, _>(1).into(),
                earned_total: r.get::<i64, _>(2).into(),
                redeemed_total: r.get::<i64, _>(3).into(),
                expired_total: r.get::<i64, _>(4).into(),
                clawed_back_total: r.get::<i64, _>(5).into(),
                longevity_periods: r.get::<i32, _>(6).into(),
            },
        )
    })
    .collect();
    let discount_cp: i64 = sqlx::query_scalar("SELECT coalesce((SELECT position FROM checkpoints WHERE name = 'discount_codes'), 0)")
        .fetch_one(&mut *tx)
        .await?;
    let table_discounts: BTreeMap<String, (i64, Decimal)> = sqlx::query("SELECT code, uses, discount_total FROM discount_codes")
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| (r.get::<String, _>(0), (i64::from(r.get::<i32, _>(1)), r.get::<Decimal, _>(2))))
        .collect();
    let table_commissions: BTreeMap<(Uuid, u32), CommissionFact> =
        sqlx::query("SELECT subscription_id, charge_no, seller, commission, reversed, status FROM commissions")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| {
                (
                    (r.get::<Uuid, _>(0), r.get::<i32, _>(1) as u32),
                    (r.get(2), r.get(3), r.get(4), r.get(5)),
                )
            })
            .collect();
    let table_withdrawals: BTreeMap<Uuid, WithdrawalFact> = sqlx::query("SELECT id, seller, amount, status FROM withdrawals")
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| (r.get::<Uuid, _>(0), (r.get(1), r.get(2), r.get(3))))
        .collect();
    tx.commit().await?;

    let until = checkpoints.values().copied().chain([commerce_cp, discount_cp]).max().unwrap_or(0);
    let mut fold = Fold::default();
    let mut at_cp: BTreeMap<&str, Fold> = BTreeMap::new();
    let mut discounts_at = None;
    let mut position = 0;
    let snapshot =
        |position: i64, fold: &Fold, at_cp: &mut BTreeMap<&str, Fold>, discounts_at: &mut Option<BTreeMap<String, (i64, Decimal)>>| {
            for (t, cp) in &checkpoints {
                if *cp == position {
                    at_cp.insert(t, fold.clone());
                }
            }
            if discount_cp == position {
                *discounts_at = Some(fold.discounts.clone());
            }
        };
    snapshot(0, &fold, &mut at_cp, &mut discounts_at);
    while position < until {
        let events = eventstore::read_after(pool, position, 10_000).await?;
        if events.is_empty() {
            break;
        }
        for e in events {
            if e.position > until {
                break;
            }
            let decoded = AnyEvent::decode(&e.aggregate_type, &e.payload).map_err(|x| ProjectionError::Decode {
                position: e.position,
                message: x.to_string(),
            })?;
            match &decoded {
                AnyEvent::Subscription(SubscriptionEvent::ChargeSettled { charge_no, amount, .. }) => {
                    if let Ok(id) = Uuid::parse_str(&e.aggregate_id) {
                        fold.settled.insert((id, *charge_no), (e.position, amount.value()));
                    }
                }
                AnyEvent::Payment(PaymentEvent::PaymentApproved { amount, method, at, .. }) => {
                    if let Ok(id) = Uuid::parse_str(&e.aggregate_id) {
                        fold.approve(id, method, amount.value(), *at);
                    }
                }
                _ => {}
            }
            fold.apply(e.position, &decoded);
            position = e.position;
            snapshot(position, &fold, &mut at_cp, &mut discounts_at);
        }
    }
    mismatches.extend(fold.broken.iter().cloned());

    // Every sale is a settled charge, at its amount; every charge the commerce
    // consumer has passed has its sale.
    for (key, amount) in &fold.recorded {
        match fold.settled.get(key) {
            Some((_, settled)) if settled == amount => {}
            Some((_, settled)) => mismatches.push(format!(
                "sales: {}#{} is recorded at {amount} but the charge settled at {settled}",
                key.0, key.1
            )),
            None => mismatches.push(format!("sales: {}#{} matches no settled charge", key.0, key.1)),
        }
    }
    for (key, (pos, _)) in &fold.settled {
        if *pos <= commerce_cp && !fold.recorded.contains_key(key) {
            mismatches.push(format!("sales: charge {}#{} settled but no sale was recorded", key.0, key.1));
        }
    }

    // The reports, each table's part taken at that table's checkpoint.
    let part = |t: &str| at_cp.get(t).cloned().unwrap_or_default();
    let facts = Facts {
        sales: part("sales").facts.sales,
        refunds: part("sale_refunds").facts.refunds,
        payments: part("payments_received").facts.payments,
        sellers: part("seller_balances").facts.sellers,
    };
    let mut figures = 0;
    for (kind, table) in ReportKind::all().into_iter().zip(from_tables) {
        let events = reports::compute(kind, &facts, Range::default())?;
        figures += events.rows.iter().map(|r| r.values.len()).sum::<usize>();
        if events != table {
            let title = kind.title();
            let left: BTreeSet<_> = table.rows.iter().collect();
            let right: BTreeSet<_> = events.rows.iter().collect();
            for r in left.difference(&right) {
                mismatches.push(format!("report {title}: read models give {:?} {:?}", r.key, r.values));
            }
            for r in right.difference(&left) {
                mismatches.push(format!("report {title}: events give {:?} {:?}", r.key, r.values));
            }
        }
    }

    // Points balances (the leaderboard) and discount use counts, row by row.
    let expected_points = part("points_balances").points;
    for (customer, expected) in &expected_points {
        match table_points.get(customer) {
            Some(row) if row == expected => {}
            Some(row) => mismatches.push(format!("points_balances: {customer} is {row:?}, events give {expected:?}")),
            None => mismatches.push(format!("points_balances: {customer} is missing")),
        }
    }
    for customer in table_points.keys() {
        if !expected_points.contains_key(customer) {
            mismatches.push(format!("points_balances: {customer} matches no points event"));
        }
    }
    compare(
        "commissions",
        &part("commissions").commissions,
        &table_commissions,
        |k| format!("{}#{}", k.0, k.1),
        mismatches,
    );
    compare(
        "withdrawals",
        &part("withdrawals").withdrawals,
        &table_withdrawals,
        |k| k.to_string(),
        mismatches,
    );
    let expected_discounts = discounts_at.unwrap_or_default();
    for (code, expected) in &expected_discounts {
        match table_discounts.get(code) {
            Some(row) if row.0 == expected.0 && row.1 == expected.1 => {}
            Some(row) => mismatches.push(format!("discount_codes: {code} is {row:?}, events give {expected:?}")),
            None => mismatches.push(format!("discount_codes: {code} is missing")),
        }
    }
    for code in table_discounts.keys() {
        if !expected_discounts.contains_key(code) {
            mismatches.push(format!("discount_codes: {code} matches no event"));
        }
    }
    Ok(figures)
}

/// Rows the events give against rows a table holds: missing, extra and different ones.
fn compare<K: Ord, V: PartialEq + std::fmt::Debug>(
    table: &str,
    expected: &BTreeMap<K, V>,
    actual: &BTreeMap<K, V>,
    name: impl Fn(&K) -> String,
    mismatches: &mut Vec<String>,
) {
    for (k, v) in expected {
        match actual.get(k) {
            Some(row) if row == v => {}
            Some(row) => mismatches.push(format!("{table}: {} is {row:?}, events give {v:?}", name(k))),
            None => mismatches.push(format!("{table}: {} is missing", name(k))),
        }
    }
    for k in actual.keys() {
        if !expected.contains_key(k) {
            mismatches.push(format!("{table}: {} matches no event", name(k)));
        }
    }
}
