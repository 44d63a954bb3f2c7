//! The `files` connector: the SPEC §3 tables as `NAME.csv` or `NAME.parquet`
//! in a directory.
//!
//! Reads each table once with the contract's types; a value that does not
//! parse becomes null here and is quarantined by the validate stage (which
//! can fetch the raw line back with [`raw_lines`]). Extra columns are not read.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;

use polars::prelude::*;

use super::ConnectorError;
use crate::model::batch::{RawTable, SideFeed, Source};
use crate::model::contract::{col, Kind, Table};
use crate::model::day::{parse_day, Day};
use crate::model::history::ViewsRow;
use crate::model::run::QuarantinedRow;

/// Finds and reads one table.
pub fn read_table(dir: &Path, table: Table, key: &'static str) -> Result<RawTable, ConnectorError> {
    let csv = dir.join(format!("{}.csv", table.name()));
    let parquet = dir.join(format!("{}.parquet", table.name()));
    if csv.exists() {
        read_csv(&csv, table, key)
    } else if parquet.exists() {
        read_parquet(&parquet, table, key)
    } else {
        Err(ConnectorError::MissingTable { key, dir: dir.display().to_string(), table: table.name() })
    }
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
    let header = CsvReadOptions::default()
        .with_has_header(true)
        .with_n_rows(Some(0))
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .map_err(read_err(path))?;
    let names: Vec<&str> = header.get_column_names().iter().map(|s| s.as_str()).collect();
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
        .map_parse_options(|o| o.with_truncate_ragged_lines(true).with_missing_is_null(true))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .map_err(read_err(path))?;
    Ok(RawTable { table, df, source: Source::Csv(path.to_path_buf()) })
}

fn read_parquet(path: &Path, table: Table, key: &'static str) -> Result<RawTable, ConnectorError> {
    let file = File::open(path).map_err(|e| ConnectorError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let mut reader = ParquetReader::new(file);
    let schema = reader.schema().map_err(read_err(path))?;
    let names: Vec<&str> = schema.iter_names().map(|s| s.as_str()).collect();
    check_columns(&names, table, path, key)?;
    let wanted: Vec<String> = table.columns().iter().map(|c| c.name.to_string()).collect();
    let mut df = reader
        .with_columns(Some(wanted))
        .with_row_index(Some(RowIndex { name: col::LINE.into(), offset: 1 }))
        .finish()
        .map_err(read_err(path))?;
    // A parquet column may hold another type (an int32, a date as text):
    // cast without failing, as the CSV reader does; failures become null.
    for c in table.columns() {
        let target = c.kind.read_dtype();
        let s = df.column(c.name).map_err(read_err(path))?;
        if s.dtype() != &target {
            let cast = if c.kind == Kind::OptionalDate {
                s.cast(&DataType::String)
            } else {
                s.cast(&target)
            }
            .map_err(read_err(path))?;
            df.with_column(cast).map_err(read_err(path))?;
        }
    }
    Ok(RawTable { table, df, source: Source::Parquet(path.to_path_buf()) })
}

/// The raw text of the given CSV lines (1-based, header = 1), for the
/// quarantine. Only called when some rows are bad, so it reads the file once
/// more instead of keeping every line's text in memory.
pub fn raw_lines(path: &Path, lines: &[u64]) -> HashMap<u64, String> {
    let mut wanted: Vec<u64> = lines.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let mut out = HashMap::with_capacity(wanted.len());
    let Ok(file) = File::open(path) else { return out };
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    let mut next = wanted.iter().peekable();
    while let Some(&&target) = next.peek() {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => line_no += 1,
        }
        if line_no == target {
            let text = String::from_utf8_lossy(&buf).trim_end_matches(['\n', '\r']).to_string();
            out.insert(target, text);
            next.next();
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
        let line = rec.position().map_or(feed.rows_read + 1, |p| p.line());
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
    let texts = raw_lines(path, &bad.iter().map(|b| b.0).collect::<Vec<_>>());
    feed.quarantine = bad
        .into_iter()
        .map(|(line, column, reason)| QuarantinedRow {
            table: Table::Views,
            line,
            column: column.to_string(),
            reason: reason.to_string(),
            raw: texts.get(&line).cloned().unwrap_or_default(),
        })
        .collect();
    Ok((rows, feed))
}
