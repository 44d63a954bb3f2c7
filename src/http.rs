//! The one HTTP layer every API connector goes through (WooCommerce, GA4,
//! Impact.com, the sandbox).
//!
//! Responsible for: timeouts; retries with exponential backoff and jitter
//! (backon) on timeouts, connection errors, 5xx and 429, waiting what
//! `Retry-After` or the rate-limit reset headers ask; a client-side rate limit
//! (governor) and a bound on requests in flight; a circuit breaker that stops
//! hammering a peer that keeps failing; credentials held as secrets and never
//! put in a URL that is logged or reported. Errors name the peer and the
//! endpoint (path only, never the query string, which may carry keys).
//! Not responsible for: what the bodies mean (the connectors decode them).

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use crate::config::HttpSettings;

/// How a peer wants credentials.
#[derive(Clone)]
pub enum Auth {
    None,
    Basic { user: String, password: SecretString },
    /// Basic credentials sent as query parameters (WooCommerce behind servers
    /// that strip the Authorization header).
    Query { user_param: &'static str, user: String, password_param: &'static str, password: SecretString },
    Bearer(SecretString),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => write!(f, "None"),
            Auth::Basic { user, .. } => write!(f, "Basic({user}, [secret])"),
            Auth::Query { user_param, .. } => write!(f, "Query({user_param}, [secret])"),
            Auth::Bearer(_) => write!(f, "Bearer([secret])"),
        }
    }
}

/// A call that did not succeed, after retries where they apply.
#[derive(Debug, thiserror::Error, Clone)]
pub enum HttpError {
    #[error("{peer} {endpoint}: {status} — the credentials were refused; check {hint} ({message})")]
    Unauthorized { peer: &'static str, endpoint: String, status: u16, hint: &'static str, message: String },
    #[error("{peer} {endpoint}: HTTP {status}: {message}")]
    Status { peer: &'static str, endpoint: String, status: u16, message: String, retry_after: Option<Duration> },
    #[error("{peer} {endpoint}: {message}")]
    /// `connect`: the request never reached the peer (safe to resend a create).
    Transport { peer: &'static str, endpoint: String, message: String, timeout: bool, connect: bool },
    #[error("{peer} {endpoint}: the response is not the JSON expected: {message}")]
    Malformed { peer: &'static str, endpoint: String, message: String },
    #[error("{peer}: circuit open after {failures} consecutive failed requests (last: {last}); not calling {endpoint} for {cooldown_s:.0} s")]
    CircuitOpen { peer: &'static str, endpoint: String, failures: u32, last: String, cooldown_s: f64 },
}

impl HttpError {
    /// Worth another attempt: the peer was busy or unreachable, not wrong.
    pub fn is_transient(&self) -> bool {
        match self {
            HttpError::Status { status, .. } => *status == 429 || *status >= 500,
            HttpError::Transport { .. } => true,
            _ => false,
        }
    }

    /// The status code, when the peer answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. } | HttpError::Unauthorized { status, .. } => Some(*status),
            _ => None,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            HttpError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The breaker's memory: consecutive failed attempts, and until when it is open.
#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
    last: String,
}

/// What one peer's limits are.
#[derive(Debug, Clone)]
pub struct PeerOptions {
    pub name: &'static str,
    pub base_url: String,
    pub auth: Auth,
    /// Which environment variables hold the credentials (for 401/403 messages).
    pub credential_hint: &'static str,
    pub rate_limit_per_hour: u32,
    pub concurrency: u32,
    pub extra_headers: Vec<(&'static str, String)>,
}

/// Counters for the report and the benchmark.
#[derive(Debug, Default)]
pub struct PeerStats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub throttled: AtomicU64,
}

/// A response: the decoded body and the headers (pagination lives there).
#[derive(Debug)]
pub struct Fetched<T> {
    pub body: T,
    pub headers: HeaderMap,
}

impl<T> Fetched<T> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One remote API: a client with its own limits, breaker and credentials.
#[derive(Clone)]
pub struct Peer {
    inner: Arc<Inner>,
}

struct Inner {
    opts: PeerOptions,
    settings: HttpSettings,
    client: reqwest::Client,
    limiter: Option<DefaultDirectRateLimiter>,
    slots: tokio::sync::Semaphore,
    breaker: Mutex<Breaker>,
    /// The peer said "no requests left until then" (rate-limit headers).
    pause_until: Mutex<Option<Instant>>,
    stats: PeerStats,
}

/// Whether a failed call may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotent {
    /// Reads, and writes that set a state (PUT): safe to repeat.
    Yes,
    /// Creates: repeated only when the peer surely did not act (429, or the
    /// connection never got through); otherwise the caller reconciles.
    No,
}

impl Peer {
    pub fn new(opts: PeerOptions, settings: &HttpSettings) -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs_f64(settings.timeout_s))
            .connect_timeout(Duration::from_secs_f64(settings.timeout_s.min(10.0)))
            .user_agent(concat!("campaign-pilot/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::Transport {
                peer: opts.name,
                endpoint: String::new(),
                message: format!("cannot build the HTTP client: {e}"),
                timeout: false,
                connect: false,
            })?;
        let limiter = NonZeroU32::new(opts.rate_limit_per_hour).and_then(|n| {
            // Evenly spaced: one request per 3600/n s, a burst of one, so
            // the peer never sees more than the rate in any window.
            Quota::with_period(Duration::from_secs_f64(3600.0 / n.get() as f64)).map(RateLimiter::direct)
        });
        let slots = tokio::sync::Semaphore::new(opts.concurrency.max(1) as usize);
        Ok(Peer {
            inner: Arc::new(Inner {
                opts,
                settings: settings.clone(),
                client,
                limiter,
                slots,
                breaker: Mutex::new(Breaker::default()),
                pause_until: Mutex::new(None),
                stats: PeerStats::default(),
            }),
        })
    }

    pub fn name(&self) -> &'static str {
        self.inner.opts.name
    }

