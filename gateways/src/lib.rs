//! Payment gateways: Zarinpal (v4 REST) and USDT-TRC20 on TRON (through a
//! TronGrid-compatible API). Each has a typed client, the payment flow over
//! the `commands` use cases (the domain decides; this crate only fetches
//! evidence), and a fake server on 127.0.0.1 that speaks the real protocol,
//! for tests. Production and tests use the same client; only the base URL
//! differs.
//!
//! Depends on `domain` and `commands` (never on SQL of its own except the
//! read models it polls), reqwest for the clients and axum for the fakes and
//! the Zarinpal callback route.
#![forbid(unsafe_code)]

pub mod tron;
pub mod zarinpal;
