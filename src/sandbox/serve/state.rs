//! The sandbox server's shared state (one simulated [`World`] behind a
//! lock, the options, the fault injector, the rate window, request counts)
//! and the small helpers every route family uses.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use chrono::NaiveDateTime;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::model::day::{day_of, Day};
use crate::sandbox::world::{World, WorldOptions};

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub world: WorldOptions,
    pub latency: Duration,
    pub fail_rate: f64,
    /// Impact-shaped routes: requests allowed per window, and the window.
    pub impact_rate_limit: u32,
    pub impact_rate_window: Duration,
    /// Serve WooCommerce Analytics (false: its routes answer 404 rest_no_route,
    /// as on a store with Analytics disabled).
    pub analytics: bool,
}

pub(super) struct RateWindow {
    pub(super) started: Instant,
    pub(super) used: u32,
}

pub(super) struct Shared {
    pub(super) world: Mutex<World>,
    pub(super) opts: ServeOptions,
    pub(super) faults: Mutex<ChaCha8Rng>,
    pub(super) rate: Mutex<RateWindow>,
    pub(super) requests: Mutex<HashMap<String, u64>>,
    pub(super) injected: std::sync::atomic::AtomicU64,
}

pub(super) type St = Arc<Shared>;

pub(super) fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let b64 = v.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

pub(super) fn json_response(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

pub(super) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' | b':' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(super) fn host(headers: &HeaderMap) -> String {
    format!("http://{}", headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1"))
}

pub(super) fn parse_local(v: &str) -> Option<Day> {
    let v = v.trim();
    NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S")
        .map(|t| t.date())
        .or_else(|_| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d"))
        .ok()
        .map(day_of)
}
