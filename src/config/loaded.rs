//! Settings plus where they came from: relative paths in the configuration
//! are relative to the configuration file.

use std::path::{Path, PathBuf};

use super::sections::Settings;

/// Settings plus where they came from, with relative paths resolved against
/// the configuration file's directory.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub settings: Settings,
    pub base_dir: PathBuf,
    pub file: Option<PathBuf>,
}

impl LoadedConfig {
    /// A path from the configuration, resolved against the config's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// The database URL with a relative SQLite file resolved like any path.
    pub fn database_url(&self) -> String {
        let url = &self.settings.database.url;
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let rest = rest.trim_start_matches("//");
            let (file, query) = rest.split_once('?').unwrap_or((rest, ""));
            if file == ":memory:" {
                return url.clone();
            }
            let path = self.resolve(Path::new(file));
            let query = if query.is_empty() { "mode=rwc".to_string() } else { query.to_string() };
            format!("sqlite://{}?{}", path.display(), query)
        } else {
            url.clone()
        }
    }
}
