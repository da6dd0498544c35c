//! Operator commands for commissions, discount codes, points and financial
//! reports (issue 6), run as the trusted `System` actor.
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use commands::{Commands, Grant};
use domain::access::Actor;
use domain::commission::CommissionRate;
use domain::discount::{DiscountKind, DiscountTerms};
use domain::points::{PointsRules, Reward};
use domain::{CustomerId, Location, Toman};
use projections::reports::{self, Grouping, Range, Report, ReportKind};
use rust_decimal::Decimal;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Subcommand)]
pub enum CommissionsCommand {
    /// Set the default commission rate, or a plan's own (`10%`, `12.5%` or a Toman amount).
    SetRate {
        /// The rate; omit with --clear.
        #[arg(long, required_unless_present = "clear")]
        rate: Option<String>,
        /// A plan's own rate instead of the default.
        #[arg(long)]
        plan: Option<Uuid>,
        /// Remove the rate (the default, or the plan's own).
        #[arg(long)]
        clear: bool,
    },
    /// The refund window (hours) after which commission is withdrawable, and the minimum withdrawal.
    Terms {
        #[arg(long)]
        refund_window_hours: u32,
        #[arg(long)]
        minimum: String,
    },
    /// The rates and terms in force.
    Show,
    /// Every seller's pending, available, reserved and paid-out commission.
    Balances,
    /// Give a seller their own price for a plan (agent plan), or remove it.
    AgentPrice {
        #[arg(long)]
        seller: i64,
        #[arg(long)]
        plan: Uuid,
        #[arg(long, required_unless_present = "remove")]
        price: Option<String>,
        #[arg(long)]
        remove: bool,
    },
    /// Withdrawal requests (open ones unless --all).
    Withdrawals {
        #[arg(long)]
        all: bool,
    },
    /// Approve a withdrawal request.
    Approve {
        #[arg(long)]
        id: Uuid,
    },
    /// Reject a withdrawal request; the money returns to the seller's available balance.
    Reject {
        #[arg(long)]
        id: Uuid,
        #[arg(long)]
        reason: String,
    },
    /// Record that an approved withdrawal was transferred (once).
    Pay {
        #[arg(long)]
        id: Uuid,
        /// The bank's tracking number of the transfer.
        #[arg(long)]
        reference: String,
    },
}

#[derive(Subcommand)]
pub enum DiscountsCommand {
    /// Create a code.
    Add {
        #[arg(long)]
        code: String,
        /// `20%` or a Toman amount.
        #[arg(long)]
        value: String,
        /// Uses in total.
        #[arg(long)]
        max_uses: Option<u32>,
        /// Uses per customer.
        #[arg(long)]
        per_customer: Option<u32>,
        /// Valid from (YYYY-MM-DD or RFC 3339); now when omitted.
        #[arg(long)]
        from: Option<String>,
        /// Valid until (exclusive).
        #[arg(long)]
        until: Option<String>,
        /// Only for this plan; repeat for several.
        #[arg(long = "plan")]
        plans: Vec<Uuid>,
        /// Only in this location; repeat for several.
        #[arg(long = "location")]
        locations: Vec<String>,
    },
    /// Every code with its uses.
    List,
    /// Stop a code.
    Disable {
        #[arg(long)]
        code: String,
    },
}

