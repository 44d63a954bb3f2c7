//! Shared helpers: run the real binary with a fresh config, database and
//! report directory per test.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use wait_timeout::ChildExt;

pub const BIN: &str = env!("CARGO_BIN_EXE_campaign-pilot");

/// How long one command of a test may take (`CAMPAIGN_PILOT_TEST_DEADLINE_S`,
/// 600 s): far above the slowest (about 30 s), far below CI's limit.
fn deadline() -> Duration {
    Duration::from_secs(std::env::var("CAMPAIGN_PILOT_TEST_DEADLINE_S").ok().and_then(|v| v.parse().ok()).unwrap_or(600))
}

/// `Command::output` with a deadline. A child still running at the
/// deadline has every thread's stack printed (gdb, where the machine has
/// it) and is killed: a hang fails its test saying where it hung, instead
/// of stalling the whole suite until CI gives up.
pub trait Bounded {
    fn bounded(&mut self) -> std::io::Result<Output>;
}

impl Bounded for Command {
    fn bounded(&mut self) -> std::io::Result<Output> {
        let (mut child, out, err) = drained(self)?;
        let limit = deadline();
        let Some(status) = child.wait_timeout(limit)? else {
            let stacks = stacks_of(child.id());
            let _ = child.kill();
            let _ = child.wait();
            let log = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
            let tail: String = log.chars().rev().take(6000).collect::<Vec<_>>().into_iter().rev().collect();
            panic!("{self:?} did not end within {} s; its threads were:\n{stacks}\nthe end of its stderr:\n{tail}", limit.as_secs());
        };
        Ok(Output { status, stdout: out.join().unwrap_or_default(), stderr: err.join().unwrap_or_default() })
    }
}

type Drain = std::thread::JoinHandle<Vec<u8>>;

/// The command started with its stdout and stderr read to the end by a
/// thread each (a child never blocks on a full pipe while we wait).
fn drained(cmd: &mut Command) -> std::io::Result<(std::process::Child, Drain, Drain)> {
    fn drain(pipe: Option<impl std::io::Read + Send + 'static>) -> Drain {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            bytes
        })
    }
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let (out, err) = (drain(child.stdout.take()), drain(child.stderr.take()));
    Ok((child, out, err))
}

/// Every thread's backtrace of a running process, or why there is none.
fn stacks_of(pid: u32) -> String {
    let Ok((mut gdb, out, _)) = drained(Command::new("gdb").args(["-p", &pid.to_string(), "-batch", "-ex", "thread apply all bt"])) else {
        return "(no gdb on this machine)".into();
    };
    match gdb.wait_timeout(Duration::from_secs(120)) {
        Ok(Some(_)) => String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned(),
        _ => {
            let _ = gdb.kill();
            "(gdb did not answer within 120 s)".into()
        }
    }
}

/// A scratch directory with a `pipeline.toml` pointing at `data`, and a
/// fresh database: a SQLite file, or a new PostgreSQL database when
/// `DATABASE_URL` names a server (how `.ci/run` runs the suite twice).
pub struct App {
    pub dir: tempfile::TempDir,
    pub postgres: Option<Postgres>,
}

/// A database created for one test on the server `DATABASE_URL` names.
pub struct Postgres {
    pub admin_url: String,
    pub name: String,
    pub url: String,
}

impl Postgres {
    fn create() -> Option<Postgres> {
        let admin_url = std::env::var("DATABASE_URL").ok().filter(|u| u.starts_with("postgres"))?;
        let name = format!("cp_{}", uuid::Uuid::now_v7().simple());
        psql(&admin_url, &format!("CREATE DATABASE {name}"));
        let (base, query) = admin_url.split_once('?').unwrap_or((&admin_url, ""));
        let server = &base[..base.rfind('/').unwrap()];
        let url = if query.is_empty() { format!("{server}/{name}") } else { format!("{server}/{name}?{query}") };
        Some(Postgres { admin_url, name, url })
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(&self.admin_url)
            .args(["-qc", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)])
            .bounded();
    }
}

/// Runs one SQL statement with psql, panicking on failure.
pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql").arg(url).args(["-qtAc", sql]).bounded().expect("psql runs");
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The tests written against the original matrix (SPEC §6–§7) pin it:
/// `[decisions] policy = "seed"` unless the configuration names a policy.
fn pin_seed(toml: &str) -> String {
    if toml.contains("policy =") {
        toml.to_string()
    } else if toml.contains("[decisions]\n") {
        toml.replacen("[decisions]\n", "[decisions]\npolicy = \"seed\"\n", 1)
    } else {
        format!("{toml}\n[decisions]\npolicy = \"seed\"\n")
    }
}

