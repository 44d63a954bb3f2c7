//! SQL of runs and what each stored (migrations 0001, 0005, 0013 and 0014):
//! the run row, its decisions, its reported actions (both also counted once,
//! for the list of runs), its quarantine and its report in every format,
//! packed.

use super::journal::ACTION_COLUMNS;
use super::{get, insert_json, rows_per_statement, values_sql, Db, DbError};
use crate::model::decision::Decision;
use crate::model::plan::{Action, ActionStatus};
use crate::model::report::{IndexedRun, Rendered, Report, ReportFormat};
use crate::model::run::{QuarantinedRow, RunMode, RunStatus};

/// The status of a run row while the run is in flight (it gets its
/// [`RunStatus`] when it ends; one left `running` was killed).
const RUNNING: &str = "running";

/// The run row of an invocation that is not a pipeline run, started and
/// finished now.
async fn insert_invocation<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(e: E, run_id: &str, as_of: &str, mode: RunMode, status: RunStatus) -> Result<(), DbError> {
    let now = chrono::Utc::now().to_rfc3339();
    sqlx::query("INSERT INTO runs (run_id, as_of, started_at, finished_at, status, dry_run, mode) VALUES ($1, $2, $3, $4, $5, 0, $6)")
        .bind(run_id.to_string())
        .bind(as_of.to_string())
        .bind(now.clone())
        .bind(now)
        .bind(status.as_str())
        .bind(mode.as_str())
        .execute(e)
        .await?;
    Ok(())
}

/// A run's per-campaign decisions, inside the caller's transaction.
pub(super) async fn insert_decisions(tx: &mut sqlx::Transaction<'_, sqlx::Any>, postgres: bool, r: &Report) -> Result<(), DbError> {
    // One JSON document per statement, as history rows are (a backfill
    // writes a thousand decisions a day; one bind per value dominated).
    let head = "INSERT INTO decisions (run_id, campaign_id, product_id, decision, baseline, reasons, metrics, budget_current, budget_proposed)";
    let cells = ["text", "text", "text", "text", "text", "text", "double precision", "double precision"];
    let mut rows = Vec::with_capacity(r.campaigns.len());
    for c in &r.campaigns {
        rows.push((&c.campaign_id, &c.product_id, c.decision.as_str(), c.baseline.as_str(), serde_json::to_string(&c.reasons)?, serde_json::to_string(&c.metrics)?, c.budget.current, c.budget.proposed));
    }
    insert_json(tx, postgres, head, &cells, "", &r.run_id, &rows, |row| row).await?;
    let mut counts: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for c in &r.campaigns {
        *counts.entry(format!("{DECISION_COUNT}{}", c.decision.as_str())).or_insert(0) += 1;
    }
    insert_counts(tx, &r.run_id, counts).await
}

/// What `run_counts.counted` begins with for a decision's count; the
/// actions' count is [`ACTIONS_COUNT`].
const DECISION_COUNT: &str = "decision:";
const ACTIONS_COUNT: &str = "actions";

