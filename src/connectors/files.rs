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

use super::window::hex;
use super::ConnectorError;
use crate::model::batch::{CachedRows, CsvTail, FileMark, Fingerprint, OlderCheck, OlderRows, RawTable, SideFeed, Source, StoredCheck};
use crate::model::contract::{col, Kind, Table};
use crate::model::day::{parse_day, Day};
use crate::model::history::ViewsRow;
use crate::model::run::{timed_ms, QuarantinedRow};

/// Finds and reads one table. With a `reach`, a daily table's rows dated
/// before it are left unread in [`RawTable::older`] (a Parquet file's row
/// groups that hold only such days are then skipped by the run's own reads;
/// a CSV file is parsed once either way).
pub fn read_table(dir: &Path, table: Table, key: &'static str, reach: Option<Day>) -> Result<RawTable, ConnectorError> {
    read_table_knowing(dir, table, key, reach, None, None)
}

/// [`read_table`], given what an earlier run kept of its check of the
/// table's older rows (`known`): when this file still holds those rows
/// unchanged, it goes on to the validator in [`OlderRows::known`], and only
/// the rest is judged again. Either way the file's mark for the next run
/// is in [`OlderRows::mark`]. When that run also kept its valid rows from
/// its reach on in `validated` ([`super::window`]) and the file holds them
/// as they were, only the rows after them are read ([`RawTable::cached`]).
pub fn read_table_knowing(dir: &Path, table: Table, key: &'static str, reach: Option<Day>, known: Option<&StoredCheck>, validated: Option<&Path>) -> Result<RawTable, ConnectorError> {
    let csv = dir.join(format!("{}.csv", table.name()));
    let parquet = dir.join(format!("{}.parquet", table.name()));
    let reach = reach.filter(|_| table.columns().iter().any(|c| c.name == col::DATE));
    let known = known.filter(|k| k.table == table);
    if csv.exists() {
        guarded(&csv, || {
            let Some(reach) = reach else { return read_csv(&csv, table, key) };
            let known = known.filter(|k| k.source == csv.display().to_string());
            if let (Some(k), Some(dir)) = (known, validated) {
                if let Some(t) = read_csv_window(&csv, table, key, reach, k, dir)? {
                    return Ok(t);
                }
            }
            read_csv_knowing(&csv, table, key, reach, known)
        })
    } else if parquet.exists() {
        guarded(&parquet, || {
            let known = known.filter(|k| k.source == parquet.display().to_string());
            if let (Some(k), Some(dir), Some(reach)) = (known, validated, reach) {
                if let Some(t) = read_parquet_window(&parquet, table, key, reach, k, dir)? {
                    return Ok(t);
                }
            }
            read_parquet(&parquet, table, key, reach, known)
        })
    } else {
        Err(ConnectorError::MissingTable { key, dir: dir.display().to_string(), table: table.name() })
    }
}

/// A CSV daily table read with a reach, given what an earlier run kept of
/// its check ([`read_table_knowing`] without cached rows).
fn read_csv_knowing(csv: &Path, table: Table, key: &'static str, reach: Day, known: Option<&StoredCheck>) -> Result<RawTable, ConnectorError> {
    let csv = csv.to_path_buf();
    let at = known.and_then(|k| match &k.mark.fingerprint {
        Fingerprint::Csv { bytes, .. } => Some(*bytes),
        _ => None,
    });
    // Where the rows this run needs begin, when an earlier run
    // marked it (for this reach or an earlier one).
    let tail = known.filter(|k| k.check.before <= reach).and_then(|k| match &k.mark.fingerprint {
        Fingerprint::Csv { from, .. } => *from,
        _ => None,
    });
    // The file is hashed beside the parse (both read it from the page cache).
    let (parsed, hashed) = std::thread::scope(|s| {
        let hashed = s.spawn(|| hash_csv(&csv, at));
        let parsed = match tail {
            Some(from) => read_csv_from(&csv, table, key, from),
            None => read_csv(&csv, table, key),
        };
        (parsed, hashed.join())
    });
    let hashed = hashed.ok().and_then(Result::ok);
    // The tail read stands when the file still begins with the
    // bytes that mark was made of; otherwise the whole file is read.
    let prefix_same = |k: &StoredCheck| match (&k.mark.fingerprint, &hashed) {
        (Fingerprint::Csv { hash, .. }, Some(h)) => h.at.map(hex).as_deref() == Some(hash.as_str()),
        _ => false,
    };
    let (t, tail) = match tail {
        Some(from) if known.is_some_and(prefix_same) => (parsed?, Some(from)),
        Some(_) => (read_csv(&csv, table, key)?, None),
        None => (parsed?, None),
    };
    split_csv(t, reach, &csv, known.filter(|k| prefix_same(k)), hashed, tail, key)
}

