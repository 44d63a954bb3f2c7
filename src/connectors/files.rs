//! The `files` connector: the SPEC §3 tables as `NAME.csv` or `NAME.parquet`
//! in a directory.
//!
//! Reads each table once with the contract's types; a value that does not
//! parse becomes null here and is quarantined by the validate stage (which
//! can fetch a record's line and text back with [`raw_records`]). Extra columns are not read.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use polars::prelude::*;

use super::ConnectorError;
use crate::model::batch::{RawTable, SideFeed, Source};
use crate::model::contract::{col, Kind, Table};
use crate::model::day::{parse_day, Day};
use crate::model::history::ViewsRow;
use crate::model::run::QuarantinedRow;

/// Finds and reads one table. With a `reach`, a daily table's rows dated
/// before it are left unread in [`RawTable::older`] (a Parquet file's row
/// groups that hold only such days are then skipped by the run's own reads;
/// a CSV file is parsed once either way).
pub fn read_table(dir: &Path, table: Table, key: &'static str, reach: Option<Day>) -> Result<RawTable, ConnectorError> {
    let csv = dir.join(format!("{}.csv", table.name()));
    let parquet = dir.join(format!("{}.parquet", table.name()));
    let reach = reach.filter(|_| table.columns().iter().any(|c| c.name == col::DATE));
    if csv.exists() {
        guarded(&csv, || read_csv(&csv, table, key).and_then(|t| split_at(t, reach, &csv)))
    } else if parquet.exists() {
        guarded(&parquet, || read_parquet(&parquet, table, key, reach))
    } else {
        Err(ConnectorError::MissingTable { key, dir: dir.display().to_string(), table: table.name() })
    }
}

/// Runs a reader, turning a panic inside it into an error naming the file:
/// the fuzz harness found polars' parquet reader panicking on a corrupt
/// file's metadata ("thrift bool field"); a hostile file must fail the read,
/// not the process.
fn guarded(path: &Path, read: impl FnOnce() -> Result<RawTable, ConnectorError>) -> Result<RawTable, ConnectorError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|panic| {
        let why = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_default();
        Err(ConnectorError::Read { path: path.display().to_string(), message: format!("the reader failed on this file ({why})") })
    })
}

fn read_err(path: &Path) -> impl Fn(PolarsError) -> ConnectorError + '_ {
    move |e| ConnectorError::Read { path: path.display().to_string(), message: e.to_string() }
}

fn check_columns(
    present: &[&str],
    table: Table,
    path: &Path,
    key: &'static str,
) -> Result<(), ConnectorError> {
    for c in table.columns() {
        if !present.contains(&c.name) {
            return Err(ConnectorError::MissingColumn {
                key,
                path: path.display().to_string(),
                table: table.name(),
                column: c.name,
            });
        }
    }
    Ok(())
}

fn read_csv(path: &Path, table: Table, key: &'static str) -> Result<RawTable, ConnectorError> {
    // A column named twice would be read from its first occurrence alone.
    let mut first = csv::Reader::from_path(path).map_err(|e| ConnectorError::Read { path: path.display().to_string(), message: e.to_string() })?;
    let names = first.headers().map_err(|e| ConnectorError::Read { path: path.display().to_string(), message: e.to_string() })?.clone();
    let mut seen = HashSet::new();
    if let Some(twice) = names.iter().map(str::trim).find(|n| !seen.insert(*n)) {
        return Err(ConnectorError::DuplicateColumn { key, path: path.display().to_string(), column: twice.to_string() });
    }
    let names: Vec<&str> = names.iter().collect();
    check_columns(&names, table, path, key)?;

    let schema: Schema = table
        .columns()
        .iter()
        .map(|c| Field::new(c.name.into(), c.kind.read_dtype()))
        .collect();
    let columns: Arc<[PlSmallStr]> = table.columns().iter().map(|c| PlSmallStr::from(c.name)).collect();
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_columns(Some(columns))
        .with_schema_overwrite(Some(Arc::new(schema)))
        .with_infer_schema_length(Some(0))
        .with_ignore_errors(true)
        .with_row_index(Some(RowIndex { name: col::LINE.into(), offset: 2 }))
        // A byte that is not UTF-8 becomes U+FFFD here, and its row is
        // quarantined by the validator, instead of failing the whole file.
        .map_parse_options(|o| o.with_truncate_ragged_lines(true).with_missing_is_null(true).with_encoding(CsvEncoding::LossyUtf8))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .map_err(read_err(path))?;
    Ok(RawTable::whole(table, df, Source::Csv(path.to_path_buf())))
}

