//! Prometheus metrics for a batch job: a run is over before any scraper
//! could see it, so its numbers are pushed to a Pushgateway
//! (`[metrics] pushgateway_url`) and/or written for node_exporter's textfile
//! collector (`[metrics] textfile_path`). Metrics never fail or block a run:
//! a failed push is logged and the run goes on.
//!
//! A finished run replaces its group (`PUT`): duration, status, decisions per
//! class, actions per status, rows read and quarantined per table, and the
//! time of the last success. A failed run only updates duration, status and
//! the time of the last run (`POST`), so the last success and the last
//! decisions stay visible next to the failure.

use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::text::encode_registry;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::config::MetricsSettings;
use crate::model::contract::{Table, TableCounts};
use crate::model::decision::Decision;
use crate::model::plan::ActionStatus;
use crate::model::report::Report;
use crate::model::run::RunStatus;
use crate::model::shard::Shard;

/// The run statuses, each a `status` label of `campaign_pilot_run_status`
/// (1 for this run's, 0 for the others, as batch-job dashboards expect).
pub const STATUSES: [RunStatus; 4] = [RunStatus::Succeeded, RunStatus::Partial, RunStatus::Held, RunStatus::Failed];

/// What one run measured.
#[derive(Debug, Clone)]
pub struct RunMetrics<'a> {
    pub status: RunStatus,
    pub seconds: f64,
    /// Unix time the run ended.
    pub finished_at: f64,
    /// `None` when the run failed before it had a report.
    pub report: Option<&'a Report>,
}

type Labeled = Family<Vec<(String, String)>, Gauge<f64, AtomicU64>>;

fn gauge(registry: &mut Registry, name: &str, help: &str, value: f64) {
    let g = Gauge::<f64, AtomicU64>::default();
    g.set(value);
    registry.register(name, help, g);
}

fn labeled(registry: &mut Registry, name: &str, help: &str, label: &str, values: impl IntoIterator<Item = (String, f64)>) {
    let family = Labeled::default();
    for (k, v) in values {
        family.get_or_create(&vec![(label.to_string(), k)]).set(v);
    }
    registry.register(name, help, family.clone());
}

fn per_table(c: &TableCounts) -> impl Iterator<Item = (String, f64)> + '_ {
    Table::ALL.into_iter().map(|t| (t.name().to_string(), c.get(t) as f64))
}

/// The run's metrics in the Prometheus text format.
pub fn exposition(m: &RunMetrics) -> String {
    let mut r = Registry::with_prefix("campaign_pilot");
    gauge(&mut r, "run_duration_seconds", "Wall time of the last run", m.seconds);
    gauge(&mut r, "last_run_timestamp_seconds", "Unix time the last run ended", m.finished_at);
    labeled(
        &mut r,
        "run_status",
        "1 for the last run's status, 0 for the others",
        "status",
        STATUSES.iter().map(|s| (s.as_str().to_string(), f64::from(u8::from(*s == m.status)))),
    );
    if let Some(report) = m.report {
        if m.status == RunStatus::Succeeded {
            gauge(&mut r, "last_success_timestamp_seconds", "Unix time the last successful run ended", m.finished_at);
        }
        gauge(&mut r, "campaigns", "Campaigns judged by the last run", report.campaigns.len() as f64);
        labeled(
            &mut r,
            "decisions",
            "Campaigns per decision class in the last run",
            "decision",
            Decision::ALL
                .iter()
                .map(|d| (d.to_string(), report.decision_counts.get(d).copied().unwrap_or(0) as f64)),
        );
        labeled(
            &mut r,
            "actions",
            "Actions per status in the last run",
            "status",
            ActionStatus::ALL.iter().map(|s| (s.as_str().to_string(), report.actions.iter().filter(|a| a.status == *s).count() as f64)),
        );
        let q = &report.data_quality;
        labeled(&mut r, "rows_read", "Rows read per table in the last run", "table", per_table(&q.rows_read));
        labeled(
            &mut r,
            "rows_quarantined",
            "Rows quarantined per table in the last run",
            "table",
            per_table(&q.rows_quarantined),
        );
        gauge(&mut r, "budget_before", "Total daily budget before the last run's plan", report.totals.budget_before);
        gauge(&mut r, "budget_after", "Total daily budget after the last run's plan", report.totals.budget_after);
    }
    let mut text = String::new();
    encode_registry(&mut text, &r).expect("writing to a String");
    text
}

/// The Pushgateway group: `job` and the shard (`all` when unsharded).
pub fn group_path(s: &MetricsSettings, shard: Option<&Shard>) -> String {
    let shard = shard.map_or_else(|| "all".to_string(), |k| format!("{}-of-{}", k.index, k.count));
    format!("{}/metrics/job/{}/shard/{shard}", s.pushgateway_url.trim_end_matches('/'), s.job)
}