/// The rows of a CSV daily table after those an earlier run kept
/// ([`super::window`]), with the kept ones: when the file still begins with
/// the bytes that run read (it only grew) and none of the rows after them
/// is dated before this run's reach. None: read it as if nothing were kept.
fn read_csv_window(csv: &Path, table: Table, key: &'static str, reach: Day, k: &StoredCheck, dir: &Path) -> Result<Option<RawTable>, ConnectorError> {
    let Some(w) = k.window.as_ref().filter(|w| w.from <= reach && k.check.before == w.from) else { return Ok(None) };
    let Fingerprint::Csv { bytes, hash, from } = &k.mark.fingerprint else { return Ok(None) };
    let after = CsvTail { offset: *bytes, line: k.mark.lines + 1 };
    // The lines are counted from where the last run's needed rows began
    // (the bytes before it are only hashed): this run's begin after it.
    let count = from.filter(|f| f.offset <= *bytes).unwrap_or(CsvTail { offset: 0, line: 1 });
    // The whole file hashed, the kept rows read back and the new ones parsed, side by side.
    let ((parsed, parse_ms), hashed, kept) = std::thread::scope(|s| {
        let hashed = s.spawn(|| timed_ms(|| hash_csv_counting(csv, Some(*bytes), count)));
        let kept = s.spawn(|| timed_ms(|| super::window::read(dir, w)));
        (timed_ms(|| read_csv_from(csv, table, key, after)), hashed.join(), kept.join())
    });
    let (hashed, hash_ms) = hashed.map_or((None, 0), |(h, ms)| (h.ok(), ms));
    let (kept, kept_ms) = kept.map_or_else(|panic| (Err(panic), 0), |(k, ms)| (Ok(k), ms));
    let Some(h) = hashed.filter(|h| h.at.map(hex).as_deref() == Some(hash.as_str())) else {
        tracing::info!(path = %csv.display(), "the file changed before its end: read whole again");
        return Ok(None);
    };
    let Some((rows, ids)) = read_back(kept) else { return Ok(None) };
    let new = parsed?.df;
    if dated_before(&new, reach, csv)? {
        return Ok(None);
    }
    // The next run's mark: this whole file, and where the rows it needs
    // begin (the first kept row from this reach on, else the first new one).
    let grown = std::fs::metadata(csv).map(|m| m.len() != h.len).unwrap_or(true);
    let mark = if h.ends_record && !grown {
        let lines = last_line(new.clone().lazy()).map_err(read_err(csv))?.max(k.mark.lines);
        let first_kept = first_line(rows.clone().lazy().filter(col(col::DATE).gt_eq(lit(reach)))).map_err(read_err(csv))?;
        let first = match first_kept {
            Some(l) => Some(l),
            None => first_line(new.clone().lazy()).map_err(read_err(csv))?,
        };
        let from = if h.lines_are_records(lines) {
            let line = first.unwrap_or(lines + 1);
            line_start(csv, &h.starts, line).ok().map(|offset| CsvTail { offset, line }).or(*from)
        } else {
            *from
        };
        Some(FileMark { fingerprint: Fingerprint::Csv { bytes: h.len, hash: hex(h.whole), from }, lines })
    } else {
        None
    };
    tracing::debug!(path = %csv.display(), kept = rows.height(), new = new.height(), hash_ms, kept_ms, parse_ms, "csv read after its kept rows");
    let (path, known) = (csv.to_path_buf(), StoredCheck { window: None, ..k.clone() });
    let reread: crate::model::batch::ReadAgain = Arc::new(move || read_csv_knowing(&path, table, key, reach, Some(&known)).map_err(|e| e.to_string()));
    Ok(Some(kept_table(table, new, reach, k, mark, CachedRows { rows, ids, window: w.clone(), reread }, Source::Csv(csv.to_path_buf()))))
}

