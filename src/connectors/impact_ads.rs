//! Impact.com as an ad platform (SPEC §10, impact-api.md §7). Impact has
//! no pause and no budgets, so:
//! - pause = `PUT /Ads/{id}` with `LimitedTimeEndDate` = the effective day;
//!   resume = clearing it;
//! - create = `POST /Ads` (a text link in the program, labelled
//!   `product:<id>` and `cp:<hash of the action key>` so a rerun can find it);
//! - budgets live in campaign-pilot's ledger (`ads_ledger`), and a run pauses
//!   an ad whose spend passed a ledger budget the pipeline or a person set;
//!   an ad seen for the first time gets the mean of its recent spend,
//!   recorded as observed and not enforced ([`campaign_records`]); with
//!   `ads.ledger_budgets = false` a budget change is reported `skipped`.
//!
//! There is no idempotency key on Impact writes: every write is reconciled
//! against the ad's current state (or, for a create, the labels of the
//! program's ads) before it is sent again.

use std::collections::{BTreeMap, HashMap};

use sha2::{Digest, Sha256};

use super::frames::CampaignRecord;
use super::impact::{Ad, Impact};
use super::platform::{AdPlatform, Capabilities, PlatformError};
use crate::config::AdsSettings;
use crate::db::Db;
use crate::decisions::budget::observed_budget;
use crate::model::campaign::{CampaignStatus, PausedBy};
use crate::model::day::{date_of, from_cents, Day};
use crate::model::history::{BudgetSource, CampaignDayRow, LedgerEntry};
use crate::model::plan::{Action, ActionKey, ActionKind};

pub struct ImpactAds {
    client: Impact,
    db: Db,
    source: String,
    store_url: String,
    ledger_budgets: bool,
    /// The budget an ad has in the ledger before campaign-pilot sets one.
    default_budget: f64,
}

fn failed(e: impl std::fmt::Display) -> PlatformError {
    PlatformError::Failed { platform: "impact", message: e.to_string() }
}

/// The label that ties an ad to the action that created it.
pub fn create_label(key: &str) -> String {
    let h = Sha256::digest(key.as_bytes());
    h.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

impl ImpactAds {
    pub fn new(client: Impact, db: Db, source: String, store_url: &str, ledger_budgets: bool, default_budget: f64) -> Self {
        ImpactAds {
            client,
            db,
            source,
            store_url: store_url.trim_end_matches('/').to_string(),
            ledger_budgets,
            default_budget,
        }
    }

    async fn entry(&self, campaign_id: &str) -> Result<LedgerEntry, PlatformError> {
        let found = self.db.ledger_entry(&self.source, campaign_id).await.map_err(failed)?;
        Ok(found.unwrap_or(LedgerEntry {
            daily_budget: self.default_budget,
            budget_source: BudgetSource::Observed,
            paused_by: None,
            paused_at: None,
            created_key: None,
        }))
    }

    /// The ad an action is about: its campaign id, or for a rollback of a
    /// create the ad that create made.
    async fn ad_id(&self, a: &Action) -> Result<Option<String>, PlatformError> {
        if !a.campaign_id.is_empty() {
            return Ok(Some(a.campaign_id.clone()));
        }
        let key = if a.kind == ActionKind::Create { a.key.as_str() } else { ActionKey::undone(&a.key).unwrap_or(&a.key) };
        self.created_ad(key).await
    }

    async fn created_ad(&self, key: &str) -> Result<Option<String>, PlatformError> {
        if let Some(id) = self.db.ledger_created_by(&self.source, key).await.map_err(failed)? {
            return Ok(Some(id));
        }
        let label = create_label(key);
        let ads = self.client.ads().await.map_err(failed)?;
        Ok(ads.into_iter().find(|ad| ad.created_by() == Some(label.as_str())).map(|ad| ad.id))
    }
}

impl AdPlatform for ImpactAds {
    fn name(&self) -> &'static str {
        "impact"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { pause: true, resume: true, set_budget: self.ledger_budgets, create: true }
    }

    async fn is_applied(&self, a: &Action) -> Result<bool, PlatformError> {
        match a.kind {
            ActionKind::Create => {
                let Some(id) = self.created_ad(&a.key).await? else { return Ok(false) };
                // Created but the answer was lost: the ledger learns of it now.
                let mut e = self.entry(&id).await?;
                if e.created_key.is_none() {
                    e.daily_budget = a.to;
                    e.budget_source = BudgetSource::Pipeline;
                    e.created_key = Some(a.key.clone());
                    self.db.ledger_set(&self.source, &id, &e).await.map_err(failed)?;
                }
                Ok(true)
            }
            ActionKind::SetBudget => {
                let Some(id) = self.ad_id(a).await? else { return Ok(false) };
                Ok((self.entry(&id).await?.daily_budget - a.to).abs() < 0.005)
            }
            ActionKind::Pause | ActionKind::Resume => {
                let Some(id) = self.ad_id(a).await? else { return Ok(false) };
                let ad = self.client.ad(&id).await.map_err(failed)?;
                let effective = crate::model::day::day_of(a.effective_date);
                let ended = ad.end.is_some_and(|e| e <= effective);
                Ok(if a.kind == ActionKind::Pause { ended } else { !ended })
            }
        }
    }

    async fn apply(&self, as_of: Day, a: &Action) -> Result<(), PlatformError> {
        let effective = as_of + 1;
        match a.kind {
            ActionKind::Create => {
                let Some(copy) = &a.copy else {
                    return Err(failed(format!("{}: a create without its ad copy", a.key)));
                };
                let copy = copy.cleaned(&a.product_id);
                let labels = format!("product:{},cp:{}", a.product_id, create_label(&a.key));
                let landing = format!("{}/?p={}", self.store_url, a.product_id);
                let id = self.client.create_ad(&copy.name, &copy.description, &landing, &copy.name, &labels).await.map_err(failed)?;
                let e = LedgerEntry {
                    daily_budget: a.to,
                    budget_source: BudgetSource::Pipeline,
                    paused_by: None,
                    paused_at: None,
                    created_key: Some(a.key.clone()),
                };
                self.db.ledger_set(&self.source, &id, &e).await.map_err(failed)?;
            }
            ActionKind::Pause | ActionKind::Resume => {
                let Some(id) = self.ad_id(a).await? else {
                    return Err(failed(format!("{}: no ad to act on", a.key)));
                };
                let pause = a.kind == ActionKind::Pause;
                self.client.set_end_date(&id, pause.then_some(effective)).await.map_err(failed)?;
                let mut e = self.entry(&id).await?;
                if pause {
                    e.paused_by = Some(a.paused_by.unwrap_or(PausedBy::Pipeline));
                    e.paused_at = Some(effective);
                } else {
                    e.paused_by = None;
                    e.paused_at = None;
                    if a.to > 0.0 {
                        e.daily_budget = a.to;
                        e.budget_source = BudgetSource::Pipeline;
                    }
                }
                self.db.ledger_set(&self.source, &id, &e).await.map_err(failed)?;
            }
            ActionKind::SetBudget => {
                let Some(id) = self.ad_id(a).await? else {
                    return Err(failed(format!("{}: no ad to act on", a.key)));
                };
                let mut e = self.entry(&id).await?;
                e.daily_budget = a.to;
                e.budget_source = BudgetSource::Pipeline;
                self.db.ledger_set(&self.source, &id, &e).await.map_err(failed)?;
            }
        }
        Ok(())
    }
}

