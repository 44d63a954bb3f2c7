//! The sandbox's budgeted ad platform (`/_sandbox/` routes of `sandbox
//! serve`): pause, resume, budgets and create, like the big ad networks.
//! Reconciliation reads the platform's state: a pause is in effect when the
//! campaign is paused, a budget when it has that budget, a create when a
//! campaign carries the action's key.

use futures::stream::{self, StreamExt, TryStreamExt};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::frames::CampaignRecord;
use super::lenient;
use super::platform::{AdPlatform, Capabilities, PlatformError};
use crate::http::{HttpError, Idempotent, Peer};
use crate::model::campaign::{CampaignStatus, PausedBy};
use crate::model::day::{date_of, parse_day, Day};
use crate::model::history::CampaignDayRow;
use crate::model::plan::{Action, ActionKey, ActionKind};

#[derive(Debug, Clone, Deserialize)]
pub struct SbCampaign {
    pub campaign_id: String,
    #[serde(default)]
    pub name: String,
    pub product_id: String,
    pub status: String,
    #[serde(deserialize_with = "lenient::opt_f64", default)]
    pub daily_budget: Option<f64>,
    pub start_date: String,
    #[serde(default)]
    pub paused_by: String,
    #[serde(default)]
    pub paused_at: String,
    #[serde(default)]
    pub created_by_key: String,
}

impl SbCampaign {
    /// The campaign as received, for validation (its states stay text).
    pub(crate) fn into_record(self, raw: String) -> CampaignRecord {
        CampaignRecord {
            campaign_id: self.campaign_id,
            name: self.name,
            product_id: self.product_id,
            status: self.status,
            daily_budget: self.daily_budget,
            start_date: self.start_date,
            paused_by: self.paused_by,
            paused_at: self.paused_at,
            raw,
        }
    }

    fn status(&self) -> Option<CampaignStatus> {
        self.status.parse().ok()
    }
}

#[derive(Deserialize)]
struct CampaignList {
    campaigns: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct DailyRow {
    date: String,
    campaign_id: String,
    #[serde(deserialize_with = "lenient::opt_i64", default)]
    impressions: Option<i64>,
    #[serde(deserialize_with = "lenient::opt_i64", default)]
    clicks: Option<i64>,
    #[serde(deserialize_with = "lenient::opt_f64", default)]
    spend: Option<f64>,
    #[serde(deserialize_with = "lenient::opt_i64", default)]
    conversions: Option<i64>,
    #[serde(deserialize_with = "lenient::opt_f64", default)]
    revenue: Option<f64>,
    #[serde(deserialize_with = "lenient::opt_i64", default)]
    new_customers: Option<i64>,
}

#[derive(Deserialize)]
struct DailyPage {
    pages: usize,
    rows: Vec<DailyRow>,
}

pub struct SandboxAds {
    peer: Peer,
}

fn failed(e: impl std::fmt::Display) -> PlatformError {
    PlatformError::Failed { platform: "sandbox", message: e.to_string() }
}

impl SandboxAds {
    pub fn new(peer: Peer) -> Self {
        SandboxAds { peer }
    }

    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// Every campaign with its raw record (for the quarantine).
    pub async fn campaigns(&self) -> Result<Vec<(SbCampaign, String)>, HttpError> {
        let f = self.peer.get::<CampaignList>("/_sandbox/campaigns", &[]).await?;
        f.body
            .campaigns
            .into_iter()
            .map(|raw| {
                let text = raw.to_string();
                serde_json::from_value::<SbCampaign>(raw).map(|c| (c, text)).map_err(|e| HttpError::Malformed {
                    peer: self.peer.name(),
                    endpoint: "/_sandbox/campaigns".into(),
                    message: format!("a campaign: {e}"),
                })
            })
            .collect()
    }

