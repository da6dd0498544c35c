//! Commission and points arithmetic over 10,000 generated sales with
//! refunds, releases and withdrawals, through the aggregates themselves:
//! every total the accounts hold equals the sum of their events, and the
//! sum of the events equals what the rates give, to the last rial.
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use domain::commission::{round_to_rial, CommissionRate, SaleRef, SellerAccount, SellerCommand, SellerEvent};
use domain::points::{PointsAccount, PointsCommand, PointsEvent, PointsReason, PointsRules, Reward};
use domain::{Actor, CardNumber, CustomerId, Permission, Toman};
use rust_decimal::Decimal;
use uuid::Uuid;

/// A small deterministic generator (no dependency, same sequence every run).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

async fn run<A: Aggregate<Services = ()>>(agg: &mut A, cmd: A::Command) -> Result<Vec<A::Event>, A::Error> {
    let sink = EventSink::<A>::default();
    agg.handle(cmd, &(), &sink).await?;
    // `sink.write` has applied each event to `agg` already.
    Ok(sink.collect().await)
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

#[tokio::test]
async fn ten_thousand_sales_with_refunds_add_up_to_the_rial() {
    const SALES: usize = 10_000;
    const SELLERS: i64 = 25;
    const WINDOW_HOURS: u32 = 72;
    let mut rng = Lcg(0x6d726a_626f74);
    let rules = PointsRules::default();
    let mut sellers: BTreeMap<i64, SellerAccount> = BTreeMap::new();
    let mut points: BTreeMap<i64, PointsAccount> = BTreeMap::new();
    let mut seller_events: Vec<SellerEvent> = Vec::new();
    let mut points_events: Vec<PointsEvent> = Vec::new();
    // What the rates give, computed here independently of the domain.
    let mut expected_commission = Decimal::ZERO;
    let mut expected_reversed = Decimal::ZERO;
    let mut expected_points: u64 = 0;
    let mut refunds = 0;
    let card = CardNumber::parse("6037997599999993").unwrap();

    for i in 0..SALES {
        let at = t0() + Duration::minutes(10 * i as i64);
        let seller = 1_000 + rng.below(SELLERS as u64) as i64;
        let buyer = 10_000 + rng.below(3_000) as i64;
        // 10,000.0 to 2,000,000.0 Toman, to the rial.
        let amount = Toman::new(Decimal::new(100_000 + rng.below(19_900_000) as i64, 1)).unwrap();
        let rate = if rng.below(4) == 0 {
            CommissionRate::Fixed {
                amount: Toman::new(Decimal::new(1 + rng.below(500_000) as i64, 1)).unwrap(),
            }
        } else {
            CommissionRate::Percent {
                percent: Decimal::new(1 + rng.below(10_000) as i64, 2),
            }
        };
        let expected = match rate {
            CommissionRate::Percent { percent } => round_to_rial(amount.value() * percent / Decimal::ONE_HUNDRED),
            CommissionRate::Fixed { amount: f } => f.value().min(amount.value()),
        };
        expected_commission += expected;
        let sub = Uuid::from_u128(i as u128 + 1);
        let account = sellers.entry(seller).or_default();
        let earned = run(
            account,
            SellerCommand::EarnCommission {
                seller: CustomerId(seller),
                sale: SaleRef {
                    subscription_id: sub,
                    charge_no: 1,
                    customer: CustomerId(buyer),
                    plan_id: Uuid::nil(),
                    amount,
                    at,
                },
                rate,
                refund_window_hours: WINDOW_HOURS,
                at,
            },
        )
        .await
        .unwrap();
        match earned.as_slice() {
            [SellerEvent::CommissionEarned { commission, .. }] => assert_eq!(commission.value(), expected),
            [] => assert!(expected.is_zero()),
            other => panic!("unexpected {other:?}"),
        }
        seller_events.extend(earned);

        let p = rules.purchase_points(amount);
        expected_points += p;
        let wallet = points.entry(buyer).or_default();
        if p > 0 {
            let reason = PointsReason::Purchase {
                subscription_id: sub,
                charge_no: 1,
                spent: amount,
            };
            points_events.extend(
                run(
                    wallet,
                    PointsCommand::Earn {
                        customer: CustomerId(buyer),
                        points: p,
                        reference: reason.reference(),
                        reason,
                        expires_at: at + Duration::days(30),
                        by: Actor::System,
                        at,
                    },
                )
                .await
                .unwrap(),
            );
        }

        // About 30% refunded, some inside the window, some after; a third partially.
        if rng.below(10) < 3 {
            refunds += 1;
            let later = at + Duration::hours(rng.below(2 * u64::from(WINDOW_HOURS)) as i64);
            let refund = if rng.below(3) == 0 {
                Toman::new(round_to_rial(amount.value() * Decimal::new(rng.below(1000) as i64, 3))).unwrap()
            } else {
                amount
            };
            // Releases that fell due before the refund are recorded first, as the scheduler would.
            let account = sellers.get_mut(&seller).unwrap();
            seller_events.extend(run(account, SellerCommand::ReleaseDue { now: later }).await.unwrap());
            let reversed = run(
                account,
                SellerCommand::ReverseForRefund {
                    subscription_id: sub,
                    refund,
                    paid: amount,
                    at: later,
                },
            )
            .await
            .unwrap();
            if later < at + Duration::hours(i64::from(WINDOW_HOURS)) && !refund.is_zero() {
                let share = if refund >= amount {
                    expected
                } else {
                    round_to_rial(expected * refund.value() / amount.value())
                };
                let got: Decimal = reversed
                    .iter()
                    .map(|e| match e {
                        SellerEvent::CommissionReversed { amount, .. } => amount.value(),
                        _ => Decimal::ZERO,
                    })
                    .sum();
                assert_eq!(got, share, "sale {i}: reversal inside the window");
                expected_reversed += share;
            } else {
                assert!(reversed.is_empty(), "sale {i}: nothing is reversed after the window");
            }
            seller_events.extend(reversed);
            let wallet = points.get_mut(&buyer).unwrap();
            points_events.extend(
                run(
                    wallet,
                    PointsCommand::ClawBack {
                        subscription_id: sub,
                        refund,
                        paid: amount,
                        at: later,
                    },
                )
                .await
                .unwrap(),
            );
        }

        // Now and then a seller withdraws, an admin pays or rejects; a buyer redeems.
        if i % 97 == 0 {
            let account = sellers.get_mut(&seller).unwrap();
            seller_events.extend(run(account, SellerCommand::ReleaseDue { now: at }).await.unwrap());
            let available = account.balance.available;
            if available >= Toman::from_int(50_000).unwrap() {
                let id = Uuid::from_u128(1_000_000 + i as u128);
                let by = Actor::user(CustomerId(seller), [Permission::Sell]);
                seller_events.extend(
                    run(
                        account,
                        SellerCommand::RequestWithdrawal {
                            withdrawal_id: id,
                            seller: CustomerId(seller),
                            amount: available,
                            card: card.clone(),
                            holder: "Seller".into(),
                            minimum: Toman::from_int(50_000).unwrap(),
                            by,
                            at,
                        },
                    )
                    .await
                    .unwrap(),
                );
                let admin = Actor::user(CustomerId(1), Permission::ALL);
                if rng.below(4) == 0 {
                    seller_events.extend(
                        run(
                            account,
                            SellerCommand::RejectWithdrawal {
                                withdrawal_id: id,
                                reason: "wrong card".into(),
                                by: admin,
                                at,
                            },
                        )
                        .await
                        .unwrap(),
                    );
                } else {
                    seller_events.extend(
                        run(
                            account,
                            SellerCommand::ApproveWithdrawal {
                                withdrawal_id: id,
                                by: admin.clone(),
                                at,
                            },
                        )
                        .await
                        .unwrap(),
                    );
                    seller_events.extend(
                        run(
                            account,
                            SellerCommand::PayWithdrawal {
                                withdrawal_id: id,
                                bank_reference: format!("T{i}"),
                                by: admin,
                                at,
                            },
                        )
                        .await
                        .unwrap(),
                    );
                }
            }
            let wallet = points.get_mut(&buyer).unwrap();
            if wallet.balance >= 10 {
                let gb = (wallet.balance / 20).clamp(1, 50) as u32;
                let redeemed = run(
                    wallet,
                    PointsCommand::Redeem {
                        customer: CustomerId(buyer),
                        redemption_id: Uuid::from_u128(2_000_000 + i as u128),
                        reward: Reward::Traffic { subscription_id: sub, gb },
                        rules: rules.clone(),
                        by: Actor::user(CustomerId(buyer), []),
                        at,
                    },
                )
                .await;
                if let Ok(events) = redeemed {
                    points_events.extend(events);
                }
            }
        }
    }
    // The end of time: everything released, every lot expired.
    let end = t0() + Duration::days(3650);
    for account in sellers.values_mut() {
        seller_events.extend(run(account, SellerCommand::ReleaseDue { now: end }).await.unwrap());
    }
    for wallet in points.values_mut() {
        points_events.extend(run(wallet, PointsCommand::ExpireDue { now: end }).await.unwrap());
    }
    assert!(refunds > 2_500, "the generator refunds about 30% ({refunds})");

    // Commissions: the events sum to what the rates give, and every account's
    // balance is the sum of its events, with nothing negative.
    let sum = |f: &dyn Fn(&SellerEvent) -> Option<Decimal>| seller_events.iter().filter_map(f).sum::<Decimal>();
    let earned = sum(&|e| match e {
        SellerEvent::CommissionEarned { commission, .. } => Some(commission.value()),
        _ => None,
    });
    let reversed = sum(&|e| match e {
        SellerEvent::CommissionReversed { amount, .. } => Some(amount.value()),
        _ => None,
    });
    let paid = sum(&|e| match e {
        SellerEvent::WithdrawalPaid { amount, .. } => Some(amount.value()),
        _ => None,
    });
    assert_eq!(earned, expected_commission);
    assert_eq!(reversed, expected_reversed);
    let mut held = Decimal::ZERO;
    let mut paid_out = Decimal::ZERO;
    for account in sellers.values() {
        let b = account.balance;
        let open: Vec<_> = account
            .commissions
            .iter()
            .filter(|(_, c)| !c.released)
            .map(|(k, c)| (k.1, c.clone()))
            .take(3)
            .collect();
        assert!(b.pending.is_zero(), "everything is released at the end: {b:?} {open:?}");
        assert!(b.reserved.is_zero(), "every withdrawal was decided");
        held += b.available.value() + b.paid_out.value();
        paid_out += b.paid_out.value();
    }
    assert_eq!(held, earned - reversed, "balances = earned - reversed, to the rial");
    assert_eq!(paid_out, paid);
    assert!(paid > Decimal::ZERO && reversed > Decimal::ZERO);

    // Points: earned = what the rules give; balance = earned - redeemed - expired - clawed back.
    let mut totals = [0u64; 4];
    for e in &points_events {
        match e {
            PointsEvent::PointsEarned { points, .. } => totals[0] += points,
            PointsEvent::PointsRedeemed { points, .. } => totals[1] += points,
            PointsEvent::PointsRedemptionCancelled { points, .. } => totals[1] -= points,
            PointsEvent::PointsExpired { points, .. } => totals[2] += points,
            PointsEvent::PointsClawedBack { points, .. } => totals[3] += points,
        }
    }
    assert_eq!(totals[0], expected_points);
    let balances: u64 = points.values().map(|w| w.balance).sum();
    assert_eq!(balances, 0, "everything expired at the end");
    assert_eq!(totals[0], totals[1] + totals[2] + totals[3]);
    assert!(totals[1] > 0 && totals[2] > 0 && totals[3] > 0);
}
