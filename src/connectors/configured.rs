//! The ads connector a configuration chooses (`ads.kind`), as one
//! [`AdPlatform`]: the act stage, `approve` and `rollback` go through it.

use super::clients::{ads_source, impact_client, sandbox_ads};
use super::files_ads::FilesAds;
use super::impact_ads::ImpactAds;
use super::platform::{AdPlatform, Capabilities, PlatformError};
use super::sandbox_ads::SandboxAds;
use super::ConnectorError;
use crate::config::LoadedConfig;
use crate::db::Db;
use crate::model::day::Day;
use crate::model::kinds::AdsKind;
use crate::model::plan::Action;

/// The configured ads connector, chosen at run time (`ads.kind`).
pub enum Platform {
    Files(FilesAds),
    Sandbox(SandboxAds),
    Impact(ImpactAds),
}

impl Platform {
    pub fn build(cfg: &LoadedConfig, db: &Db) -> Result<Self, ConnectorError> {
        let s = &cfg.settings;
        Ok(match s.ads.kind {
            AdsKind::Sandbox => Platform::Sandbox(sandbox_ads(s)?),
            AdsKind::Impact => Platform::Impact(ImpactAds::new(
                impact_client(s)?,
                db.clone(),
                ads_source(s),
                &s.store.base_url,
                s.ads.ledger_budgets,
                s.ads.default_daily_budget,
            )),
            AdsKind::Files => Platform::Files(FilesAds::new(&cfg.resolve(&s.ads.path))),
        })
    }
}

impl AdPlatform for Platform {
    fn name(&self) -> &'static str {
        match self {
            Platform::Files(p) => p.name(),
            Platform::Sandbox(p) => p.name(),
            Platform::Impact(p) => p.name(),
        }
    }

    fn capabilities(&self) -> Capabilities {
        match self {
            Platform::Files(p) => p.capabilities(),
            Platform::Sandbox(p) => p.capabilities(),
            Platform::Impact(p) => p.capabilities(),
        }
    }

    async fn is_applied(&self, action: &Action) -> Result<bool, PlatformError> {
        match self {
            Platform::Files(p) => p.is_applied(action).await,
            Platform::Sandbox(p) => p.is_applied(action).await,
            Platform::Impact(p) => p.is_applied(action).await,
        }
    }

    async fn apply(&self, as_of: Day, action: &Action) -> Result<(), PlatformError> {
        match self {
            Platform::Files(p) => p.apply(as_of, action).await,
            Platform::Sandbox(p) => p.apply(as_of, action).await,
            Platform::Impact(p) => p.apply(as_of, action).await,
        }
    }

    async fn flush(&self) -> Result<(), PlatformError> {
        match self {
            Platform::Files(p) => p.flush().await,
            Platform::Sandbox(p) => p.flush().await,
            Platform::Impact(p) => p.flush().await,
        }
    }
}