    pub fn stats(&self) -> &PeerStats {
        &self.inner.stats
    }

    pub fn concurrency(&self) -> usize {
        self.inner.opts.concurrency.max(1) as usize
    }

    /// `GET base + path` with query parameters, decoded from JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<Fetched<T>, HttpError> {
        self.call(Method::GET, path, query, Body::None, Idempotent::Yes).await
    }

    /// A form-encoded write (Impact's style).
    pub async fn send_form<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        form: &[(&str, String)],
        idempotent: Idempotent,
    ) -> Result<Fetched<T>, HttpError> {
        let form: Vec<(String, String)> = form.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        self.call(method, path, &[], Body::Form(form), idempotent).await
    }

    /// A JSON write or a JSON-bodied read (GA4's runReport).
    pub async fn send_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &serde_json::Value,
        idempotent: Idempotent,
    ) -> Result<Fetched<T>, HttpError> {
        self.call(method, path, &[], Body::Json(body.clone()), idempotent).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Body,
        idempotent: Idempotent,
    ) -> Result<Fetched<T>, HttpError> {
        let s = &self.inner.settings;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(s.backoff_min_ms))
            .with_max_delay(Duration::from_millis(s.backoff_max_ms.max(s.backoff_min_ms)))
            .with_max_times(s.retries as usize)
            .with_jitter();
        let max_wait = Duration::from_secs_f64(s.max_retry_after_s);
        let endpoint = endpoint_of(path);
        let attempt = || self.attempt::<T>(&method, path, query, &body);
        attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|e: &HttpError| match idempotent {
                Idempotent::Yes => e.is_transient(),
                // A create that timed out or got a 5xx may have happened.
                Idempotent::No => {
                    e.status() == Some(429) || matches!(e, HttpError::Transport { connect: true, .. })
                }
            })
            .adjust(|e, delay| {
                // The peer's own wait wins over our backoff; one too long fails the call.
                match (e.retry_after(), delay) {
                    (_, None) => None,
                    (Some(wait), Some(_)) if wait > max_wait => None,
                    (Some(wait), Some(d)) => Some(wait.max(d.min(Duration::from_millis(s.backoff_min_ms)))),
                    (None, d) => d,
                }
            })
            .notify(|e, delay| {
                self.inner.stats.retries.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = self.name(), endpoint = %endpoint, error = %e, retry_in_ms = delay.as_millis() as u64, "retrying");
            })
            .await
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        body: &Body,
    ) -> Result<Fetched<T>, HttpError> {
        let inner = &self.inner;
        let peer = inner.opts.name;
        let endpoint = endpoint_of(path);
        self.check_breaker(&endpoint)?;
        let _slot = inner.slots.acquire().await.expect("semaphore never closed");
        let paused = *inner.pause_until.lock().expect("pause lock");
        if let Some(until) = paused {
            let now = Instant::now();
            if until > now {
                inner.stats.throttled.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(until - now).await;
            }
        }
        if let Some(l) = &inner.limiter {
            l.until_ready().await;
        }
        inner.stats.requests.fetch_add(1, Ordering::Relaxed);

        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{}", inner.opts.base_url.trim_end_matches('/'), path)
        };
        let mut req = inner.client.request(method.clone(), &url).header("Accept", "application/json").query(query);
        for (k, v) in &inner.opts.extra_headers {
            req = req.header(*k, v);
        }
        req = match &inner.opts.auth {
            Auth::None => req,
            Auth::Basic { user, password } => req.basic_auth(user, Some(password.expose_secret())),
            Auth::Query { user_param, user, password_param, password } => {
                req.query(&[(*user_param, user.as_str()), (*password_param, password.expose_secret())])
            }
            Auth::Bearer(token) => req.bearer_auth(token.expose_secret()),
        };
        req = match body {
            Body::None => req,
            Body::Form(f) => req.form(f),
            Body::Json(j) => req.json(j),
        };
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let timeout = e.is_timeout();
                let connect = e.is_connect();
                // Never the URL: it may carry keys in its query.
                let message = if timeout {
                    format!("timed out after {} s", inner.settings.timeout_s)
                } else if connect {
                    "connect: the peer could not be reached".to_string()
                } else {
                    crate::secrets::redact(&format!("transport error: {}", e.without_url()))
                };
                let err = HttpError::Transport { peer, endpoint, message, timeout, connect };
                self.record(false, &err.to_string());
                return Err(err);
            }
        };
        let status = resp.status();
        let headers = resp.headers().clone();
        self.note_rate_headers(status, &headers);
        let bytes = resp.bytes().await.map_err(|e| {
            let timeout = e.is_timeout();
            let err = HttpError::Transport { peer, endpoint: endpoint.clone(), message: crate::secrets::redact(&format!("reading the body: {}", e.without_url())), timeout, connect: false };
            self.record(false, &err.to_string());
            err
        })?;
        if status.is_success() {
            self.record(true, "");
            let body = serde_json::from_slice::<T>(&bytes).map_err(|e| HttpError::Malformed {
                peer,
                endpoint: endpoint.clone(),
                message: format!("{e} (body starts: {})", excerpt(&bytes)),
            })?;
            return Ok(Fetched { body, headers });
        }
        let message = error_message(&bytes);
        let err = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => HttpError::Unauthorized {
                peer,
                endpoint,
                status: status.as_u16(),
                hint: inner.opts.credential_hint,
                message,
            },
            _ => HttpError::Status {
                peer,
                endpoint,
                status: status.as_u16(),
                message,
                retry_after: retry_after(&headers),
            },
        };
        // Only the peer being down counts against the breaker, not our bad requests.
        if err.is_transient() {
            self.record(false, &err.to_string());
        } else {
            self.record(true, "");
        }
        Err(err)
    }

    fn check_breaker(&self, endpoint: &str) -> Result<(), HttpError> {
        let mut b = self.inner.breaker.lock().expect("breaker lock");
        if let Some(until) = b.open_until {
            if Instant::now() < until {
                return Err(HttpError::CircuitOpen {
                    peer: self.name(),
                    endpoint: endpoint.to_string(),
                    failures: b.failures,
                    last: b.last.clone(),
                    cooldown_s: self.inner.settings.breaker_cooldown_s,
                });
            }
            // Half-open: let this one through; one more failure reopens it.
            b.open_until = None;
            b.failures = self.inner.settings.breaker_failures.saturating_sub(1);
        }
        Ok(())
    }

    fn record(&self, ok: bool, what: &str) {
        let mut b = self.inner.breaker.lock().expect("breaker lock");
        if ok {
            b.failures = 0;
            return;
        }
        b.failures += 1;
        b.last = what.to_string();
        if b.failures >= self.inner.settings.breaker_failures {
            tracing::error!(peer = self.name(), failures = b.failures, last = %what, "circuit breaker open");
            b.open_until = Some(Instant::now() + Duration::from_secs_f64(self.inner.settings.breaker_cooldown_s));
        }
    }

    /// Rate-limit headers on any answer: when none are left, hold every
    /// request of this peer until the reset.
    fn note_rate_headers(&self, status: StatusCode, h: &HeaderMap) {
        let remaining = ["x-ratelimit-remaining", "x-ratelimit-remaining-hour"]
            .iter()
            .find_map(|n| h.get(*n).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok()));
        if remaining.is_some_and(|r| r <= 0) && status != StatusCode::TOO_MANY_REQUESTS {
            if let Some(wait) = reset_delay(h) {
                let wait = wait.min(Duration::from_secs_f64(self.inner.settings.max_retry_after_s));
                tracing::info!(peer = self.name(), wait_s = wait.as_secs_f64(), "rate limit exhausted; waiting for the reset");
                *self.inner.pause_until.lock().expect("pause lock") = Some(Instant::now() + wait);
            }
        }
    }
}

