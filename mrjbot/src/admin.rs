//! Operator commands run from the shell, as the trusted `System` actor.
use anyhow::{Context, Result};
use chrono::Utc;
use clap::Subcommand;
use commands::Commands;
use domain::access::{Actor, RoleName};
use domain::plan::PlanSpec;
use domain::{CardNumber, CustomerId, Language, Location, Toman};
use rust_decimal::Decimal;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Register a Telegram user (if needed) and make them an admin: how the first admin is made.
    CreateAdmin {
        #[arg(long)]
        telegram_id: i64,
        #[arg(long)]
        username: Option<String>,
        /// fa or en
        #[arg(long, default_value = "fa")]
        language: String,
    },
    /// Give a customer a role (built-in or custom).
    GrantRole {
        #[arg(long)]
        telegram_id: i64,
        #[arg(long)]
        role: String,
    },
    /// Take a role away.
    RevokeRole {
        #[arg(long)]
        telegram_id: i64,
        #[arg(long)]
        role: String,
    },
    /// Define a custom role from permission names (comma-separated).
    DefineRole {
        #[arg(long)]
        name: String,
        #[arg(long, value_delimiter = ',')]
        permissions: Vec<String>,
    },
    /// Approve a card-to-card payment as the operator.
    ApprovePayment {
        #[arg(long)]
        payment: Uuid,
    },
    /// Credit (positive) or debit (negative) a wallet, with a reason.
    AdjustWallet {
        #[arg(long)]
        telegram_id: i64,
        #[arg(long, allow_hyphen_values = true)]
        amount: Decimal,
        #[arg(long)]
        note: String,
    },
}

#[derive(Subcommand)]
pub enum PlansCommand {
    /// Add a plan to the catalog.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        days: u32,
        /// Traffic in GB; 0 is unlimited.
        #[arg(long)]
        gb: u32,
        /// Price in Toman, e.g. 150000 or 150,000.
        #[arg(long, allow_hyphen_values = true)]
        price: String,
        /// A location the plan is sold in; repeat for several.
        #[arg(long = "location", required = true)]
        locations: Vec<String>,
    },
    /// Change a plan's price (past sales keep theirs).
    Price {
        #[arg(long)]
        id: Uuid,
        #[arg(long, allow_hyphen_values = true)]
        price: String,
    },
    /// Stop selling a plan.
    Retire {
        #[arg(long)]
        id: Uuid,
    },
    /// The catalog, from its read model.
    List,
}

#[derive(Subcommand)]
pub enum CardsCommand {
    /// Add a destination card for card-to-card payments.
    Add {
        #[arg(long)]
        number: String,
        #[arg(long)]
        holder: String,
        #[arg(long)]
        bank: Option<String>,
    },
    /// Stop sending payments to a card.
    Retire {
        #[arg(long)]
        id: Uuid,
    },
    /// Cards with what each has received, from the read model.
    List,
}

/// id, name, days, GB, price, locations, active — as `plans list` prints them.
type PlanRow = (Uuid, String, i32, i32, Decimal, Vec<String>, bool);

fn role(s: &str) -> Result<RoleName> {
    RoleName::parse(s).map_err(|e| anyhow::anyhow!("{e}: `{s}`"))
}

