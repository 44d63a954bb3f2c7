//! Loading: `pipeline.toml` layered under `CAMPAIGN_PILOT__SECTION__KEY`
//! environment variables, checked in three passes (shape against the
//! defaults, then serde, then the semantic rules), every problem reported at
//! once, each naming its key.

use std::path::{Path, PathBuf};

use super::loaded::LoadedConfig;
use super::sections::Settings;
use super::shape::{check_kinds, check_shape, normalize_numbers, overlay};

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
    let prefix = format!("{ENV_PREFIX}__");
    let overrides: Vec<(String, String)> = env.into_iter().filter(|(k, _)| k.starts_with(&prefix)).collect();

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
    let raw = builder
        .build()
        .map_err(|e| ConfigError::one(format!("reading configuration: {e}")))?;
    let mut raw_json: serde_json::Value = raw
        .clone()
        .try_deserialize()
        .map_err(|e| ConfigError::one(format!("reading configuration: {e}")))?;
    let defaults = serde_json::to_value(Settings::default()).expect("defaults serialize");
    // Overrides are read as the key's type says, not as the value looks:
    // `…__ADS__PROGRAM_ID=24811` is the string "24811".
    for (k, v) in &overrides {
        let path: Vec<String> = k[prefix.len()..].split("__").map(str::to_lowercase).collect();
        overlay(&mut raw_json, &defaults, &path, v);
    }

    let mut problems = Vec::new();
    check_shape("", &raw_json, &defaults, &mut problems);
    check_kinds(&raw_json, &mut problems);
    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }
    // What the shape pass cannot see (a whole number too large for its
    // type) still names its key.
    let settings: Settings = serde_path_to_error::deserialize(normalize_numbers(raw_json, &defaults)).map_err(|e| {
        let key = e.path().to_string();
        ConfigError::one(format!("{key}: {}", e.into_inner()))
    })?;
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
    fn a_numeric_looking_value_for_a_string_key_is_a_string() {
        let env = vec![
            ("CAMPAIGN_PILOT__ADS__PROGRAM_ID".to_string(), "24811".to_string()),
            ("CAMPAIGN_PILOT__VIEWS__PROPERTY_ID".to_string(), "0312345678".to_string()),
            ("CAMPAIGN_PILOT__ACT__LOCKED_CAMPAIGNS".to_string(), "12345".to_string()),
            ("CAMPAIGN_PILOT__ACT__ENABLED".to_string(), "false".to_string()),
            ("CAMPAIGN_PILOT__RISK__COMPETITION__TOYS".to_string(), "0.7".to_string()),
        ];
        let cfg = load(None, env).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.settings.ads.program_id, "24811");
        assert_eq!(cfg.settings.views.property_id, "0312345678", "leading zeros kept");
        assert_eq!(cfg.settings.act.locked_campaigns, vec!["12345"]);
        assert!(!cfg.settings.act.enabled);
        assert_eq!(cfg.settings.risk.competition["toys"], 0.7);
        // A number key still refuses text, naming the key.
        let err = load(None, vec![("CAMPAIGN_PILOT__DECISIONS__MIN_DAYS".to_string(), "three".to_string())]).unwrap_err();
        assert!(err.problems.iter().any(|p| p.starts_with("decisions.min_days")), "{:?}", err.problems);
    }

    #[test]
    fn a_list_of_numbers_takes_numbers_from_the_file_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "[learning]\nfollow_up_days = [3, 10]\ncalibrate = false\n");
        let cfg = load(Some(&f), vec![]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.settings.learning.follow_up_days, vec![3, 10]);
        let env = vec![("CAMPAIGN_PILOT__LEARNING__FOLLOW_UP_DAYS".to_string(), "5, 9".to_string())];
        assert_eq!(load(Some(&f), env).unwrap().settings.learning.follow_up_days, vec![5, 9]);
        let bad = write(dir.path(), "[learning]\nfollow_up_days = [\"a week\"]\n");
        let err = load(Some(&bad), vec![]).unwrap_err();
        assert!(err.problems.iter().any(|p| p.starts_with("learning.follow_up_days: expected a list of numbers")), "{:?}", err.problems);
        let zero = write(dir.path(), "[learning]\nfollow_up_days = [0]\n");
        let err = load(Some(&zero), vec![]).unwrap_err();
        assert!(err.problems.iter().any(|p| p.starts_with("learning.follow_up_days: each must be in 1..=90")), "{:?}", err.problems);
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
