//! The four tables of one run as read, before validation: what every
//! connector produces and the validator takes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use polars::prelude::{DataFrame, LazyFrame};
use serde::{Deserialize, Serialize};

use super::contract::Table;
use super::day::Day;
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
    pub older: Option<OlderRows>,
    /// A daily table's valid rows an earlier run handed on and kept
    /// ([`Window`]), when this file still holds them unchanged: `df` is then
    /// only the rows after them.
    pub cached: Option<CachedRows>,
    pub source: Source,
}

/// The rows an earlier run validated from its reach on and kept beside the
/// database ([`Window`]), as read back, for a file that still begins with
/// every row that run read: this run judges only the rows after them.
#[derive(Clone)]
pub struct CachedRows {
    /// `__line`, the earlier run's index, date and the values, in file order.
    pub rows: DataFrame,
    /// The ids in the earlier run's index order (its index `i` is `ids[i]`).
    pub ids: DataFrame,
    pub window: Window,
    /// Reads the table as if nothing were cached (the earlier run's check of
    /// the older rows still applies): for when the validator finds the
    /// cached rows would not be judged alike today.
    pub reread: ReadAgain,
}

/// Reads a daily table again without its cached rows.
pub type ReadAgain = Arc<dyn Fn() -> Result<RawTable, String> + Send + Sync>;

/// A run's valid rows of a daily table from its reach on, kept in files
/// beside the database (`history.validated_dir`) for the next run: they were
/// the file's rows up to its mark's last line dated from `from` on, every
/// one valid as of `as_of`, none after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// The rows' file and the ids' file, in the directory.
    pub rows_file: String,
    pub ids_file: String,
    /// Each file's xxh3-128 (hex): a file that is not what was kept is not read.
    pub rows_hash: String,
    pub ids_hash: String,
    pub rows: u64,
    pub from: Day,
    pub as_of: Day,
}

/// A daily table's rows dated before the run's reach, and what is known of
/// them from an earlier run (issue 17: history checked once is not checked
/// again every day).
#[derive(Clone)]
pub struct OlderRows {
    /// The rows, not yet read.
    pub rows: LazyFrame,
    /// The reach: every one of them is dated before it.
    pub before: Day,
    /// An earlier run's check of the rows dated before its own `before`,
    /// still true of this file: the connector verified that the rows it
    /// judged are unchanged, under the same line numbers, and that the file
    /// has no other row dated that early. The validator judges only the rest.
    pub known: Option<OlderCheck>,
    /// How a later run can tell this file's rows unchanged (None: it
    /// cannot, and will judge them all again).
    pub mark: Option<FileMark>,
    /// Set when the table was read from a later record on (a CSV file's
    /// marked tail): `rows` are then only the older rows read, and this
    /// reads all of them, for when `known` turns out not to hold.
    pub all: Option<ReadOlder>,
}

/// Reads all of a daily table's rows dated before the reach again.
pub type ReadOlder = Arc<dyn Fn() -> polars::prelude::PolarsResult<LazyFrame> + Send + Sync>;

/// How a later run tells a file's rows unchanged: a hash of the bytes that
/// hold them, and the highest line the file's rows had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMark {
    pub fingerprint: Fingerprint,
    /// The highest `__line` of the file's rows (0: none).
    pub lines: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum Fingerprint {
    /// A CSV file: its first `bytes` bytes, which end a record, hash to
    /// `hash` (xxh3-128, hex). A file that grew by appending keeps them.
    /// `from`: where the rows a later run needs begin.
    Csv {
        bytes: u64,
        hash: String,
        #[serde(default)]
        from: Option<CsvTail>,
    },
    /// A Parquet file: its row groups in order, each one's row count and
    /// the hash of its bytes. A file rewritten with rows added after the old
    /// ones keeps the old row groups byte for byte.
    Parquet { groups: Vec<(u64, String)> },
}

/// Where a CSV file's rows that a later run needs begin: every record
/// before byte `offset` is dated before the reach of the run that marked it
/// (so that run's check of the older rows holds them); the record at it is
/// `line`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvTail {
    pub offset: u64,
    pub line: u64,
}

/// What the validator made of a daily table's rows dated before `before`:
/// everything the data quality needs of them, and the standing each id they
/// name had (a product or campaign that turns valid, unknown or future
/// changes how its rows are judged, so the check is redone then).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OlderCheck {
    /// The rules' key (their version and limits) the rows were judged by.
    pub rules: String,
    pub before: Day,
    pub rows: u64,
    /// Rows of a future id (counted as after as_of, not judged).
    pub after_as_of: u64,
    /// The oldest day of a valid row.
    pub first_day: Option<Day>,
    /// The highest `__line` among the rows (0: none).
    pub last_line: u64,
    pub quarantine: Vec<QuarantinedRow>,
    /// The ids the rows name, by their standing when judged.
    pub valid_ids: Vec<String>,
    pub unknown_ids: Vec<String>,
    pub future_ids: Vec<String>,
}

/// A daily table's older rows' check as a run keeps it for the next one:
/// which file, how to tell it unchanged, and the check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCheck {
    pub table: Table,
    /// The file (its path as configured, resolved).
    pub source: String,
    pub mark: FileMark,
    pub check: OlderCheck,
    /// The valid rows from the reach on, when kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
}

impl RawTable {
    /// A table read whole.
    pub fn whole(table: Table, df: DataFrame, source: Source) -> RawTable {
        RawTable { table, df, older: None, cached: None, source }
    }
}

impl std::fmt::Debug for RawTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawTable").field("table", &self.table).field("rows", &self.df.height()).field("older", &self.older.is_some()).field("cached", &self.cached.as_ref().map(|c| c.rows.height())).field("source", &self.source).finish()
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