pub async fn admin(pool: &PgPool, command: AdminCommand) -> Result<()> {
    let cmd = Commands::new(pool.clone());
    let now = Utc::now();
    match command {
        AdminCommand::CreateAdmin {
            telegram_id,
            username,
            language,
        } => {
            let id = CustomerId::parse(&telegram_id.to_string())?;
            let language = Language::parse(&language)?;
            match cmd.register_customer(id, username, language, None, now).await {
                Ok(()) | Err(commands::CommandError::Customer(domain::customer::CustomerError::AlreadyRegistered)) => {}
                Err(e) => return Err(e.into()),
            }
            match cmd.grant_role(&Actor::System, id, RoleName::Admin, now).await {
                Ok(()) => println!("{id} is now an admin"),
                Err(commands::CommandError::Customer(domain::customer::CustomerError::RoleAlreadyGranted(_))) => {
                    println!("{id} was already an admin")
                }
                Err(e) => return Err(e.into()),
            }
        }
        AdminCommand::GrantRole { telegram_id, role: r } => {
            let id = CustomerId::parse(&telegram_id.to_string())?;
            cmd.grant_role(&Actor::System, id, role(&r)?, now).await?;
            println!("granted {r} to {id}");
        }
        AdminCommand::RevokeRole { telegram_id, role: r } => {
            let id = CustomerId::parse(&telegram_id.to_string())?;
            cmd.revoke_role(&Actor::System, id, role(&r)?, now).await?;
            println!("revoked {r} from {id}");
        }
        AdminCommand::DefineRole { name, permissions } => {
            let perms = permissions
                .iter()
                .map(|p| domain::Permission::parse(p).with_context(|| format!("unknown permission `{p}`")))
                .collect::<Result<_>>()?;
            cmd.define_role(&Actor::System, role(&name)?, perms, now).await?;
            println!("defined role {name}");
        }
        AdminCommand::ApprovePayment { payment } => {
            cmd.approve_payment(&Actor::System, payment, now).await?;
            println!("approved {payment}");
        }
        AdminCommand::AdjustWallet { telegram_id, amount, note } => {
            let id = CustomerId::parse(&telegram_id.to_string())?;
            cmd.adjust_wallet(&Actor::System, id, amount, note, now).await?;
            println!("wallet of {id}: {} Toman", cmd.balance(id).await?);
        }
    }
    Ok(())
}

pub async fn plans(pool: &PgPool, command: PlansCommand) -> Result<()> {
    let cmd = Commands::new(pool.clone());
    let now = Utc::now();
    match command {
        PlansCommand::Add {
            name,
            days,
            gb,
            price,
            locations,
        } => {
            let price: Toman = price.parse()?;
            let locations = locations.iter().map(|l| Location::parse(l)).collect::<Result<Vec<_>, _>>()?;
            let id = cmd
                .create_plan(
                    &Actor::System,
                    PlanSpec {
                        name,
                        duration_days: days,
                        traffic_gb: gb,
                        price,
                        locations,
                    },
                    now,
                )
                .await?;
            println!("{id}");
        }
        PlansCommand::Price { id, price } => {
            cmd.change_plan_price(&Actor::System, id, price.parse()?, now).await?;
            println!("price of {id} is now {price} Toman");
        }
        PlansCommand::Retire { id } => {
            cmd.retire_plan(&Actor::System, id, now).await?;
            println!("retired {id}");
        }
        PlansCommand::List => {
            let rows: Vec<PlanRow> =
                sqlx::query_as("SELECT id, name, duration_days, traffic_gb, price, locations, active FROM plans ORDER BY created_at")
                    .fetch_all(pool)
                    .await?;
            for (id, name, days, gb, price, locations, active) in rows {
                let gb = if gb == 0 { "unlimited".to_string() } else { format!("{gb} GB") };
                let price = Toman::new(price).map(|t| t.to_string()).unwrap_or_default();
                let state = if active { "" } else { " (retired)" };
                println!("{id}  {name}: {days} days, {gb}, {price} Toman, {}{state}", locations.join("/"));
            }
        }
    }
    Ok(())
}

pub async fn cards(pool: &PgPool, command: CardsCommand) -> Result<()> {
    let cmd = Commands::new(pool.clone());
    let now = Utc::now();
    match command {
        CardsCommand::Add { number, holder, bank } => {
            let id = cmd.add_card(&Actor::System, CardNumber::parse(&number)?, holder, bank, now).await?;
            println!("{id}");
        }
        CardsCommand::Retire { id } => {
            cmd.retire_card(&Actor::System, id, now).await?;
            println!("retired {id}");
        }
        CardsCommand::List => {
            let rows: Vec<(Uuid, String, String, bool, i64, Decimal)> =
                sqlx::query_as("SELECT id, number, holder, active, received_count, received_total FROM cards ORDER BY added_at")
                    .fetch_all(pool)
                    .await?;
            for (id, number, holder, active, count, total) in rows {
                let number = CardNumber::parse(&number).map(|c| c.to_string()).unwrap_or(number);
                let total = Toman::new(total).map(|t| t.to_string()).unwrap_or_default();
                let state = if active { "" } else { " (retired)" };
                println!("{id}  {number}  {holder}: {count} payments, {total} Toman{state}");
            }
        }
    }
    Ok(())
}
