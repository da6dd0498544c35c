//! Inline-button payloads. Each button carries a typed [`Action`] encoded in
//! a few bytes and an HMAC-SHA256 tag (truncated to 64 bits) over the action
//! **and the id of the person it was shown to**, with a key derived from
//! `MRJ_SECRET_KEY`. A person cannot make a valid button for an action the
//! bot never offered them, nor reuse another person's button; the handlers
//! still check permissions and ownership on every click.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// Every button the bot shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Menu,
    Help,
    SetLanguage(domain::Language),
    LanguageMenu,
    Locations,
    /// A location, by the first 8 bytes of the SHA-256 of its name.
    Location([u8; 8]),
    Plan {
        plan: Uuid,
        location: [u8; 8],
    },
    PayWallet {
        plan: Uuid,
        location: [u8; 8],
    },
    /// Confirmed purchase; `nonce` names the subscription, so a second click buys nothing more.
    ConfirmBuy {
        plan: Uuid,
        location: [u8; 8],
        nonce: [u8; 8],
    },
    PayCard {
        plan: Uuid,
        location: [u8; 8],
    },
    Wallet,
    TopUp,
    /// A top-up of this many thousand Toman.
    TopUpAmount(u32),
    Transactions(u16),
    Subscriptions,
    Subscription(Uuid),
    Qr(Uuid),
    Renew(Uuid),
    ConfirmRenew {
        subscription: Uuid,
        nonce: [u8; 8],
    },
    Payments,
    SendReceipt(Uuid),
    Profile,
    Cancel,
    // ---- staff
    AdminMenu,
    Queue,
    Approve(Uuid),
    Reject(Uuid),
    RejectWith {
        payment: Uuid,
        reason: u8,
    },
    Users,
    User(i64),
    Block(i64),
    Unblock(i64),
    GrantMenu(i64),
    Grant {
        user: i64,
        role: u8,
    },
    RevokeMenu(i64),
    Revoke {
        user: i64,
        role: u8,
    },
    Adjust(i64),
    AdminSubs,
    CancelSub {
        subscription: Uuid,
        refund: bool,
    },
    Settings,
    PlanPrice(Uuid),
    PlanRetire(Uuid),
    Cards,
    CardRetire(Uuid),
    Stats,
    Reports(u8),
    Servers,
    Broadcast,
    License,
    /// Switch a feature to this state (an explicit state, not a flip, so a
    /// repeated or stale press changes nothing more).
    FeatureSet {
        feature: domain::features::Feature,
        enabled: bool,
    },
    /// Live chat and broadcasts (see `handlers::ops`).
    Ops(crate::handlers::ops::OpsAction),
    // ---- sellers: withdrawals (see `handlers::withdraw`)
    Withdraw,
    WithdrawStart,
    /// Pay the withdrawal being asked for to this card (16 digits), used before.
    WithdrawTo(u64),
    /// Confirmed request; `nonce` names the withdrawal, so a second click asks for nothing more.
    ConfirmWithdraw {
        nonce: [u8; 8],
    },
    // ---- staff: withdrawals
    Withdrawals,
    WithdrawalApprove(Uuid),
    WithdrawalReject(Uuid),
    WithdrawalPay(Uuid),
    // ---- customers: points (see `handlers::commerce`)
    Points,
    RedeemMenu,
    RedeemPick(Reward),
    /// Confirmed redemption; `nonce` names it, so a second click spends nothing more.
    ConfirmRedeem {
        reward: Reward,
        nonce: [u8; 8],
    },
}

/// A reward offered for points, as a button carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reward {
    /// A personal discount code worth this many Toman.
    Discount(u32),
    Vip,
    Days {
        subscription: Uuid,
        days: u16,
    },
    Traffic {
        subscription: Uuid,
        gb: u16,
    },
}

