//! The only place with SQL. One pool over SQLite (the embedded default) or
//! PostgreSQL, chosen by the URL; the same migrations serve both.

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};

use crate::report::{Rendered, Report};
use crate::stages::decide::{Action, ActionKind, ActionStatus};
use crate::stages::validate::QuarantinedRow;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database.url: cannot connect to {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database: {0}")]
    Query(#[from] sqlx::Error),
    #[error("database: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("run lock: {0}")]
    Lock(String),
}

pub mod backfill;
pub mod history;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    url: String,
}

/// Where an action stands in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalState {
    Planned,
    Sent,
    Applied,
    Failed,
}

impl JournalState {
    pub fn as_str(self) -> &'static str {
        match self {
            JournalState::Planned => "planned",
            JournalState::Sent => "sent",
            JournalState::Applied => "applied",
            JournalState::Failed => "failed",
        }
    }
    fn parse(s: &str) -> JournalState {
        match s {
            "sent" => JournalState::Sent,
            "applied" => JournalState::Applied,
            "failed" => JournalState::Failed,
            _ => JournalState::Planned,
        }
    }
}

/// Held for the whole run; released when dropped (or when the process dies).
pub enum RunLock {
    File(std::fs::File),
    Advisory(sqlx::AnyConnection),
    None,
}

/// One line of the audit history.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub actor: &'a str,
    pub run_id: &'a str,
    pub action_key: &'a str,
    pub campaign_id: &'a str,
    pub product_id: &'a str,
    pub kind: &'a str,
    pub before: f64,
    pub after: f64,
    pub status: &'a str,
    pub note: &'a str,
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..s + 3], user, &url[at..])
        }
        _ => url.to_string(),
    }
}