enum Body {
    None,
    Form(Vec<(String, String)>),
    Json(serde_json::Value),
}

/// The path without its query: safe to log.
fn endpoint_of(path: &str) -> String {
    let p = path.split('?').next().unwrap_or(path);
    match p.find("://") {
        Some(i) => p[i + 3..].find('/').map(|j| p[i + 3 + j..].to_string()).unwrap_or_default(),
        None => p.to_string(),
    }
}

fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(120)]);
    crate::secrets::redact(&text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The message of the peers' error bodies: WooCommerce `{code, message}`,
/// Impact `{Status, Message, Errors[]}`, Google `{error: {message}}`; else an
/// excerpt of whatever came (a proxy's HTML page).
fn error_message(bytes: &[u8]) -> String {
    crate::secrets::redact(&peer_message(bytes))
}

fn peer_message(bytes: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return if bytes.is_empty() { "empty body".into() } else { format!("non-JSON body: {}", excerpt(bytes)) };
    };
    let s = |v: &serde_json::Value| v.as_str().map(str::to_string);
    if let (Some(code), Some(msg)) = (s(&v["code"]), s(&v["message"])) {
        return format!("{code}: {msg}");
    }
    if let Some(msg) = s(&v["Message"]) {
        let details: Vec<String> = v["Errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| format!("{}: {}", e["Field"].as_str().unwrap_or("?"), e["Message"].as_str().unwrap_or("?")))
                    .collect()
            })
            .unwrap_or_default();
        return if details.is_empty() { msg } else { format!("{msg} ({})", details.join("; ")) };
    }
    if let Some(msg) = s(&v["error"]["message"]) {
        return msg;
    }
    excerpt(bytes)
}