impl App {
    pub fn new(data: &Path, extra_toml: &str) -> App {
        let dir = tempfile::tempdir().unwrap();
        let postgres = Postgres::create();
        let url = postgres.as_ref().map(|p| p.url.clone()).unwrap_or_else(|| "sqlite:test.db".to_string());
        let toml = format!(
            "[store]\npath = \"{d}\"\n[ads]\npath = \"{d}\"\n[database]\nurl = \"{url}\"\n{extra_toml}\n",
            d = data.display()
        );
        std::fs::write(dir.path().join("pipeline.toml"), pin_seed(&toml)).unwrap();
        App { dir, postgres }
    }

    /// An app whose configuration is `body` (any sections but `[database]`).
    pub fn with_config(body: &str) -> App {
        let dir = tempfile::tempdir().unwrap();
        let postgres = Postgres::create();
        let url = postgres.as_ref().map(|p| p.url.clone()).unwrap_or_else(|| "sqlite:test.db".to_string());
        std::fs::write(dir.path().join("pipeline.toml"), pin_seed(&format!("[database]\nurl = \"{url}\"\n{body}\n"))).unwrap();
        App { dir, postgres }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("pipeline.toml")
    }

    pub fn report_dir(&self) -> PathBuf {
        self.dir.path().join("report")
    }

    /// `campaign-pilot run --dry-run --as-of AS_OF` with this app's config.
    pub fn run(&self, as_of: &str) -> Output {
        Command::new(BIN)
            .args(["--config"])
            .arg(self.config())
            .args(["run", "--dry-run", "--as-of", as_of, "--report-dir"])
            .arg(self.report_dir())
            .env_remove("CAMPAIGN_PILOT_CONFIG")
            .bounded()
            .unwrap()
    }

    /// `campaign-pilot run --as-of AS_OF` (acting), to add arguments and environment to.
    pub fn command(&self, as_of: &str) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--config")
            .arg(self.config())
            .args(["run", "--as-of", as_of, "--report-dir"])
            .arg(self.report_dir())
            .env_remove("CAMPAIGN_PILOT_CONFIG")
            .env_remove("CAMPAIGN_PILOT_KILL_SWITCH")
            .env_remove("CAMPAIGN_PILOT_TEST_CRASH_AT");
        c
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("test.db")
    }

    /// The database URL as seen from the test (absolute, unlike the config's).
    pub fn db_url(&self) -> String {
        self.postgres.as_ref().map(|p| p.url.clone()).unwrap_or_else(|| format!("sqlite://{}", self.db_path().display()))
    }

    pub fn report(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.report_dir().join("report.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

/// `campaign-pilot sandbox generate` into `out`.
pub fn generate(out: &Path, args: &[&str]) -> Output {
    let o = Command::new(BIN)
        .args(["sandbox", "generate", "--out"])
        .arg(out)
        .args(args)
        .bounded()
        .unwrap();
    assert!(o.status.success(), "generate failed: {}", String::from_utf8_lossy(&o.stderr));
    o
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Keys in `actions_applied.csv` of a data directory, in file order.
pub fn applied_keys(data: &Path) -> Vec<String> {
    campaign_pilot::connectors::files_ads::FilesAds::applied_keys(data).expect("actions_applied.csv reads as CSV")
}

/// Copies a data directory (the files connector's tables) into a new temp dir.
pub fn copy_data(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.path().join(e.file_name())).unwrap();
        }
    }
    to
}

/// A `campaign-pilot sandbox serve` process on a free port, killed on drop.
pub struct Sandbox {
    child: std::process::Child,
    pub url: String,
}

