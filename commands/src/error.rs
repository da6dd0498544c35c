use domain::card::CardError;
use domain::commission::CommissionError;
use domain::customer::CustomerError;
use domain::discount::DiscountError;
use domain::features::{Feature, FeatureError};
use domain::license::{LicenseDenied, LicenseError};
use domain::payment::PaymentError;
use domain::plan::PlanError;
use domain::points::PointsError;
use domain::reference::ReferenceError;
use domain::role::RoleError;
use domain::sale::SaleError;
use domain::staff::StaffError;
use domain::subscription::SubscriptionError;
use domain::wallet::WalletError;

/// Keeps the three kinds apart so an edge can answer 422, 409 or 500:
/// a broken rule (the domain variants, `NotFound`, `Blocked`), a conflict that
/// outlasted the retries, and an infrastructure failure.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Customer(#[from] CustomerError),
    #[error(transparent)]
    Role(#[from] RoleError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Card(#[from] CardError),
    #[error(transparent)]
    Wallet(#[from] WalletError),
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Subscription(#[from] SubscriptionError),
    #[error(transparent)]
    Panel(#[from] domain::panel::PanelError),
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Staff(#[from] StaffError),
    #[error(transparent)]
    Commission(#[from] CommissionError),
    #[error(transparent)]
    Sale(#[from] SaleError),
    #[error(transparent)]
    Discount(#[from] DiscountError),
    #[error(transparent)]
    Points(#[from] PointsError),
    #[error(transparent)]
    Feature(#[from] FeatureError),
    #[error(transparent)]
    License(#[from] LicenseError),
    #[error(transparent)]
    LicenseKey(#[from] licensing::LicensingError),
    #[error(transparent)]
    NotLicensed(#[from] LicenseDenied),
    #[error(transparent)]
    Backup(#[from] domain::backup::BackupError),
    #[error("the {0} feature is switched off (an operator switches it on with `mrjbot features enable {0}`)")]
    FeatureOff(Feature),
    #[error(transparent)]
    AutoRenewal(#[from] domain::autorenew::AutoRenewalError),
    #[error(transparent)]
    Reminder(#[from] domain::reminder::ReminderError),
    #[error(transparent)]
    Support(#[from] domain::support::SupportError),
    #[error(transparent)]
    Broadcast(#[from] domain::broadcast::BroadcastError),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("customer {0} is blocked")]
    Blocked(domain::CustomerId),
    #[error("no active bank card can receive payments")]
    NoActiveCard,
    #[error("every unique USDT amount for this price is held by a pending payment; try again later")]
    NoFreeUsdtAmount,
    #[error("too many concurrent changes to the same record; try again")]
    Conflict,
    #[error("storage failure: {0}")]
    Storage(String),
}

impl From<sqlx::Error> for CommandError {
    fn from(e: sqlx::Error) -> Self {
        CommandError::Storage(e.to_string())
    }
}

impl CommandError {
    /// A broken business rule or bad input, as opposed to a conflict or an outage.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, CommandError::Conflict | CommandError::Storage(_))
    }
}