/// Measures a run that started at `started` and publishes it.
pub fn publish_run<'a>(
    s: &'a MetricsSettings,
    shard: Option<Shard>,
    started: std::time::Instant,
    status: RunStatus,
    report: Option<&'a Report>,
) -> impl std::future::Future<Output = ()> + 'a {
    let m = RunMetrics {
        status,
        seconds: started.elapsed().as_secs_f64(),
        finished_at: chrono::Utc::now().timestamp_millis() as f64 / 1000.0,
        report,
    };
    async move { publish(s, shard.as_ref(), &m).await }
}

/// Pushes and/or writes the run's metrics; logs and goes on on failure.
pub async fn publish(s: &MetricsSettings, shard: Option<&Shard>, m: &RunMetrics<'_>) {
    if !s.enabled() {
        return;
    }
    let text = exposition(m);
    if !s.textfile_path.is_empty() {
        if let Err(e) = write_textfile(&s.textfile_path, &text, m.report.is_some()) {
            tracing::warn!(path = %s.textfile_path, error = %e, "could not write the metrics textfile");
        }
    }
    if !s.pushgateway_url.is_empty() {
        let url = group_path(s, shard);
        match push(&url, text, m.report.is_some(), Duration::from_secs_f64(s.timeout_s)).await {
            Ok(()) => tracing::info!(group = %url, "metrics pushed"),
            Err(e) => tracing::warn!(group = %url, error = %e, "could not push metrics (the run is unaffected)"),
        }
    }
}

async fn push(url: &str, text: String, replace: bool, budget: Duration) -> Result<(), String> {
    use backon::{ExponentialBuilder, Retryable};
    let client = reqwest::Client::builder().timeout(budget).build().map_err(|e| e.to_string())?;
    let once = || async {
        let req = if replace { client.put(url) } else { client.post(url) };
        let resp = req
            .header(reqwest::header::CONTENT_TYPE, "text/plain; version=0.0.4")
            .body(text.clone())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            let body = resp.text().await.unwrap_or_default();
            Err(format!("{status}: {}", body.trim()))
        }
    };
    let attempt = once.retry(ExponentialBuilder::default().with_min_delay(Duration::from_millis(200)).with_max_times(2));
    tokio::time::timeout(budget, attempt).await.map_err(|_| format!("no answer within {budget:?}"))?
}

/// Writes atomically. A failed run keeps the previous file's last success
/// and decision lines (as the Pushgateway's POST does).
fn write_textfile(path: &str, text: &str, replace: bool) -> std::io::Result<()> {
    let path = std::path::Path::new(path);
    let mut out = text.to_string();
    if !replace {
        let fresh: std::collections::HashSet<&str> = text.lines().filter_map(metric_name).collect();
        if let Ok(old) = std::fs::read_to_string(path) {
            let mut kept = String::new();
            for line in old.lines() {
                if metric_name(line).is_some_and(|n| !fresh.contains(n)) {
                    let _ = writeln!(kept, "{line}");
                }
            }
            out.push_str(&kept);
        }
    }
    let tmp = path.with_extension("prom.tmp");
    std::fs::write(&tmp, out)?;
    std::fs::rename(&tmp, path)
}

/// The metric a line belongs to (samples, `# HELP` and `# TYPE` alike).
fn metric_name(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("# HELP ").or_else(|| line.strip_prefix("# TYPE ")).unwrap_or(line);
    if rest.starts_with('#') || rest.is_empty() {
        return None;
    }
    rest.split(|c: char| c == '{' || c == ' ').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_run_sets_its_status_and_keeps_no_decisions() {
        let text = exposition(&RunMetrics { status: RunStatus::Failed, seconds: 2.5, finished_at: 1_700_000_000.0, report: None });
        assert!(text.contains("campaign_pilot_run_status{status=\"failed\"} 1.0"), "{text}");
        assert!(text.contains("campaign_pilot_run_status{status=\"succeeded\"} 0.0"), "{text}");
        assert!(text.contains("campaign_pilot_run_duration_seconds 2.5"), "{text}");
        assert!(!text.contains("decisions"), "{text}");
        assert!(!text.contains("last_success"), "{text}");
    }

    #[test]
    fn the_textfile_of_a_failed_run_keeps_the_last_success() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.prom");
        let ok = "# HELP campaign_pilot_last_success_timestamp_seconds t\n# TYPE campaign_pilot_last_success_timestamp_seconds gauge\ncampaign_pilot_last_success_timestamp_seconds 100.0\ncampaign_pilot_run_duration_seconds 1.0\n";
        write_textfile(path.to_str().unwrap(), ok, true).unwrap();
        let failed = exposition(&RunMetrics { status: RunStatus::Failed, seconds: 9.0, finished_at: 200.0, report: None });
        write_textfile(path.to_str().unwrap(), &failed, false).unwrap();
        let now = std::fs::read_to_string(&path).unwrap();
        assert!(now.contains("campaign_pilot_last_success_timestamp_seconds 100.0"), "{now}");
        assert!(now.contains("campaign_pilot_run_duration_seconds 9.0"), "{now}");
        assert!(!now.contains("campaign_pilot_run_duration_seconds 1.0"), "{now}");
        assert_eq!(now.matches("# TYPE campaign_pilot_last_success_timestamp_seconds").count(), 1);
    }
}