/// A run's counts (migration 0014), inside the caller's transaction.
async fn insert_counts(tx: &mut sqlx::Transaction<'_, sqlx::Any>, run_id: &str, counts: impl IntoIterator<Item = (String, i64)>) -> Result<(), DbError> {
    let counts: Vec<(String, i64)> = counts.into_iter().collect();
    for chunk in counts.chunks(rows_per_statement(3)) {
        let sql = values_sql("INSERT INTO run_counts (run_id, counted, n) VALUES ", 3, chunk.len());
        let mut q = sqlx::query(&sql);
        for (counted, n) in chunk {
            q = q.bind(run_id.to_string()).bind(counted.clone()).bind(*n);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

async fn insert_actions(tx: &mut sqlx::Transaction<'_, sqlx::Any>, postgres: bool, run_id: &str, actions: &[Action]) -> Result<(), DbError> {
    // One JSON document per statement, as the decisions (a large portfolio
    // proposes thousands of actions a run).
    let head = format!("INSERT INTO proposed_actions (run_id, {ACTION_COLUMNS}, status, reason)");
    let cells = ["text", "text", "text", "text", "double precision", "double precision", "text", "text", "text", "text", "text", "text"];
    let mut rows = Vec::with_capacity(actions.len());
    for a in actions {
        let copy = a.copy.as_ref().map(serde_json::to_string).transpose()?;
        let forecast = a.forecast.as_ref().map(serde_json::to_string).transpose()?;
        let paused_by = a.paused_by.map(|p| p.as_str());
        rows.push((&a.key, &a.campaign_id, &a.product_id, a.kind.as_str(), a.from, a.to, paused_by, a.effective_date.to_string(), copy, forecast, a.status.as_str(), &a.reason));
    }
    insert_json(tx, postgres, &head, &cells, "", run_id, &rows, |row| row).await?;
    insert_counts(tx, run_id, [(ACTIONS_COUNT.to_string(), actions.len() as i64)]).await
}

async fn insert_quarantine(tx: &mut sqlx::Transaction<'_, sqlx::Any>, run_id: &str, quarantine: &[QuarantinedRow]) -> Result<(), DbError> {
    for chunk in quarantine.chunks(rows_per_statement(6)) {
        let sql = values_sql("INSERT INTO quarantine (run_id, table_name, line, column_name, reason, raw_text) VALUES ", 6, chunk.len());
        let mut q = sqlx::query(&sql);
        for row in chunk {
            q = q
                .bind(run_id.to_string())
                .bind(row.table.name())
                .bind(row.line as i64)
                .bind(row.column.clone())
                .bind(row.reason.clone())
                .bind(row.raw.clone());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

impl Db {
    pub async fn start_run(&self, run_id: &str, as_of: &str, dry_run: bool, mode: RunMode) -> Result<(), DbError> {
        sqlx::query("INSERT INTO runs (run_id, as_of, started_at, status, dry_run, mode) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(run_id)
            .bind(as_of)
            .bind(chrono::Utc::now().to_rfc3339())
            .bind(RUNNING)
            .bind(dry_run as i64)
            .bind(mode.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn finish_run(&self, run_id: &str, status: RunStatus) -> Result<(), DbError> {
        sqlx::query("UPDATE runs SET status = $1, finished_at = $2 WHERE run_id = $3")
            .bind(status.as_str())
            .bind(chrono::Utc::now().to_rfc3339())
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a non-pipeline invocation (approve, reject, rollback) as a run.
    pub async fn record_invocation(&self, run_id: &str, as_of: &str, mode: RunMode, status: RunStatus) -> Result<(), DbError> {
        insert_invocation(&self.pool, run_id, as_of, mode, status).await
    }

    /// A plan saved through the tools: an invocation of its own (mode
    /// `propose`, as of the run it was judged against) and its actions as
    /// waiting proposals, in one transaction.
    pub async fn save_tool_plan(&self, run_id: &str, as_of: &str, actions: &[Action]) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        insert_invocation(&mut *tx, run_id, as_of, RunMode::Propose, RunStatus::Succeeded).await?;
        insert_actions(&mut tx, self.is_postgres(), run_id, actions).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The run id of [`Db::newest_run_report`]'s report, or of the newest
    /// such run decided as of `as_of`.
    pub async fn newest_run_id(&self, as_of: Option<&str>) -> Result<Option<String>, DbError> {
        let row = sqlx::query(
            "SELECT r.run_id FROM reports r JOIN runs u ON u.run_id = r.run_id WHERE u.mode IN ($1, $2) AND ($3 = '' OR u.as_of = $4) \
             ORDER BY u.started_at DESC, r.run_id DESC LIMIT 1",
        )
        .bind(RunMode::Auto.as_str())
        .bind(RunMode::Manual.as_str())
        .bind(as_of.unwrap_or(""))
        .bind(as_of.unwrap_or(""))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| get(&r, "reports", "run_id")).transpose()
    }

    /// The newest run other than `run_id` that decided on the live portfolio
    /// and stored a report: its id and as_of.
    pub async fn previous_run(&self, run_id: &str) -> Result<Option<(String, String)>, DbError> {
        let row = sqlx::query(
            "SELECT r.run_id, u.as_of FROM reports r JOIN runs u ON u.run_id = r.run_id WHERE u.mode IN ($1, $2) AND r.run_id <> $3 \
             ORDER BY u.started_at DESC, r.run_id DESC LIMIT 1",
        )
        .bind(RunMode::Auto.as_str())
        .bind(RunMode::Manual.as_str())
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((get(&r, "reports", "run_id")?, get(&r, "runs", "as_of")?))).transpose()
    }

    /// Every run with a stored report, newest first, with its counts.
    pub async fn report_index(&self) -> Result<Vec<IndexedRun>, DbError> {
        const T: &str = "runs";
        let rows = sqlx::query(
            "SELECT u.run_id, u.as_of, u.started_at, u.status, u.dry_run, u.mode FROM runs u JOIN reports r ON r.run_id = u.run_id \
             ORDER BY u.started_at DESC, u.run_id DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut runs: Vec<IndexedRun> = rows
            .iter()
            .map(|r| {
                Ok(IndexedRun {
                    run_id: get(r, T, "run_id")?,
                    as_of: get(r, T, "as_of")?,
                    started_at: get(r, T, "started_at")?,
                    status: get(r, T, "status")?,
                    dry_run: get::<i64>(r, T, "dry_run")? != 0,
                    mode: get(r, T, "mode")?,
                    decisions: std::collections::BTreeMap::new(),
                    actions: 0,
                    applied: 0,
                })
            })
            .collect::<Result<_, DbError>>()?;
        let at: std::collections::HashMap<String, usize> = runs.iter().enumerate().map(|(i, r)| (r.run_id.clone(), i)).collect();
        // Counted when each run was stored (a GROUP BY over every decision
        // ever stored grew by the day); only the applied actions, whose
        // status changes after their run, are counted here (by an index).
        const C: &str = "run_counts";
        let counts = sqlx::query("SELECT c.run_id, c.counted, c.n FROM run_counts c JOIN reports r ON r.run_id = c.run_id").fetch_all(&self.pool).await?;
        for r in &counts {
            let id: String = get(r, C, "run_id")?;
            let Some(&i) = at.get(&id) else { continue };
            let counted: String = get(r, C, "counted")?;
            let n = get::<i64>(r, C, "n")? as u64;
            match counted.strip_prefix(DECISION_COUNT) {
                Some(name) => {
                    let d: Decision = name.parse().map_err(|e: crate::model::names::UnknownName| DbError::Decode { table: C, column: "counted", message: e.to_string() })?;
                    runs[i].decisions.insert(d, n);
                }
                None if counted == ACTIONS_COUNT => runs[i].actions = n,
                None => {}
            }
        }
        let applied = sqlx::query("SELECT run_id, COUNT(*) AS n FROM proposed_actions WHERE status = $1 GROUP BY run_id").bind(ActionStatus::Applied.as_str()).fetch_all(&self.pool).await?;
        for r in &applied {
            let id: String = get(r, "proposed_actions", "run_id")?;
            if let Some(&i) = at.get(&id) {
                runs[i].applied = get::<i64>(r, "proposed_actions", "n")? as u64;
            }
        }
        Ok(runs)
    }

    /// Begins storing a finished run: its decisions, actions and quarantine
    /// go into a transaction that [`StoringReport::finish`] ends with the
    /// report's formats (the report is rendered meanwhile). Dropped
    /// unfinished, nothing of it is stored.
    pub async fn store_report_rows(&self, r: &Report, quarantine: &[QuarantinedRow]) -> Result<StoringReport, DbError> {
        let mut tx = self.pool.begin().await?;
        insert_decisions(&mut tx, self.is_postgres(), r).await?;
        insert_actions(&mut tx, self.is_postgres(), &r.run_id, &r.actions).await?;
        insert_quarantine(&mut tx, &r.run_id, quarantine).await?;
        Ok(StoringReport { tx, run_id: r.run_id.clone() })
    }
}

/// A run's rows stored, uncommitted, waiting for its rendered report.
pub struct StoringReport {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    run_id: String,
}

impl StoringReport {
    /// Stores the report's four formats, packed, and commits the run's rows with them.
    pub async fn finish(self, rendered: &Rendered) -> Result<(), DbError> {
        let StoringReport { mut tx, run_id } = self;
        let [json, markdown, csv, html] = pack(rendered)?;
        sqlx::query(
            "INSERT INTO reports (run_id, report_json, markdown, report_json_zst, markdown_zst, decisions_csv_zst, html_zst) \
             VALUES ($1, '', '', $2, $3, $4, $5)",
        )
        .bind(run_id)
        .bind(json)
        .bind(markdown)
        .bind(csv)
        .bind(html)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Db {
    /// A stored report in one format of a run, or of the newest run with a
    /// report; with the run id. `Ok(None)` when there is no such run;
    /// `Some((id, None))` when it predates that format.
    pub async fn stored_report(&self, run_id: Option<&str>, format: ReportFormat) -> Result<Option<(String, Option<String>)>, DbError> {
        let column = match format {
            ReportFormat::Json => "report_json",
            ReportFormat::Md => "markdown",
            ReportFormat::Csv => "decisions_csv",
            ReportFormat::Html => "html",
        };
        let select = format!("SELECT run_id, {column} AS body, {column}_zst AS packed FROM reports");
        let row = match run_id {
            Some(id) => sqlx::query(&format!("{select} WHERE run_id = $1")).bind(id.to_string()).fetch_optional(&self.pool).await?,
            // run ids are UUIDv7: they sort by time.
            None => sqlx::query(&format!("{select} ORDER BY run_id DESC LIMIT 1")).fetch_optional(&self.pool).await?,
        };
        let Some(r) = row else { return Ok(None) };
        let body = match get::<Option<Vec<u8>>>(&r, "reports", "packed")? {
            Some(packed) => Some(unpack(&packed)?),
            None => get(&r, "reports", "body")?,
        };
        Ok(Some((get(&r, "reports", "run_id")?, body)))
    }

    /// report.json of the newest run that decided on the live portfolio (a
    /// run in auto or manual mode, not a backfill day).
    pub async fn newest_run_report(&self) -> Result<Option<String>, DbError> {
        match self.newest_run_id(None).await? {
            Some(id) => Ok(self.stored_report(Some(&id), ReportFormat::Json).await?.and_then(|(_, body)| body)),
            None => Ok(None),
        }
    }

    /// Runs recorded, and how many are still `running` (unfinished).
    pub async fn run_counts(&self) -> Result<(i64, i64), DbError> {
        let row = sqlx::query("SELECT COUNT(*) AS n, COUNT(CASE WHEN status = $1 THEN 1 END) AS running FROM runs").bind(RUNNING).fetch_one(&self.pool).await?;
        Ok((get(&row, "runs", "n")?, get(&row, "runs", "running")?))
    }
}

/// zstd's fastest level: a 10,000-campaign report's 52 MB pack to about
/// 7 MB in a tenth of a second on two cores; higher levels gain little more.
const PACK_LEVEL: i32 = 1;

/// The four formats packed (json, markdown, csv, html), the two large
/// ones on threads of their own.
fn pack(rendered: &Rendered) -> Result<[Vec<u8>; 4], DbError> {
    let one = |text: &str| zstd::encode_all(text.as_bytes(), PACK_LEVEL).map_err(|e| DbError::Pack(e.to_string()));
    let (json, html, markdown, csv) = std::thread::scope(|s| {
        let json = s.spawn(|| one(&rendered.json));
        let html = s.spawn(|| one(&rendered.html));
        let (markdown, csv) = (one(&rendered.markdown), one(&rendered.csv));
        (json.join().expect("packing panicked"), html.join().expect("packing panicked"), markdown, csv)
    });
    Ok([json?, markdown?, csv?, html?])
}

/// A format as [`pack`] stored it.
fn unpack(packed: &[u8]) -> Result<String, DbError> {
    let decode = |message: String| DbError::Decode { table: "reports", column: "packed report", message };
    let bytes = zstd::decode_all(packed).map_err(|e| decode(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| decode(e.to_string()))
}
