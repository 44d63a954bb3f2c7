//! Edges to the outside: where the store's and the ad platform's records come
//! from and where actions go. The `files` connector (SPEC §3) reads tables;
//! the API connectors (WooCommerce + GA4 views, Impact.com, the sandbox)
//! fetch through the one HTTP layer, keep history in the database
//! ([`api`]) and produce the same [`RawBatch`].

pub mod api;
pub mod files;
pub mod files_ads;
pub mod ga4;
pub mod impact;
pub mod impact_ads;
pub mod lenient;
pub mod platform;
pub mod sandbox_ads;
pub mod woocommerce;

use std::path::PathBuf;

use polars::prelude::DataFrame;

use crate::model::Table;

/// One table as read, before validation: the contract's columns in their
/// read types (a value that did not parse is null), plus the source line.
#[derive(Debug, Clone)]
pub struct RawTable {
    pub table: Table,
    pub df: DataFrame,
    pub source: Source,
}

#[derive(Debug, Clone)]
pub enum Source {
    Csv(PathBuf),
    Parquet(PathBuf),
    /// Records from an API (or the history kept from one); `raw[line - 1]`
    /// is the record as received, when kept.
    Api { name: String, raw: std::sync::Arc<Vec<String>> },
}

impl Source {
    /// Where the rows came from, for messages.
    pub fn describe(&self) -> String {
        match self {
            Source::Csv(p) | Source::Parquet(p) => p.display().to_string(),
            Source::Api { name, .. } => name.clone(),
        }
    }
}

/// The four tables of one run, as read.
#[derive(Debug, Clone)]
pub struct RawBatch {
    pub products: RawTable,
    pub product_daily: RawTable,
    pub campaigns: RawTable,
    pub campaign_daily: RawTable,
    /// Whether product_daily.views holds page views; false when the store
    /// has no views source (view impact is then null, with that reason).
    pub views_available: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("{key}: {dir} holds no {table}.csv or {table}.parquet")]
    MissingTable { key: &'static str, dir: String, table: &'static str },
    #[error("{key}: {path} has no column `{column}` (required by the {table} table)")]
    MissingColumn { key: &'static str, path: String, table: &'static str, column: &'static str },
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
            ConnectorError::MissingTable { .. } | ConnectorError::MissingColumn { .. } | ConnectorError::Setup(_)
        ) || matches!(self, ConnectorError::Http(crate::http::HttpError::Unauthorized { .. }))
    }
}
