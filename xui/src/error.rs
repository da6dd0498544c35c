//! What can go wrong talking to a panel, in the terms a caller acts on.

/// Every failure of a panel call. `msg` texts are the panel's own (trimmed of
/// the trailing newline 3x-UI appends); credentials never appear in them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XuiError {
    /// The username/password (or 2FA code) or the API token was refused.
    #[error("the panel refused the credentials")]
    BadCredentials,
    /// No answer: connection refused or reset, DNS, TLS, timeout, or a 502/503/504
    /// that outlasted the retries.
    #[error("panel unreachable: {0}")]
    Unreachable(String),
    /// An email is unique across the whole panel, case-insensitively.
    #[error("the panel already has a client with email {0}")]
    DuplicateEmail(String),
    /// The inbound, client or route does not exist.
    #[error("not found on the panel: {0}")]
    NotFound(String),
    /// The panel understood the request and said no (`success: false`).
    #[error("the panel refused: {0}")]
    Rejected(String),
    /// A reply that is not what the protocol promises.
    #[error("unexpected reply from the panel: {0}")]
    UnexpectedReply(String),
}

impl XuiError {
    /// A failure that another attempt (later, or at another panel) may not have.
    pub fn is_transient(&self) -> bool {
        matches!(self, XuiError::Unreachable(_))
    }

    /// Classic panels refuse to delete the last client of an inbound.
    pub fn is_last_client(&self) -> bool {
        matches!(self, XuiError::Rejected(m) if m.contains("no client remained"))
    }
}