/// The rows a run reads of a daily table: dated from `reach` on, or without
/// a readable date (the validator quarantines those).
fn from_reach(date: Expr, reach: Day) -> Expr {
    date.clone().is_null().or(date.gt_eq(lit(reach)))
}

/// Splits a table read whole at `reach`: the older rows stay behind, lazily.
fn split_at(t: RawTable, reach: Option<Day>, path: &Path) -> Result<RawTable, ConnectorError> {
    let Some(reach) = reach else { return Ok(t) };
    let date = col(col::DATE).cast(DataType::Int32);
    let whole = t.df.lazy();
    let df = whole.clone().filter(from_reach(date.clone(), reach)).collect().map_err(read_err(path))?;
    Ok(RawTable { table: t.table, df, older: Some(whole.filter(date.lt(lit(reach)))), source: t.source })
}

fn read_parquet(path: &Path, table: Table, key: &'static str, reach: Option<Day>) -> Result<RawTable, ConnectorError> {
    File::open(path).map_err(|e| ConnectorError::Read { path: path.display().to_string(), message: e.to_string() })?;
    let mut scan = LazyFrame::scan_parquet(PlRefPath::new(path.display().to_string()), ScanArgsParquet { row_index: Some(RowIndex { name: col::LINE.into(), offset: 1 }), ..Default::default() })
        .map_err(read_err(path))?;
    let schema = scan.collect_schema().map_err(read_err(path))?;
    let names: Vec<&str> = schema.iter_names().map(|s| s.as_str()).collect();
    check_columns(&names, table, path, key)?;
    // A parquet column may hold another type (an int32, a date as text):
    // cast without failing, as the CSV reader does; failures become null.
    let mut casts = vec![col(col::LINE)];
    for c in table.columns() {
        let target = c.kind.read_dtype();
        let found = schema.get(c.name).cloned().unwrap_or(DataType::Null);
        casts.push(if found == target {
            col(c.name)
        } else {
            match (c.kind, &found) {
                (Kind::OptionalDate, _) => col(c.name).cast(DataType::String),
                // Text to a date parses it (a value that does not becomes null).
                (Kind::Date, DataType::String) => col(c.name).str().to_date(StrptimeOptions { format: Some("%Y-%m-%d".into()), strict: false, exact: true, cache: true }),
                _ => col(c.name).cast(target.clone()),
            }
            .alias(c.name)
        });
    }
    let date_is_date = matches!(schema.get(col::DATE), Some(DataType::Date));
    let Some(reach) = reach else {
        let df = scan.select(casts).collect().map_err(read_err(path))?;
        return Ok(RawTable::whole(table, df, Source::Parquet(path.to_path_buf())));
    };
    // A stored date column is compared as it is stored, before any cast, so
    // the reader skips the row groups whose statistics lie before the reach.
    let (df, older) = if date_is_date {
        let date = col(col::DATE).cast(DataType::Int32);
        (scan.clone().filter(from_reach(date.clone(), reach)).select(casts.clone()), scan.filter(date.lt(lit(reach))).select(casts))
    } else {
        let typed = scan.select(casts);
        let date = col(col::DATE).cast(DataType::Int32);
        (typed.clone().filter(from_reach(date.clone(), reach)), typed.filter(date.lt(lit(reach))))
    };
    let df = df.collect().map_err(read_err(path))?;
    Ok(RawTable { table, df, older: Some(older), source: Source::Parquet(path.to_path_buf()) })
}

