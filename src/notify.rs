//! Run notifications: a Slack-compatible webhook (`{"text": …}`) when a run
//! is held, partial or failed, or applied actions. Retried a few times with
//! backoff inside a hard time budget; it never blocks or fails the run. The
//! URL is a secret (it carries the channel's token): held in a secret type
//! and never logged.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySettings {
    /// Webhook URL; empty = no notifications. A secret: set it through the
    /// environment (`CAMPAIGN_PILOT__NOTIFY__WEBHOOK_URL`), not in this file.
    pub webhook_url: String,
    /// Attempts before giving up.
    pub attempts: u32,
    /// Seconds the whole notification may take, retries included.
    pub budget_s: f64,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings { webhook_url: String::new(), attempts: 3, budget_s: 10.0 }
    }
}

/// What a run reports to the channel.
#[derive(Debug, Clone)]
pub struct RunNews {
    pub run_id: String,
    pub as_of: String,
    pub status: String,
    pub applied: usize,
    pub proposed: usize,
    pub failed: usize,
    pub held_by: Vec<String>,
    pub report: String,
    pub error: Option<String>,
}

impl RunNews {
    pub fn worth_sending(&self) -> bool {
        matches!(self.status.as_str(), "held" | "partial" | "failed") || self.applied > 0
    }

    pub fn text(&self) -> String {
        let mut t = format!("campaign-pilot {} for {}: {}", self.run_id, self.as_of, self.status);
        if let Some(e) = &self.error {
            t.push_str(&format!(" — {e}"));
        }
        t.push_str(&format!(". Actions: {} applied, {} proposed, {} failed.", self.applied, self.proposed, self.failed));
        if !self.held_by.is_empty() {
            t.push_str(&format!(" Held by: {}.", self.held_by.join(", ")));
        }
        if !self.report.is_empty() {
            t.push_str(&format!(" Report: {}", self.report));
        }
        t
    }
}

/// Sends `news` if it is worth it and a webhook is set; logs, never fails.
pub async fn send(settings: &NotifySettings, news: &RunNews) {
    if settings.webhook_url.is_empty() || !news.worth_sending() {
        return;
    }
    let url = SecretString::from(settings.webhook_url.clone());
    let budget = Duration::from_secs_f64(settings.budget_s.max(0.1));
    let attempts = settings.attempts.max(1);
    let body = serde_json::json!({ "text": news.text() });
    let result = tokio::time::timeout(budget, async {
        let client = reqwest::Client::builder().timeout(budget).build().map_err(|e| e.to_string())?;
        let mut last = String::new();
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt - 1))).await;
            }
            // Errors are reported without the URL: reqwest's messages include it.
            match client.post(url.expose_secret()).json(&body).send().await {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => last = format!("HTTP {}", r.status().as_u16()),
                Err(e) if e.is_timeout() => last = "timeout".into(),
                Err(e) if e.is_connect() => last = "connection failed".into(),
                Err(_) => last = "request failed".into(),
            }
        }
        Err(last)
    })
    .await;
    match result {
        Ok(Ok(())) => tracing::info!("notification sent"),
        Ok(Err(why)) => tracing::warn!(reason = %why, attempts, "notification not delivered"),
        Err(_) => tracing::warn!(budget_s = settings.budget_s, "notification gave up: out of time"),
    }
}
