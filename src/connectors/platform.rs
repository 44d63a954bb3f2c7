//! The ad platform as the act stage sees it: what it can do, whether an
//! action is already in effect there, and applying one.

use crate::model::day::Day;
use crate::model::plan::{Action, ActionKind};

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
