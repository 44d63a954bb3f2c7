//! `sandbox serve`: one HTTP server playing a WooCommerce store, a GA4
//! property, an Impact.com brand account and a budgeted ad platform, all over
//! one simulated [`World`].
//!
//! The WooCommerce-, GA4- and Impact-shaped routes follow
//! `shared/reference/` exactly where a client could notice: Basic auth and
//! the 401 bodies, string-typed values, the pagination envelopes and headers,
//! the error bodies, Impact's action-window rules and rate-limit headers with
//! 429 + `Retry-After`. The real-shaped routes have no pause or budget
//! operations, as the real APIs have none; the budgeted platform and the
//! simulated clock live under `/_sandbox/`, which the real connectors never
//! call. `--latency-ms` delays every answer; `--fail-rate` makes that share
//! of platform calls fail (500, 503 or 429), and half of the failing writes
//! fail *after* taking effect, the case exactly-once must survive.
//!
//! Each route family has its file; `state` holds what they share.

pub mod ga4;
pub mod impact;
pub mod platform;
pub mod state;
pub mod woocommerce;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::connectors::sandbox_auth::{GA4_PROPERTY, GA4_TOKEN, IMPACT_PROGRAM, IMPACT_SID, IMPACT_TOKEN, WOO_KEY, WOO_SECRET};
use crate::model::day::date_of;
use crate::sandbox::world::World;
pub use state::ServeOptions;
use state::{RateWindow, Shared, St};

pub fn router(opts: ServeOptions) -> Router {
    let shared = Arc::new(Shared {
        world: Mutex::new(World::new(&opts.world)),
        faults: Mutex::new(ChaCha8Rng::seed_from_u64(opts.world.seed ^ 0xFA17)),
        rate: Mutex::new(RateWindow { started: Instant::now(), used: 0 }),
        requests: Mutex::new(HashMap::new()),
        injected: std::sync::atomic::AtomicU64::new(0),
        opts,
    });
    Router::new()
        .route("/wp-json/wc/v3/products", get(woocommerce::woo_products))
        .route("/wp-json/wc-analytics/reports/products/stats", get(woocommerce::woo_stats))
        .route("/wp-json/wc/v3/orders", get(woocommerce::woo_orders))
        .route("/v1beta/properties/{property}", post(ga4::ga4_run_report))
        .route("/Advertisers/{sid}/Campaigns", get(impact::impact_programs))
        .route("/Advertisers/{sid}/Ads", get(impact::impact_ads).post(impact::impact_create_ad))
        .route("/Advertisers/{sid}/Ads/{id}", get(impact::impact_ad).put(impact::impact_update_ad))
        .route("/Advertisers/{sid}/Actions", get(impact::impact_actions))
        .route("/_sandbox/clock", get(platform::sb_clock))
        .route("/_sandbox/advance", post(platform::sb_advance))
        .route("/_sandbox/log", get(platform::sb_log))
        .route("/_sandbox/stats", get(platform::sb_stats))
        .route("/_sandbox/campaigns", get(platform::sb_campaigns).post(platform::sb_create))
        .route("/_sandbox/campaigns/{id}/{op}", post(platform::sb_change))
        .route("/_sandbox/campaign_daily", get(platform::sb_campaign_daily))
        .layer(axum::middleware::from_fn_with_state(shared.clone(), faults))
        .with_state(shared)
}

/// Serves until the process ends; prints the bound address first.
pub async fn serve(opts: ServeOptions, port: u16) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    // SIGTERM (a CI runner, Kubernetes) is caught from before the address
    // is printed: whoever reads it may stop the server at once, and a
    // handler installed only when the shutdown future is first polled could
    // miss that (a loaded CI machine did).
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let today = date_of(opts.world.today);
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    // A reader that went away is no reason to stop serving.
    let _ = writeln!(out, "sandbox listening on http://{addr} (today {today}; WooCommerce {WOO_KEY}/{WOO_SECRET}, Impact {IMPACT_SID}/{IMPACT_TOKEN} program {IMPACT_PROGRAM}, GA4 property {GA4_PROPERTY} token {GA4_TOKEN})");
    let _ = out.flush();
    drop(out);
    axum::serve(listener, router(opts))
        .with_graceful_shutdown(async move {
            // SIGTERM or Ctrl-C: finish the answers in flight, then stop.
            match term {
                Some(mut term) => {
                    tokio::select! {
                        _ = term.recv() => {},
                        _ = tokio::signal::ctrl_c() => {},
                    }
                }
                None => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        })
        .await
}

// ---------- latency and injected failures ----------

async fn faults(State(st): State<St>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    *st.requests.lock().unwrap().entry(route_family(&path)).or_default() += 1;
    if !st.opts.latency.is_zero() {
        tokio::time::sleep(st.opts.latency).await;
    }
    let control = matches!(path.as_str(), "/_sandbox/clock" | "/_sandbox/advance" | "/_sandbox/log" | "/_sandbox/stats");
    if control || st.opts.fail_rate <= 0.0 {
        return next.run(req).await;
    }
    let (fail, after, kind) = {
        let mut r = st.faults.lock().unwrap();
        (r.random_bool(st.opts.fail_rate.min(1.0)), r.random_bool(0.5), r.random_range(0..3))
    };
    if !fail {
        return next.run(req).await;
    }
    st.injected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let write = req.method() != Method::GET;
    if write && after {
        // The change happens, the answer is lost.
        let _ = next.run(req).await;
    }
    match kind {
        0 => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"code": "internal_server_error", "message": "injected failure"}))).into_response(),
        1 => (StatusCode::SERVICE_UNAVAILABLE, "<html><body>503 Service Unavailable</body></html>").into_response(),
        _ => {
            let mut r = (StatusCode::TOO_MANY_REQUESTS, Json(json!({"Status": "ERROR", "Message": "Too many requests"}))).into_response();
            r.headers_mut().insert("Retry-After", HeaderValue::from_static("1"));
            r
        }
    }
}

fn route_family(path: &str) -> String {
    if path.starts_with("/Advertisers/") {
        let parts: Vec<&str> = path.split('/').collect();
        format!("impact:{}", parts.get(3).copied().unwrap_or(""))
    } else if path.starts_with("/wp-json/") {
        format!("woocommerce:{}", path.rsplit('/').next().unwrap_or(""))
    } else if path.starts_with("/v1beta/") {
        "ga4:runReport".into()
    } else {
        format!("sandbox:{}", path.trim_start_matches("/_sandbox/").split('/').next().unwrap_or(""))
    }
}
