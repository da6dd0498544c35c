//! A typed async client for 3x-UI panels, written from `shared/3x-ui-api.md`.
//!
//! - [`XuiClient`]: cookie login with session reuse and one transparent
//!   re-login per call when the session expired (307, 401, 404, 403 or an HTML
//!   page, depending on the panel's version), v3 CSRF tokens, Bearer API
//!   tokens, timeouts, and bounded retries with backoff for transient failures.
//!   It speaks the classic client API (v2.4 to v3.0.x) and the v3.1+
//!   `/panel/api/clients/*` API, detecting which one a panel has.
//! - [`links`]: vless/vmess/trojan/shadowsocks links and the subscription URL.
//! - [`qr`]: a PNG QR code of a subscription URL.
//!
//! Depends on reqwest, serde and small encoding crates; knows nothing of MRJ Bot's domain.
#![forbid(unsafe_code)]

mod client;
mod error;
pub mod links;
mod model;
pub mod qr;

pub use client::{ClientOptions, Credentials, XuiClient};
pub use error::XuiError;
pub use model::{ApiFlavor, Client, ClientTraffic, Envelope, Inbound, PanelClient, ServerStatus, Usage, XrayState};
