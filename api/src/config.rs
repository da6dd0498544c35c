//! The API's settings, filled once by the binary from its flags (library
//! crates never read the environment).
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// When not empty, `/api/admin/*` and staff sign-in answer only these networks.
    pub admin_allow_list: Vec<IpNet>,
    /// Take the client address from the last `X-Forwarded-For` hop (behind a reverse proxy).
    pub trust_forwarded_for: bool,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub code_ttl: Duration,
    /// The built dashboard (`dashboard/dist`); `None` serves only the API.
    pub dashboard_dir: Option<PathBuf>,
    pub limits: Limits,
    /// Shown in authenticator apps next to the account.
    pub totp_issuer: String,
    /// How long the live task waits for the read models to include an event
    /// before it invalidates caches and tells clients anyway.
    pub projection_wait: Duration,
}

/// Attempts allowed per window; every attempt counts, successful or not.
#[derive(Debug, Clone)]
pub struct Limits {
    pub window: Duration,
    /// Sign-ins (password or code) from one address.
    pub logins_per_ip: u32,
    /// Sign-ins for one account, from anywhere.
    pub logins_per_account: u32,
    /// Codes sent to one Telegram user.
    pub codes_per_account: u32,
    /// Codes requested from one address.
    pub codes_per_ip: u32,
    /// Wrong guesses one code survives.
    pub code_attempts: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            window: Duration::from_secs(600),
            logins_per_ip: 30,
            logins_per_account: 10,
            codes_per_account: 3,
            codes_per_ip: 10,
            code_attempts: 5,
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            admin_allow_list: Vec::new(),
            trust_forwarded_for: false,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            code_ttl: Duration::from_secs(5 * 60),
            dashboard_dir: None,
            limits: Limits::default(),
            totp_issuer: "MRJ Bot".to_string(),
            projection_wait: Duration::from_secs(5),
        }
    }
}

/// Parses `10.0.0.0/8, 192.168.1.7` (a bare address is a /32 or /128).
pub fn parse_allow_list(s: &str) -> Result<Vec<IpNet>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| format!("`{p}` is not an IP address or CIDR network"))
        })
        .collect()
}

/// Where the Telegram Bot API is (the real one, or a fake in tests).
#[derive(Debug, Clone)]
pub struct TelegramConfig {
    pub api_url: String,
    pub token: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_take_networks_and_bare_addresses() {
        let list = parse_allow_list("10.0.0.0/8, 192.168.1.7,::1").unwrap();
        assert_eq!(list.len(), 3);
        assert!(list[1].contains(&"192.168.1.7".parse::<std::net::IpAddr>().unwrap()));
        assert!(parse_allow_list("10.0.0.0/8,nonsense").is_err());
        assert!(parse_allow_list("").unwrap().is_empty());
    }
}