/// What the Impact ads of a run are as campaigns.
pub struct SeenAds {
    pub records: Vec<CampaignRecord>,
    /// Ledger entries for ads seen for the first time.
    pub new_entries: Vec<(String, LedgerEntry)>,
    /// Campaigns whose ledger budget was observed, not set: not enforced.
    pub observed: BTreeMap<String, f64>,
}

/// Impact's ads as campaigns (the status mapping): an ad labelled
/// `product:<id>` is a campaign; one whose `LimitedTimeEndDate` is on or
/// before as_of + 1 is paused, by whoever the ledger says paused it, or by a
/// person when the ledger did not (it was ended in Impact's app). Its budget
/// is the ledger's; an ad the ledger has not seen gets the mean of its spend
/// over its last `ads.observed_budget_days` days with spend (or
/// `ads.default_daily_budget` if it never spent), recorded as observed.
pub fn campaign_records(ads: Vec<Ad>, ledger: &HashMap<String, LedgerEntry>, days: &[CampaignDayRow], as_of: Day, s: &AdsSettings) -> SeenAds {
    let mut spend: HashMap<&str, Vec<(Day, f64)>> = HashMap::new();
    for d in days.iter().filter(|d| d.day <= as_of) {
        if let Some(x) = d.spend {
            spend.entry(d.campaign_id.as_str()).or_default().push((d.day, x));
        }
    }
    let mut seen = SeenAds { records: Vec::new(), new_entries: Vec::new(), observed: BTreeMap::new() };
    let mut unlabelled = 0usize;
    for ad in ads {
        let Some(pid) = ad.product_id().map(str::to_string) else {
            unlabelled += 1;
            continue;
        };
        let entry = match ledger.get(&ad.id) {
            Some(e) => e.clone(),
            None => {
                let mut series = spend.get(ad.id.as_str()).cloned().unwrap_or_default();
                series.sort_by_key(|(d, _)| *d);
                let amounts: Vec<f64> = series.into_iter().map(|(_, x)| x).collect();
                let budget = observed_budget(&amounts, s.observed_budget_days as usize).map(from_cents).unwrap_or(s.default_daily_budget);
                let e = LedgerEntry { daily_budget: budget, budget_source: BudgetSource::Observed, paused_by: None, paused_at: None, created_key: None };
                seen.new_entries.push((ad.id.clone(), e.clone()));
                e
            }
        };
        if !entry.budget_source.enforced() {
            seen.observed.insert(ad.id.clone(), entry.daily_budget);
        }
        let ended = ad.end.is_some_and(|e| e <= as_of + 1);
        let (paused_by, paused_at) = match (ended, entry.paused_by) {
            (false, _) => (None, None),
            (true, Some(by)) => (Some(by), entry.paused_at),
            // Ended by someone else (in Impact's app): a person's pause.
            (true, None) => (Some(PausedBy::User), ad.end),
        };
        let status = if ended { CampaignStatus::Paused } else { CampaignStatus::Active };
        seen.records.push(CampaignRecord {
            campaign_id: ad.id.clone(),
            name: ad.name.clone(),
            product_id: pid,
            status: status.as_str().to_string(),
            daily_budget: Some(entry.daily_budget),
            start_date: ad.created.map(|d| date_of(d).to_string()).unwrap_or_default(),
            paused_by: paused_by.map(|p| p.as_str().to_string()).unwrap_or_default(),
            paused_at: paused_at.map(|d| date_of(d).to_string()).unwrap_or_default(),
            raw: ad.raw,
        });
    }
    if unlabelled > 0 {
        tracing::info!(ads = unlabelled, "ads without a product:<id> label are not campaigns (left alone)");
    }
    seen
}
