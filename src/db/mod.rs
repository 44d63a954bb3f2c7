//! The only place with SQL. One pool over SQLite (the embedded default) or
//! PostgreSQL, chosen by the URL; the same migrations serve both.
//!
//! This file opens the pool and takes the run lock; each other file of the
//! room is one part of what is stored: the journal, proposals, runs and
//! their reports, the audit history, the LLM cache, the fetched history and
//! backfill days. Every value read back is decoded through [`get`] and its
//! kin, so a row that does not decode is an error naming its table and
//! column, never a panic or a silent default.

use std::str::FromStr;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Row};

use crate::model::day::{parse_day, Day};

pub mod audit;
pub mod backfill;
pub mod checks;
mod copy;
pub mod history;
pub mod journal;
pub mod llm_cache;
pub mod outcomes;
pub mod proposals;
pub mod runs;
pub mod sessions;

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
    #[error("database: packing a report: {0}")]
    Pack(String),
    /// A stored value that does not decode as its column's type.
    #[error("database: {table}.{column}: {message}")]
    Decode { table: &'static str, column: &'static str, message: String },
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    url: String,
    /// PostgreSQL only: a typed pool for COPY, which `Any` cannot do.
    pg: Option<sqlx::PgPool>,
}

/// Held for the whole run; released when dropped (or when the process dies).
pub enum RunLock {
    File(std::fs::File),
    Advisory(sqlx::AnyConnection),
    None,
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

/// The file `<database>.<name>.lock` beside a SQLite database, opened (not
/// locked); none for an in-memory one.
fn lock_file(url: &str, name: &str) -> Result<Option<std::fs::File>, DbError> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let file = rest.split('?').next().unwrap_or(rest);
    if file == ":memory:" || file.is_empty() {
        return Ok(None);
    }
    let path = format!("{file}.{name}.lock");
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map(Some)
        .map_err(|e| DbError::Lock(format!("{path}: {e}")))
}

/// The password in a `scheme://user:password@host/…` URL.
fn password_of(url: &str) -> Option<&str> {
    let (s, at) = (url.find("://")?, url.rfind('@')?);
    (at > s).then(|| url[s + 3..at].split_once(':').map(|(_, p)| p)).flatten().filter(|p| !p.is_empty())
}

/// A column of a row read back, or an error naming table and column.
pub(crate) fn get<'r, T>(row: &'r AnyRow, table: &'static str, column: &'static str) -> Result<T, DbError>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    row.try_get::<T, _>(column).map_err(|e| DbError::Decode { table, column, message: e.to_string() })
}

/// A stored `YYYY-MM-DD` column.
pub(crate) fn get_day(row: &AnyRow, table: &'static str, column: &'static str) -> Result<Day, DbError> {
    let text: String = get(row, table, column)?;
    parse_day(&text).map_err(|e| DbError::Decode { table, column, message: e.to_string() })
}

/// A stored `YYYY-MM-DD` column that may be empty or null.
pub(crate) fn get_opt_day(row: &AnyRow, table: &'static str, column: &'static str) -> Result<Option<Day>, DbError> {
    match get::<Option<String>>(row, table, column)?.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => parse_day(&text).map(Some).map_err(|e| DbError::Decode { table, column, message: e.to_string() }),
    }
}

/// A stored name of a state (`applied`, `pause`, …): one of the enum's names.
pub(crate) fn get_name<T>(row: &AnyRow, table: &'static str, column: &'static str) -> Result<T, DbError>
where
    T: FromStr<Err = crate::model::names::UnknownName>,
{
    let text: String = get(row, table, column)?;
    text.parse().map_err(|e: crate::model::names::UnknownName| DbError::Decode { table, column, message: e.to_string() })
}

/// A stored JSON column.
pub(crate) fn get_json<T: serde::de::DeserializeOwned>(row: &AnyRow, table: &'static str, column: &'static str) -> Result<Option<T>, DbError> {
    match get::<Option<String>>(row, table, column)?.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text).map(Some).map_err(|e| DbError::Decode { table, column, message: e.to_string() }),
    }
}

impl Db {
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        if let Some(password) = password_of(url) {
            crate::secrets::hold_str(password);
        }
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
        // Two processes meeting a brand-new SQLite file would both try to
        // create its tables: they take turns (PostgreSQL's migrator locks).
        let migrating = if sqlite { lock_file(url, "migrate")? } else { None };
        if let Some(f) = &migrating {
            f.lock().map_err(|e| DbError::Lock(format!("migration lock: {e}")))?;
        }
        MIGRATOR.run(&pool).await?;
        drop(migrating);
        let pg = if sqlite {
            None
        } else {
            Some(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .acquire_timeout(std::time::Duration::from_secs(60))
                    .connect(url)
                    .await
                    .map_err(|source| DbError::Connect { url: redact(url), source })?,
            )
        };
        Ok(Db { pool, url: url.to_string(), pg })
    }

    /// Takes the one-run-at-a-time lock, or None when another run holds it.
    /// SQLite: an OS lock on `<database>.lock` (freed by the OS if the process
    /// dies). PostgreSQL: a session advisory lock on a connection of its own.
    pub async fn try_lock(&self, name: &str) -> Result<Option<RunLock>, DbError> {
        if self.url.starts_with("sqlite:") {
            let Some(f) = lock_file(&self.url, name)? else { return Ok(Some(RunLock::None)) };
            return match f.try_lock() {
                Ok(()) => Ok(Some(RunLock::File(f))),
                Err(std::fs::TryLockError::WouldBlock) => Ok(None),
                Err(std::fs::TryLockError::Error(e)) => Err(DbError::Lock(format!("{name} lock: {e}"))),
            };
        }
        let mut conn = self.pool.acquire().await?.detach();
        let row = sqlx::query("SELECT pg_try_advisory_lock(hashtext($1)::bigint) AS ok")
            .bind(format!("campaign-pilot:{name}"))
            .fetch_one(&mut conn)
            .await?;
        Ok(row.try_get::<bool, _>("ok")?.then_some(RunLock::Advisory(conn)))
    }

    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }

    pub async fn close(self) {
        self.pool.close().await;
        if let Some(pg) = self.pg {
            pg.close().await;
        }
    }
}