/// The kept rows read back, or None (told why) when they could not be.
fn read_back(kept: std::thread::Result<Result<(DataFrame, DataFrame), String>>) -> Option<(DataFrame, DataFrame)> {
    match kept {
        Ok(Ok(kept)) => Some(kept),
        Ok(Err(e)) => {
            tracing::info!(error = %e, "the kept rows were not read back: the file is read again");
            None
        }
        Err(_) => None,
    }
}

/// Whether any of the rows after the kept ones is dated before the reach
/// (then the older rows' check may not hold: the file is read again).
fn dated_before(new: &DataFrame, reach: Day, path: &Path) -> Result<bool, ConnectorError> {
    let late = new.clone().lazy().filter(col(col::DATE).cast(DataType::Int32).lt(lit(reach))).select([len().cast(DataType::UInt64).alias("n")]).collect().map_err(read_err(path))?;
    let late = late.column("n").map_err(read_err(path))?.u64().map_err(read_err(path))?.get(0).unwrap_or(0) > 0;
    if late {
        tracing::info!(path = %path.display(), "rows dated before the reach were added: the file is read again");
    }
    Ok(late)
}

/// A daily table read after its kept rows: `new` to judge, the earlier
/// run's check of the older rows (none of them read), the kept rows.
fn kept_table(table: Table, new: DataFrame, reach: Day, k: &StoredCheck, mark: Option<FileMark>, cached: CachedRows, source: Source) -> RawTable {
    let older = OlderRows { rows: new.clear().lazy(), before: reach, known: Some(k.check.clone()), mark, all: None };
    RawTable { table, df: new, older: Some(older), cached: Some(cached), source }
}

/// A CSV file's bytes hashed in one pass: the whole file's hash and length,
/// whether it ends a record (a line break outside quotes), the hash of its
/// first `at` bytes when it has that many, and, from a record on (the
/// first by default), how many line breaks and quotes follow and where
/// its lines begin.
struct CsvHash {
    len: u64,
    whole: u128,
    at: Option<u128>,
    ends_record: bool,
    /// Whether the bytes counted hold no quote: then each of their line
    /// breaks ends a record.
    plain: bool,
    newlines: u64,
    starts: LineStarts,
}

impl CsvHash {
    /// Whether line `lines` is the last record and each line after the
    /// counting began is one record (so [`line_start`] finds records).
    fn lines_are_records(&self, lines: u64) -> bool {
        self.plain && lines > 0 && self.starts.line - 1 + self.newlines == lines
    }
}

/// Where the lines of the counted bytes begin: `at[i]` is the byte where
/// line `line + i * LINE_STEP` does.
struct LineStarts {
    line: u64,
    at: Vec<u64>,
}

/// Lines between two of [`CsvHash::starts`].
const LINE_STEP: u64 = 1 << 16;

fn hash_csv(path: &Path, at: Option<u64>) -> std::io::Result<CsvHash> {
    hash_csv_counting(path, at, CsvTail { offset: 0, line: 1 })
}

