//! The ad platform as the act stage sees it: what it can do, whether an
//! action is already in effect there, and applying one.

use crate::model::Day;
use crate::stages::decide::{Action, ActionKind};

/// Which operations a connector really performs (SPEC §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    pub pause: bool,
    pub resume: bool,
    pub set_budget: bool,
    pub create: bool,
}

impl Capabilities {
    pub fn all() -> Self {
        Capabilities { pause: true, resume: true, set_budget: true, create: true }
    }

    pub fn supports(&self, kind: ActionKind) -> bool {
        match kind {
            ActionKind::Pause => self.pause,
            ActionKind::Resume => self.resume,
            ActionKind::SetBudget => self.set_budget,
            ActionKind::Create => self.create,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("{platform}: {message}")]
    Failed { platform: &'static str, message: String },
}

/// An ad platform connector.
#[allow(async_fn_in_trait)]
pub trait AdPlatform {
    fn name(&self) -> &'static str;
    fn capabilities(&self) -> Capabilities;
    /// Whether the action with this key is already in effect on the platform:
    /// how a rerun reconciles an action the journal saw "sent".
    async fn is_applied(&self, action: &Action) -> Result<bool, PlatformError>;
    async fn apply(&self, as_of: Day, action: &Action) -> Result<(), PlatformError>;
    /// Makes applied actions durable (called once at the end of the stage).
    async fn flush(&self) -> Result<(), PlatformError> {
        Ok(())
    }
}

/// The configured ads connector, chosen at run time (`ads.kind`).
pub enum Platform {
    Files(super::files_ads::FilesAds),
    Sandbox(super::sandbox_ads::SandboxAds),
    Impact(super::impact_ads::ImpactAds),
}

impl Platform {
    pub fn build(cfg: &crate::config::LoadedConfig, db: &crate::db::Db) -> Result<Self, super::ConnectorError> {
        let s = &cfg.settings;
        Ok(match s.ads.kind.as_str() {
            "sandbox" => Platform::Sandbox(super::api::sandbox_ads(s)?),
            "impact" => Platform::Impact(super::impact_ads::ImpactAds::new(
                super::api::impact_client(s)?,
                db.clone(),
                super::api::ads_source(s),
                &s.store.base_url,
                s.ads.ledger_budgets,
                s.ads.default_daily_budget,
            )),
            _ => Platform::Files(super::files_ads::FilesAds::new(&cfg.resolve(&s.ads.path))),
        })
    }

    /// The copy of the campaigns about to be created (name, description by product).
    pub fn set_copy(&self, new: &[crate::stages::decide::NewCampaign]) {
        match self {
            Platform::Files(_) => {}
            Platform::Sandbox(p) => p.set_copy(new.iter().map(|n| (n.product_id.clone(), n.name.clone())).collect()),
            Platform::Impact(p) => {
                p.set_copy(new.iter().map(|n| (n.product_id.clone(), (n.name.clone(), n.description.clone()))).collect())
            }
        }
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