/// The most bound values one statement carries. SQLite looks a `$N`
/// parameter's name up by walking the statement's list of names, so binding
/// n of them costs n²: 500 rows × 12 columns took ~50 ms a statement, 40
/// rows × 12 a fiftieth of it. PostgreSQL does not mind either way.
pub(crate) const MAX_BINDS: usize = 480;

/// Rows of `columns` bound values that fit in one statement.
pub(crate) fn rows_per_statement(columns: usize) -> usize {
    (MAX_BINDS / columns.max(1)).max(1)
}

/// Rows a bulk insert ([`insert_json`]) sends in one statement.
const JSON_ROWS_PER_STATEMENT: usize = 20_000;

/// Inserts many rows with few binds: `source` is `$1`, and the rows travel
/// as one JSON array of arrays in `$2` (each inner array the `cells` in
/// order), which the database unpacks itself — SQLite's `json_each`,
/// PostgreSQL's `json_array_elements` with a cast per cell (`cells` names
/// PostgreSQL's types). With a bind per value, sqlx's SQLite driver spends
/// half the statement looking up parameter names; this way a statement
/// carries [`JSON_ROWS_PER_STATEMENT`] rows in two binds (2.2–2.9× the rows
/// a second on SQLite, `scripts/bench.sh history`). Returns the rows written
/// (an upsert whose `WHERE` keeps a row as it was does not count it). A JSON
/// null is SQL NULL (a non-finite float serializes as null, which the
/// validator quarantines as it would NaN). `tail` follows the
/// SELECT (`ON CONFLICT …`; the `WHERE true` before it is SQLite's rule for
/// an upsert from a SELECT).
pub(crate) async fn insert_json<'a, T, R: serde::Serialize>(
    tx: &mut sqlx::Transaction<'_, Any>,
    postgres: bool,
    head: &str,
    cells: &[&str],
    tail: &str,
    source: &str,
    rows: &'a [T],
    row: impl Fn(&'a T) -> R,
) -> Result<u64, DbError> {
    let started = std::time::Instant::now();
    let sql = json_insert_sql(postgres, head, cells, tail);
    let mut written = 0;
    for chunk in rows.chunks(JSON_ROWS_PER_STATEMENT) {
        let json = serde_json::to_string(&chunk.iter().map(&row).collect::<Vec<R>>())?;
        written += sqlx::query(&sql).bind(source.to_string()).bind(json).execute(&mut **tx).await?.rows_affected();
    }
    let seconds = started.elapsed().as_secs_f64();
    let per_second = (rows.len() as f64 / seconds.max(1e-9)).round();
    tracing::debug!(statement = head, rows = rows.len(), written, ms = (seconds * 1000.0).round(), rows_per_s = per_second, "history rows stored");
    Ok(written)
}

/// The statement of [`insert_json`].
fn json_insert_sql(postgres: bool, head: &str, cells: &[&str], tail: &str) -> String {
    let values: Vec<String> = cells
        .iter()
        .enumerate()
        .map(|(i, t)| if postgres { format!("(e.value->>{i})::{t}") } else { format!("e.value->>{i}") })
        .collect();
    let (first, from) = if postgres { ("$1::text", "json_array_elements($2::json) AS e(value)") } else { ("$1", "json_each($2) AS e") };
    format!("{head} SELECT {first}, {} FROM {from} WHERE true {tail}", values.join(", "))
}

/// `PREFIX ($1, …, $k), (…), …` for `rows` rows of `k` columns.
pub(crate) fn values_sql(prefix: &str, k: usize, rows: usize) -> String {
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

/// `$first, $first+1, …` for an `IN (…)` list of `n` values.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (0..n).map(|i| format!("${}", first + i)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_never_binds_more_than_max_binds_and_always_one_row() {
        for columns in [1, 4, 9, 13, 480, 10_000] {
            let rows = rows_per_statement(columns);
            assert!(rows >= 1);
            assert!(rows * columns <= MAX_BINDS || rows == 1, "{columns}");
        }
        assert_eq!(rows_per_statement(12), 40);
    }

    #[test]
    fn a_json_insert_unpacks_one_array_per_row_on_either_database() {
        let head = "INSERT INTO t (source, a, b)";
        assert_eq!(json_insert_sql(false, head, &["text", "bigint"], ""), "INSERT INTO t (source, a, b) SELECT $1, e.value->>0, e.value->>1 FROM json_each($2) AS e WHERE true ");
        assert_eq!(
            json_insert_sql(true, head, &["text", "bigint"], "ON CONFLICT DO NOTHING"),
            "INSERT INTO t (source, a, b) SELECT $1::text, (e.value->>0)::text, (e.value->>1)::bigint FROM json_array_elements($2::json) AS e(value) WHERE true ON CONFLICT DO NOTHING"
        );
    }

    #[test]
    fn values_sql_numbers_placeholders_in_order() {
        assert_eq!(values_sql("I ", 2, 2), "I ($1, $2), ($3, $4)");
        assert_eq!(placeholders(6, 3), "$6, $7, $8");
    }

    #[test]
    fn redact_hides_the_password() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