impl Reward {
    fn write(&self, w: Writer) -> Writer {
        match *self {
            Reward::Discount(t) => w.u8(0).u32(t),
            Reward::Vip => w.u8(1),
            Reward::Days { subscription, days } => w.u8(2).uuid(&subscription).u16(days),
            Reward::Traffic { subscription, gb } => w.u8(3).uuid(&subscription).u16(gb),
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Reward, CallbackError> {
        Ok(match r.u8()? {
            0 => Reward::Discount(r.u32()?),
            1 => Reward::Vip,
            2 => Reward::Days {
                subscription: r.uuid()?,
                days: r.u16()?,
            },
            3 => Reward::Traffic {
                subscription: r.uuid()?,
                gb: r.u16()?,
            },
            _ => return Err(CallbackError::Malformed),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("callback data is not a button this bot made")]
    Malformed,
    #[error("callback data was not made for this user")]
    BadSignature,
}

struct Writer(Vec<u8>);

impl Writer {
    fn tag(t: u8) -> Writer {
        Writer(vec![t])
    }
    fn uuid(mut self, u: &Uuid) -> Self {
        self.0.extend_from_slice(u.as_bytes());
        self
    }
    fn b8(mut self, b: &[u8; 8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    fn i64(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], CallbackError> {
        if self.0.len() < n {
            return Err(CallbackError::Malformed);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn uuid(&mut self) -> Result<Uuid, CallbackError> {
        Uuid::from_slice(self.take(16)?).map_err(|_| CallbackError::Malformed)
    }
    fn b8(&mut self) -> Result<[u8; 8], CallbackError> {
        Ok(self.take(8)?.try_into().expect("8 bytes"))
    }
    fn i64(&mut self) -> Result<i64, CallbackError> {
        Ok(i64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn u64(&mut self) -> Result<u64, CallbackError> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn u32(&mut self) -> Result<u32, CallbackError> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn u16(&mut self) -> Result<u16, CallbackError> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }
    fn u8(&mut self) -> Result<u8, CallbackError> {
        Ok(self.take(1)?[0])
    }
    fn end(self) -> Result<(), CallbackError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(CallbackError::Malformed)
        }
    }
}

impl Action {
    fn encode(&self) -> Vec<u8> {
        use Action as A;
        let w = match self {
            A::Menu => Writer::tag(1),
            A::Help => Writer::tag(2),
            A::SetLanguage(l) => Writer::tag(3).u8(matches!(l, domain::Language::En) as u8),
            A::LanguageMenu => Writer::tag(4),
            A::Locations => Writer::tag(5),
            A::Location(h) => Writer::tag(6).b8(h),
            A::Plan { plan, location } => Writer::tag(7).uuid(plan).b8(location),
            A::PayWallet { plan, location } => Writer::tag(8).uuid(plan).b8(location),
            A::ConfirmBuy { plan, location, nonce } => Writer::tag(9).uuid(plan).b8(location).b8(nonce),
            A::PayCard { plan, location } => Writer::tag(10).uuid(plan).b8(location),
            A::Wallet => Writer::tag(11),
            A::TopUp => Writer::tag(12),
            A::TopUpAmount(k) => Writer::tag(13).u32(*k),
            A::Transactions(p) => Writer::tag(14).u16(*p),
            A::Subscriptions => Writer::tag(15),
            A::Subscription(s) => Writer::tag(16).uuid(s),
            A::Qr(s) => Writer::tag(17).uuid(s),
            A::Renew(s) => Writer::tag(18).uuid(s),
            A::ConfirmRenew { subscription, nonce } => Writer::tag(19).uuid(subscription).b8(nonce),
            A::Payments => Writer::tag(20),
            A::SendReceipt(p) => Writer::tag(21).uuid(p),
            A::Profile => Writer::tag(22),
            A::Cancel => Writer::tag(23),
            A::AdminMenu => Writer::tag(40),
            A::Queue => Writer::tag(41),
            A::Approve(p) => Writer::tag(42).uuid(p),
            A::Reject(p) => Writer::tag(43).uuid(p),
            A::RejectWith { payment, reason } => Writer::tag(44).uuid(payment).u8(*reason),
            A::Users => Writer::tag(45),
            A::User(u) => Writer::tag(46).i64(*u),
            A::Block(u) => Writer::tag(47).i64(*u),
            A::Unblock(u) => Writer::tag(48).i64(*u),
            A::GrantMenu(u) => Writer::tag(49).i64(*u),
            A::Grant { user, role } => Writer::tag(50).i64(*user).u8(*role),
            A::RevokeMenu(u) => Writer::tag(51).i64(*u),
            A::Revoke { user, role } => Writer::tag(52).i64(*user).u8(*role),
            A::Adjust(u) => Writer::tag(53).i64(*u),
            A::AdminSubs => Writer::tag(54),
            A::CancelSub { subscription, refund } => Writer::tag(55).uuid(subscription).u8(*refund as u8),
            A::Settings => Writer::tag(56),
            A::PlanPrice(p) => Writer::tag(57).uuid(p),
            A::PlanRetire(p) => Writer::tag(58).uuid(p),
            A::Cards => Writer::tag(59),
            A::CardRetire(c) => Writer::tag(60).uuid(c),
            A::Stats => Writer::tag(61),
            A::Reports(d) => Writer::tag(62).u8(*d),
            A::Servers => Writer::tag(63),
            A::Broadcast => Writer::tag(64),
            A::License => Writer::tag(65),
            A::FeatureSet { feature, enabled } => Writer::tag(66).u8(feature_index(*feature)).u8(*enabled as u8),
            A::Withdraw => Writer::tag(80),
            A::WithdrawStart => Writer::tag(81),
            A::WithdrawTo(card) => Writer::tag(82).u64(*card),
            A::ConfirmWithdraw { nonce } => Writer::tag(83).b8(nonce),
            A::Withdrawals => Writer::tag(84),
            A::WithdrawalApprove(w) => Writer::tag(85).uuid(w),
            A::WithdrawalReject(w) => Writer::tag(86).uuid(w),
            A::WithdrawalPay(w) => Writer::tag(87).uuid(w),
            A::Points => Writer::tag(90),
            A::RedeemMenu => Writer::tag(91),
            A::RedeemPick(r) => r.write(Writer::tag(92)),
            A::ConfirmRedeem { reward, nonce } => reward.write(Writer::tag(93)).b8(nonce),
            A::Ops(o) => {
                let mut w = Writer::tag(70);
                w.0.extend(o.encode());
                w
            }
        };
        w.0
    }

    fn decode(bytes: &[u8]) -> Result<Action, CallbackError> {
        use Action as A;
        let (&tag, rest) = bytes.split_first().ok_or(CallbackError::Malformed)?;
        let mut r = Reader(rest);
        let action = match tag {
            1 => A::Menu,
            2 => A::Help,
            3 => A::SetLanguage(if r.u8()? == 1 { domain::Language::En } else { domain::Language::Fa }),
            4 => A::LanguageMenu,
            5 => A::Locations,
            6 => A::Location(r.b8()?),
            7 => A::Plan {
                plan: r.uuid()?,
                location: r.b8()?,
            },
            8 => A::PayWallet {
                plan: r.uuid()?,
                location: r.b8()?,
            },
            9 => A::ConfirmBuy {
                plan: r.uuid()?,
                location: r.b8()?,
                nonce: r.b8()?,
            },
            10 => A::PayCard {
                plan: r.uuid()?,
                location: r.b8()?,
            },
            11 => A::Wallet,
            12 => A::TopUp,
            13 => A::TopUpAmount(r.u32()?),
            14 => A::Transactions(r.u16()?),
            15 => A::Subscriptions,
            16 => A::Subscription(r.uuid()?),
            17 => A::Qr(r.uuid()?),
            18 => A::Renew(r.uuid()?),
            19 => A::ConfirmRenew {
                subscription: r.uuid()?,
                nonce: r.b8()?,
            },
            20 => A::Payments,
            21 => A::SendReceipt(r.uuid()?),
            22 => A::Profile,
            23 => A::Cancel,
            40 => A::AdminMenu,
            41 => A::Queue,
            42 => A::Approve(r.uuid()?),
            43 => A::Reject(r.uuid()?),
            44 => A::RejectWith {
                payment: r.uuid()?,
                reason: r.u8()?,
            },
            45 => A::Users,
            46 => A::User(r.i64()?),
            47 => A::Block(r.i64()?),
            48 => A::Unblock(r.i64()?),
            49 => A::GrantMenu(r.i64()?),
            50 => A::Grant {
                user: r.i64()?,
                role: r.u8()?,
            },
            51 => A::RevokeMenu(r.i64()?),
            52 => A::Revoke {
                user: r.i64()?,
                role: r.u8()?,
            },
            53 => A::Adjust(r.i64()?),
            54 => A::AdminSubs,
            55 => A::CancelSub {
                subscription: r.uuid()?,
                refund: r.u8()? == 1,
            },
            56 => A::Settings,
            57 => A::PlanPrice(r.uuid()?),
            58 => A::PlanRetire(r.uuid()?),
            59 => A::Cards,
            60 => A::CardRetire(r.uuid()?),
            61 => A::Stats,
            62 => A::Reports(r.u8()?),
            63 => A::Servers,
            64 => A::Broadcast,
            65 => A::License,
            66 => A::FeatureSet {
                feature: *domain::features::Feature::ALL
                    .get(usize::from(r.u8()?))
                    .ok_or(CallbackError::Malformed)?,
                enabled: match r.u8()? {
                    0 => false,
                    1 => true,
                    _ => return Err(CallbackError::Malformed),
                },
            },
            80 => A::Withdraw,
            81 => A::WithdrawStart,
            82 => A::WithdrawTo(r.u64()?),
            83 => A::ConfirmWithdraw { nonce: r.b8()? },
            84 => A::Withdrawals,
            85 => A::WithdrawalApprove(r.uuid()?),
            86 => A::WithdrawalReject(r.uuid()?),
            87 => A::WithdrawalPay(r.uuid()?),
            90 => A::Points,
            91 => A::RedeemMenu,
            92 => A::RedeemPick(Reward::read(&mut r)?),
            93 => A::ConfirmRedeem {
                reward: Reward::read(&mut r)?,
                nonce: r.b8()?,
            },
            70 => {
                let action = A::Ops(crate::handlers::ops::OpsAction::decode(r.0)?);
                r.0 = &[];
                action
            }
            _ => return Err(CallbackError::Malformed),
        };
        r.end()?;
        Ok(action)
    }
}

/// A feature's place in [`domain::features::Feature::ALL`] (one byte in a button).
fn feature_index(f: domain::features::Feature) -> u8 {
    domain::features::Feature::ALL
        .iter()
        .position(|x| *x == f)
        .expect("every feature is in ALL") as u8
}

const TAG_LEN: usize = 8;

/// Signs and verifies callback data.
#[derive(Clone)]
pub struct Signer {
    key: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(***)")
    }
}

impl Signer {
    /// Derives the callback key from the operator's secret, so it differs
    /// from every other key derived from the same secret.
    pub fn new(secret: &str) -> Signer {
        let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(b"mrjbot/telegram/callback-data/v1");
        Signer {
            key: mac.finalize().into_bytes().into(),
        }
    }

    fn tag(&self, user: i64, payload: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("32-byte key");
        mac.update(&user.to_be_bytes());
        mac.update(payload);
        mac.finalize().into_bytes()[..TAG_LEN].try_into().expect("8 bytes")
    }

    /// Callback data for `action`, valid only when `user` presses it (≤ 64 bytes).
    pub fn sign(&self, user: i64, action: &Action) -> String {
        let mut payload = action.encode();
        let tag = self.tag(user, &payload);
        payload.extend_from_slice(&tag);
        let data = URL_SAFE_NO_PAD.encode(payload);
        debug_assert!(data.len() <= 64, "callback data too long: {action:?}");
        data
    }

    /// The action `user` pressed, if the bot made this button for them.
    pub fn verify(&self, user: i64, data: &str) -> Result<Action, CallbackError> {
        let bytes = URL_SAFE_NO_PAD.decode(data).map_err(|_| CallbackError::Malformed)?;
        if bytes.len() <= TAG_LEN {
            return Err(CallbackError::Malformed);
        }
        let (payload, tag) = bytes.split_at(bytes.len() - TAG_LEN);
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("32-byte key");
        mac.update(&user.to_be_bytes());
        mac.update(payload);
        // Constant-time comparison of the truncated tag.
        mac.verify_truncated_left(tag).map_err(|_| CallbackError::BadSignature)?;
        Action::decode(payload)
    }
}

/// The 8-byte handle of a location name inside callback data.
pub fn location_handle(name: &str) -> [u8; 8] {
    use sha2::Digest;
    let digest = Sha256::digest(name.trim().to_lowercase().as_bytes());
    digest[..8].try_into().expect("8 bytes")
}

/// A fresh random nonce (from a v4 UUID's random bits).
pub fn nonce() -> [u8; 8] {
    Uuid::new_v4().as_bytes()[..8].try_into().expect("8 bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_actions() -> Vec<Action> {
        let u = Uuid::new_v4();
        let h = location_handle("France");
        vec![
            Action::Menu,
            Action::SetLanguage(domain::Language::En),
            Action::ConfirmBuy {
                plan: u,
                location: h,
                nonce: nonce(),
            },
            Action::CancelSub {
                subscription: u,
                refund: true,
            },
            Action::Grant { user: 77, role: 3 },
            Action::Transactions(12),
            Action::TopUpAmount(500),
            Action::RejectWith { payment: u, reason: 2 },
            Action::WithdrawTo(6037_9975_9999_9993),
            Action::ConfirmWithdraw { nonce: nonce() },
            Action::WithdrawalPay(u),
            Action::FeatureSet {
                feature: domain::features::Feature::Broadcasts,
                enabled: true,
            },
            Action::FeatureSet {
                feature: domain::features::Feature::Backups,
                enabled: false,
            },
            Action::RedeemPick(Reward::Discount(50_000)),
            Action::ConfirmRedeem {
                reward: Reward::Traffic { subscription: u, gb: 10 },
                nonce: nonce(),
            },
            Action::ConfirmRedeem {
                reward: Reward::Days {
                    subscription: u,
                    days: 365,
                },
                nonce: nonce(),
            },
            Action::ConfirmRedeem {
                reward: Reward::Vip,
                nonce: nonce(),
            },
        ]
    }

    #[test]
    fn actions_round_trip_and_fit_in_64_bytes() {
        let s = Signer::new("a secret of at least sixteen chars");
        for a in all_actions() {
            let data = s.sign(42, &a);
            assert!(data.len() <= 64, "{a:?} is {} bytes", data.len());
            assert_eq!(s.verify(42, &data).unwrap(), a);
        }
    }

    #[test]
    fn a_button_made_for_someone_else_or_with_another_key_is_refused() {
        let s = Signer::new("a secret of at least sixteen chars");
        let data = s.sign(42, &Action::Approve(Uuid::new_v4()));
        assert_eq!(s.verify(43, &data), Err(CallbackError::BadSignature));
        let other = Signer::new("another secret, also long enough");
        assert_eq!(other.verify(42, &data), Err(CallbackError::BadSignature));
        assert_eq!(s.verify(42, "not base64!"), Err(CallbackError::Malformed));
        // Flipping a payload bit breaks the tag.
        let mut bytes = URL_SAFE_NO_PAD.decode(&data).unwrap();
        bytes[3] ^= 1;
        assert_eq!(s.verify(42, &URL_SAFE_NO_PAD.encode(bytes)), Err(CallbackError::BadSignature));
    }
}