/// [`hash_csv`] counting from record `count` on (the bytes before it are
/// only hashed): a record begins outside quotes, so the quotes before it
/// are even, and the file ends a record as the bytes from it do.
fn hash_csv_counting(path: &Path, at: Option<u64>, count: CsvTail) -> std::io::Result<CsvHash> {
    use std::io::Read;
    let mut file = File::open(path)?;
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    let (mut len, mut quotes, mut newlines, mut last) = (0u64, 0u64, 0u64, 0u8);
    let mut prefix = None;
    let mut starts = vec![count.offset];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        match at {
            Some(a) if prefix.is_none() && len + n as u64 >= a => {
                let (head, tail) = chunk.split_at((a - len) as usize);
                hasher.update(head);
                prefix = Some(hasher.digest128());
                hasher.update(tail);
            }
            _ => hasher.update(chunk),
        }
        last = chunk[n - 1];
        // The part of the chunk counted, from `count.offset` on.
        let skipped = count.offset.saturating_sub(len).min(n as u64) as usize;
        let (base, counted) = (len + skipped as u64, &chunk[skipped..]);
        len += n as u64;
        quotes += count_byte(counted, b'"');
        let here = count_byte(counted, b'\n');
        // The line starts this chunk holds (rarely more than none).
        let mut next = starts.len() as u64 * LINE_STEP;
        if newlines + here >= next {
            let mut seen = newlines;
            for i in memchr::memchr_iter(b'\n', counted) {
                seen += 1;
                if seen == next {
                    starts.push(base + i as u64 + 1);
                    next += LINE_STEP;
                }
            }
        }
        newlines += here;
    }
    if at == Some(0) {
        prefix = Some(xxhash_rust::xxh3::Xxh3::new().digest128());
    }
    let starts = LineStarts { line: count.line, at: starts };
    Ok(CsvHash { len, whole: hasher.digest128(), at: prefix, ends_record: last == b'\n' && quotes % 2 == 0, plain: quotes == 0, newlines, starts })
}

/// How many of `bytes` are `byte`: in blocks of 255, whose count fits the
/// byte-wide lanes the compiler vectorizes the inner sum into (a plain
/// filter-and-count took most of the time of hashing a file).
fn count_byte(bytes: &[u8], byte: u8) -> u64 {
    bytes.chunks(255).map(|c| c.iter().fold(0u8, |n, b| n + u8::from(*b == byte)) as u64).sum()
}

/// The byte where line `line` begins (the file's length for the line
/// after its last), from the line starts [`hash_csv`] noted.
fn line_start(path: &Path, starts: &LineStarts, line: u64) -> std::io::Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let Some(from) = line.checked_sub(starts.line) else {
        return Err(std::io::Error::other(format!("line {line} is before the lines counted (from {})", starts.line)));
    };
    let i = ((from / LINE_STEP) as usize).min(starts.at.len() - 1);
    let mut skip = from - i as u64 * LINE_STEP;
    let mut at = starts.at[i];
    if skip == 0 {
        return Ok(at);
    }
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(at))?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, format!("the file has no line {line}")));
        }
        for (i, _) in buf[..n].iter().enumerate().filter(|(_, b)| **b == b'\n') {
            skip -= 1;
            if skip == 0 {
                return Ok(at + i as u64 + 1);
            }
        }
        at += n as u64;
    }
}

/// The largest `__line` of a frame's rows (0: none).
fn last_line(lf: LazyFrame) -> PolarsResult<u64> {
    let df = lf.select([col(col::LINE).cast(DataType::UInt64).max()]).collect()?;
    Ok(df.column(col::LINE)?.u64()?.get(0).unwrap_or(0))
}

/// How many rows of `lf` lie after line `lines` and are dated before
/// `before`: rows an earlier check could not have judged.
fn late_old_rows(lf: LazyFrame, lines: u64, before: Day) -> PolarsResult<u64> {
    let date = col(col::DATE).cast(DataType::Int32);
    let df = lf
        .filter(col(col::LINE).cast(DataType::UInt64).gt(lit(lines)).and(date.lt(lit(before))))
        .select([len().alias("n")])
        .collect()?;
    Ok(df.column("n")?.cast(&DataType::UInt64)?.u64()?.get(0).unwrap_or(0))
}

