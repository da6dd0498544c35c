//! Configuration, read once at start from flags or the environment.
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// PostgreSQL holding the event store and the read models.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/mrjbot",
        global = true,
        hide_env_values = true
    )]
    pub database_url: String,

    /// NATS server with JetStream. Unset: consumers read the event store directly
    /// (LISTEN/NOTIFY), which is all a single machine needs.
    #[arg(long, env = "NATS_URL", global = true, hide_env_values = true)]
    pub nats_url: Option<String>,

    /// Prefix of the JetStream stream and subjects, so installs can share a NATS server.
    #[arg(long, env = "MRJ_NATS_PREFIX", default_value = "mrjbot", global = true)]
    pub nats_prefix: String,

    /// Connections in the database pool.
    #[arg(long, env = "MRJ_DB_POOL", default_value_t = 20, global = true)]
    pub db_pool: u32,

    /// The Telegram bot: token, API URL, webhook.
    #[command(flatten)]
    pub telegram: crate::bot_cli::TelegramArgs,

    /// 3x-UI panels: secret key, brand, timeouts.
    #[command(flatten)]
    pub panels: crate::panels_cli::PanelsConfig,

    /// License key checks (issue 7).
    #[command(flatten)]
    pub ops: crate::ops::OpsConfig,
}
