//! PostgreSQL's COPY for the history tables (issue 17): the rows go in as
//! one CSV stream, inside the same transaction that marks their days
//! fetched. A daily table's days are deleted and copied in again; Impact
//! actions are upserted from a temporary table the stream fills
//! ([`Write`]). SQLite keeps [`super::insert_json`].

use sqlx::postgres::PgCopyIn;
use sqlx::{PgPool, Postgres, Transaction};

use super::DbError;
use crate::model::day::{date_of, Day};

/// Bytes sent to the server per COPY message.
const CHUNK: usize = 1 << 22;

/// How [`write`] puts the rows in.
pub(super) enum Write<'t> {
    /// The days' rows deleted, then copied in.
    Replace,
    /// Copied into a temporary table, then one `INSERT INTO table (columns)
    /// SELECT … {tail}` (its ON CONFLICT clause). The rows must not repeat a
    /// key: one statement cannot change a row twice.
    Upsert(&'t str),
}

/// `rows` written into `table` as `how` says and `days` marked fetched for
/// `feed`, in one transaction; `head` is the `INSERT INTO table (columns)`
/// the rows' cells follow (source first). Returns the rows written
/// (copied; upserted: inserted or changed).
#[allow(clippy::too_many_arguments)]
pub(super) async fn write<'a, T, R: serde::Serialize>(
    pool: &PgPool,
    table: &str,
    feed: &str,
    head: &str,
    how: Write<'_>,
    source: &str,
    days: &[Day],
    rows: &'a [T],
    row: impl Fn(&'a T) -> R,
) -> Result<u64, DbError> {
    let started = std::time::Instant::now();
    let columns = columns_of(head);
    let dates: Vec<String> = days.iter().map(|d| date_of(*d).to_string()).collect();
    let mut tx = pool.begin().await?;
    let written = match how {
        Write::Replace => {
            // Two processes storing the same days (shards) take turns.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1)::bigint)").bind(format!("campaign-pilot:{table}:{source}")).execute(&mut *tx).await?;
            sqlx::query(&format!("DELETE FROM {table} WHERE source = $1 AND date = ANY($2)")).bind(source).bind(&dates).execute(&mut *tx).await?;
            let copy = tx.copy_in_raw(&format!("COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)")).await?;
            send(copy, source, rows, row).await?
        }
        Write::Upsert(tail) => {
            sqlx::query(&format!("CREATE TEMP TABLE incoming (LIKE {table}) ON COMMIT DROP")).execute(&mut *tx).await?;
            let copy = tx.copy_in_raw(&format!("COPY incoming ({columns}) FROM STDIN WITH (FORMAT csv)")).await?;
            send(copy, source, rows, row).await?;
            sqlx::query(&format!("INSERT INTO {table} ({columns}) SELECT {columns} FROM incoming {tail}")).execute(&mut *tx).await?.rows_affected()
        }
    };
    mark_fetched(&mut tx, source, feed, &dates).await?;
    tx.commit().await?;
    logged(table, rows.len(), written, started);
    Ok(written)
}

/// The column list of an `INSERT INTO table (columns)`.
fn columns_of(head: &str) -> &str {
    head.split_once('(').and_then(|(_, c)| c.split_once(')')).map(|(c, _)| c).unwrap_or_default()
}

/// The rows streamed into a COPY as CSV, `source` first on each line.
async fn send<'a, T, R: serde::Serialize>(mut copy: PgCopyIn<&mut sqlx::PgConnection>, source: &str, rows: &'a [T], row: impl Fn(&'a T) -> R) -> Result<u64, DbError> {
    let mut buf = String::with_capacity(CHUNK + 4096);
    let quoted_source = quoted(source);
    for r in rows {
        buf.push_str(&quoted_source);
        match serde_json::to_value(row(r))? {
            serde_json::Value::Array(cells) => {
                for c in &cells {
                    buf.push(',');
                    cell(&mut buf, c);
                }
            }
            other => {
                buf.push(',');
                cell(&mut buf, &other);
            }
        }
        buf.push('\n');
        if buf.len() >= CHUNK {
            copy.send(buf.as_bytes()).await?;
            buf.clear();
        }
    }
    if !buf.is_empty() {
        copy.send(buf.as_bytes()).await?;
    }
    Ok(copy.finish().await?)
}

/// `dates` of `feed` marked fetched now.
async fn mark_fetched(tx: &mut Transaction<'_, Postgres>, source: &str, feed: &str, dates: &[String]) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO history_fetched (source, feed, date, fetched_at) SELECT $1, $2, d, $3 FROM unnest($4::text[]) AS d \
         ON CONFLICT (source, feed, date) DO UPDATE SET fetched_at = excluded.fetched_at",
    )
    .bind(source)
    .bind(feed)
    .bind(chrono::Utc::now().to_rfc3339())
    .bind(dates)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn logged(table: &str, rows: usize, written: u64, started: std::time::Instant) {
    let seconds = started.elapsed().as_secs_f64();
    tracing::debug!(table, rows, written, ms = (seconds * 1000.0).round(), rows_per_s = (rows as f64 / seconds.max(1e-9)).round(), "history rows copied");
}

/// One CSV cell as COPY reads it: an unquoted empty cell is NULL, text is
/// always quoted (so an empty text stays empty), numbers as they print.
fn cell(buf: &mut String, v: &serde_json::Value) {
    match v {
        serde_json::Value::Null => {}
        serde_json::Value::String(s) => buf.push_str(&quoted(s)),
        serde_json::Value::Number(n) => buf.push_str(&n.to_string()),
        serde_json::Value::Bool(b) => buf.push_str(if *b { "true" } else { "false" }),
        other => buf.push_str(&quoted(&other.to_string())),
    }
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_csv_as_copy_reads_it() {
        let mut b = String::new();
        for v in [serde_json::json!(null), serde_json::json!(""), serde_json::json!("a\"b,c\nd"), serde_json::json!(1.5), serde_json::json!(-3)] {
            cell(&mut b, &v);
            b.push('|');
        }
        assert_eq!(b, "|\"\"|\"a\"\"b,c\nd\"|1.5|-3|");
    }
}
