//! The `files` ads connector as a platform (SPEC §10): an applied action is
//! appended to `actions_applied.csv` in the ads directory, for whatever owns
//! the files to carry out before the next day's data is written.
//!
//! The file is the platform's state: an action is in effect when its key is
//! in it. Each action is one `write` of a whole line on an append-only file,
//! so a crash leaves either the whole line or, at worst, a torn tail, which
//! is cut off before the next append.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::platform::{AdPlatform, Capabilities, PlatformError};
use crate::model::{date_of, Day};
use crate::stages::decide::Action;

pub const APPLIED_FILE: &str = "actions_applied.csv";
const HEADER: &str = "as_of,key,campaign_id,product_id,kind,from,to,paused_by,effective_date\n";

pub struct FilesAds {
    path: PathBuf,
    state: Mutex<Option<(File, HashSet<String>)>>,
}

fn err(e: impl std::fmt::Display) -> PlatformError {
    PlatformError::Failed { platform: "files", message: e.to_string() }
}

/// Quotes a CSV field when it needs it.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl FilesAds {
    pub fn new(dir: &Path) -> Self {
        FilesAds { path: dir.join(APPLIED_FILE), state: Mutex::new(None) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the file once: writes the header if new, cuts a torn last line,
    /// and loads the keys already applied.
    fn open(&self) -> Result<(File, HashSet<String>), PlatformError> {
        let mut f = OpenOptions::new().read(true).append(true).create(true).open(&self.path).map_err(err)?;
        let mut text = String::new();
        f.read_to_string(&mut text).map_err(err)?;
        if !text.is_empty() && !text.ends_with('\n') {
            let keep = text.rfind('\n').map(|i| i + 1).unwrap_or(0);
            tracing::warn!(path = %self.path.display(), "cutting a torn last line left by a crash");
            f.set_len(keep as u64).map_err(err)?;
            f.seek(SeekFrom::End(0)).map_err(err)?;
            text.truncate(keep);
        }
        if text.is_empty() {
            f.write_all(HEADER.as_bytes()).map_err(err)?;
        }
        let keys = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').nth(1))
            .map(|k| k.trim_matches('"').to_string())
            .collect();
        Ok((f, keys))
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut File, &mut HashSet<String>) -> Result<T, PlatformError>) -> Result<T, PlatformError> {
        let mut guard = self.state.lock().expect("files platform lock");
        if guard.is_none() {
            *guard = Some(self.open()?);
        }
        let (file, keys) = guard.as_mut().expect("opened above");
        f(file, keys)
    }

    /// Keys in the file, read afresh (for tests and reconciliation checks).
    pub fn applied_keys(dir: &Path) -> Vec<String> {
        let text = std::fs::read_to_string(dir.join(APPLIED_FILE)).unwrap_or_default();
        text.lines().skip(1).filter_map(|l| l.split(',').nth(1)).map(str::to_string).collect()
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
        self.with_state(|_, keys| Ok(keys.contains(&action.key)))
    }

    async fn apply(&self, as_of: Day, a: &Action) -> Result<(), PlatformError> {
        let line = format!(
            "{},{},{},{},{},{:.2},{:.2},{},{}\n",
            date_of(as_of),
            field(&a.key),
            field(&a.campaign_id),
            field(&a.product_id),
            a.kind.as_str(),
            a.from,
            a.to,
            field(a.paused_by.as_deref().unwrap_or("")),
            a.effective_date
        );
        // No dedup here: like a real platform, this one does what it is told;
        // exactly-once is the journal's job (and the crash test checks it).
        self.with_state(|file, keys| {
            // One write of the whole line: an append either lands whole or tears at the tail.
            file.write_all(line.as_bytes()).map_err(err)?;
            keys.insert(a.key.clone());
            Ok(())
        })
    }

    async fn flush(&self) -> Result<(), PlatformError> {
        self.with_state(|file, _| file.sync_data().map_err(err))
    }
}
