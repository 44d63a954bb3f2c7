//! Edges to the outside: where the store's and the ad platform's records come
//! from and where actions go. The `files` connector (SPEC §3) reads tables;
//! the API connectors (WooCommerce + GA4 views, Impact.com, the sandbox)
//! fetch through the one HTTP layer ([`clients`]), keep history in the
//! database ([`sync`]) and produce the same [`RawBatch`](crate::model::batch::RawBatch)
//! ([`frames`]). [`platform`] is where actions go.

pub mod clients;
pub mod configured;
pub mod files;
pub mod files_ads;
pub mod frames;
pub mod ga4;
pub mod impact;
pub mod impact_ads;
pub mod lenient;
pub mod platform;
pub mod sandbox_ads;
pub mod sandbox_auth;
pub mod searxng;
pub mod sync;
pub mod window;
pub mod woocommerce;

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("{key}: {dir} holds no {table}.csv or {table}.parquet")]
    MissingTable { key: &'static str, dir: String, table: &'static str },
    #[error("{key}: {path} has no column `{column}` (required by the {table} table)")]
    MissingColumn { key: &'static str, path: String, table: &'static str, column: &'static str },
    #[error("{key}: {path} names the column `{column}` twice")]
    DuplicateColumn { key: &'static str, path: String, column: String },
    #[error("reading {path}: {message}")]
    Read { path: String, message: String },
    #[error(transparent)]
    Http(#[from] crate::http::HttpError),
    /// Missing credentials or a setting an API needs (exit 2).
    #[error("{0}")]
    Setup(String),
    #[error("keeping fetched history: {0}")]
    History(String),
}

impl ConnectorError {
    /// Whether the problem is in the configuration (exit 2) rather than the run.
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            ConnectorError::MissingTable { .. }
                | ConnectorError::MissingColumn { .. }
                | ConnectorError::DuplicateColumn { .. }
                | ConnectorError::Setup(_)
        ) || matches!(self, ConnectorError::Http(crate::http::HttpError::Unauthorized { .. }))
    }
}
