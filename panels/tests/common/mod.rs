//! A shop with panels on the real PostgreSQL, and fake 3x-UI panels on 127.0.0.1.
#![allow(dead_code)]
use std::time::Duration;

use chrono::{DateTime, Utc};
use commands::{Commands, PurchaseOutcome};
use domain::access::Actor;
use domain::panel::{PanelCredentials, PanelSpec};
use domain::plan::PlanSpec;
use domain::subscription::SubscriptionEvent;
use domain::{CustomerId, Language, Location, Toman};
use eventstore::testing::TestDb;
use panels::{Directory, Ensured, Provisioner, ProvisionerConsumer};
use rust_decimal::Decimal;
use secrets::SecretKey;
use uuid::Uuid;
use workers::Consumer;
use xui::ClientOptions;
use xui_fake::{FakeConfig, FakePanel};

pub const BRAND: &str = "MoonVpn";

pub struct Shop {
    pub db: TestDb,
    pub cmd: Commands,
    pub key: SecretKey,
    pub provisioner: Provisioner,
    pub plan: Uuid,
}

pub fn options() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        attempts: 2,
        backoff: Duration::from_millis(20),
    }
}

impl Shop {
    pub async fn new() -> Shop {
        let db = TestDb::new().await.unwrap();
        // The number of panels is licensed (issue 7): the test shop holds a
        // license from a throwaway vendor for more panels than any test adds.
        let (vendor, verifier) = licensing::testing::vendor();
        let cmd = Commands::new(db.pool.clone()).with_license_verifier(verifier);
        let license = vendor.issue(&licensing::testing::claims(100)).unwrap();
        cmd.install_license(&Actor::System, &license, Utc::now()).await.unwrap();
        let key = SecretKey::from_passphrase("test passphrase for panels").unwrap();
        let directory = Directory::new(cmd.clone(), key.clone(), options());
        let provisioner = Provisioner {
            directory,
            brand: BRAND.into(),
        };
        let plan = cmd
            .create_plan(
                &Actor::System,
                PlanSpec {
                    name: "Monthly 50GB".into(),
                    duration_days: 30,
                    traffic_gb: 50,
                    price: Toman::from_int(100_000).unwrap(),
                    locations: vec![loc("France"), loc("Germany")],
                },
                Utc::now(),
            )
            .await
            .unwrap();
        let shop = Shop {
            db,
            cmd,
            key,
            provisioner,
            plan,
        };
        shop.project().await;
        shop
    }

    pub async fn drop(self) {
        self.db.drop_database().await.unwrap();
    }

    /// Brings every read model up to the store's head.
    pub async fn project(&self) {
        for p in projections::all() {
            projections::catch_up(&self.db.pool, p.as_ref(), 1000).await.unwrap();
        }
    }

    pub async fn add_panel(&self, fake: &FakePanel, cfg: &FakeConfig, name: &str, location: &str, capacity: u32) -> Uuid {
        let inbound = fake.add_vless_reality_inbound(443, name);
        let id = self
            .cmd
            .register_panel(
                &Actor::System,
                PanelSpec {
                    name: name.into(),
                    location: loc(location),
                    base_url: fake.base_url(),
                    sub_base_url: fake.sub_base_url(),
                    public_host: "127.0.0.1".into(),
                    inbound_ids: vec![inbound],
                    capacity,
                },
                PanelCredentials::Password {
                    username: cfg.username.clone(),
                    password_encrypted: self.key.encrypt(&cfg.password),
                },
                Utc::now(),
            )
            .await
            .unwrap();
        self.project().await;
        id
    }

    pub async fn customer(&self, id: i64) -> CustomerId {
        let c = CustomerId(id);
        self.cmd.register_customer(c, None, Language::En, None, Utc::now()).await.unwrap();
        self.cmd
            .adjust_wallet(&Actor::System, c, Decimal::from(1_000_000), "test money".into(), Utc::now())
            .await
            .unwrap();
        c
    }

    pub async fn buy(&self, customer: CustomerId, location: &str) -> Uuid {
        let id = Uuid::new_v4();
        let out = self
            .cmd
            .purchase_plan(&Actor::user(customer, []), customer, self.plan, &loc(location), id, Utc::now())
            .await
            .unwrap();
        assert!(matches!(out, PurchaseOutcome::Active { .. }), "{out:?}");
        self.project().await;
        id
    }

    pub fn consumer(&self) -> ProvisionerConsumer {
        ProvisionerConsumer {
            provisioner: self.provisioner.clone(),
            concurrency: 4,
        }
    }

    /// Runs the provisioner over every event after its checkpoint, then projects.
    pub async fn provision(&self) {
        let consumer = self.consumer();
        loop {
            let from = consumer.checkpoint().await.unwrap();
            let events = eventstore::read_after(&self.db.pool, from, 500).await.unwrap();
            if events.is_empty() {
                break;
            }
            consumer.handle(&events).await.unwrap();
        }
        self.project().await;
    }

    pub async fn ensure(&self, sub: Uuid) -> Ensured {
        let r = self.provisioner.ensure(sub).await.unwrap();
        self.project().await;
        r
    }

    pub async fn events(&self, sub: Uuid) -> Vec<SubscriptionEvent> {
        eventstore::read_aggregate(&self.db.pool, "Subscription", &sub.to_string())
            .await
            .unwrap()
            .into_iter()
            .map(|e| serde_json::from_value(e.payload).unwrap())
            .collect()
    }

    pub async fn at(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

pub fn loc(s: &str) -> Location {
    Location::parse(s).unwrap()
}

pub fn count<F: Fn(&SubscriptionEvent) -> bool>(events: &[SubscriptionEvent], f: F) -> usize {
    events.iter().filter(|e| f(e)).count()
}
