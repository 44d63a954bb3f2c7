//! Loading: `pipeline.toml` layered under `CAMPAIGN_PILOT__SECTION__KEY`
//! environment variables, checked in three passes (shape against the
//! defaults, then serde, then the semantic rules), every problem reported at
//! once, each naming its key.

use std::path::{Path, PathBuf};

use super::loaded::LoadedConfig;
use super::sections::Settings;
use super::shape::{check_kinds, check_shape, normalize_numbers};

/// Environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "CAMPAIGN_PILOT_CONFIG";
/// Prefix of per-key overrides: `CAMPAIGN_PILOT__DECISIONS__MIN_DAYS=5`.
pub const ENV_PREFIX: &str = "CAMPAIGN_PILOT";

/// A configuration that could not be used; every problem names its key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .problems.join("\n  - "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl ConfigError {
    fn one(problem: impl Into<String>) -> Self {
        ConfigError { problems: vec![problem.into()] }
    }
}

/// Loads `file` (or the default `pipeline.toml` if it exists) and the
/// environment overrides in `env` (pass `std::env::vars()` in production).
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<LoadedConfig, ConfigError> {
    let env_map: config::Map<String, String> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}__")))
        .collect();

    let mut builder = config::Config::builder();
    let (base_dir, used_file) = match file {
        Some(path) => {
            if !path.exists() {
                return Err(ConfigError::one(format!(
                    "config file {}: not found",
                    path.display()
                )));
            }
            builder = builder.add_source(config::File::from(path.to_path_buf()).format(config::FileFormat::Toml));
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
            (dir, Some(path.to_path_buf()))
        }
        None => (PathBuf::from("."), None),
    };
    builder = builder.add_source(
        config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("selection.categories")
            .with_list_parse_key("act.locked_campaigns")
            .with_list_parse_key("schedule.cron")
            .source(Some(env_map)),
    );
    let raw = builder
        .build()
        .map_err(|e| ConfigError::one(format!("reading configuration: {e}")))?;
    let raw_json: serde_json::Value = raw
        .clone()
        .try_deserialize()
        .map_err(|e| ConfigError::one(format!("reading configuration: {e}")))?;

    let mut problems = Vec::new();
    let defaults = serde_json::to_value(Settings::default()).expect("defaults serialize");
    check_shape("", &raw_json, &defaults, &mut problems);
    check_kinds(&raw_json, &mut problems);
    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }
    let settings: Settings = serde_json::from_value(normalize_numbers(raw_json, &defaults))
        .map_err(|e| ConfigError::one(format!("configuration: {e}")))?;
    let problems = settings.validate();
    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }
    Ok(LoadedConfig { settings, base_dir, file: used_file })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("pipeline.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn defaults_are_valid() {
        assert!(Settings::default().validate().is_empty(), "{:?}", Settings::default().validate());
    }

    #[test]
    fn every_problem_is_reported_at_once_naming_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(
            dir.path(),
            "[decisions]\nmin_days = \"three\"\nbogus = 1\n[budget]\nmin_daily = -5.0\n[nosuch]\nx = 1\n",
        );
        let err = load(Some(&f), Vec::new()).unwrap_err();
        let all = err.problems.join("\n");
        assert!(all.contains("decisions.min_days"), "{all}");
        assert!(all.contains("decisions.bogus: unknown key"), "{all}");
        assert!(all.contains("nosuch: unknown key"), "{all}");
    }

    #[test]
    fn semantic_problems_are_all_reported() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "[budget]\nmin_daily = -5.0\n[significance]\nalpha = 2.0\n");
        let err = load(Some(&f), Vec::new()).unwrap_err();
        let all = err.problems.join("\n");
        assert!(all.contains("budget.min_daily"), "{all}");
        assert!(all.contains("significance.alpha"), "{all}");
    }

    #[test]
    fn environment_overrides_file_values() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "[decisions]\nmin_days = 4\n");
        let env = vec![
            ("CAMPAIGN_PILOT__DECISIONS__MIN_DAYS".to_string(), "6".to_string()),
            ("CAMPAIGN_PILOT__BUDGET__MIN_DAILY".to_string(), "20".to_string()),
            ("CAMPAIGN_PILOT__SELECTION__CATEGORIES".to_string(), "Toys,Books".to_string()),
        ];
        let cfg = load(Some(&f), env).unwrap();
        assert_eq!(cfg.settings.decisions.min_days, 6);
        assert_eq!(cfg.settings.budget.min_daily, 20.0);
        assert_eq!(cfg.settings.selection.categories, vec!["Toys", "Books"]);
    }

    #[test]
    fn environment_typo_is_an_unknown_key() {
        let env = vec![("CAMPAIGN_PILOT__DECISIONS__MIN_DAYZ".to_string(), "6".to_string())];
        let err = load(None, env).unwrap_err();
        assert!(err.problems.iter().any(|p| p == "decisions.min_dayz: unknown key"), "{:?}", err.problems);
    }

    #[test]
    fn relative_sqlite_url_is_resolved_next_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "");
        let cfg = load(Some(&f), Vec::new()).unwrap();
        let url = cfg.database_url();
        assert!(url.starts_with(&format!("sqlite://{}", dir.path().display())), "{url}");
        assert!(url.ends_with("campaign-pilot.db?mode=rwc"), "{url}");
    }
}
