//! Staff accounts through the command path, on the real PostgreSQL.
use chrono::Utc;
use commands::{CommandError, Commands};
use domain::access::{Actor, RoleName};
use domain::staff::StaffError;
use domain::{CustomerId, Language};
use eventstore::testing::TestDb;

const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

#[tokio::test]
async fn only_a_registered_unblocked_role_holder_gets_a_staff_account() {
    let db = TestDb::new().await.unwrap();
    let cmd = Commands::new(db.pool.clone());
    let now = Utc::now();
    let (admin, clerk) = (CustomerId(1), CustomerId(2));

    // Not a customer at all.
    let e = cmd.create_staff_account(&Actor::System, clerk, HASH.into(), now).await.unwrap_err();
    assert!(matches!(e, CommandError::NotFound("customer")), "{e:?}");

    // A customer without a role.
    cmd.register_customer(clerk, None, Language::Fa, None, now).await.unwrap();
    let e = cmd.create_staff_account(&Actor::System, clerk, HASH.into(), now).await.unwrap_err();
    assert!(matches!(e, CommandError::Staff(StaffError::NoRoles)), "{e:?}");

    // With a role, created once, by someone allowed to manage users.
    cmd.grant_role(&Actor::System, clerk, RoleName::ReceiptAdmin, now).await.unwrap();
    let clerk_actor = cmd.actor(clerk).await.unwrap();
    let e = cmd.create_staff_account(&clerk_actor, clerk, HASH.into(), now).await.unwrap_err();
    assert!(matches!(e, CommandError::Staff(StaffError::Denied(_))), "{e:?}");
    cmd.register_customer(admin, None, Language::En, None, now).await.unwrap();
    cmd.grant_role(&Actor::System, admin, RoleName::Admin, now).await.unwrap();
    let admin_actor = cmd.actor(admin).await.unwrap();
    cmd.create_staff_account(&admin_actor, clerk, HASH.into(), now).await.unwrap();
    let e = cmd.create_staff_account(&admin_actor, clerk, HASH.into(), now).await.unwrap_err();
    assert!(matches!(e, CommandError::Staff(StaffError::AlreadyExists)), "{e:?}");
    let account = cmd.staff_account(clerk).await.unwrap();
    assert_eq!(account.password_hash, HASH);
    assert!(!account.suspended);

    // A blocked customer cannot be given one.
    let other = CustomerId(3);
    cmd.register_customer(other, None, Language::Fa, None, now).await.unwrap();
    cmd.grant_role(&Actor::System, other, RoleName::Seller, now).await.unwrap();
    cmd.block_customer(&admin_actor, other, "fraud".into(), now).await.unwrap();
    let e = cmd.create_staff_account(&Actor::System, other, HASH.into(), now).await.unwrap_err();
    assert!(matches!(e, CommandError::Blocked(_)), "{e:?}");
    assert!(matches!(cmd.staff_account(other).await, Err(CommandError::NotFound(_))));

    db.drop_database().await.unwrap();
}