#[derive(Subcommand)]
pub enum PointsCommand {
    /// Show the rules, or change the ones given.
    Rules(RulesArgs),
    /// Grant points, for a special event (once per customer) or with a note.
    Grant {
        #[arg(long)]
        telegram_id: i64,
        #[arg(long)]
        points: u64,
        #[arg(long, conflicts_with = "note", required_unless_present = "note")]
        event: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// Redeem a customer's points for a reward.
    Redeem {
        #[arg(long)]
        telegram_id: i64,
        /// A personal discount code worth this many Toman.
        #[arg(long)]
        discount: Option<String>,
        /// The VIP role.
        #[arg(long)]
        vip: bool,
        /// Extra days on --subscription.
        #[arg(long)]
        days: Option<u32>,
        /// Extra GB on --subscription.
        #[arg(long)]
        gb: Option<u32>,
        #[arg(long)]
        subscription: Option<Uuid>,
    },
    /// Customers by points earned.
    Leaderboard {
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Points per Toman spent (0.001 = one per 1,000 Toman).
    #[arg(long)]
    per_toman: Option<Decimal>,
    #[arg(long)]
    referral: Option<u64>,
    #[arg(long)]
    longevity: Option<u64>,
    #[arg(long)]
    longevity_days: Option<u32>,
    #[arg(long)]
    expiry_days: Option<u32>,
    /// What one point is worth as a discount, in Toman.
    #[arg(long)]
    point_value: Option<String>,
    #[arg(long)]
    vip_cost: Option<u64>,
    #[arg(long)]
    day_cost: Option<u64>,
    #[arg(long)]
    gb_cost: Option<u64>,
}

#[derive(Subcommand)]
pub enum ReportsCommand {
    /// Revenue by day, week, month, plan, location, seller, method or card.
    Revenue(ReportArgs),
    /// Refunds by day, week, month, plan, location or seller.
    Refunds(ReportArgs),
    /// Outstanding commissions per seller.
    Commissions(CsvArg),
    /// What each destination card (and its holder) received.
    Cards(CsvArg),
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// day, week, month, plan, location, seller, method or card
    #[arg(long, default_value = "day")]
    by: String,
    /// From (inclusive): YYYY-MM-DD or RFC 3339.
    #[arg(long)]
    from: Option<String>,
    /// To (exclusive).
    #[arg(long)]
    to: Option<String>,
    #[arg(long)]
    csv: bool,
}

#[derive(Debug, Args)]
pub struct CsvArg {
    #[arg(long)]
    csv: bool,
}

fn customer(id: i64) -> Result<CustomerId> {
    Ok(CustomerId::parse(&id.to_string())?)
}

fn instant(s: &Option<String>) -> Result<Option<DateTime<Utc>>> {
    s.as_deref()
        .map(|s| reports::parse_instant(s).with_context(|| format!("not a date: `{s}` (YYYY-MM-DD or RFC 3339)")))
        .transpose()
}

fn money(d: Decimal) -> String {
    Toman::new(d).map(|t| t.to_string()).unwrap_or_else(|_| d.to_string())
}

pub async fn commissions(pool: &PgPool, command: CommissionsCommand) -> Result<()> {
    let cmd = Commands::new(pool.clone());
    let now = Utc::now();
    let system = Actor::System;
    match command {
        CommissionsCommand::SetRate { rate, plan, clear } => {
            let rate = if clear {
                None
            } else {
                rate.as_deref().map(CommissionRate::parse).transpose()?
            };
            cmd.set_commission_rate(&system, plan, rate, now).await?;
            let target = plan.map_or("the default rate".to_string(), |p| format!("plan {p}"));
            match rate {
                Some(r) => println!("commission for {target}: {r}"),
                None => println!("commission for {target} cleared"),
            }
        }
        CommissionsCommand::Terms {
            refund_window_hours,
            minimum,
        } => {
            let minimum: Toman = minimum.parse()?;
            cmd.set_commission_terms(&system, refund_window_hours, minimum, now).await?;
            println!("refund window {refund_window_hours} h, minimum withdrawal {minimum} Toman");
        }
        CommissionsCommand::Show => {
            let p = cmd.commission_policy().await?;
            match p.default_rate {
                Some(r) => println!("default rate: {r}"),
                None => println!("default rate: none (no commission unless a plan has a rate)"),
            }
            for (plan, r) in &p.plan_rates {
                println!("plan {plan}: {r}");
            }
            println!(
                "refund window: {} h; minimum withdrawal: {} Toman",
                p.refund_window_hours, p.withdrawal_minimum
            );
        }
        CommissionsCommand::Balances => {
            print(&query(pool, ReportKind::Commissions, Range::default()).await?, false);
        }
        CommissionsCommand::AgentPrice {
            seller,
            plan,
            price,
            remove,
        } => {
            let seller = customer(seller)?;
            if remove {
                cmd.remove_agent_price(&system, seller, plan, now).await?;
                println!("agent price of {seller} for {plan} removed");
            } else {
                let price: Toman = price.context("--price is required")?.parse()?;
                cmd.set_agent_price(&system, seller, plan, price, now).await?;
                println!("{seller} buys {plan} at {price} Toman");
            }
        }
        CommissionsCommand::Withdrawals { all } => {
            type WithdrawalRow = (Uuid, i64, Decimal, String, String, String, DateTime<Utc>);
            let rows: Vec<WithdrawalRow> = sqlx::query_as(
                "SELECT id, seller, amount, card_number, holder, status, requested_at FROM withdrawals \
                 WHERE $1 OR status IN ('requested', 'approved') ORDER BY requested_at",
            )
            .bind(all)
            .fetch_all(pool)
            .await?;
            for (id, seller, amount, card, holder, status, at) in rows {
                let card = domain::CardNumber::parse(&card).map(|c| c.to_string()).unwrap_or(card);
                println!(
                    "{id}  seller {seller}  {} Toman  to {card} ({holder})  {status}  {at}",
                    money(amount)
                );
            }
        }
        CommissionsCommand::Approve { id } => {
            cmd.approve_withdrawal(&system, id, now).await?;
            println!("approved {id}");
        }
        CommissionsCommand::Reject { id, reason } => {
            cmd.reject_withdrawal(&system, id, reason, now).await?;
            println!("rejected {id}");
        }
        CommissionsCommand::Pay { id, reference } => {
            cmd.pay_withdrawal(&system, id, reference, now).await?;
            println!("paid {id}");
        }
    }
    Ok(())
}

pub async fn discounts(pool: &PgPool, command: DiscountsCommand) -> Result<()> {
    let cmd = Commands::new(pool.clone());
    let now = Utc::now();
    match command {
        DiscountsCommand::Add {
            code,
            value,
            max_uses,
            per_customer,
            from,
            until,
            plans,
            locations,
        } => {
            let terms = DiscountTerms {
                kind: DiscountKind::parse(&value)?,
                max_uses,
                max_uses_per_customer: per_customer,
                valid_from: instant(&from)?.unwrap_or(now),
                valid_until: instant(&until)?,
                plans,
                locations: locations.iter().map(|l| Location::parse(l)).collect::<Result<_, _>>()?,
                only_customer: None,
            };
            let kind = terms.kind;
            let code = cmd.create_discount_code(&Actor::System, &code, terms, now).await?;
            println!("{code}: {kind} off");
        }
        DiscountsCommand::List => {
            type CodeRow = (
                String,
                String,
                Decimal,
                Option<i32>,
                Option<i32>,
                DateTime<Utc>,
                Option<DateTime<Utc>>,
                bool,
                i32,
                Decimal,
            );
            let rows: Vec<CodeRow> = sqlx::query_as(
                "SELECT code, kind, value, max_uses, max_uses_per_customer, valid_from, valid_until, active, uses, discount_total \
                 FROM discount_codes WHERE only_customer IS NULL ORDER BY created_at",
            )
            .fetch_all(pool)
            .await?;
            for (code, kind, value, max, per, from, until, active, uses, total) in rows {
                let value = if kind == "percent" {
                    format!("{}%", value.normalize())
                } else {
                    format!("{} Toman", money(value))
                };
                let max = max.map_or("unlimited".to_string(), |m| m.to_string());
                let per = per.map_or(String::new(), |p| format!(", {p} per customer"));
                let until = until.map_or("open-ended".to_string(), |u| format!("until {u}"));
                let state = if active { "" } else { " (disabled)" };
                println!(
                    "{code}: {value} off, used {uses} of {max}{per}, {} Toman given, from {from} {until}{state}",
                    money(total)
                );
            }
        }
        DiscountsCommand::Disable { code } => {
            cmd.disable_discount_code(&Actor::System, &code, now).await?;
            println!("disabled {}", code.to_ascii_uppercase());
        }
    }
    Ok(())
}

pub async fn points(pool: &PgPool, command: PointsCommand) -> Result<()> {
    let cmd = Commands::new(pool.clone());
    let now = Utc::now();
    match command {
        PointsCommand::Rules(a) => {
            let current = cmd.points_policy().await?.rules;
            let mut rules = current.clone();
            if let Some(v) = a.per_toman {
                rules.points_per_toman = v;
            }
            if let Some(v) = a.referral {
                rules.referral_points = v;
            }
            if let Some(v) = a.longevity {
                rules.longevity_points = v;
            }
            if let Some(v) = a.longevity_days {
                rules.longevity_period_days = v;
            }
            if let Some(v) = a.expiry_days {
                rules.expiry_days = v;
            }
            if let Some(v) = &a.point_value {
                rules.toman_per_point = v.parse()?;
            }
            if let Some(v) = a.vip_cost {
                rules.vip_cost = v;
            }
            if let Some(v) = a.day_cost {
                rules.day_cost = v;
            }
            if let Some(v) = a.gb_cost {
                rules.gb_cost = v;
            }
            if rules != current {
                cmd.set_points_rules(&Actor::System, rules.clone(), now).await?;
            }
            show_rules(&rules);
        }
        PointsCommand::Grant {
            telegram_id,
            points,
            event,
            note,
        } => {
            let id = customer(telegram_id)?;
            let grant = match (event, note) {
                (Some(e), _) => Grant::SpecialEvent(e),
                (None, Some(n)) => Grant::Note(n),
                (None, None) => bail!("--event or --note is required"),
            };
            if cmd.grant_points(&Actor::System, id, points, grant, now).await? {
                println!("{id}: +{points} points, {} now", cmd.points_account(id).await?.balance);
            } else {
                println!("{id} already received the points of this event");
            }
        }
        PointsCommand::Redeem {
            telegram_id,
            discount,
            vip,
            days,
            gb,
            subscription,
        } => {
            let id = customer(telegram_id)?;
            let sub = || subscription.context("--subscription is required for --days and --gb");
            let reward = match (discount, vip, days, gb) {
                (Some(v), false, None, None) => Reward::Discount { value: v.parse()? },
                (None, true, None, None) => Reward::Vip,
                (None, false, Some(days), None) => Reward::ExtraDays {
                    subscription_id: sub()?,
                    days,
                },
                (None, false, None, Some(gb)) => Reward::Traffic {
                    subscription_id: sub()?,
                    gb,
                },
                _ => bail!("give exactly one of --discount, --vip, --days, --gb"),
            };
            let r = cmd.redeem_points(&Actor::System, id, reward, now).await?;
            let left = cmd.points_account(id).await?.balance;
            match r.code {
                Some(code) => println!("{id}: -{} points, {left} left; discount code {code}", r.points),
                None => println!("{id}: -{} points, {left} left", r.points),
            }
        }
        PointsCommand::Leaderboard { limit } => {
            for e in projections::commerce_views::leaderboard(pool, limit).await? {
                let name = e.username.map(|u| format!(" @{u}")).unwrap_or_default();
                println!(
                    "{:>3}. {}{name}: {} earned, {} to spend",
                    e.rank, e.customer, e.earned_total, e.balance
                );
            }
        }
    }
    Ok(())
}

fn show_rules(r: &PointsRules) {
    println!("points per Toman spent: {}", r.points_per_toman.normalize());
    println!("referral: {} points at the referred customer's first purchase", r.referral_points);
    println!("account age: {} points every {} days", r.longevity_points, r.longevity_period_days);
    println!("points expire after {} days", r.expiry_days);
    println!("one point is worth {} Toman as a discount", r.toman_per_point);
    println!(
        "costs: VIP {} points, one day {} points, one GB {} points",
        r.vip_cost, r.day_cost, r.gb_cost
    );
}

async fn query(pool: &PgPool, kind: ReportKind, range: Range) -> Result<Report> {
    let mut conn = pool.acquire().await?;
    Ok(reports::query(&mut conn, kind, range).await?)
}

fn print(report: &Report, csv: bool) {
    if csv {
        print!("{}", report.to_csv());
        return;
    }
    println!("{}", report.title);
    let headers: Vec<&str> = report.key_columns.iter().chain(report.value_columns.iter()).copied().collect();
    let cell = |col: &str, v: &Decimal| {
        if col.ends_with("_count") {
            v.to_string()
        } else {
            money(*v)
        }
    };
    let mut lines: Vec<Vec<String>> = vec![headers.iter().map(|h| h.to_string()).collect()];
    for r in &report.rows {
        let mut line = r.key.clone();
        line.extend(r.values.iter().zip(&report.value_columns).map(|(v, c)| cell(c, v)));
        lines.push(line);
    }
    let mut total = vec!["total".to_string()];
    total.extend(std::iter::repeat_n(String::new(), report.key_columns.len() - 1));
    total.extend(report.totals().iter().zip(&report.value_columns).map(|(v, c)| cell(c, v)));
    lines.push(total);
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| lines.iter().map(|l| l[i].chars().count()).max().unwrap_or(0))
        .collect();
    for l in lines {
        let cells: Vec<String> = l
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i < report.key_columns.len() {
                    format!("{c:<w$}", w = widths[i])
                } else {
                    format!("{c:>w$}", w = widths[i])
                }
            })
            .collect();
        println!("{}", cells.join("  "));
    }
}

pub async fn reports(pool: &PgPool, command: ReportsCommand) -> Result<()> {
    let (kind, range, csv) = match command {
        ReportsCommand::Revenue(a) | ReportsCommand::Refunds(a) if Grouping::parse(&a.by).is_none() => {
            bail!(
                "--by is one of day, week, month, plan, location, seller, method, card (got `{}`)",
                a.by
            )
        }
        ReportsCommand::Revenue(a) => (
            ReportKind::Revenue(Grouping::parse(&a.by).expect("checked")),
            Range {
                from: instant(&a.from)?,
                to: instant(&a.to)?,
            },
            a.csv,
        ),
        ReportsCommand::Refunds(a) => (
            ReportKind::Refunds(Grouping::parse(&a.by).expect("checked")),
            Range {
                from: instant(&a.from)?,
                to: instant(&a.to)?,
            },
            a.csv,
        ),
        ReportsCommand::Commissions(c) => (ReportKind::Commissions, Range::default(), c.csv),
        ReportsCommand::Cards(c) => (ReportKind::Cards, Range::default(), c.csv),
    };
    print(&query(pool, kind, range).await?, csv);
    Ok(())
}
