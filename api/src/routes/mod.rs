//! One module per resource, each with a `router()`. A new capability (the
//! commissions, chat or license engineers' read models) is a new module here:
//! write `routes/<area>.rs` with its handlers and `router()`, merge it in
//! [`crate::app`], and add its name to [`CAPABILITIES`] so the dashboard
//! turns its page on.
pub mod admin;
pub mod auth;
pub mod commerce;
pub mod me;
pub mod my_chat;
pub mod notifications;
pub mod plans;
pub mod seller;
pub mod system;
pub mod views;

/// What this build serves; the dashboard shows "not available yet" for the rest
/// (the commerce writes: asking for and paying withdrawals, redeeming points).
pub const CAPABILITIES: &[&str] = &[
    "auth",
    "me",
    "wallet",
    "plans",
    "users",
    "roles",
    "payments",
    "receipt_images",
    "subscriptions",
    "cards",
    "reports",
    "staff",
    "panels",
    "seller_sales",
    "commissions",
    "withdrawals",
    "points",
    "discounts",
    "ocr_readings",
    "features",
    "license",
    "live_chat",
    "customer_chat",
    "notifications",
    "live",
];