/// Where the given CSV records stand in their file and what they say: for
/// each record number as the readers count it (the header is 1, the first
/// record 2), its first physical line and its text as written (a quoted field
/// may hold line breaks, so record and line numbers part ways after one).
/// Only called when some rows are bad: it reads the file once more, with a
/// CSV parser, then seeks to each bad record's bytes.
pub fn raw_records(path: &Path, records: &[u64]) -> HashMap<u64, (u64, String)> {
    let mut wanted: Vec<u64> = records.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let mut out = HashMap::with_capacity(wanted.len());
    let Ok(mut reader) = csv::ReaderBuilder::new().flexible(true).from_path(path) else { return out };
    // (record number, first line, byte start, byte end) of each wanted record.
    let mut spans: Vec<(u64, u64, u64, u64)> = Vec::with_capacity(wanted.len());
    let mut next = wanted.iter().peekable();
    let mut rec = csv::ByteRecord::new();
    let mut number = 1u64;
    let mut open: Option<(u64, u64, u64)> = None;
    loop {
        let here = reader.position().clone();
        let more = reader.read_byte_record(&mut rec).unwrap_or(false);
        if let Some((n, line, start)) = open.take() {
            spans.push((n, line, start, here.byte()));
        }
        if !more {
            break;
        }
        number += 1;
        let start = rec.position().map_or(here.byte(), |p| p.byte());
        let line = rec.position().map_or(number, |p| p.line());
        while next.peek().is_some_and(|&&w| w < number) {
            next.next();
        }
        if next.peek().is_some_and(|&&w| w == number) {
            open = Some((number, line, start));
            next.next();
        }
        if next.peek().is_none() && open.is_none() {
            break;
        }
    }
    let Ok(mut file) = File::open(path) else { return out };
    for (n, line, start, end) in spans {
        let mut buf = vec![0u8; end.saturating_sub(start) as usize];
        use std::io::{Read, Seek, SeekFrom};
        if file.seek(SeekFrom::Start(start)).is_ok() && file.read_exact(&mut buf).is_ok() {
            let text = String::from_utf8_lossy(&buf).trim_end_matches(['\n', '\r']).to_string();
            out.insert(n, (line, text));
        }
    }
    out
}

/// `views.csv` (date, product_id, views) of `views.kind = "files"`: the good
/// rows, and the feed's count with every bad row quarantined like the other
/// tables' (first broken rule wins; a repeated (date, product_id) is bad,
/// the first row stands). Rows after `as_of` are left for later runs.
pub fn read_views_csv(path: &Path, products: &HashSet<&str>, as_of: Day) -> Result<(Vec<ViewsRow>, SideFeed), ConnectorError> {
    let read_err = |e: csv::Error| ConnectorError::Read { path: path.display().to_string(), message: e.to_string() };
    let mut r = csv::ReaderBuilder::new().flexible(true).from_path(path).map_err(read_err)?;
    let header = r.headers().map_err(read_err)?.clone();
    let find = |name: &'static str| {
        header.iter().position(|h| h.trim() == name).ok_or(ConnectorError::MissingColumn {
            key: "views.path",
            path: path.display().to_string(),
            table: Table::Views.name(),
            column: name,
        })
    };
    let (di, pi, vi) = (find(col::DATE)?, find(col::PRODUCT_ID)?, find(col::VIEWS)?);
    let mut rows = Vec::new();
    let mut bad: Vec<(u64, &'static str, &'static str)> = Vec::new();
    let mut seen = HashSet::new();
    let mut feed = SideFeed { table: Some(Table::Views), ..SideFeed::default() };
    for rec in r.records() {
        let rec = rec.map_err(read_err)?;
        feed.rows_read += 1;
        // The record number, as the other tables count them (header = 1).
        let line = feed.rows_read + 1;
        let field = |i: usize| rec.get(i).unwrap_or("").trim();
        let day = parse_day(field(di));
        let views = field(vi).parse::<i64>();
        let broken = match (&day, field(pi), &views) {
            (Err(_), _, _) => Some((col::DATE, "not a YYYY-MM-DD date")),
            (_, "", _) => Some((col::PRODUCT_ID, "missing")),
            (_, _, Err(_)) => Some((col::VIEWS, "missing or not a whole number")),
            (_, _, Ok(v)) if *v < 0 => Some((col::VIEWS, "negative")),
            (_, pid, _) if !products.contains(pid) => Some((col::PRODUCT_ID, "unknown product")),
            _ => None,
        };
        if let Some((column, reason)) = broken {
            bad.push((line, column, reason));
            continue;
        }
        let (Ok(day), Ok(views)) = (day, views) else { continue };
        if day > as_of {
            feed.after_as_of += 1;
            continue;
        }
        let product_id = field(pi).to_string();
        if !seen.insert((day, product_id.clone())) {
            bad.push((line, "*", "duplicate (date, product_id): an earlier row has the same key"));
            continue;
        }
        rows.push(ViewsRow { day, product_id, views });
    }
    let texts = raw_records(path, &bad.iter().map(|b| b.0).collect::<Vec<_>>());
    feed.quarantine = bad
        .into_iter()
        .map(|(record, column, reason)| {
            let (line, raw) = texts.get(&record).cloned().unwrap_or((record, String::new()));
            QuarantinedRow { table: Table::Views, line, column: column.to_string(), reason: reason.to_string(), raw }
        })
        .collect();
    Ok((rows, feed))
}