impl Db {
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 1 } else { 4 })
            // SQLite has one connection: the store and the ads fetch take turns
            // storing history, and one may wait for the other's long write.
            .acquire_timeout(std::time::Duration::from_secs(if sqlite { 900 } else { 60 }))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // WAL with synchronous NORMAL: a commit is in the WAL file before
                        // it returns (a killed process loses nothing), without an fsync
                        // per commit — the act stage commits a few times per action.
                        sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA busy_timeout = 5000").execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(|source| DbError::Connect { url: redact(url), source })?;
        MIGRATOR.run(&pool).await?;
        Ok(Db { pool, url: url.to_string() })
    }

    /// Takes the one-run-at-a-time lock, or None when another run holds it.
    /// SQLite: an OS lock on `<database>.lock` (freed by the OS if the process
    /// dies). PostgreSQL: a session advisory lock on a connection of its own.
    pub async fn try_lock(&self, name: &str) -> Result<Option<RunLock>, DbError> {
        if let Some(rest) = self.url.strip_prefix("sqlite://") {
            let file = rest.split('?').next().unwrap_or(rest);
            if file == ":memory:" || file.is_empty() {
                return Ok(Some(RunLock::None));
            }
            let path = format!("{file}.{name}.lock");
            let f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| DbError::Lock(format!("{path}: {e}")))?;
            return match f.try_lock() {
                Ok(()) => Ok(Some(RunLock::File(f))),
                Err(std::fs::TryLockError::WouldBlock) => Ok(None),
                Err(std::fs::TryLockError::Error(e)) => Err(DbError::Lock(format!("{path}: {e}"))),
            };
        }
        let mut conn = self.pool.acquire().await?.detach();
        let row = sqlx::query("SELECT pg_try_advisory_lock(hashtext($1)::bigint) AS ok")
            .bind(format!("campaign-pilot:{name}"))
            .fetch_one(&mut conn)
            .await?;
        Ok(row.try_get::<bool, _>("ok")?.then_some(RunLock::Advisory(conn)))
    }

    /// Records the plan's actions as `planned` (keeping any row a previous
    /// run for the same as_of left), and returns every key's state.
    pub async fn journal_plan(
        &self,
        run_id: &str,
        as_of: &str,
        actions: &[crate::stages::decide::Action],
    ) -> Result<std::collections::HashMap<String, (JournalState, i64)>, DbError> {
        let now = chrono::Utc::now().to_rfc3339();
        let mut tx = self.pool.begin().await?;
        for chunk in actions.chunks(500) {
            let sql = values_sql(
                "INSERT INTO action_journal (action_key, as_of, run_id, campaign_id, product_id, kind, from_budget, to_budget, paused_by, effective_date, state, attempts, updated_at) VALUES ",
                13,
                chunk.len(),
            ) + " ON CONFLICT (action_key) DO NOTHING";
            let mut q = sqlx::query(&sql);
            for a in chunk {
                q = q
                    .bind(a.key.clone())
                    .bind(as_of.to_string())
                    .bind(run_id.to_string())
                    .bind(a.campaign_id.clone())
                    .bind(a.product_id.clone())
                    .bind(a.kind.as_str())
                    .bind(a.from)
                    .bind(a.to)
                    .bind(a.paused_by.clone())
                    .bind(a.effective_date.clone())
                    .bind(JournalState::Planned.as_str())
                    .bind(0i64)
                    .bind(now.clone());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        let rows = sqlx::query("SELECT action_key, state, attempts FROM action_journal WHERE as_of = $1")
            .bind(as_of)
            .fetch_all(&self.pool)
            .await?;
        let mut out = std::collections::HashMap::with_capacity(rows.len());
        for r in rows {
            out.insert(
                r.try_get::<String, _>("action_key")?,
                (JournalState::parse(&r.try_get::<String, _>("state")?), r.try_get::<i64, _>("attempts")?),
            );
        }
        Ok(out)
    }

    /// Moves one action to `state` (a send counts as an attempt).
    pub async fn journal_set(
        &self,
        key: &str,
        state: JournalState,
        error: Option<&str>,
        applied_by: Option<&str>,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE action_journal SET state = $1, attempts = attempts + $2, last_error = $3, applied_by = COALESCE($4, applied_by), updated_at = $5 WHERE action_key = $6",
        )
        .bind(state.as_str())
        .bind(i64::from(state == JournalState::Sent))
        .bind(error.map(str::to_string))
        .bind(applied_by.map(str::to_string))
        .bind(chrono::Utc::now().to_rfc3339())
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Moves many actions to `state` in one transaction; when `audit` is
    /// given, their audit lines go into the same transaction.
    pub async fn journal_set_many(
        &self,
        keys: &[&str],
        state: JournalState,
        applied_by: Option<&str>,
        audit: &[AuditEntry<'_>],
    ) -> Result<(), DbError> {
        let now = chrono::Utc::now().to_rfc3339();
        let mut tx = self.pool.begin().await?;
        for chunk in keys.chunks(500) {
            let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 6)).collect();
            let sql = format!(
                "UPDATE action_journal SET state = $1, attempts = attempts + $2, applied_by = COALESCE($3, applied_by), last_error = $4, updated_at = $5 WHERE action_key IN ({})",
                placeholders.join(", ")
            );
            let mut q = sqlx::query(&sql)
                .bind(state.as_str())
                .bind(i64::from(state == JournalState::Sent))
                .bind(applied_by.map(str::to_string))
                .bind(None::<String>)
                .bind(now.clone());
            for k in chunk {
                q = q.bind(k.to_string());
            }
            q.execute(&mut *tx).await?;
        }
        for chunk in audit.chunks(500) {
            let sql = values_sql(
                "INSERT INTO audit (audit_id, at, actor, run_id, action_key, campaign_id, product_id, kind, before_value, after_value, status, note) VALUES ",
                12,
                chunk.len(),
            );
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q
                    .bind(uuid::Uuid::now_v7().to_string())
                    .bind(now.clone())
                    .bind(e.actor.to_string())
                    .bind(e.run_id.to_string())
                    .bind(e.action_key.to_string())
                    .bind(e.campaign_id.to_string())
                    .bind(e.product_id.to_string())
                    .bind(e.kind.to_string())
                    .bind(e.before)
                    .bind(e.after)
                    .bind(e.status.to_string())
                    .bind(e.note.to_string());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Proposals still waiting, by action key or by run id, oldest run first.
    pub async fn proposals(&self, id: &str) -> Result<Vec<(String, Action)>, DbError> {
        let rows = sqlx::query(
            "SELECT p.run_id, p.action_key, p.campaign_id, p.product_id, p.kind, p.from_budget, p.to_budget, p.paused_by, p.effective_date, p.reason, r.as_of \
             FROM proposed_actions p JOIN runs r ON r.run_id = p.run_id \
             WHERE (p.run_id = $1 OR p.action_key = $2) AND p.status = 'proposed' ORDER BY r.started_at, p.action_key",
        )
        .bind(id)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for r in rows.iter().rev() {
            // The same key proposed by several runs: the newest proposal stands.
            let key: String = r.try_get("action_key")?;
            if seen.insert(key) {
                out.push((r.try_get::<String, _>("run_id")?, action_from_row(r, "proposed")?));
            }
        }
        out.reverse();
        Ok(out)
    }

    pub async fn set_proposal_status(&self, run_id: &str, key: &str, status: &str, reason: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE proposed_actions SET status = $1, reason = $2 WHERE run_id = $3 AND action_key = $4")
            .bind(status)
            .bind(reason)
            .bind(run_id)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every proposal of every run with this key that is still waiting.
    pub async fn close_proposals(&self, key: &str, status: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE proposed_actions SET status = $1 WHERE action_key = $2 AND status = 'proposed'")
            .bind(status)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The actions a run (or an approve / rollback) applied, from the journal.
    pub async fn applied_by(&self, run_id: &str) -> Result<Vec<Action>, DbError> {
        let rows = sqlx::query(
            "SELECT action_key, campaign_id, product_id, kind, from_budget, to_budget, paused_by, effective_date, '' AS reason, as_of \
             FROM action_journal WHERE applied_by = $1 AND state = 'applied' ORDER BY action_key",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| action_from_row(r, "applied")).collect()
    }

    /// Records a non-pipeline invocation (approve, reject, rollback) as a run.
    pub async fn record_invocation(&self, run_id: &str, as_of: &str, mode: &str, status: &str) -> Result<(), DbError> {
        let now = chrono::Utc::now().to_rfc3339();
        sqlx::query("INSERT INTO runs (run_id, as_of, started_at, finished_at, status, dry_run, mode) VALUES ($1, $2, $3, $4, $5, 0, $6)")
            .bind(run_id)
            .bind(as_of)
            .bind(now.clone())
            .bind(now)
            .bind(status)
            .bind(mode)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The audit history, oldest first, optionally for one campaign.
    pub async fn history(&self, campaign: Option<&str>) -> Result<Vec<HistoryRow>, DbError> {
        let rows = sqlx::query(
            "SELECT at, actor, run_id, action_key, campaign_id, product_id, kind, before_value, after_value, status, note \
             FROM audit WHERE ($1 = '' OR campaign_id = $2) ORDER BY at, audit_id",
        )
        .bind(campaign.unwrap_or(""))
        .bind(campaign.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(HistoryRow {
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    run_id: r.try_get("run_id")?,
                    action_key: r.try_get("action_key")?,
                    campaign_id: r.try_get("campaign_id")?,
                    product_id: r.try_get("product_id")?,
                    kind: r.try_get("kind")?,
                    before: r.try_get("before_value")?,
                    after: r.try_get("after_value")?,
                    status: r.try_get("status")?,
                    note: r.try_get("note")?,
                })
            })
            .collect()
    }

    pub async fn llm_cache_get(&self, hash: &str) -> Result<Option<String>, DbError> {
        let row = sqlx::query("SELECT response FROM llm_cache WHERE prompt_hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<String, _>("response")).transpose()?)
    }

    pub async fn llm_cache_put(&self, hash: &str, model: &str, response: &str) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO llm_cache (prompt_hash, model, response, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (prompt_hash) DO NOTHING",
        )
        .bind(hash)
        .bind(model)
        .bind(response)
        .bind(chrono::Utc::now().to_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn audit(&self, e: &AuditEntry<'_>) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO audit (audit_id, at, actor, run_id, action_key, campaign_id, product_id, kind, before_value, after_value, status, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(chrono::Utc::now().to_rfc3339())
        .bind(e.actor)
        .bind(e.run_id)
        .bind(e.action_key)
        .bind(e.campaign_id)
        .bind(e.product_id)
        .bind(e.kind)
        .bind(e.before)
        .bind(e.after)
        .bind(e.status)
        .bind(e.note)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn start_run(&self, run_id: &str, as_of: &str, dry_run: bool, mode: &str) -> Result<(), DbError> {
        sqlx::query("INSERT INTO runs (run_id, as_of, started_at, status, dry_run, mode) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(run_id)
            .bind(as_of)
            .bind(chrono::Utc::now().to_rfc3339())
            .bind("running")
            .bind(dry_run as i64)
            .bind(mode)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn finish_run(&self, run_id: &str, status: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE runs SET status = $1, finished_at = $2 WHERE run_id = $3")
            .bind(status)
            .bind(chrono::Utc::now().to_rfc3339())
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores a finished run's decisions, actions, quarantine and report in one transaction.
    pub async fn save_report(&self, r: &Report, quarantine: &[QuarantinedRow], rendered: &Rendered) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        insert_decisions(&mut tx, r).await?;
        for chunk in r.actions.chunks(500) {
            let sql = values_sql(
                "INSERT INTO proposed_actions (run_id, action_key, campaign_id, product_id, kind, from_budget, to_budget, paused_by, effective_date, status, reason) VALUES ",
                11,
                chunk.len(),
            );
            let mut q = sqlx::query(&sql);
            for a in chunk {
                q = q
                    .bind(r.run_id.clone())
                    .bind(a.key.clone())
                    .bind(a.campaign_id.clone())
                    .bind(a.product_id.clone())
                    .bind(a.kind.as_str())
                    .bind(a.from)
                    .bind(a.to)
                    .bind(a.paused_by.clone())
                    .bind(a.effective_date.clone())
                    .bind(a.status.as_str())
                    .bind(a.reason.clone());
            }
            q.execute(&mut *tx).await?;
        }
        for chunk in quarantine.chunks(500) {
            let sql = values_sql(
                "INSERT INTO quarantine (run_id, table_name, line, column_name, reason, raw_text) VALUES ",
                6,
                chunk.len(),
            );
            let mut q = sqlx::query(&sql);
            for row in chunk {
                q = q
                    .bind(r.run_id.clone())
                    .bind(row.table.name())
                    .bind(row.line as i64)
                    .bind(row.column.clone())
                    .bind(row.reason.clone())
                    .bind(row.raw.clone());
            }
            q.execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO reports (run_id, report_json, markdown, decisions_csv, html) VALUES ($1, $2, $3, $4, $5)")
            .bind(r.run_id.clone())
            .bind(rendered.json.clone())
            .bind(rendered.markdown.clone())
            .bind(rendered.csv.clone())
            .bind(rendered.html.clone())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn count(&self, table: &str, run_id: &str) -> Result<i64, DbError> {
        // `table` is one of ours, never user input.
        let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table} WHERE run_id = $1"))
            .bind(run_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }

    /// A stored report in one format (`json`, `md`, `csv`, `html`) of a run,
    /// or of the newest run with a report; with the run id. `Ok(None)` when
    /// there is no such run; `Some((id, None))` when it predates that format.
    pub async fn stored_report(&self, run_id: Option<&str>, format: &str) -> Result<Option<(String, Option<String>)>, DbError> {
        let column = match format {
            "json" => "report_json",
            "md" => "markdown",
            "csv" => "decisions_csv",
            _ => "html",
        };
        let row = match run_id {
            Some(id) => {
                sqlx::query(&format!("SELECT run_id, {column} FROM reports WHERE run_id = $1"))
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await?
            }
            // run ids are UUIDv7: they sort by time.
            None => sqlx::query(&format!("SELECT run_id, {column} FROM reports ORDER BY run_id DESC LIMIT 1")).fetch_optional(&self.pool).await?,
        };
        Ok(row.map(|r| (r.get::<String, _>(0), r.get::<Option<String>, _>(1))))
    }

    /// Runs recorded, and how many are still `running` (unfinished).
    pub async fn run_counts(&self) -> Result<(i64, i64), DbError> {
        let row = sqlx::query("SELECT COUNT(*), COUNT(CASE WHEN status = 'running' THEN 1 END) FROM runs").fetch_one(&self.pool).await?;
        Ok((row.try_get::<i64, _>(0)?, row.try_get::<i64, _>(1)?))
    }

    pub async fn run_status(&self, run_id: &str) -> Result<Option<String>, DbError> {
        let row = sqlx::query("SELECT status FROM runs WHERE run_id = $1").bind(run_id).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| r.try_get::<String, _>("status")).transpose()?)
    }

    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }

    pub async fn close(self) {
        self.pool.close().await;
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryRow {
    pub at: String,
    pub actor: String,
    pub run_id: String,
    pub action_key: String,
    pub campaign_id: String,
    pub product_id: String,
    pub kind: String,
    pub before: f64,
    pub after: f64,
    pub status: String,
    pub note: String,
}

fn action_from_row(r: &sqlx::any::AnyRow, status: &str) -> Result<Action, DbError> {
    let kind: String = r.try_get("kind")?;
    let kind = match kind.as_str() {
        "pause" => ActionKind::Pause,
        "resume" => ActionKind::Resume,
        "set_budget" => ActionKind::SetBudget,
        _ => ActionKind::Create,
    };
    Ok(Action {
        key: r.try_get("action_key")?,
        campaign_id: r.try_get("campaign_id")?,
        product_id: r.try_get("product_id")?,
        kind,
        from: r.try_get("from_budget")?,
        to: r.try_get("to_budget")?,
        paused_by: r.try_get::<Option<String>, _>("paused_by")?.filter(|s| !s.is_empty()),
        effective_date: r.try_get("effective_date")?,
        status: if status == "applied" { ActionStatus::Applied } else { ActionStatus::Proposed },
        reason: r.try_get("reason")?,
    })
}

/// `PREFIX ($1, …, $k), (…), …` for `rows` rows of `k` columns.
/// A report's per-campaign decisions, inside the caller's transaction.
async fn insert_decisions(tx: &mut sqlx::Transaction<'_, sqlx::Any>, r: &Report) -> Result<(), DbError> {
    for chunk in r.campaigns.chunks(500) {
        let sql = values_sql(
            "INSERT INTO decisions (run_id, campaign_id, product_id, decision, baseline, reasons, metrics, budget_current, budget_proposed) VALUES ",
            9,
            chunk.len(),
        );
        let mut q = sqlx::query(&sql);
        for c in chunk {
            q = q
                .bind(r.run_id.clone())
                .bind(c.campaign_id.clone())
                .bind(c.product_id.clone())
                .bind(c.decision.to_string())
                .bind(c.baseline.to_string())
                .bind(serde_json::to_string(&c.reasons)?)
                .bind(serde_json::to_string(&c.metrics)?)
                .bind(c.budget.current)
                .bind(c.budget.proposed);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

fn values_sql(prefix: &str, k: usize, rows: usize) -> String {
    let mut s = String::with_capacity(prefix.len() + rows * k * 5);
    s.push_str(prefix);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..k {
            if c > 0 {
                s.push_str(", ");
            }
            s.push('$');
            s.push_str(&(r * k + c + 1).to_string());
        }
        s.push(')');
    }
    s
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_sql_numbers_placeholders_in_order() {
        assert_eq!(values_sql("I ", 2, 2), "I ($1, $2), ($3, $4)");
    }

    #[test]
    fn redact_hides_the_password() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
