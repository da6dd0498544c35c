//! Commerce on the real PostgreSQL: seller commissions and withdrawals, agent
//! prices, discount codes, loyalty points, and the financial reports that
//! `audit` reproduces from the events.
use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use commands::{CommandError, Commands, Grant, PurchaseOutcome};
use domain::access::{Actor, RoleName};
use domain::commission::{CommissionError, CommissionRate};
use domain::discount::{DiscountError, DiscountKind, DiscountTerms};
use domain::plan::PlanSpec;
use domain::points::{PointsRules, Reward};
use domain::{CardNumber, CustomerId, Language, Location, Toman};
use eventstore::testing::TestDb;
use projections::reports::{self, Grouping, Range, ReportKind};
use rust_decimal::Decimal;
use sqlx::PgPool;
use uuid::Uuid;
use workers::{CommerceConsumer, CommerceScheduler, Consumer};

const ADMIN: CustomerId = CustomerId(1);
const SELLER: CustomerId = CustomerId(70);
const BUYER: CustomerId = CustomerId(500);

fn toman(v: i64) -> Toman {
    Toman::from_int(v).unwrap()
}
fn france() -> Location {
    Location::parse("France").unwrap()
}

struct World {
    db: TestDb,
    cmd: Commands,
    admin: Actor,
    plan: Uuid,
}

/// An admin, a seller at 10% with a one-hour refund window and a 5,000
/// minimum withdrawal, a customer the seller referred with 1,000,000 Toman.
async fn world() -> World {
    let db = TestDb::new().await.unwrap();
    let cmd = Commands::new(db.pool.clone());
    let t = Utc::now() - Duration::days(1);
    cmd.register_customer(ADMIN, None, Language::En, None, t).await.unwrap();
    cmd.grant_role(&Actor::System, ADMIN, RoleName::Admin, t).await.unwrap();
    let admin = cmd.actor(ADMIN).await.unwrap();
    cmd.register_customer(SELLER, Some("sara".into()), Language::Fa, None, t)
        .await
        .unwrap();
    cmd.grant_role(&admin, SELLER, RoleName::Seller, t).await.unwrap();
    cmd.register_customer(BUYER, None, Language::Fa, Some(SELLER), t).await.unwrap();
    cmd.adjust_wallet(&admin, BUYER, Decimal::from(1_000_000), "opening".into(), t)
        .await
        .unwrap();
    let plan = cmd
        .create_plan(
            &admin,
            PlanSpec {
                name: "Monthly".into(),
                duration_days: 30,
                traffic_gb: 50,
                price: toman(100_000),
                locations: vec![france(), Location::parse("Germany").unwrap()],
            },
            t,
        )
        .await
        .unwrap();
    cmd.set_commission_rate(&admin, None, Some(CommissionRate::parse("10%").unwrap()), t)
        .await
        .unwrap();
    cmd.set_commission_terms(&admin, 1, toman(5_000), t).await.unwrap();
    World { db, cmd, admin, plan }
}

impl World {
    async fn buy(&self, customer: CustomerId, at: DateTime<Utc>) -> Uuid {
        let sub = Uuid::new_v4();
        let me = self.cmd.actor(customer).await.unwrap();
        let outcome = self.cmd.purchase_plan(&me, customer, self.plan, &france(), sub, at).await.unwrap();
        assert!(matches!(outcome, PurchaseOutcome::Active { .. }), "{outcome:?}");
        sub
    }

    /// Runs the commerce consumer and every projector to the head.
    async fn settle(&self) {
        settle(&self.db.pool, &self.cmd).await
    }

    fn scheduler(&self) -> CommerceScheduler {
        CommerceScheduler {
            commands: self.cmd.clone(),
            interval: std::time::Duration::from_secs(60),
            catch_up_wait: std::time::Duration::from_secs(5),
        }
    }

    async fn audit_is_clean(&self) {
        self.settle().await;
        let report = projections::audit::audit(&self.db.pool).await.unwrap();
        assert!(report.is_clean(), "{:#?}", report.mismatches);
    }

    async fn count(&self, event_type: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1")
            .bind(event_type)
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }
}

