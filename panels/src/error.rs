use commands::CommandError;
use xui::XuiError;

#[derive(Debug, thiserror::Error)]
pub enum PanelsError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] eventstore::StoreError),
    #[error(transparent)]
    Panel(#[from] XuiError),
    #[error("panel {0}: {1}")]
    Credentials(uuid::Uuid, secrets::SecretError),
    #[error("no panel {0}")]
    NoSuchPanel(uuid::Uuid),
}

impl From<PanelsError> for workers::FeedError {
    fn from(e: PanelsError) -> Self {
        match e {
            PanelsError::Command(c) => workers::FeedError::Command(c),
            PanelsError::Database(d) => workers::FeedError::Database(d),
            PanelsError::Store(s) => workers::FeedError::Store(s),
            other => workers::FeedError::Command(CommandError::Storage(other.to_string())),
        }
    }
}
