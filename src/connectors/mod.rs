//! Edges to the outside: where the store's and the ad platform's records come
//! from. Only the `files` connector (SPEC §3) exists so far; the API
//! connectors plug in beside it and produce the same [`RawBatch`].

pub mod files;
pub mod files_ads;
pub mod platform;

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
}

impl Source {
    pub fn path(&self) -> &PathBuf {
        match self {
            Source::Csv(p) | Source::Parquet(p) => p,
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
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("{key}: {dir} holds no {table}.csv or {table}.parquet")]
    MissingTable { key: &'static str, dir: String, table: &'static str },
    #[error("{key}: {path} has no column `{column}` (required by the {table} table)")]
    MissingColumn { key: &'static str, path: String, table: &'static str, column: &'static str },
    #[error("reading {path}: {message}")]
    Read { path: String, message: String },
}

impl ConnectorError {
    /// Whether the problem is in the configuration (exit 2) rather than the run.
    pub fn is_configuration(&self) -> bool {
        matches!(self, ConnectorError::MissingTable { .. } | ConnectorError::MissingColumn { .. })
    }
}