impl Sandbox {
    pub fn start(args: &[&str]) -> Sandbox {
        use std::io::BufRead;
        let mut child = Command::new(BIN)
            .args(["sandbox", "serve", "--port", "0"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("sandbox serve starts");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Sandbox { child, url }
    }

    /// A GET, retried past the sandbox's injected failures (`--fail-rate`).
    pub async fn get(&self, path: &str) -> serde_json::Value {
        for _ in 0..50 {
            let r = reqwest::get(format!("{}{path}", self.url)).await.unwrap();
            if r.status().is_success() {
                return r.json().await.unwrap();
            }
        }
        panic!("GET {path} kept failing");
    }

    pub async fn post(&self, path: &str) -> serde_json::Value {
        reqwest::Client::new().post(format!("{}{path}", self.url)).send().await.unwrap().json().await.unwrap()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (campaign_id, decision) of a report.json, sorted by campaign.
pub fn decisions(report: &serde_json::Value) -> Vec<(String, String)> {
    let mut d: Vec<(String, String)> = report["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["campaign_id"].as_str().unwrap().to_string(), c["decision"].as_str().unwrap().to_string()))
        .collect();
    d.sort();
    d
}

/// Stored (campaign_id, decision) pairs with the decisions by name, as a report spells them.
pub fn named(stored: Vec<(String, campaign_pilot::model::decision::Decision)>) -> Vec<(String, String)> {
    stored.into_iter().map(|(c, d)| (c, d.to_string())).collect()
}

/// The sandbox's Impact credentials, as the environment gives them.
pub const IMPACT_ENV: [(&str, &str); 2] = [
    ("IMPACT_ACCOUNT_SID", campaign_pilot::connectors::sandbox_auth::IMPACT_SID),
    ("IMPACT_AUTH_TOKEN", campaign_pilot::connectors::sandbox_auth::IMPACT_TOKEN),
];

/// A store and an ad platform on `sandbox serve` at `url` (`ads` holds the
/// `[ads]` keys but the URL), quick retries, guardrails opened wide; `act`
/// goes into `[act]`, `extra` after it.
pub fn sandbox_config(url: &str, ads: &str, act: &str, extra: &str) -> String {
    format!(
        r#"
[store]
kind = "sandbox"
base_url = "{url}"
allow_http = true
[ads]
{ads}
base_url = "{url}"
allow_http = true
[http]
backoff_min_ms = 20
backoff_max_ms = 200
retries = 6
breaker_failures = 50
[act]
max_action_fraction = 1.0
max_pause_fraction = 1.0
max_actions = 1000
{act}
{extra}
"#
    )
}

/// Rewrites a CSV file row by row: `f` gets the header and each record's
/// fields and returns the fields to write (the csv crate quotes them).
pub fn map_csv(path: &Path, mut f: impl FnMut(&csv::StringRecord, Vec<String>) -> Vec<String>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().clone();
    let rows: Vec<Vec<String>> = r.records().map(|rec| f(&header, rec.unwrap().iter().map(str::to_string).collect())).collect();
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(&header).unwrap();
    for row in rows {
        w.write_record(&row).unwrap();
    }
    w.flush().unwrap();
}

/// Rewrites every field equal to a key of `rename` in the four tables of a
/// data directory (CSV), quoting what needs it.
pub fn rename_ids(dir: &Path, rename: &std::collections::BTreeMap<String, String>) {
    for table in ["products", "product_daily", "campaigns", "campaign_daily"] {
        map_csv(&dir.join(format!("{table}.csv")), |_, row| row.into_iter().map(|f| rename.get(&f).cloned().unwrap_or(f)).collect());
    }
}

/// `campaign-pilot ARGS…` with the app's config.
pub fn cli(app: &App, args: &[&str]) -> Output {
    Command::new(BIN).arg("--config").arg(app.config()).args(args).env_remove("CAMPAIGN_PILOT_CONFIG").bounded().unwrap()
}

/// Runs one SQL statement on the app's database (SQLite or PostgreSQL).
pub async fn exec(url: &str, sql: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    sqlx::query(sql).execute(&pool).await.unwrap();
    pool.close().await;
}

/// `campaign-pilot serve` on a free loopback port, up (its /healthz answers).
pub struct Served {
    child: std::process::Child,
    pub base: String,
}

impl Served {
    pub async fn start(app: &App, env: &[(&str, &str)]) -> Served {
        let port = free_port();
        let child = Command::new(BIN)
            .arg("--config")
            .arg(app.config())
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env_remove("CAMPAIGN_PILOT_CONFIG")
            .env_remove("CAMPAIGN_PILOT_SERVE_TOKEN")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let served = Served { child, base: format!("http://127.0.0.1:{port}") };
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http.get(format!("{}/healthz", served.base)).send().await.is_ok_and(|r| r.status() == 200) {
                return served;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("serve did not come up")
    }

    /// SIGTERM, and the exit status it ended with.
    pub async fn stop(mut self) -> std::process::ExitStatus {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        for _ in 0..100 {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let _ = self.child.kill();
        panic!("serve did not stop on SIGTERM")
    }
}

/// A port free on loopback right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A database filled by a real run (a dry run unless `acting`) over a
/// generated store of 200 products and 60 campaigns: its data directory, the
/// app, and the run's report.json.
pub fn filled(extra_toml: &str, acting: bool) -> (tempfile::TempDir, App, serde_json::Value) {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), &["--seed", "42", "--products", "200", "--campaigns", "60", "--days", "90", "--as-of", AS_OF]);
    let app = App::new(d.path(), extra_toml);
    let out = if acting { app.command(AS_OF).bounded().unwrap() } else { app.run(AS_OF) };
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = app.report();
    (d, app, report)
}

pub const AS_OF: &str = "2026-03-31";
