//! What a customer needs to connect: the subscription URL, the direct links
//! and a QR code of the URL. For the bot (`/subscription`) and the API; read
//! from the `subscriptions` read model, which copies `SubscriptionProvisioned`.
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SubscriptionAccess {
    pub subscription: Uuid,
    pub customer: i64,
    pub location: String,
    /// `not_started`, `started`, `provisioned`, `failed`, `missing` or `removed`.
    pub provisioning: String,
    pub provisioning_error: Option<String>,
    pub sub_url: Option<String>,
    pub links: Vec<String>,
}

impl SubscriptionAccess {
    /// Ready to use: provisioned, with a subscription URL.
    pub fn is_ready(&self) -> bool {
        self.provisioning == "provisioned" && self.sub_url.is_some()
    }

    /// A PNG QR code of the subscription URL (`None` until provisioned).
    pub fn qr_png(&self) -> Option<Vec<u8>> {
        self.sub_url.as_deref().and_then(|u| xui::qr::qr_png(u, 8).ok())
    }
}

/// A subscription's links, or `None` when there is no such subscription.
pub async fn subscription_access(pool: &PgPool, subscription: Uuid) -> Result<Option<SubscriptionAccess>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id AS subscription, customer, location, provisioning, provisioning_error, sub_url, links FROM subscriptions WHERE id = $1",
    )
    .bind(subscription)
    .fetch_optional(pool)
    .await
}
