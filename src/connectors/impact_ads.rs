//! Impact.com as an ad platform (SPEC §10, impact-api.md §7). Impact has
//! no pause and no budgets, so:
//! - pause = `PUT /Ads/{id}` with `LimitedTimeEndDate` = the effective day;
//!   resume = clearing it;
//! - create = `POST /Ads` (a text link in the program, labelled
//!   `product:<id>` and `cp:<hash of the action key>` so a rerun can find it);
//! - budgets live in campaign-pilot's ledger (`ads_ledger`), and a run pauses
//!   an ad whose spend passed its ledger budget; with `ads.ledger_budgets =
//!   false` a budget change is reported `skipped`.
//!
//! There is no idempotency key on Impact writes: every write is reconciled
//! against the ad's current state (or, for a create, the labels of the
//! program's ads) before it is sent again.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::impact::Impact;
use super::platform::{AdPlatform, Capabilities, PlatformError};
use crate::db::history::LedgerEntry;
use crate::db::Db;
use crate::model::{date_of, Day};
use crate::stages::decide::{Action, ActionKind};

pub struct ImpactAds {
    client: Impact,
    db: Db,
    source: String,
    store_url: String,
    ledger_budgets: bool,
    /// The budget an ad has in the ledger before campaign-pilot sets one.
    default_budget: f64,
    /// Product id → (ad name, description) for creates.
    copy: Mutex<HashMap<String, (String, String)>>,
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
            copy: Mutex::new(HashMap::new()),
        }
    }

    pub fn set_copy(&self, copy: HashMap<String, (String, String)>) {
        *self.copy.lock().expect("copy lock") = copy;
    }

    async fn entry(&self, campaign_id: &str) -> Result<LedgerEntry, PlatformError> {
        let found = self.db.ledger_entry(&self.source, campaign_id).await.map_err(failed)?;
        Ok(found.unwrap_or(LedgerEntry { daily_budget: self.default_budget, ..Default::default() }))
    }

    /// The ad an action is about: its campaign id, or for a rollback of a
    /// create the ad that create made.
    async fn ad_id(&self, a: &Action) -> Result<Option<String>, PlatformError> {
        if !a.campaign_id.is_empty() {
            return Ok(Some(a.campaign_id.clone()));
        }
        let key = if a.kind == ActionKind::Create { a.key.as_str() } else { a.key.strip_prefix("rollback/").unwrap_or(&a.key) };
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
                let effective = crate::model::day_of(
                    chrono::NaiveDate::parse_from_str(&a.effective_date, "%Y-%m-%d").map_err(|e| failed(format!("{}: {e}", a.key)))?,
                );
                let ended = ad.end.is_some_and(|e| e <= effective);
                Ok(if a.kind == ActionKind::Pause { ended } else { !ended })
            }
        }
    }

    async fn apply(&self, as_of: Day, a: &Action) -> Result<(), PlatformError> {
        let effective = as_of + 1;
        match a.kind {
            ActionKind::Create => {
                let (name, description) = self
                    .copy
                    .lock()
                    .expect("copy lock")
                    .get(&a.product_id)
                    .cloned()
                    .unwrap_or_else(|| (format!("campaign-pilot: product {}", a.product_id), String::new()));
                let labels = format!("product:{},cp:{}", a.product_id, create_label(&a.key));
                let landing = format!("{}/?p={}", self.store_url, a.product_id);
                let id = self.client.create_ad(&name, &description, &landing, &name, &labels).await.map_err(failed)?;
                let e = LedgerEntry { daily_budget: a.to, paused_by: None, paused_at: None, created_key: Some(a.key.clone()) };
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
                    e.paused_by = Some(a.paused_by.clone().unwrap_or_else(|| "pipeline".into()));
                    e.paused_at = Some(date_of(effective).to_string());
                } else {
                    e.paused_by = None;
                    e.paused_at = None;
                    if a.to > 0.0 {
                        e.daily_budget = a.to;
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
                self.db.ledger_set(&self.source, &id, &e).await.map_err(failed)?;
            }
        }
        Ok(())
    }
}