    pub async fn daily(&self, from: Day, to: Day) -> Result<Vec<CampaignDayRow>, HttpError> {
        let path = "/_sandbox/campaign_daily";
        let q = |page: usize| {
            vec![("from", date_of(from).to_string()), ("to", date_of(to).to_string()), ("page", page.to_string()), ("per_page", "10000".to_string())]
        };
        let first = self.peer.get::<DailyPage>(path, &q(1)).await?;
        let pages = first.body.pages;
        let mut rows = first.body.rows;
        let rest: Vec<Vec<DailyRow>> = stream::iter(2..=pages)
            .map(|p| {
                let query = q(p);
                async move { self.peer.get::<DailyPage>(path, &query).await.map(|f| f.body.rows) }
            })
            .buffered(self.peer.concurrency())
            .try_collect()
            .await?;
        rows.extend(rest.into_iter().flatten());
        rows.into_iter()
            .map(|r| {
                // A row the platform dated badly is the platform's bug: fail the fetch, keep nothing half-read.
                let day = parse_day(&r.date).map_err(|e| HttpError::Malformed {
                    peer: self.peer.name(),
                    endpoint: path.into(),
                    message: format!("campaign {}: {e}", r.campaign_id),
                })?;
                Ok(CampaignDayRow {
                    day,
                    campaign_id: r.campaign_id,
                    impressions: r.impressions,
                    clicks: r.clicks,
                    spend: r.spend,
                    conversions: r.conversions,
                    revenue: r.revenue,
                    new_customers: r.new_customers,
                })
            })
            .collect()
    }

    /// The campaign an action is about; a rollback of a create finds the
    /// campaign that create made.
    async fn target(&self, a: &Action) -> Result<Option<SbCampaign>, PlatformError> {
        let all = self.campaigns().await.map_err(failed)?;
        let original = ActionKey::undone(&a.key);
        Ok(all.into_iter().map(|(c, _)| c).find(|c| {
            if a.campaign_id.is_empty() {
                let key = if a.kind == ActionKind::Create { Some(a.key.as_str()) } else { original };
                key.is_some_and(|k| c.created_by_key == k)
            } else {
                c.campaign_id == a.campaign_id
            }
        }))
    }
}

impl AdPlatform for SandboxAds {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::all()
    }

    async fn is_applied(&self, a: &Action) -> Result<bool, PlatformError> {
        let Some(c) = self.target(a).await? else {
            return Ok(false);
        };
        Ok(match a.kind {
            ActionKind::Pause => c.status() == Some(CampaignStatus::Paused),
            ActionKind::Resume => c.status() == Some(CampaignStatus::Active),
            ActionKind::SetBudget => c.daily_budget.is_some_and(|b| (b - a.to).abs() < 0.005),
            ActionKind::Create => true,
        })
    }

    async fn apply(&self, _as_of: Day, a: &Action) -> Result<(), PlatformError> {
        if a.kind == ActionKind::Create {
            let Some(copy) = &a.copy else {
                return Err(failed(format!("{}: a create without its ad copy", a.key)));
            };
            let copy = copy.cleaned(&a.product_id);
            let body = json!({"key": a.key, "product_id": a.product_id, "name": copy.name, "daily_budget": a.to});
            // The platform answers a repeated key with the same campaign: safe to resend.
            self.peer.send_json::<serde_json::Value>(Method::POST, "/_sandbox/campaigns", &body, Idempotent::Yes).await.map_err(failed)?;
            return Ok(());
        }
        let id = if a.campaign_id.is_empty() {
            match self.target(a).await? {
                Some(c) => c.campaign_id,
                None => return Err(failed(format!("{}: no campaign to act on", a.key))),
            }
        } else {
            a.campaign_id.clone()
        };
        let (op, body) = match a.kind {
            ActionKind::Pause => ("pause", json!({"paused_by": a.paused_by.unwrap_or(PausedBy::Pipeline)})),
            ActionKind::Resume => ("resume", json!({})),
            ActionKind::SetBudget => ("budget", json!({"daily_budget": a.to})),
            ActionKind::Create => unreachable!("handled above"),
        };
        // Pause, resume and a budget set a state: repeating one changes nothing.
        self.peer
            .send_json::<serde_json::Value>(Method::POST, &format!("/_sandbox/campaigns/{id}/{op}"), &body, Idempotent::Yes)
            .await
            .map_err(failed)?;
        if a.kind == ActionKind::Resume && a.to > 0.0 && (a.to - a.from).abs() >= 0.005 {
            self.peer
                .send_json::<serde_json::Value>(Method::POST, &format!("/_sandbox/campaigns/{id}/budget"), &json!({"daily_budget": a.to}), Idempotent::Yes)
                .await
                .map_err(failed)?;
        }
        Ok(())
    }
}