/// The check an earlier run kept, when this file's first `same_lines`
/// lines are its rows unchanged: every row it judged lies among them
/// (`late` counts this file's rows after them dated before its reach,
/// which must be none), its reach is not after this run's, and its file
/// is this one.
fn still_known(known: Option<&StoredCheck>, path: &Path, same_lines: Option<u64>, reach: Day, late: impl FnOnce(u64, Day) -> PolarsResult<u64>) -> PolarsResult<Option<OlderCheck>> {
    let (Some(k), Some(same)) = (known, same_lines) else { return Ok(None) };
    if k.source != path.display().to_string() || k.check.before > reach || k.check.last_line > same {
        return Ok(None);
    }
    if late(same, k.check.before)? > 0 {
        tracing::info!(path = %path.display(), "rows dated before an earlier check's reach were added: the older rows are judged again");
        return Ok(None);
    }
    Ok(Some(k.check.clone()))
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

/// A CSV file's header: the contract's columns, none named twice (one would
/// be read from its first occurrence alone).
fn check_header(path: &Path, table: Table, key: &'static str) -> Result<(), ConnectorError> {
    let mut first = csv::Reader::from_path(path).map_err(|e| ConnectorError::Read { path: path.display().to_string(), message: e.to_string() })?;
    let names = first.headers().map_err(|e| ConnectorError::Read { path: path.display().to_string(), message: e.to_string() })?.clone();
    let mut seen = HashSet::new();
    if let Some(twice) = names.iter().map(str::trim).find(|n| !seen.insert(*n)) {
        return Err(ConnectorError::DuplicateColumn { key, path: path.display().to_string(), column: twice.to_string() });
    }
    let names: Vec<&str> = names.iter().collect();
    check_columns(&names, table, path, key)
}

/// How a CSV table is parsed: the contract's columns in their types, each
/// row numbered by its record (`first_line` for the first one after the
/// header).
fn csv_options(table: Table, first_line: u64) -> CsvReadOptions {
    let schema: Schema = table
        .columns()
        .iter()
        .map(|c| Field::new(c.name.into(), c.kind.read_dtype()))
        .collect();
    let columns: Arc<[PlSmallStr]> = table.columns().iter().map(|c| PlSmallStr::from(c.name)).collect();
    CsvReadOptions::default()
        .with_has_header(true)
        .with_columns(Some(columns))
        .with_schema_overwrite(Some(Arc::new(schema)))
        .with_infer_schema_length(Some(0))
        .with_ignore_errors(true)
        .with_row_index(Some(RowIndex { name: col::LINE.into(), offset: first_line as IdxSize }))
        // A byte that is not UTF-8 becomes U+FFFD here, and its row is
        // quarantined by the validator, instead of failing the whole file.
        .map_parse_options(|o| o.with_truncate_ragged_lines(true).with_missing_is_null(true).with_encoding(CsvEncoding::LossyUtf8))
}

fn read_csv(path: &Path, table: Table, key: &'static str) -> Result<RawTable, ConnectorError> {
    check_header(path, table, key)?;
    let df = csv_options(table, 2).try_into_reader_with_file_path(Some(path.to_path_buf())).and_then(|r| r.finish()).map_err(read_err(path))?;
    Ok(RawTable::whole(table, df, Source::Csv(path.to_path_buf())))
}

/// A CSV table's records from one on (`from`), under its header: what a
/// run needs when an earlier one marked where its rows begin.
fn read_csv_from(path: &Path, table: Table, key: &'static str, from: CsvTail) -> Result<RawTable, ConnectorError> {
    use std::io::{BufRead, Read, Seek, SeekFrom};
    check_header(path, table, key)?;
    let io = |e: std::io::Error| ConnectorError::Read { path: path.display().to_string(), message: e.to_string() };
    let mut file = File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    std::io::BufReader::new(&mut file).read_until(b'\n', &mut bytes).map_err(io)?;
    file.seek(SeekFrom::Start(from.offset)).map_err(io)?;
    file.read_to_end(&mut bytes).map_err(io)?;
    let df = csv_options(table, from.line).into_reader_with_file_handle(std::io::Cursor::new(bytes)).finish().map_err(read_err(path))?;
    tracing::debug!(path = %path.display(), from_line = from.line, from_byte = from.offset, rows = df.height(), "csv read from a marked line");
    Ok(RawTable::whole(table, df, Source::Csv(path.to_path_buf())))
}

/// The rows a run reads of a daily table: dated from `reach` on, or without
/// a readable date (the validator quarantines those).
fn from_reach(date: Expr, reach: Day) -> Expr {
    date.clone().is_null().or(date.gt_eq(lit(reach)))
}

/// Splits a CSV table at `reach`: the older rows stay behind, lazily, with
/// what an earlier check of them still says (`known`, when the file begins
/// with the bytes it was made of) and this file's mark. `tail`: the table
/// was read from that record on (every record before it is dated before
/// the earlier check's reach, so that check holds them all).
fn split_csv(t: RawTable, reach: Day, path: &Path, known: Option<&StoredCheck>, hashed: Option<CsvHash>, tail: Option<CsvTail>, key: &'static str) -> Result<RawTable, ConnectorError> {
    let date = col(col::DATE).cast(DataType::Int32);
    let read = t.df.lazy();
    let df = read.clone().filter(from_reach(date.clone(), reach)).collect().map_err(read_err(path))?;
    // The earlier file's rows are this file's first ones when its bytes are
    // this file's first bytes (it ended a record, so they parse alike).
    let same_lines = known.map(|k| k.mark.lines);
    let known = still_known(known, path, same_lines, reach, |lines, before| late_old_rows(read.clone(), lines, before)).map_err(read_err(path))?;
    // The bytes parsed are the bytes hashed unless the file grew meanwhile.
    let grown = std::fs::metadata(path).map(|m| Some(m.len()) != hashed.as_ref().map(|h| h.len)).unwrap_or(true);
    let mark = match hashed {
        Some(h) if h.ends_record && !grown => {
            let lines = last_line(read.clone()).map_err(read_err(path))?;
            // Where the next run's read may begin: the first record this
            // run needs (dated from the reach on, or without a date). Known
            // only when every line break ends a record.
            let from = if h.lines_are_records(lines) {
                let first = first_line(df.clone().lazy()).map_err(read_err(path))?.unwrap_or(lines + 1);
                line_start(path, &h.starts, first).ok().map(|offset| CsvTail { offset, line: first })
            } else {
                None
            };
            Some(FileMark { fingerprint: Fingerprint::Csv { bytes: h.len, hash: hex(h.whole), from }, lines })
        }
        _ => None,
    };
    // Read from a later record, the older rows are only some of them: all
    // of them are read again should the earlier check not hold after all.
    let all_older = tail.map(|_| {
        let path = path.to_path_buf();
        let table = t.table;
        Arc::new(move || {
            let whole = read_csv(&path, table, key).map_err(|e| PolarsError::ComputeError(e.to_string().into()))?;
            Ok(whole.df.lazy().filter(col(col::DATE).cast(DataType::Int32).lt(lit(reach))))
        }) as crate::model::batch::ReadOlder
    });
    let older = OlderRows { rows: read.filter(date.lt(lit(reach))), before: reach, known, mark, all: all_older };
    Ok(RawTable { table: t.table, df, older: Some(older), cached: None, source: t.source })
}

/// The smallest `__line` of a frame's rows (None: none).
fn first_line(lf: LazyFrame) -> PolarsResult<Option<u64>> {
    let df = lf.select([col(col::LINE).cast(DataType::UInt64).min()]).collect()?;
    Ok(df.column(col::LINE)?.u64()?.get(0))
}

/// A Parquet file's row group: its rows, the hash of its bytes, and the
/// oldest day its statistics give for a date column stored as dates.
struct RowGroup {
    rows: u64,
    hash: String,
    first_day: Option<Day>,
}

/// A Parquet file's row groups, in order.
fn parquet_groups(path: &Path) -> Result<Vec<RowGroup>, ConnectorError> {
    use polars_parquet::parquet::statistics::Statistics;
    use std::os::unix::fs::FileExt;
    let io = |e: std::io::Error| ConnectorError::Read { path: path.display().to_string(), message: e.to_string() };
    let file = File::open(path).map_err(io)?;
    let mut reader = ParquetReader::new(file.try_clone().map_err(io)?);
    let meta = reader.get_metadata().map_err(read_err(path))?.clone();
    let dates_stored = reader.schema().map_err(read_err(path))?.get(col::DATE).is_some_and(|f| f.dtype == ArrowDataType::Date32);
    let first_day = |g: &polars_parquet::parquet::metadata::RowGroupMetadata| -> Option<Day> {
        let chunk = g.columns_under_root_iter(col::DATE)?.next()?;
        match chunk.statistics(&meta.footer_buf)?.ok()? {
            Statistics::Int32(s) if dates_stored => s.min_value,
            _ => None,
        }
    };
    let mut buf = Vec::new();
    meta.row_groups
        .iter()
        .map(|g| {
            let range = g.full_byte_range();
            buf.resize((range.end - range.start) as usize, 0);
            file.read_exact_at(&mut buf, range.start).map_err(io)?;
            Ok(RowGroup { rows: g.num_rows() as u64, hash: hex(xxhash_rust::xxh3::xxh3_128(&buf)), first_day: first_day(g) })
        })
        .collect()
}

/// A Parquet table's columns as the contract reads them: a column may hold
/// another type (an int32, a date as text), cast without failing, as the
/// CSV reader does (failures become null).
fn parquet_casts(schema: &Schema, table: Table) -> Vec<Expr> {
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
    casts
}

/// [`read_csv_window`] for a Parquet file: the rows of the row groups after
/// those still as an earlier run read them (byte for byte, from the first
/// on; a writer that appends rows rewrites the last group), when these hold
/// every row its older rows' check judged. Kept rows of the groups after
/// them are read and judged again.
fn read_parquet_window(path: &Path, table: Table, key: &'static str, reach: Day, k: &StoredCheck, dir: &Path) -> Result<Option<RawTable>, ConnectorError> {
    let Some(w) = k.window.as_ref().filter(|w| w.from <= reach && k.check.before == w.from) else { return Ok(None) };
    let Fingerprint::Parquet { groups: before } = &k.mark.fingerprint else { return Ok(None) };
    let (groups, kept) = std::thread::scope(|s| {
        let kept = s.spawn(|| super::window::read(dir, w));
        (parquet_groups(path), kept.join())
    });
    let groups = groups?;
    let same = groups.iter().zip(before).take_while(|(a, b)| a.rows == b.0 && a.hash == b.1).count();
    let old: u64 = groups[..same].iter().map(|g| g.rows).sum();
    if k.check.last_line > old {
        tracing::info!(path = %path.display(), "the file's earlier row groups changed: read whole again");
        return Ok(None);
    }
    let Some((rows, ids)) = read_back(kept) else { return Ok(None) };
    let rows = if rows.height() > 0 && old < k.mark.lines { rows.lazy().filter(col(col::LINE).cast(DataType::UInt64).lt_eq(lit(old))).collect().map_err(read_err(path))? } else { rows };
    let total: u64 = groups.iter().map(|g| g.rows).sum();
    let io = |e: std::io::Error| ConnectorError::Read { path: path.display().to_string(), message: e.to_string() };
    let mut reader = ParquetReader::new(File::open(path).map_err(io)?);
    let schema = Schema::from_arrow_schema(reader.schema().map_err(read_err(path))?.as_ref());
    let names: Vec<&str> = schema.iter_names().map(|s| s.as_str()).collect();
    check_columns(&names, table, path, key)?;
    // Only the later row groups are read (a slice of the eager reader).
    let mut new = reader.with_slice(Some((old as usize, (total - old) as usize))).finish().map_err(read_err(path))?;
    new = new.with_row_index(col::LINE.into(), Some((old + 1) as IdxSize)).map_err(read_err(path))?;
    let new = new.lazy().select(parquet_casts(&schema, table)).collect().map_err(read_err(path))?;
    if dated_before(&new, reach, path)? {
        return Ok(None);
    }
    tracing::debug!(path = %path.display(), kept = rows.height(), new = new.height(), "parquet read after its kept rows");
    let mark = Some(FileMark { fingerprint: Fingerprint::Parquet { groups: groups.into_iter().map(|g| (g.rows, g.hash)).collect() }, lines: total });
    let (file, known) = (path.to_path_buf(), StoredCheck { window: None, ..k.clone() });
    let reread: crate::model::batch::ReadAgain = Arc::new(move || read_parquet(&file, table, key, Some(reach), Some(&known)).map_err(|e| e.to_string()));
    Ok(Some(kept_table(table, new, reach, k, mark, CachedRows { rows, ids, window: w.clone(), reread }, Source::Parquet(path.to_path_buf()))))
}

fn read_parquet(path: &Path, table: Table, key: &'static str, reach: Option<Day>, known: Option<&StoredCheck>) -> Result<RawTable, ConnectorError> {
    File::open(path).map_err(|e| ConnectorError::Read { path: path.display().to_string(), message: e.to_string() })?;
    let mut scan = LazyFrame::scan_parquet(PlRefPath::new(path.display().to_string()), ScanArgsParquet { row_index: Some(RowIndex { name: col::LINE.into(), offset: 1 }), ..Default::default() })
        .map_err(read_err(path))?;
    let schema = scan.collect_schema().map_err(read_err(path))?;
    let names: Vec<&str> = schema.iter_names().map(|s| s.as_str()).collect();
    check_columns(&names, table, path, key)?;
    let casts = parquet_casts(&schema, table);
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
    // The earlier file's rows are this file's first ones as far as their
    // row groups are the same bytes.
    let groups = parquet_groups(path)?;
    let same_groups = known.and_then(|k| match &k.mark.fingerprint {
        Fingerprint::Parquet { groups: before } => Some(groups.iter().zip(before).take_while(|(a, b)| a.rows == b.0 && a.hash == b.1).count()),
        _ => None,
    });
    let same_lines = same_groups.map(|n| groups[..n].iter().map(|g| g.rows).sum::<u64>());
    tracing::debug!(path = %path.display(), groups = groups.len(), same_groups = ?same_groups, known_last_line = ?known.map(|k| k.check.last_line), "parquet row groups hashed");
    let known = still_known(known, path, same_lines, reach, |lines, before| {
        // The later row groups' statistics tell when none of them holds a
        // row dated that early (the usual case: a day appended).
        let later = &groups[same_groups.unwrap_or(0)..];
        if later.iter().all(|g| g.first_day.is_some_and(|d| d >= before)) {
            return Ok(0);
        }
        // Otherwise count them: the rows after the same ones, read. (A slice
        // of the scan would skip the same row groups unread, but polars
        // 0.55's scan with a slice hung here once in three runs.)
        let after = LazyFrame::scan_parquet(PlRefPath::new(path.display().to_string()), ScanArgsParquet { row_index: Some(RowIndex { name: col::LINE.into(), offset: 1 }), ..Default::default() })?
            .filter(col(col::LINE).cast(DataType::UInt64).gt(lit(lines)));
        let date = if date_is_date { col(col::DATE).cast(DataType::Int32) } else { col(col::DATE).str().to_date(StrptimeOptions { format: Some("%Y-%m-%d".into()), strict: false, exact: true, cache: true }).cast(DataType::Int32) };
        let n = after.filter(date.lt(lit(before))).select([len().alias("n")]).collect()?;
        Ok(n.column("n")?.cast(&DataType::UInt64)?.u64()?.get(0).unwrap_or(0))
    })
    .map_err(read_err(path))?;
    let lines = groups.iter().map(|g| g.rows).sum();
    let mark = Some(FileMark { fingerprint: Fingerprint::Parquet { groups: groups.into_iter().map(|g| (g.rows, g.hash)).collect() }, lines });
    let older = OlderRows { rows: older, before: reach, known, mark, all: None };
    Ok(RawTable { table, df, older: Some(older), cached: None, source: Source::Parquet(path.to_path_buf()) })
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
