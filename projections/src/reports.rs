//! Financial reports: revenue by day, week, month, plan, location, seller,
//! payment method and destination card; refunds; outstanding commissions;
//! what each destination card received (card owner tracking).
//!
//! Each report exists twice: [`query`] computes it in SQL from the read
//! models (what operators see), and [`compute`] computes it in Rust from
//! [`Facts`] that `audit` folds from the events alone. The audit demands
//! both give the same figures, to the rial.
use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::{PgConnection, Row as _};

use crate::ProjectionError;

/// How rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    Day,
    /// ISO weeks, keyed by their Monday.
    Week,
    Month,
    Plan,
    Location,
    Seller,
    /// Payment method (money received).
    Method,
    /// Destination card (money received).
    Card,
}

impl Grouping {
    pub fn parse(s: &str) -> Option<Grouping> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "day" => Grouping::Day,
            "week" => Grouping::Week,
            "month" => Grouping::Month,
            "plan" => Grouping::Plan,
            "location" => Grouping::Location,
            "seller" => Grouping::Seller,
            "method" => Grouping::Method,
            "card" => Grouping::Card,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Grouping::Day => "day",
            Grouping::Week => "week",
            Grouping::Month => "month",
            Grouping::Plan => "plan",
            Grouping::Location => "location",
            Grouping::Seller => "seller",
            Grouping::Method => "method",
            Grouping::Card => "card",
        }
    }
    fn is_period(self) -> bool {
        matches!(self, Grouping::Day | Grouping::Week | Grouping::Month)
    }
    /// The period key of an instant (UTC).
    pub fn period_key(self, at: DateTime<Utc>) -> String {
        let d = at.date_naive();
        match self {
            Grouping::Week => (d - Duration::days(i64::from(d.weekday().num_days_from_monday()))).to_string(),
            Grouping::Month => format!("{:04}-{:02}", d.year(), d.month()),
            _ => d.to_string(),
        }
    }
    fn sql_period(self, column: &str) -> String {
        match self {
            Grouping::Week => format!("to_char(date_trunc('week', {column} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"),
            Grouping::Month => format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM')"),
            _ => format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// By a period: sales, refunds, net and money received. By plan, location
    /// or seller: sales, refunds and net. By method or card: money received.
    Revenue(Grouping),
    /// Refunds by a period, plan, location or seller.
    Refunds(Grouping),
    /// Every seller's pending, available, reserved and paid-out commission.
    Commissions,
    /// Every destination card with its holder and what it received.
    Cards,
}

impl ReportKind {
    /// Every report the audit checks.
    pub fn all() -> Vec<ReportKind> {
        use Grouping::*;
        let mut v: Vec<ReportKind> = [Day, Week, Month, Plan, Location, Seller, Method, Card]
            .into_iter()
            .map(ReportKind::Revenue)
            .collect();
        v.extend([Day, Week, Month, Plan, Location, Seller].into_iter().map(ReportKind::Refunds));
        v.push(ReportKind::Commissions);
        v.push(ReportKind::Cards);
        v
    }

    pub fn title(self) -> String {
        match self {
            ReportKind::Revenue(g) => format!("revenue by {}", g.name()),
            ReportKind::Refunds(g) => format!("refunds by {}", g.name()),
            ReportKind::Commissions => "outstanding commissions".into(),
            ReportKind::Cards => "card owner tracking".into(),
        }
    }

    fn validate(self) -> Result<(), ProjectionError> {
        match self {
            ReportKind::Refunds(Grouping::Method | Grouping::Card) => Err(ProjectionError::Report(
                "refunds are not grouped by method or card (a refund goes to the wallet)".into(),
            )),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Row {
    pub key: Vec<String>,
    pub values: Vec<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub title: String,
    pub key_columns: Vec<&'static str>,
    pub value_columns: Vec<&'static str>,
    pub rows: Vec<Row>,
}

impl Report {
    fn new(kind: ReportKind) -> Report {
        let (key_columns, value_columns): (Vec<&'static str>, Vec<&'static str>) = match kind {
            ReportKind::Revenue(g) if g.is_period() => (
                vec![g.name()],
                vec![
                    "sales_count",
                    "sales_total",
                    "refunds_count",
                    "refunds_total",
                    "net",
                    "received_count",
                    "received_total",
                ],
            ),
            ReportKind::Revenue(g @ (Grouping::Method | Grouping::Card)) => (
                if g == Grouping::Card {
                    vec!["card", "holder"]
                } else {
                    vec!["method"]
                },
                vec!["received_count", "received_total"],
            ),
            ReportKind::Revenue(g) => (
                vec![g.name()],
                vec!["sales_count", "sales_total", "refunds_count", "refunds_total", "net"],
            ),
            ReportKind::Refunds(g) => (vec![g.name()], vec!["refunds_count", "refunds_total", "paid_total"]),
            ReportKind::Commissions => (
                vec!["seller"],
                vec!["pending", "available", "reserved", "paid_out", "earned_total", "reversed_total"],
            ),
            ReportKind::Cards => (vec!["card", "holder"], vec!["payments_count", "received_total"]),
        };
        Report {
            title: kind.title(),
            key_columns,
            value_columns,
            rows: Vec::new(),
        }
    }

    fn from_map(kind: ReportKind, map: BTreeMap<Vec<String>, Vec<Decimal>>) -> Report {
        let mut report = Report::new(kind);
        report.rows = map
            .into_iter()
            .map(|(key, values)| Row {
                key,
                values: values.into_iter().map(|v| v.normalize()).collect(),
            })
            .collect();
        report
    }

    /// The sum of each value column over all rows.
    pub fn totals(&self) -> Vec<Decimal> {
        let mut t = vec![Decimal::ZERO; self.value_columns.len()];
        for r in &self.rows {
            for (i, v) in r.values.iter().enumerate() {
                t[i] += v;
            }
        }
        t
    }

    /// RFC 4180 CSV with a header line.
    pub fn to_csv(&self) -> String {
        fn field(s: &str) -> String {
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        }
        let mut out = String::new();
        let header: Vec<&str> = self.key_columns.iter().chain(self.value_columns.iter()).copied().collect();
        out.push_str(&header.join(","));
        out.push_str("\r\n");
        for r in &self.rows {
            let cells: Vec<String> = r
                .key
                .iter()
                .map(|k| field(k))
                .chain(r.values.iter().map(|v| v.to_string()))
                .collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        out
    }
}

/// From and to (exclusive) instants a report covers; unbounded when `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Range {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl Range {
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        !matches!(self.from, Some(f) if at < f) && !matches!(self.to, Some(t) if at >= t)
    }
}

// ---------------------------------------------------------------------------
// Facts, as the audit folds them from events
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub struct SaleFact {
    pub plan_name: String,
    pub location: String,
    pub seller: Option<i64>,
    pub amount: Decimal,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RefundFact {
    pub plan_name: String,
    pub location: String,
    pub seller: Option<i64>,
    pub refund: Decimal,
    pub paid: Decimal,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PaymentFact {
    pub method: String,
    pub card_number: Option<String>,
    pub card_holder: Option<String>,
    pub amount: Decimal,
    /// `None` until approved.
    pub approved_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SellerFact {
    pub pending: Decimal,
    pub available: Decimal,
    pub reserved: Decimal,
    pub paid_out: Decimal,
    pub earned_total: Decimal,
    pub reversed_total: Decimal,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub sales: Vec<SaleFact>,
    pub refunds: Vec<RefundFact>,
    /// By payment id.
    pub payments: BTreeMap<uuid::Uuid, PaymentFact>,
    pub sellers: BTreeMap<i64, SellerFact>,
}

fn seller_key(s: Option<i64>) -> String {
    s.map_or_else(|| "none".to_string(), |s| s.to_string())
}

fn card_key(number: &Option<String>, holder: &Option<String>) -> Vec<String> {
    vec![
        number.clone().unwrap_or_else(|| "-".into()),
        holder.clone().unwrap_or_else(|| "-".into()),
    ]
}

/// The report, computed in Rust from facts folded from the events.
pub fn compute(kind: ReportKind, facts: &Facts, range: Range) -> Result<Report, ProjectionError> {
    kind.validate()?;
    let mut map: BTreeMap<Vec<String>, Vec<Decimal>> = BTreeMap::new();
    let width = Report::new(kind).value_columns.len();
    let mut add = |key: Vec<String>, i: usize, v: Decimal| {
        map.entry(key).or_insert_with(|| vec![Decimal::ZERO; width])[i] += v;
    };
    match kind {
        ReportKind::Revenue(g) if matches!(g, Grouping::Method | Grouping::Card) => {
            for p in facts.payments.values() {
                let Some(at) = p.approved_at.filter(|a| range.contains(*a)) else {
                    continue;
                };
                let _ = at;
                let key = if g == Grouping::Card {
                    card_key(&p.card_number, &p.card_holder)
                } else {
                    vec![p.method.clone()]
                };
                add(key.clone(), 0, Decimal::ONE);
                add(key, 1, p.amount);
            }
        }
        ReportKind::Revenue(g) => {
            let key_of = |plan: &str, location: &str, seller: Option<i64>, at: DateTime<Utc>| match g {
                Grouping::Plan => vec![plan.to_string()],
                Grouping::Location => vec![location.to_string()],
                Grouping::Seller => vec![seller_key(seller)],
                _ => vec![g.period_key(at)],
            };
            for s in facts.sales.iter().filter(|s| range.contains(s.at)) {
                let key = key_of(&s.plan_name, &s.location, s.seller, s.at);
                add(key.clone(), 0, Decimal::ONE);
                add(key.clone(), 1, s.amount);
                add(key, 4, s.amount);
            }
            for r in facts.refunds.iter().filter(|r| range.contains(r.at)) {
                let key = key_of(&r.plan_name, &r.location, r.seller, r.at);
                add(key.clone(), 2, Decimal::ONE);
                add(key.clone(), 3, r.refund);
                add(key, 4, -r.refund);
            }
            if g.is_period() {
                for p in facts.payments.values() {
                    let Some(at) = p.approved_at.filter(|a| range.contains(*a)) else {
                        continue;
                    };
                    let key = vec![g.period_key(at)];
                    add(key.clone(), 5, Decimal::ONE);
                    add(key, 6, p.amount);
                }
            }
        }
        ReportKind::Refunds(g) => {
            for r in facts.refunds.iter().filter(|r| range.contains(r.at)) {
                let key = match g {
                    Grouping::Plan => vec![r.plan_name.clone()],
                    Grouping::Location => vec![r.location.clone()],
                    Grouping::Seller => vec![seller_key(r.seller)],
                    _ => vec![g.period_key(r.at)],
                };
                add(key.clone(), 0, Decimal::ONE);
                add(key.clone(), 1, r.refund);
                add(key, 2, r.paid);
            }
        }
        ReportKind::Commissions => {
            for (seller, f) in &facts.sellers {
                let key = vec![seller.to_string()];
                for (i, v) in [f.pending, f.available, f.reserved, f.paid_out, f.earned_total, f.reversed_total]
                    .into_iter()
                    .enumerate()
                {
                    add(key.clone(), i, v);
                }
            }
        }
        ReportKind::Cards => {
            for p in facts.payments.values() {
                if p.card_number.is_none() {
                    continue;
                }
                let Some(_) = p.approved_at.filter(|a| range.contains(*a)) else {
                    continue;
                };
                let key = card_key(&p.card_number, &p.card_holder);
                add(key.clone(), 0, Decimal::ONE);
                add(key, 1, p.amount);
            }
        }
    }
    Ok(Report::from_map(kind, map))
}

// ---------------------------------------------------------------------------
// The same reports from the read models
// ---------------------------------------------------------------------------

fn range_sql(column: &str) -> String {
    format!("($1::timestamptz IS NULL OR {column} >= $1) AND ($2::timestamptz IS NULL OR {column} < $2)")
}

async fn fold_rows(
    conn: &mut PgConnection,
    sql: &str,
    range: Range,
    keys: usize,
    offsets: &[usize],
    map: &mut BTreeMap<Vec<String>, Vec<Decimal>>,
    width: usize,
) -> Result<(), ProjectionError> {
    let q = sqlx::query(sql);
    let q = if sql.contains("$1") { q.bind(range.from).bind(range.to) } else { q };
    let rows = q.fetch_all(&mut *conn).await?;
    for row in rows {
        let key: Vec<String> = (0..keys).map(|i| row.try_get::<String, _>(i)).collect::<Result<_, _>>()?;
        let entry = map.entry(key).or_insert_with(|| vec![Decimal::ZERO; width]);
        for (j, offset) in offsets.iter().enumerate() {
            let v: Decimal = row.try_get(keys + j)?;
            entry[*offset] += v;
        }
    }
    Ok(())
}

/// The report, computed in SQL from the read models.
pub async fn query(conn: &mut PgConnection, kind: ReportKind, range: Range) -> Result<Report, ProjectionError> {
    kind.validate()?;
    let width = Report::new(kind).value_columns.len();
    let mut map: BTreeMap<Vec<String>, Vec<Decimal>> = BTreeMap::new();
    let key_sql = |g: Grouping, column: &str| match g {
        Grouping::Plan => "plan_name".to_string(),
        Grouping::Location => "location".to_string(),
        Grouping::Seller => "coalesce(seller::text, 'none')".to_string(),
        _ => g.sql_period(column),
    };
    let card = "coalesce(card_number, '-'), coalesce(card_holder, '-')";
    match kind {
        ReportKind::Revenue(g @ (Grouping::Method | Grouping::Card)) => {
            let (keys, n) = if g == Grouping::Card { (card, 2) } else { ("method", 1) };
            let sql = format!(
                "SELECT {keys}, count(*)::numeric, sum(amount) FROM payments_received \
                 WHERE approved_at IS NOT NULL AND {} GROUP BY {keys}",
                range_sql("approved_at")
            );
            fold_rows(conn, &sql, range, n, &[0, 1], &mut map, width).await?;
        }
        ReportKind::Revenue(g) => {
            let k = key_sql(g, "at");
            let sql = format!(
                "SELECT {k}, count(*)::numeric, sum(amount), sum(amount) FROM sales WHERE {} GROUP BY 1",
                range_sql("at")
            );
            fold_rows(conn, &sql, range, 1, &[0, 1, 4], &mut map, width).await?;
            let sql = format!(
                "SELECT {k}, count(*)::numeric, sum(refund), -sum(refund) FROM sale_refunds WHERE {} GROUP BY 1",
                range_sql("at")
            );
            fold_rows(conn, &sql, range, 1, &[2, 3, 4], &mut map, width).await?;
            if g.is_period() {
                let k = g.sql_period("approved_at");
                let sql = format!(
                    "SELECT {k}, count(*)::numeric, sum(amount) FROM payments_received \
                     WHERE approved_at IS NOT NULL AND {} GROUP BY 1",
                    range_sql("approved_at")
                );
                fold_rows(conn, &sql, range, 1, &[5, 6], &mut map, width).await?;
            }
        }
        ReportKind::Refunds(g) => {
            let k = key_sql(g, "at");
            let sql = format!(
                "SELECT {k}, count(*)::numeric, sum(refund), sum(paid) FROM sale_refunds WHERE {} GROUP BY 1",
                range_sql("at")
            );
            fold_rows(conn, &sql, range, 1, &[0, 1, 2], &mut map, width).await?;
        }
        ReportKind::Commissions => {
            // Balances are not dated: the range does not apply.
            let sql = "SELECT seller::text, pending, available, reserved, paid_out, earned_total, reversed_total FROM seller_balances";
            fold_rows(conn, sql, range, 1, &[0, 1, 2, 3, 4, 5], &mut map, width).await?;
        }
        ReportKind::Cards => {
            let sql = format!(
                "SELECT {card}, count(*)::numeric, sum(amount) FROM payments_received \
                 WHERE approved_at IS NOT NULL AND card_number IS NOT NULL AND {} GROUP BY 1, 2",
                range_sql("approved_at")
            );
            fold_rows(conn, &sql, range, 2, &[0, 1], &mut map, width).await?;
        }
    }
    Ok(Report::from_map(kind, map))
}

/// A date given on the command line: `2026-11-01` (midnight UTC) or RFC 3339.
pub fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s.trim()) {
        return Some(d.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn periods_are_keyed_by_day_monday_and_month_in_utc() {
        let at = Utc.with_ymd_and_hms(2026, 11, 28, 23, 59, 0).unwrap(); // a Saturday
        assert_eq!(Grouping::Day.period_key(at), "2026-11-28");
        assert_eq!(Grouping::Week.period_key(at), "2026-11-23");
        assert_eq!(Grouping::Month.period_key(at), "2026-11");
    }

    #[test]
    fn csv_quotes_fields_that_need_it() {
        let mut r = Report::new(ReportKind::Cards);
        r.rows.push(Row {
            key: vec!["6037997599999993".into(), "Ahmadi, \"Reza\"".into()],
            values: vec![Decimal::from(2), Decimal::new(3000005, 1)],
        });
        assert_eq!(
            r.to_csv(),
            "card,holder,payments_count,received_total\r\n6037997599999993,\"Ahmadi, \"\"Reza\"\"\",2,300000.5\r\n"
        );
    }

    #[test]
    fn revenue_nets_refunds_against_sales() {
        let at = Utc.with_ymd_and_hms(2026, 11, 2, 10, 0, 0).unwrap();
        let facts = Facts {
            sales: vec![SaleFact {
                plan_name: "Monthly".into(),
                location: "France".into(),
                seller: Some(7),
                amount: Decimal::from(150_000),
                at,
            }],
            refunds: vec![RefundFact {
                plan_name: "Monthly".into(),
                location: "France".into(),
                seller: Some(7),
                refund: Decimal::from(50_000),
                paid: Decimal::from(150_000),
                at,
            }],
            ..Facts::default()
        };
        let r = compute(ReportKind::Revenue(Grouping::Seller), &facts, Range::default()).unwrap();
        assert_eq!(r.rows.len(), 1);
        assert_eq!(r.rows[0].key, vec!["7".to_string()]);
        assert_eq!(
            r.rows[0].values,
            vec![
                Decimal::ONE,
                Decimal::from(150_000),
                Decimal::ONE,
                Decimal::from(50_000),
                Decimal::from(100_000)
            ]
        );
    }
}
