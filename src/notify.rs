//! Run notifications: a Slack-compatible webhook (`{"text": …}`) when a run
//! is held, partial or failed, or applied actions. Retried a few times with
//! backoff inside a hard time budget; it never blocks or fails the run. The
//! URL is a secret (it carries the channel's token): held in a secret type
//! and never logged.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use secrecy::{ExposeSecret, SecretString};

use crate::config::NotifySettings;
use crate::model::run::RunStatus;

/// What a run reports to the channel.
#[derive(Debug, Clone)]
pub struct RunNews {
    pub run_id: String,
    pub as_of: String,
    pub status: RunStatus,
    pub applied: usize,
    pub proposed: usize,
    pub failed: usize,
    pub held_by: Vec<String>,
    pub report: String,
    pub error: Option<String>,
    /// The campaigns to read about first, in the report's words.
    pub highlights: Vec<String>,
}

impl RunNews {
    pub fn worth_sending(&self) -> bool {
        match self.status {
            RunStatus::Held | RunStatus::Partial | RunStatus::Failed => true,
            RunStatus::Succeeded => self.applied > 0,
        }
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
        for h in &self.highlights {
            t.push_str(&format!("\n• {h}"));
        }
        if !self.report.is_empty() {
            t.push_str(&format!("\nReport: {}", self.report));
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
    crate::secrets::hold(&url);
    let budget = Duration::from_secs_f64(settings.budget_s.max(0.1));
    let attempts = settings.attempts.max(1);
    let body = serde_json::json!({ "text": news.text() });
    let client = match reqwest::Client::builder().timeout(budget).build() {
        Ok(c) => c,
        Err(_) => {
            tracing::warn!("notification not sent: no HTTP client");
            return;
        }
    };
    // The same retry crate as every peer call (http.rs), inside the budget.
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(2))
        .with_max_times(attempts as usize - 1)
        .with_jitter();
    let (client, url, body) = (&client, &url, &body);
    let attempt = || async move {
        // Errors are reported without the URL: reqwest's messages include it.
        match client.post(url.expose_secret()).json(&body).send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
            Err(e) if e.is_timeout() => Err("timeout".to_string()),
            Err(e) if e.is_connect() => Err("connection failed".to_string()),
            Err(_) => Err("request failed".to_string()),
        }
    };
    let result = tokio::time::timeout(budget, attempt.retry(backoff).sleep(tokio::time::sleep)).await;
    match result {
        Ok(Ok(())) => tracing::info!("notification sent"),
        Ok(Err(why)) => tracing::warn!(reason = %why, attempts, "notification not delivered"),
        Err(_) => tracing::warn!(budget_s = settings.budget_s, "notification gave up: out of time"),
    }
}
