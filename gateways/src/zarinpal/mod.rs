//! Zarinpal's payment gateway, REST v4 (`../shared/payment-apis.md`, part 1).
mod checkout;
mod client;
pub mod fake;
mod http;

pub use checkout::{CallbackOutcome, CheckoutError, Started, ZarinpalCheckout};
pub use client::{
    Inquiry, RequestOk, UnverifiedPayment, Verified, ZarinpalClient, ZarinpalConfig, ZarinpalError, PRODUCTION_BASE_URL, SANDBOX_BASE_URL,
};
pub use http::{callback_router, CallbackQuery};
