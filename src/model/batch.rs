//! The four tables of one run as read, before validation: what every
//! connector produces and the validator takes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use polars::prelude::{DataFrame, LazyFrame};

use super::contract::Table;
use super::run::QuarantinedRow;

/// One table as read, before validation: the contract's columns in their
/// read types (a value that did not parse is null), plus the source line.
#[derive(Clone)]
pub struct RawTable {
    pub table: Table,
    /// The rows the run uses: all of them, or for a daily table read with a
    /// reach, those dated from it on (and those without a readable date).
    pub df: DataFrame,
    /// A daily table's rows dated before the run's reach, not yet read:
    /// the validator judges them for the feed's data quality only (counted,
    /// the bad ones quarantined) and hands none of them on.
    pub older: Option<LazyFrame>,
    pub source: Source,
}

impl RawTable {
    /// A table read whole.
    pub fn whole(table: Table, df: DataFrame, source: Source) -> RawTable {
        RawTable { table, df, older: None, source }
    }
}

impl std::fmt::Debug for RawTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawTable").field("table", &self.table).field("rows", &self.df.height()).field("older", &self.older.is_some()).field("source", &self.source).finish()
    }
}

#[derive(Debug, Clone)]
pub enum Source {
    Csv(PathBuf),
    Parquet(PathBuf),
    /// Records from an API (or the history kept from one); `raw[line - 1]`
    /// is the record as received, when kept.
    Api { name: String, raw: Arc<Vec<String>> },
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

/// Rows of a separate feed that joins a table before validation (views
/// from `views.csv` into product_daily): how many were read and the bad
/// ones, quarantined by the connector that parsed them.
#[derive(Debug, Clone, Default)]
pub struct SideFeed {
    pub table: Option<Table>,
    pub rows_read: u64,
    pub after_as_of: u64,
    pub quarantine: Vec<QuarantinedRow>,
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
    /// The views file's rows, when views come from one.
    pub views_feed: SideFeed,
    /// Campaigns whose daily budget was observed from their own recent spend
    /// (a platform without budgets, an ad seen for the first time), with
    /// that budget: not enforced until the pipeline or a person sets one.
    pub observed_budgets: BTreeMap<String, f64>,
}
