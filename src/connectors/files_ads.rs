//! The `files` ads connector as a platform (SPEC §10): an applied action is
//! appended to `actions_applied.csv` in the ads directory, for whatever owns
//! the files to carry out before the next day's data is written.
//!
//! The file is the platform's state: an action is in effect when its key is
//! in it. It is read and written with the `csv` crate, so a key whose ids
//! hold a comma, a quote or a line break is found again after a crash. Each
//! action is one `write` of a whole record on an append-only file, so a
//! crash leaves either the whole record or, at worst, a torn tail, which is
//! cut off before the next append. A create carries its ad copy in the last
//! three columns (a file begun before they existed keeps its nine).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::platform::{AdPlatform, Capabilities, PlatformError};
use crate::model::day::{date_of, Day};
use crate::model::plan::Action;

pub const APPLIED_FILE: &str = "actions_applied.csv";
const COLUMNS: [&str; 12] =
    ["as_of", "key", "campaign_id", "product_id", "kind", "from", "to", "paused_by", "effective_date", "name", "headline", "description"];
/// The columns of a file begun before the copy columns.
const OLD_COLUMNS: usize = 9;

struct State {
    file: File,
    keys: HashSet<String>,
    /// Whether this file has the copy columns.
    with_copy: bool,
}

pub struct FilesAds {
    path: PathBuf,
    state: Mutex<Option<State>>,
}

fn err(e: impl std::fmt::Display) -> PlatformError {
    PlatformError::Failed { platform: "files", message: e.to_string() }
}

/// One CSV record (with its line end), quoted where a field needs it.
fn record(fields: &[&str]) -> Result<Vec<u8>, PlatformError> {
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    w.write_record(fields).map_err(err)?;
    w.into_inner().map_err(|e| err(e.error()))
}

/// The keys of an `actions_applied.csv` text, and whether it has the copy columns.
fn parse(text: &str) -> Result<(HashSet<String>, bool), csv::Error> {
    let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let with_copy = r.headers()?.len() >= COLUMNS.len();
    let mut keys = HashSet::new();
    for rec in r.records() {
        if let Some(k) = rec?.get(1) {
            keys.insert(k.to_string());
        }
    }
    Ok((keys, with_copy))
}

impl FilesAds {
    pub fn new(dir: &Path) -> Self {
        FilesAds { path: dir.join(APPLIED_FILE), state: Mutex::new(None) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the file once: writes the header if new, cuts a torn last
    /// record, and loads the keys already applied.
    fn open(&self) -> Result<State, PlatformError> {
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(&self.path).map_err(err)?;
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(err)?;
        if !text.is_empty() && !text.ends_with('\n') {
            let keep = text.rfind('\n').map(|i| i + 1).unwrap_or(0);
            tracing::warn!(path = %self.path.display(), "cutting a torn last line left by a crash");
            file.set_len(keep as u64).map_err(err)?;
            file.seek(SeekFrom::End(0)).map_err(err)?;
            text.truncate(keep);
        }
        if text.is_empty() {
            file.write_all(&record(&COLUMNS)?).map_err(err)?;
            return Ok(State { file, keys: HashSet::new(), with_copy: true });
        }
        let (keys, with_copy) = parse(&text).map_err(|e| err(format!("{}: {e}", self.path.display())))?;
        Ok(State { file, keys, with_copy })
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> Result<T, PlatformError>) -> Result<T, PlatformError> {
        let mut guard = self.state.lock().expect("files platform lock");
        if guard.is_none() {
            *guard = Some(self.open()?);
        }
        f(guard.as_mut().expect("opened above"))
    }

    /// Keys in the file in file order, read afresh (for tests and checks);
    /// none when there is no file.
    pub fn applied_keys(dir: &Path) -> Result<Vec<String>, csv::Error> {
        let path = dir.join(APPLIED_FILE);
        if !path.exists() {
            return Ok(Vec::new());
        }
        let mut r = csv::ReaderBuilder::new().flexible(true).from_path(path)?;
        r.records().map(|rec| Ok(rec?.get(1).unwrap_or_default().to_string())).collect()
    }
}

impl AdPlatform for FilesAds {
    fn name(&self) -> &'static str {
        "files"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::all()
    }

    async fn is_applied(&self, action: &Action) -> Result<bool, PlatformError> {
        self.with_state(|s| Ok(s.keys.contains(&action.key)))
    }

    async fn apply(&self, as_of: Day, a: &Action) -> Result<(), PlatformError> {
        let (as_of, from, to, effective) = (date_of(as_of).to_string(), format!("{:.2}", a.from), format!("{:.2}", a.to), a.effective_date.to_string());
        let copy = a.copy.as_ref().map(|c| c.cleaned(&a.product_id)).unwrap_or_default();
        let fields = [
            as_of.as_str(),
            &a.key,
            &a.campaign_id,
            &a.product_id,
            a.kind.as_str(),
            &from,
            &to,
            a.paused_by.map(|p| p.as_str()).unwrap_or(""),
            &effective,
            &copy.name,
            &copy.headline,
            &copy.description,
        ];
        // No dedup here: like a real platform, this one does what it is told;
        // exactly-once is the journal's job (and the crash test checks it).
        self.with_state(|s| {
            let line = record(if s.with_copy { &fields } else { &fields[..OLD_COLUMNS] })?;
            // One write of the whole record: an append either lands whole or tears at the tail.
            s.file.write_all(&line).map_err(err)?;
            s.keys.insert(a.key.clone());
            Ok(())
        })
    }

    async fn flush(&self) -> Result<(), PlatformError> {
        self.with_state(|s| s.file.sync_data().map_err(err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_commas_quotes_and_line_breaks_are_read_back() {
        let keys = ["2026-03-31/C,1/pause/0.00", "2026-03-31/C\"2/pause/0.00", "2026-03-31/C\n3/pause/0.00"];
        let mut text = String::from_utf8(record(&COLUMNS).unwrap()).unwrap();
        for k in keys {
            text.push_str(&String::from_utf8(record(&["2026-03-31", k, "C", "P", "pause", "1.00", "0.00", "pipeline", "2026-04-01", "", "", ""]).unwrap()).unwrap());
        }
        let (found, with_copy) = parse(&text).unwrap();
        assert!(with_copy);
        assert_eq!(found, keys.iter().map(|k| k.to_string()).collect::<HashSet<_>>());
    }

    #[test]
    fn a_file_begun_with_nine_columns_keeps_nine() {
        let (found, with_copy) = parse("as_of,key,campaign_id,product_id,kind,from,to,paused_by,effective_date\n2026-03-31,k1,C,P,pause,1.00,0.00,pipeline,2026-04-01\n").unwrap();
        assert!(!with_copy);
        assert!(found.contains("k1"));
    }
}
