//! The valid rows a run keeps for the next one (issue 17,
//! `history.validated_dir`): a daily table's rows from the run's reach on,
//! as it handed them on, with the ids its index stands for. The next run
//! over a file that only grew reads these instead of parsing and judging
//! the same rows again ([`crate::model::batch::CachedRows`]).
//!
//! Two Arrow IPC files per table and run, named by the run, each with its
//! hash in the database's check: a file that is not the one kept is never
//! read (the table is then read from the feed). IPC, not Parquet: the
//! columns are written as they are in memory (a Parquet writer encodes each
//! into dictionaries, which took most of a large run's second core while
//! the run went on), at about twice the bytes.

use std::path::Path;

use polars::prelude::*;

use crate::model::batch::Window;
use crate::model::contract::Table;
use crate::model::day::Day;

/// The kept files' suffix; files of an earlier format (`.parquet`) are
/// never read and are removed as an earlier run's.
const SUFFIX: &str = "arrow";

/// A 128-bit hash as the checks hold it: 32 hex digits.
pub(super) fn hex(h: u128) -> String {
    format!("{h:032x}")
}

fn hash(bytes: &[u8]) -> String {
    hex(xxhash_rust::xxh3::xxh3_128(bytes))
}

/// A kept window's rows and ids, each read only when its file is the one kept.
pub fn read(dir: &Path, w: &Window) -> Result<(DataFrame, DataFrame), String> {
    let load = |name: &str, kept: &str| -> Result<DataFrame, String> {
        let path = dir.join(name);
        let failed = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        let file = std::fs::File::open(&path).map_err(|e| failed(&e))?;
        // Mapped, not read: the columns are the file's pages (no copy of
        // hundreds of megabytes into fresh memory). Safety: the files in
        // the directory are written whole under a temporary name and only
        // ever renamed or removed, never changed in place.
        let mapped = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| failed(&e))?;
        if hash(&mapped) != kept {
            return Err(format!("{}: not the file that was kept", path.display()));
        }
        drop(mapped);
        unsafe { IpcReader::new(file).memory_mapped(Some(path.clone())) }.finish().map_err(|e| failed(&e))
    };
    let (rows, ids) = std::thread::scope(|s| {
        let ids = s.spawn(|| load(&w.ids_file, &w.ids_hash));
        (load(&w.rows_file, &w.rows_hash), ids.join().unwrap_or_else(|_| Err("the reader failed".into())))
    });
    let rows = rows?;
    if rows.height() as u64 != w.rows {
        return Err(format!("{}: {} rows, {} kept", w.rows_file, rows.height(), w.rows));
    }
    Ok((rows, ids?))
}

/// A run's valid rows of `table` from `from` on and the ids of its index,
/// to keep.
#[derive(Debug, Clone)]
pub struct Keep {
    pub table: Table,
    /// `__line`, the index, date and the values, in file order.
    pub rows: DataFrame,
    /// The ids, in index order.
    pub ids: DataFrame,
    pub from: Day,
    pub as_of: Day,
}

/// Writes a window's two files (under a temporary name first, so a file by
/// its final name is always whole).
pub fn write(dir: &Path, run_id: &str, keep: &Keep) -> Result<Window, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let put = |df: &DataFrame, what: &str| -> Result<(String, String), String> {
        let name = format!("{}.{run_id}.{what}.{SUFFIX}", keep.table.name());
        let path = dir.join(&name);
        let failed = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        let tmp = dir.join(format!("{name}.tmp"));
        // Straight to the file, hashed on the way (no copy of it in memory).
        let file = std::fs::File::create(&tmp).map_err(|e| failed(&e))?;
        let mut out = Hashing { to: std::io::BufWriter::with_capacity(1 << 20, file), hasher: xxhash_rust::xxh3::Xxh3::new() };
        IpcWriter::new(&mut out).with_compression(None).finish(&mut df.clone()).map_err(|e| failed(&e))?;
        let Hashing { to, hasher } = out;
        to.into_inner().map_err(|e| failed(&e.into_error()))?;
        std::fs::rename(&tmp, &path).map_err(|e| failed(&e))?;
        Ok((name, hex(hasher.digest128())))
    };
    let ((rows_file, rows_hash), (ids_file, ids_hash)) = std::thread::scope(|s| {
        let ids = s.spawn(|| put(&keep.ids, "ids"));
        Ok::<_, String>((put(&keep.rows, "rows")?, ids.join().unwrap_or_else(|_| Err("the writer failed".into()))?))
    })?;
    Ok(Window { rows_file, ids_file, rows_hash, ids_hash, rows: keep.rows.height() as u64, from: keep.from, as_of: keep.as_of })
}

/// A writer that hashes (xxh3-128, as [`hash`]) the bytes it passes on.
struct Hashing<W> {
    to: W,
    hasher: xxhash_rust::xxh3::Xxh3,
}

impl<W: std::io::Write> std::io::Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.to.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.to.flush()
    }
}

/// Removes the directory's window files of `table` but `keep`'s (the
/// earlier runs' ones, and any a crash left half written).
pub fn prune(dir: &Path, table: Table, keep: Option<&Window>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let prefix = format!("{}.", table.name());
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let kept = keep.is_some_and(|w| name == w.rows_file || name == w.ids_file);
        if name.starts_with(&prefix) && [".parquet", ".arrow", ".tmp"].iter().any(|s| name.ends_with(s)) && !kept {
            if let Err(err) = std::fs::remove_file(e.path()) {
                tracing::warn!(path = %e.path().display(), error = %err, "an old window file was not removed");
            }
        }
    }
}
