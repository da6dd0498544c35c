//! Replays the financial history from the event store alone and checks the
//! read models against it. Nothing here trusts a read model: balances and
//! daily totals are folded in Rust from the wallet, payment and subscription
//! events, and each wallet event's `balance_after` is checked against the
//! running sum, so a corrupted event stream is caught as well.
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use domain::wallet::WalletEvent;
use domain::AnyEvent;
use rust_decimal::Decimal;
use sqlx::{PgPool, Row};

use crate::models::daily_contribution;
use crate::ProjectionError;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct DayTotals {
    pub payments_approved_count: i64,
    pub payments_approved_total: Decimal,
    pub wallet_credits_total: Decimal,
    pub wallet_debits_total: Decimal,
    pub sales_count: i64,
    pub sales_total: Decimal,
    pub refunds_total: Decimal,
}

impl DayTotals {
    fn add(&mut self, kind: &str, amount: Decimal) {
        match kind {
            "payments_approved" => {
                self.payments_approved_count += 1;
                self.payments_approved_total += amount;
            }
            "wallet_credits" => self.wallet_credits_total += amount,
            "wallet_debits" => self.wallet_debits_total += amount,
            "sales" => {
                self.sales_count += 1;
                self.sales_total += amount;
            }
            _ => self.refunds_total += amount,
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct AuditReport {
    pub events: i64,
    pub customers: usize,
    pub ledger_rows: usize,
    pub days: usize,
    /// Report figures (commerce) compared between the read models and the events.
    pub report_figures: usize,
    pub mismatches: Vec<String>,
}

impl AuditReport {
    pub fn is_clean(&self) -> bool {
        self.mismatches.is_empty()
    }
}

#[derive(Debug, Default)]
struct Fold {
    balances: BTreeMap<i64, Decimal>,
    /// position → (customer, direction, amount, balance_after)
    ledger: BTreeMap<i64, (i64, &'static str, Decimal, Decimal)>,
    days: BTreeMap<NaiveDate, DayTotals>,
    broken_chain: Vec<String>,
}

impl Fold {
    fn apply(&mut self, position: i64, decoded: &AnyEvent) {
        if let Some((day, kind, amount)) = daily_contribution(decoded) {
            self.days.entry(day).or_default().add(kind, amount);
        }
        let (customer, direction, amount, after) = match decoded {
            AnyEvent::Wallet(WalletEvent::WalletCredited {
                customer,
                amount,
                balance_after,
                ..
            }) => (customer.0, "credit", amount.value(), balance_after.value()),
            AnyEvent::Wallet(WalletEvent::WalletDebited {
                customer,
                amount,
                balance_after,
                ..
            }) => (customer.0, "debit", -amount.value(), balance_after.value()),
            _ => return,
        };
        let balance = self.balances.entry(customer).or_default();
        *balance += amount;
        if *balance != after || balance.is_sign_negative() && !balance.is_zero() {
            self.broken_chain.push(format!(
                "event {position}: wallet {customer} records balance {after} but its movements sum to {balance}"
            ));
        }
        self.ledger.insert(position, (customer, direction, amount.abs(), after));
    }
}

/// Folds events `0 < position <= until`, calling `at_checkpoint` whenever
/// one of `stops` is reached (so each read model is compared at its own checkpoint).
async fn fold_until(pool: &PgPool, until: i64, mut stop: impl FnMut(i64, &Fold)) -> Result<(Fold, i64), ProjectionError> {
    let mut fold = Fold::default();
    let mut position = 0;
    stop(0, &fold);
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
            fold.apply(e.position, &decoded);
            position = e.position;
            stop(position, &fold);
        }
    }
    Ok((fold, position))
}

/// Every customer's balance at instant `at`, from wallet events whose own
/// time is at or before it.
pub async fn balances_at(pool: &PgPool, at: DateTime<Utc>) -> Result<BTreeMap<i64, Decimal>, ProjectionError> {
    let head = eventstore::head(pool).await?;
    let mut balances = BTreeMap::new();
    let mut position = 0;
    while position < head {
        let events = eventstore::read_after(pool, position, 10_000).await?;
        if events.is_empty() {
            break;
        }
        for e in events {
            position = e.position;
            if e.aggregate_type != "Wallet" {
                continue;
            }
            match AnyEvent::decode(&e.aggregate_type, &e.payload) {
                Ok(AnyEvent::Wallet(WalletEvent::WalletCredited {
                    customer, amount, at: t, ..
                })) if t <= at => {
                    *balances.entry(customer.0).or_insert(Decimal::ZERO) += amount.value();
                }
                Ok(AnyEvent::Wallet(WalletEvent::WalletDebited {
                    customer, amount, at: t, ..
                })) if t <= at => {
                    *balances.entry(customer.0).or_insert(Decimal::ZERO) -= amount.value();
                }
                Ok(_) => {}
                Err(x) => {
                    return Err(ProjectionError::Decode {
                        position: e.position,
                        message: x.to_string(),
                    })
                }
            }
        }
    }
    Ok(balances)
}

/// Compares `customers.balance`, `wallet_ledger` and `daily_totals` with
/// what the events give, each at its projector's checkpoint.
pub async fn audit(pool: &PgPool) -> Result<AuditReport, ProjectionError> {
    // One snapshot for every checkpoint and table read, so a projector moving
    // on during the audit cannot cause a false alarm.
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let cp = |name: &'static str| {
        sqlx::query_scalar::<_, i64>("SELECT coalesce((SELECT position FROM checkpoints WHERE name = $1), 0)").bind(name)
    };
    let customers_cp = cp("customers").fetch_one(&mut *tx).await?;
    let ledger_cp = cp("wallet_ledger").fetch_one(&mut *tx).await?;
    let daily_cp = cp("daily_totals").fetch_one(&mut *tx).await?;

    let table_balances: BTreeMap<i64, Decimal> = sqlx::query("SELECT telegram_id, balance FROM customers")
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let table_ledger: BTreeMap<i64, (i64, String, Decimal, Decimal)> =
        sqlx::query("SELECT position, customer, direction, amount, balance_after FROM wallet_ledger")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3), r.get(4))))
            .collect();
    let table_days: BTreeMap<NaiveDate, DayTotals> = sqlx::query(
        "SELECT day, payments_approved_count, payments_approved_total, wallet_credits_total, wallet_debits_total, \
         sales_count, sales_total, refunds_total FROM daily_totals",
    )
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| {
        (
            r.get(0),
            DayTotals {
                payments_approved_count: r.get(1),
                payments_approved_total: r.get(2),
                wallet_credits_total: r.get(3),
                wallet_debits_total: r.get(4),
                sales_count: r.get(5),
                sales_total: r.get(6),
                refunds_total: r.get(7),
            },
        )
    })
    .collect();
    tx.commit().await?;

    let until = customers_cp.max(ledger_cp).max(daily_cp);
    let mut at_customers = None;
    let mut at_ledger = None;
    let mut at_daily = None;
    let (fold, events) = fold_until(pool, until, |position, fold| {
        if position == customers_cp {
            at_customers = Some(fold.balances.clone());
        }
        if position == ledger_cp {
            at_ledger = Some(fold.ledger.clone());
        }
        if position == daily_cp {
            at_daily = Some(fold.days.clone());
        }
    })
    .await?;

    let mut report = AuditReport {
        events,
        customers: table_balances.len(),
        ledger_rows: table_ledger.len(),
        days: table_days.len(),
        report_figures: 0,
        mismatches: fold.broken_chain.clone(),
    };
    let expected_balances = at_customers.unwrap_or_default();
    for (customer, balance) in &table_balances {
        let expected = expected_balances.get(customer).copied().unwrap_or_default();
        if *balance != expected {
            report
                .mismatches
                .push(format!("customers: {customer} has balance {balance}, events give {expected}"));
        }
    }
    for (customer, expected) in &expected_balances {
        if !table_balances.contains_key(customer) {
            report
                .mismatches
                .push(format!("customers: {customer} is missing (events give balance {expected})"));
        }
    }
    let expected_ledger = at_ledger.unwrap_or_default();
    for (position, (customer, direction, amount, after)) in &expected_ledger {
        match table_ledger.get(position) {
            Some((c, d, a, b)) if c == customer && d == direction && a == amount && b == after => {}
            Some(row) => report.mismatches.push(format!(
                "wallet_ledger: row {position} is {row:?}, events give ({customer}, {direction}, {amount}, {after})"
            )),
            None => report.mismatches.push(format!("wallet_ledger: row {position} is missing")),
        }
    }
    for position in table_ledger.keys() {
        if !expected_ledger.contains_key(position) {
            report
                .mismatches
                .push(format!("wallet_ledger: row {position} matches no wallet event"));
        }
    }
    let expected_days = at_daily.unwrap_or_default();
    for (day, expected) in &expected_days {
        match table_days.get(day) {
            Some(row) if row == expected => {}
            Some(row) => report
                .mismatches
                .push(format!("daily_totals: {day} is {row:?}, events give {expected:?}")),
            None => report.mismatches.push(format!("daily_totals: {day} is missing")),
        }
    }
    for day in table_days.keys() {
        if !expected_days.contains_key(day) {
            report.mismatches.push(format!("daily_totals: {day} matches no event"));
        }
    }
    report.report_figures = crate::audit_commerce::check(pool, &mut report.mismatches).await?;
    Ok(report)
}