/// `Retry-After` (seconds or an HTTP date), else a reset header.
fn retry_after(h: &HeaderMap) -> Option<Duration> {
    if let Some(v) = h.get("retry-after").and_then(|v| v.to_str().ok()) {
        if let Ok(secs) = v.trim().parse::<f64>() {
            return Some(Duration::from_secs_f64(secs.max(0.0)));
        }
        if let Ok(at) = chrono::DateTime::parse_from_rfc2822(v.trim()) {
            let secs = (at.timestamp() - chrono::Utc::now().timestamp()).max(0);
            return Some(Duration::from_secs(secs as u64));
        }
    }
    reset_delay(h)
}

/// `X-RateLimit-Reset` / `RateLimit-Reset`: delta seconds, or (above 1e9)
/// a Unix time (Impact's docs show both readings).
fn reset_delay(h: &HeaderMap) -> Option<Duration> {
    let v = ["x-ratelimit-reset", "ratelimit-reset"]
        .iter()
        .find_map(|n| h.get(*n).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok()))?;
    let secs = if v > 1e9 { v - chrono::Utc::now().timestamp() as f64 } else { v };
    Some(Duration::from_secs_f64(secs.max(0.0)))
}

/// A credential from the environment, as a secret; the error names the variable.
pub fn secret_env(name: &str) -> Result<SecretString, String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => {
            let s = SecretString::from(v);
            crate::secrets::hold(&s);
            Ok(s)
        }
        _ => Err(format!("the environment variable {name} is not set (credentials come only from the environment)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn endpoints_never_carry_the_query() {
        assert_eq!(endpoint_of("/wp-json/wc/v3/products?consumer_key=ck_1"), "/wp-json/wc/v3/products");
        assert_eq!(endpoint_of("https://api.impact.com/Advertisers/IR1/Ads?Page=2"), "/Advertisers/IR1/Ads");
    }

    #[test]
    fn retry_after_reads_seconds_and_reset_headers() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", HeaderValue::from_static("30"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(30)));
        let mut h = HeaderMap::new();
        let at = chrono::Utc::now().timestamp() + 100;
        h.insert("X-RateLimit-Reset", HeaderValue::from_str(&at.to_string()).unwrap());
        let d = retry_after(&h).unwrap().as_secs();
        assert!((98..=100).contains(&d), "{d}");
    }

    #[test]
    fn error_bodies_of_each_peer_are_read() {
        assert_eq!(
            error_message(br#"{"code":"woocommerce_rest_authentication_error","message":"Consumer key is invalid.","data":{"status":401}}"#),
            "woocommerce_rest_authentication_error: Consumer key is invalid."
        );
        assert_eq!(
            error_message(br#"{"Status":"ERROR","Message":"Validation Failed","Errors":[{"Field":"CampaignId","Message":"Not a numeric value"}]}"#),
            "Validation Failed (CampaignId: Not a numeric value)"
        );
        assert_eq!(error_message(br#"{"error":{"code":429,"message":"Exhausted","status":"RESOURCE_EXHAUSTED"}}"#), "Exhausted");
        assert!(error_message(b"<html><body>502 Bad Gateway</body></html>").starts_with("non-JSON body: <html>"));
    }

    #[test]
    fn secrets_do_not_print() {
        let a = Auth::Basic { user: "ck_1".into(), password: SecretString::from("cs_secret") };
        assert!(!format!("{a:?}").contains("cs_secret"));
    }
}