async fn settle(pool: &PgPool, cmd: &Commands) {
    let consumer = CommerceConsumer { commands: cmd.clone() };
    loop {
        let from = consumer.checkpoint().await.unwrap();
        let events = eventstore::read_after(pool, from, 500).await.unwrap();
        if events.is_empty() {
            break;
        }
        consumer.handle(&events).await.unwrap();
    }
    for p in projections::all() {
        projections::catch_up(pool, p.as_ref(), 1_000).await.unwrap();
    }
}

async fn balance(pool: &PgPool, seller: CustomerId) -> (Decimal, Decimal, Decimal, Decimal) {
    sqlx::query_as("SELECT pending, available, reserved, paid_out FROM seller_balances WHERE seller = $1")
        .bind(seller.0)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn points_of(pool: &PgPool, customer: CustomerId) -> i64 {
    sqlx::query_scalar("SELECT coalesce((SELECT balance FROM points_balances WHERE customer = $1), 0)")
        .bind(customer.0)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_referred_sale_earns_a_commission_released_at_the_end_of_its_window() {
    let w = world().await;
    let sold_at = Utc::now() - Duration::hours(3);
    let sub = w.buy(BUYER, sold_at).await;
    // Run the consumer twice: a redelivered sale earns nothing more.
    w.settle().await;
    sqlx::query("UPDATE checkpoints SET position = 0 WHERE name = 'commerce'")
        .execute(&w.db.pool)
        .await
        .unwrap();
    w.settle().await;
    assert_eq!(w.count("SaleRecorded").await, 1);
    assert_eq!(w.count("CommissionEarned").await, 1);
    let (seller, source): (Option<i64>, Option<String>) = sqlx::query_as("SELECT seller, source FROM sales WHERE subscription_id = $1")
        .bind(sub)
        .fetch_one(&w.db.pool)
        .await
        .unwrap();
    assert_eq!((seller, source.as_deref()), (Some(SELLER.0), Some("referral")));
    assert_eq!(balance(&w.db.pool, SELLER).await.0, Decimal::from(10_000));

    let step = w.scheduler().step(Utc::now()).await.unwrap();
    assert!(step.releases_ran);
    assert_eq!(step.released, 1);
    w.settle().await;
    let (pending, available, _, _) = balance(&w.db.pool, SELLER).await;
    assert_eq!((pending, available), (Decimal::ZERO, Decimal::from(10_000)));
    // The release is dated at the instant the window closed, not when the scheduler ran.
    let (status, released_at): (String, DateTime<Utc>) =
        sqlx::query_as("SELECT status, released_at FROM commissions WHERE subscription_id = $1")
            .bind(sub)
            .fetch_one(&w.db.pool)
            .await
            .unwrap();
    assert_eq!(status, "released");
    let settled_at: DateTime<Utc> = sqlx::query_scalar("SELECT starts_at FROM subscriptions WHERE id = $1")
        .bind(sub)
        .fetch_one(&w.db.pool)
        .await
        .unwrap();
    assert_eq!(released_at, settled_at + Duration::hours(1));
    assert_eq!(w.scheduler().step(Utc::now()).await.unwrap().released, 0);

    // Points: 1 per 1,000 Toman for the buyer, the referral bonus for the seller.
    assert_eq!(points_of(&w.db.pool, BUYER).await, 100);
    assert_eq!(points_of(&w.db.pool, SELLER).await, 50);
    w.audit_is_clean().await;
    w.db.drop_database().await.unwrap();
}

#[tokio::test]
async fn a_refund_inside_the_window_reverses_its_share_and_one_after_it_does_not() {
    let w = world().await;
    let inside = w.buy(BUYER, Utc::now() - Duration::minutes(10)).await;
    let after = w.buy(BUYER, Utc::now() - Duration::hours(2)).await;
    w.settle().await;
    let now = Utc::now();
    w.cmd
        .cancel_subscription(&w.admin, inside, toman(40_000), "panel down".into(), now)
        .await
        .unwrap();
    w.cmd
        .cancel_subscription(&w.admin, after, toman(100_000), "changed mind".into(), now)
        .await
        .unwrap();
    w.settle().await;
    let reversed: Vec<(Uuid, Decimal, String)> =
        sqlx::query_as("SELECT subscription_id, reversed, status FROM commissions ORDER BY earned_at")
            .fetch_all(&w.db.pool)
            .await
            .unwrap();
    let of = |s: Uuid| reversed.iter().find(|r| r.0 == s).unwrap().clone();
    assert_eq!(of(inside).1, Decimal::from(4_000), "40% of the 10,000 commission");
    assert_eq!(of(after).1, Decimal::ZERO, "the window had closed");
    // The released commission stays the seller's; the partly reversed one releases its remainder.
    w.scheduler().step(Utc::now() + Duration::hours(2)).await.unwrap();
    w.settle().await;
    let (pending, available, _, _) = balance(&w.db.pool, SELLER).await;
    assert_eq!((pending, available), (Decimal::ZERO, Decimal::from(16_000)));
    // Purchase points clawed back in proportion: 40 of 100, and all 100.
    assert_eq!(points_of(&w.db.pool, BUYER).await, 60);

    let mut conn = w.db.pool.acquire().await.unwrap();
    let refunds = reports::query(&mut conn, ReportKind::Refunds(Grouping::Seller), Range::default())
        .await
        .unwrap();
    assert_eq!(refunds.rows.len(), 1);
    assert_eq!(
        refunds.rows[0].values,
        vec![Decimal::from(2), Decimal::from(140_000), Decimal::from(200_000)]
    );
    drop(conn);
    w.audit_is_clean().await;
    w.db.drop_database().await.unwrap();
}

#[tokio::test]
async fn a_withdrawal_is_paid_exactly_once_and_never_overdraws() {
    let w = Arc::new(world().await);
    w.buy(BUYER, Utc::now() - Duration::hours(3)).await;
    w.settle().await;
    w.scheduler().step(Utc::now()).await.unwrap();
    let seller = w.cmd.actor(SELLER).await.unwrap();
    let card = CardNumber::parse("6037997599999993").unwrap();

    // Twenty concurrent requests of 6,000 against 10,000 available: one wins.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (w, seller, card) = (w.clone(), seller.clone(), card.clone());
            tokio::spawn(async move {
                w.cmd
                    .request_withdrawal(&seller, toman(6_000), card, "Sara Karimi".into(), Utc::now())
                    .await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(id) => ids.push(id),
            Err(CommandError::Commission(CommissionError::InsufficientCommission { .. })) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ids.len(), 1);
    let id = ids[0];
    let below = w
        .cmd
        .request_withdrawal(&seller, toman(4_000), card.clone(), "Sara".into(), Utc::now())
        .await;
    assert!(matches!(below, Err(CommandError::Commission(CommissionError::BelowMinimum { .. }))));
    let early = w.cmd.pay_withdrawal(&w.admin, id, "T-1".into(), Utc::now()).await;
    assert!(matches!(early, Err(CommandError::Commission(CommissionError::NotApproved))));
    w.cmd.approve_withdrawal(&w.admin, id, Utc::now()).await.unwrap();

    // Thirty admins pay at once: one payment is recorded.
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let w = w.clone();
            tokio::spawn(async move { w.cmd.pay_withdrawal(&w.admin, id, format!("T-{i}"), Utc::now()).await })
        })
        .collect();
    let (mut paid, mut already) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => paid += 1,
            Err(CommandError::Commission(CommissionError::WithdrawalDecided("paid"))) => already += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!((paid, already), (1, 29));
    assert_eq!(w.count("WithdrawalPaid").await, 1);
    w.settle().await;
    assert_eq!(
        balance(&w.db.pool, SELLER).await,
        (Decimal::ZERO, Decimal::from(4_000), Decimal::ZERO, Decimal::from(6_000))
    );
    let status: String = sqlx::query_scalar("SELECT status FROM withdrawals WHERE id = $1")
        .bind(id)
        .fetch_one(&w.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "paid");
    let summary = projections::commerce_views::seller_summary(&w.db.pool, SELLER.0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((summary.sales_count, summary.sales_total), (1, Decimal::from(100_000)));
    assert_eq!(
        (summary.earned_total, summary.paid_out),
        (Decimal::from(10_000), Decimal::from(6_000))
    );
    assert!(projections::commerce_views::open_withdrawals(&w.db.pool).await.unwrap().is_empty());
    let history = projections::commerce_views::seller_withdrawals(&w.db.pool, SELLER.0).await.unwrap();
    assert_eq!(history[0].bank_reference.as_deref().map(|r| r.starts_with("T-")), Some(true));
    w.audit_is_clean().await;
}

#[tokio::test]
async fn a_discount_code_is_used_no_more_than_its_limits_under_concurrency() {
    let w = Arc::new(world().await);
    let t = Utc::now();
    let code = w
        .cmd
        .create_discount_code(
            &w.admin,
            "nowruz",
            DiscountTerms {
                kind: DiscountKind::parse("25%").unwrap(),
                max_uses: Some(5),
                max_uses_per_customer: Some(1),
                valid_from: t - Duration::hours(1),
                valid_until: Some(t + Duration::days(1)),
                plans: vec![w.plan],
                locations: vec![france()],
                only_customer: None,
            },
            t,
        )
        .await
        .unwrap();
    assert_eq!(code, "NOWRUZ");
    for c in 0..12 {
        let id = CustomerId(2_000 + c);
        w.cmd.register_customer(id, None, Language::Fa, None, t).await.unwrap();
        w.cmd
            .adjust_wallet(&w.admin, id, Decimal::from(200_000), "opening".into(), t)
            .await
            .unwrap();
    }
    // Twelve customers race for five uses; one of them tries twice at once.
    let buyers: Vec<CustomerId> = (0..12).map(|c| CustomerId(2_000 + c)).chain([CustomerId(2_000)]).collect();
    let tasks: Vec<_> = buyers
        .into_iter()
        .map(|id| {
            let w = w.clone();
            tokio::spawn(async move {
                let me = w.cmd.actor(id).await.unwrap();
                w.cmd
                    .purchase_plan_with_code(&me, id, w.plan, &france(), Uuid::new_v4(), Some("nowruz"), Utc::now())
                    .await
            })
        })
        .collect();
    let mut used = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(PurchaseOutcome::Active { .. }) => used += 1,
            Err(CommandError::Discount(DiscountError::UsedUp | DiscountError::CustomerLimitReached(1))) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(used, 5);
    w.settle().await;
    let sold: Vec<Decimal> = sqlx::query_scalar("SELECT amount FROM sales WHERE customer >= 2000")
        .fetch_all(&w.db.pool)
        .await
        .unwrap();
    assert_eq!(sold, vec![Decimal::from(75_000); 5], "only the five discounted orders were made");

    // A use whose purchase the wallet cannot pay is given back.
    w.cmd
        .create_discount_code(
            &w.admin,
            "ONCE",
            DiscountTerms {
                kind: DiscountKind::parse("10,000").unwrap(),
                max_uses: Some(1),
                max_uses_per_customer: None,
                valid_from: t - Duration::hours(1),
                valid_until: None,
                plans: vec![],
                locations: vec![],
                only_customer: None,
            },
            t,
        )
        .await
        .unwrap();
    let poor = CustomerId(3_000);
    w.cmd.register_customer(poor, None, Language::Fa, None, t).await.unwrap();
    let me = w.cmd.actor(poor).await.unwrap();
    let failed = w
        .cmd
        .purchase_plan_with_code(&me, poor, w.plan, &france(), Uuid::new_v4(), Some("once"), Utc::now())
        .await
        .unwrap();
    assert!(matches!(failed, PurchaseOutcome::Failed { .. }));
    assert_eq!(w.cmd.discount_code("once").await.unwrap().uses, 0);
    let quote = w.cmd.quote(BUYER, w.plan, &france(), Some("once"), Utc::now()).await.unwrap();
    assert_eq!(quote.price, toman(90_000));
    w.audit_is_clean().await;
}

#[tokio::test]
async fn an_agent_buys_at_their_own_price_and_a_sellers_client_is_attributed_to_them() {
    let w = world().await;
    let t = Utc::now() - Duration::hours(5);
    w.cmd.set_agent_price(&w.admin, SELLER, w.plan, toman(70_000), t).await.unwrap();
    let refused = w.cmd.set_agent_price(&w.admin, BUYER, w.plan, toman(70_000), t).await;
    assert!(matches!(refused, Err(CommandError::Commission(CommissionError::NotASeller(_)))));
    w.cmd
        .adjust_wallet(&w.admin, SELLER, Decimal::from(500_000), "float".into(), t)
        .await
        .unwrap();
    let own = w.buy(SELLER, t).await;
    assert_eq!(w.cmd.subscription(own).await.unwrap().paid, toman(70_000));

    // An account the seller created: its purchases are theirs, marked as such.
    let seller = w.cmd.actor(SELLER).await.unwrap();
    let client = CustomerId(800);
    w.cmd
        .create_customer_as_seller(&seller, client, Some("client".into()), Language::Fa, t)
        .await
        .unwrap();
    let customer_actor = w.cmd.actor(BUYER).await.unwrap();
    let not_a_seller = w
        .cmd
        .create_customer_as_seller(&customer_actor, CustomerId(801), None, Language::Fa, t)
        .await;
    assert!(not_a_seller.is_err());
    w.cmd
        .adjust_wallet(&w.admin, client, Decimal::from(100_000), "cash".into(), t)
        .await
        .unwrap();
    let sale = w.buy(client, t).await;
    w.settle().await;
    let rows: Vec<(Uuid, Option<i64>, Option<String>, Decimal)> =
        sqlx::query_as("SELECT subscription_id, seller, source, amount FROM sales ORDER BY at, charge_no")
            .fetch_all(&w.db.pool)
            .await
            .unwrap();
    let row = |s: Uuid| rows.iter().find(|r| r.0 == s).unwrap().clone();
    assert_eq!(row(own).1, None, "an agent earns nothing on their own purchase");
    assert_eq!(row(own).3, Decimal::from(70_000));
    assert_eq!(row(sale).1, Some(SELLER.0));
    assert_eq!(row(sale).2.as_deref(), Some("created_account"));
    assert_eq!(w.count("CommissionEarned").await, 1);
    w.audit_is_clean().await;
    w.db.drop_database().await.unwrap();
}

#[tokio::test]
async fn points_buy_extra_days_traffic_a_discount_and_vip() {
    let w = world().await;
    let sub = w.buy(BUYER, Utc::now()).await;
    w.settle().await;
    let me = w.cmd.actor(BUYER).await.unwrap();
    w.cmd
        .grant_points(&w.admin, BUYER, 10_000, Grant::SpecialEvent("Nowruz 1405".into()), Utc::now())
        .await
        .unwrap();
    // Once per customer per special event.
    let again = w
        .cmd
        .grant_points(&w.admin, BUYER, 10_000, Grant::SpecialEvent("nowruz 1405".into()), Utc::now())
        .await
        .unwrap();
    assert!(!again);
    let before = w.cmd.subscription(sub).await.unwrap();
    w.cmd
        .redeem_points(
            &me,
            BUYER,
            Reward::ExtraDays {
                subscription_id: sub,
                days: 5,
            },
            Utc::now(),
        )
        .await
        .unwrap();
    w.cmd
        .redeem_points(
            &me,
            BUYER,
            Reward::Traffic {
                subscription_id: sub,
                gb: 20,
            },
            Utc::now(),
        )
        .await
        .unwrap();
    let after = w.cmd.subscription(sub).await.unwrap();
    assert_eq!(after.expires_at.unwrap(), before.expires_at.unwrap() + Duration::days(5));
    assert_eq!(after.traffic_gb, 70);
    let discount = w
        .cmd
        .redeem_points(&me, BUYER, Reward::Discount { value: toman(20_000) }, Utc::now())
        .await
        .unwrap();
    assert_eq!(discount.points, 2_000);
    let code = discount.code.unwrap();
    let other = w.cmd.quote(SELLER, w.plan, &france(), Some(&code), Utc::now()).await;
    assert!(matches!(other, Err(CommandError::Discount(DiscountError::NotYours))));
    let q = w.cmd.quote(BUYER, w.plan, &france(), Some(&code), Utc::now()).await.unwrap();
    assert_eq!(q.price, toman(80_000));
    w.cmd.redeem_points(&me, BUYER, Reward::Vip, Utc::now()).await.unwrap();
    assert!(w.cmd.actor(BUYER).await.unwrap().has(domain::Permission::VipPricing));
    // 100 (purchase) + 10,000 (event) - 100 (days) - 200 (GB) - 2,000 - 5,000 (VIP)
    let left = w.cmd.points_account(BUYER).await.unwrap().balance;
    assert_eq!(left, 2_800);
    let too_much = w
        .cmd
        .redeem_points(&me, BUYER, Reward::Discount { value: toman(30_000) }, Utc::now())
        .await;
    assert!(matches!(too_much, Err(CommandError::Points(_))));
    w.settle().await;
    let (balance, earned): (i64, i64) = sqlx::query_as("SELECT balance, earned_total FROM points_balances WHERE customer = $1")
        .bind(BUYER.0)
        .fetch_one(&w.db.pool)
        .await
        .unwrap();
    assert_eq!((balance, earned), (2_800, 10_100));
    w.audit_is_clean().await;
    w.db.drop_database().await.unwrap();
}

#[tokio::test]
async fn points_expire_once_at_their_instant_with_two_schedulers_and_longevity_is_awarded_once() {
    let w = world().await;
    let rules = PointsRules {
        expiry_days: 10,
        longevity_points: 20,
        longevity_period_days: 30,
        ..PointsRules::default()
    };
    // Whole seconds, so the instants read back from SQL compare exactly.
    let long_ago = (Utc::now() - Duration::days(95)).trunc_subsecs(0);
    w.cmd.set_points_rules(&w.admin, rules, long_ago).await.unwrap();
    let old = CustomerId(900);
    w.cmd.register_customer(old, None, Language::Fa, None, long_ago).await.unwrap();
    let granted_at = (Utc::now() - Duration::days(11)).trunc_subsecs(0);
    w.cmd
        .grant_points(&w.admin, BUYER, 300, Grant::Note("apology".into()), granted_at)
        .await
        .unwrap();
    w.settle().await;

    // Two schedulers at once, then a "restarted" one: each lot expires once,
    // each period is awarded once.
    let (a, b) = (w.scheduler(), w.scheduler());
    let now = Utc::now();
    let (ra, rb) = tokio::join!(a.step(now), b.step(now));
    ra.unwrap();
    rb.unwrap();
    w.settle().await;
    w.scheduler().step(Utc::now()).await.unwrap();
    w.settle().await;
    // The grant, and the first two longevity awards (ten-day expiry): three lots, once each.
    assert_eq!(w.count("PointsExpired").await, 3);
    let expired_at: DateTime<Utc> = sqlx::query_scalar(
        "SELECT (payload -> 'PointsExpired' ->> 'at')::timestamptz FROM events WHERE event_type = 'PointsExpired' \
         AND aggregate_id = $1 AND payload -> 'PointsExpired' ->> 'reference' LIKE 'grant:%'",
    )
    .bind(BUYER.0.to_string())
    .fetch_one(&w.db.pool)
    .await
    .unwrap();
    assert_eq!(expired_at, granted_at + Duration::days(10));
    // 95 days of age with a 30-day period: three awards, dated at each period's end.
    let awards: Vec<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT (payload -> 'PointsEarned' ->> 'at')::timestamptz FROM events WHERE event_type = 'PointsEarned' \
         AND aggregate_id = $1 ORDER BY position",
    )
    .bind(old.0.to_string())
    .fetch_all(&w.db.pool)
    .await
    .unwrap();
    assert_eq!(awards, (1..=3).map(|n| long_ago + Duration::days(30 * n)).collect::<Vec<_>>());
    let board = projections::commerce_views::leaderboard(&w.db.pool, 10).await.unwrap();
    assert_eq!((board[0].rank, board[0].customer, board[0].earned_total), (1, BUYER.0, 300));
    assert_eq!((board[1].customer, board[1].earned_total), (old.0, 60));
    let mine = projections::commerce_views::points_balance(&w.db.pool, old.0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((mine.balance, mine.expired_total), (20, 40));
    assert!(mine.next_expiry.is_some());
    w.audit_is_clean().await;
    w.db.drop_database().await.unwrap();
}

#[tokio::test]
async fn generated_sales_and_refunds_give_reports_the_audit_reproduces_and_catches_when_corrupted() {
    let w = world().await;
    let t = Utc::now() - Duration::days(40);
    let second = w
        .cmd
        .create_plan(
            &w.admin,
            PlanSpec {
                name: "Quarterly".into(),
                duration_days: 90,
                traffic_gb: 0,
                price: Toman::new(Decimal::new(2_499_995, 1)).unwrap(),
                locations: vec![Location::parse("Germany").unwrap()],
            },
            t,
        )
        .await
        .unwrap();
    w.cmd
        .set_commission_rate(&w.admin, Some(second), Some(CommissionRate::parse("12,345.6").unwrap()), t)
        .await
        .unwrap();
    let mut expected_sales = Decimal::ZERO;
    let mut expected_refunds = Decimal::ZERO;
    for i in 0..60i64 {
        let customer = CustomerId(5_000 + i);
        let referrer = if i % 3 == 0 { None } else { Some(SELLER) };
        let at = t + Duration::hours(13 * i);
        w.cmd.register_customer(customer, None, Language::Fa, referrer, at).await.unwrap();
        w.cmd
            .adjust_wallet(&w.admin, customer, Decimal::from(600_000), "cash".into(), at)
            .await
            .unwrap();
        let me = w.cmd.actor(customer).await.unwrap();
        let (plan, location, price) = if i % 2 == 0 {
            (w.plan, france(), Decimal::from(100_000))
        } else {
            (second, Location::parse("Germany").unwrap(), Decimal::new(2_499_995, 1))
        };
        let sub = Uuid::new_v4();
        w.cmd.purchase_plan(&me, customer, plan, &location, sub, at).await.unwrap();
        expected_sales += price;
        if i % 5 == 0 {
            let refund = Toman::new(price / Decimal::from(3)).unwrap_or(toman(1));
            let refund = Toman::new(domain::commission::round_to_rial(refund.value())).unwrap();
            w.cmd
                .cancel_subscription(&w.admin, sub, refund, "test".into(), at + Duration::minutes(30))
                .await
                .unwrap();
            expected_refunds += refund.value();
        }
    }
    w.settle().await;
    let mut conn = w.db.pool.acquire().await.unwrap();
    for g in [
        Grouping::Day,
        Grouping::Week,
        Grouping::Month,
        Grouping::Plan,
        Grouping::Location,
        Grouping::Seller,
    ] {
        let r = reports::query(&mut conn, ReportKind::Revenue(g), Range::default()).await.unwrap();
        let totals = r.totals();
        assert_eq!(totals[0], Decimal::from(60), "{g:?}");
        assert_eq!(totals[1], expected_sales, "{g:?}");
        assert_eq!(totals[3], expected_refunds, "{g:?}");
        assert_eq!(totals[4], expected_sales - expected_refunds, "{g:?}");
    }
    let csv = reports::query(&mut conn, ReportKind::Revenue(Grouping::Plan), Range::default())
        .await
        .unwrap()
        .to_csv();
    assert!(
        csv.starts_with("plan,sales_count,sales_total,refunds_count,refunds_total,net\r\n"),
        "{csv}"
    );
    assert!(csv.contains("\r\nQuarterly,30,7499985,"), "{csv}");
    drop(conn);
    w.audit_is_clean().await;
    assert!(projections::audit::audit(&w.db.pool).await.unwrap().report_figures > 100);

    // A sale and a seller's balance changed by hand: the audit names both.
    sqlx::query("UPDATE sales SET amount = amount + 1 WHERE ctid = (SELECT ctid FROM sales LIMIT 1)")
        .execute(&w.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE seller_balances SET available = available + 0.1 WHERE seller = $1")
        .bind(SELLER.0)
        .execute(&w.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE commissions SET reversed = 0, status = 'pending' WHERE status = 'reversed'")
        .execute(&w.db.pool)
        .await
        .unwrap();
    let report = projections::audit::audit(&w.db.pool).await.unwrap();
    let text = report.mismatches.join("\n");
    assert!(text.contains("report revenue by plan"), "{text}");
    assert!(text.contains("commissions: "), "{text}");
    assert!(text.contains("report outstanding commissions"), "{text}");
    w.db.drop_database().await.unwrap();
}

/// The commerce consumer and the process manager through NATS JetStream,
/// the consumer killed (task abort) several times while customers buy: every
/// sale is recorded once, every commission and award given once.
#[tokio::test]
async fn the_commerce_consumer_killed_mid_stream_through_nats_records_everything_once() {
    use workers::{run_consumer, Feed, NatsConfig, NatsFeed, ProcessManager, Relay, Shutdown};
    let w = world().await;
    let config = NatsConfig {
        url: std::env::var("MRJ_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into()),
        prefix: format!("t{}", Uuid::new_v4().simple()),
    };
    let nats = NatsFeed::connect(config, w.db.pool.clone()).await.unwrap();
    let feed: Arc<dyn Feed> = Arc::new(nats.clone());
    let (stop, shutdown) = Shutdown::new();
    let relay = Relay::new(w.db.pool.clone(), nats.clone());
    let relay = {
        let s = shutdown.clone();
        tokio::spawn(async move { relay.run_until_stopped(s).await.unwrap() })
    };
    let pm = tokio::spawn(run_consumer(
        feed.clone(),
        Arc::new(ProcessManager { commands: w.cmd.clone() }),
        shutdown.clone(),
    ));
    let start_commerce = || {
        tokio::spawn(run_consumer(
            feed.clone(),
            Arc::new(CommerceConsumer { commands: w.cmd.clone() }),
            shutdown.clone(),
        ))
    };
    let mut commerce = start_commerce();
    let buyers: Vec<CustomerId> = (0..24).map(|i| CustomerId(6_000 + i)).collect();
    let t = Utc::now() - Duration::hours(2);
    for (i, b) in buyers.iter().enumerate() {
        let referrer = (i % 2 == 0).then_some(SELLER);
        w.cmd.register_customer(*b, None, Language::Fa, referrer, t).await.unwrap();
        w.cmd
            .adjust_wallet(&w.admin, *b, Decimal::from(300_000), "cash".into(), t)
            .await
            .unwrap();
    }
    for (i, b) in buyers.iter().enumerate() {
        let me = w.cmd.actor(*b).await.unwrap();
        // Only the order: the process manager pays it from the events.
        w.cmd.request_purchase(&me, *b, w.plan, &france(), Uuid::new_v4(), t).await.unwrap();
        if i % 6 == 5 {
            commerce.abort();
            let _ = commerce.await;
            commerce = start_commerce();
        }
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let head = eventstore::head(&w.db.pool).await.unwrap();
        let done = eventstore::checkpoint(&w.db.pool, "commerce").await.unwrap();
        let pm_done = eventstore::checkpoint(&w.db.pool, "process_manager").await.unwrap();
        if done == head && pm_done == head && w.count("ChargeSettled").await == 24 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "commerce at {done}, pm at {pm_done}, head {head}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    for task in [relay, pm, commerce] {
        let _ = task.await;
    }
    assert_eq!(w.count("SaleRecorded").await, 24);
    assert_eq!(w.count("CommissionEarned").await, 12);
    let purchase_points: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE event_type = 'PointsEarned' \
         AND payload -> 'PointsEarned' -> 'reason' ->> 'kind' = 'purchase'",
    )
    .fetch_one(&w.db.pool)
    .await
    .unwrap();
    assert_eq!(purchase_points, 24);
    w.audit_is_clean().await;
    assert_eq!(balance(&w.db.pool, SELLER).await.0, Decimal::from(120_000));
    w.db.drop_database().await.unwrap();
}
