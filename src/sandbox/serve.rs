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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use chrono::NaiveDateTime;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{json, Value};

use super::world::{actions_of, Status, World, WorldOptions};
use crate::model::{date_of, day_of, Day};

/// Credentials the sandbox accepts (documented in the README; not secrets).
pub const WOO_KEY: &str = "ck_sandbox";
pub const WOO_SECRET: &str = "cs_sandbox";
pub const IMPACT_SID: &str = "IRSANDBOX0000000000000000000000001";
pub const IMPACT_TOKEN: &str = "sandbox-token";
pub const IMPACT_PROGRAM: &str = "24811";
pub const GA4_TOKEN: &str = "sandbox-ga4-token";
pub const GA4_PROPERTY: &str = "312345678";

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

struct RateWindow {
    started: Instant,
    used: u32,
}

struct Shared {
    world: Mutex<World>,
    opts: ServeOptions,
    faults: Mutex<ChaCha8Rng>,
    rate: Mutex<RateWindow>,
    requests: Mutex<HashMap<String, u64>>,
    injected: std::sync::atomic::AtomicU64,
}

type St = Arc<Shared>;

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
        .route("/wp-json/wc/v3/products", get(woo_products))
        .route("/wp-json/wc-analytics/reports/products/stats", get(woo_stats))
        .route("/wp-json/wc/v3/orders", get(woo_orders))
        .route("/v1beta/properties/{property}", post(ga4_run_report))
        .route("/Advertisers/{sid}/Campaigns", get(impact_programs))
        .route("/Advertisers/{sid}/Ads", get(impact_ads).post(impact_create_ad))
        .route("/Advertisers/{sid}/Ads/{id}", get(impact_ad).put(impact_update_ad))
        .route("/Advertisers/{sid}/Actions", get(impact_actions))
        .route("/_sandbox/clock", get(sb_clock))
        .route("/_sandbox/advance", post(sb_advance))
        .route("/_sandbox/log", get(sb_log))
        .route("/_sandbox/stats", get(sb_stats))
        .route("/_sandbox/campaigns", get(sb_campaigns).post(sb_create))
        .route("/_sandbox/campaigns/{id}/{op}", post(sb_change))
        .route("/_sandbox/campaign_daily", get(sb_campaign_daily))
        .layer(axum::middleware::from_fn_with_state(shared.clone(), faults))
        .with_state(shared)
}

/// Serves until the process ends; prints the bound address first.
pub async fn serve(opts: ServeOptions, port: u16) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let today = date_of(opts.world.today);
    println!("sandbox listening on http://{addr} (today {today}; WooCommerce {WOO_KEY}/{WOO_SECRET}, Impact {IMPACT_SID}/{IMPACT_TOKEN} program {IMPACT_PROGRAM}, GA4 property {GA4_PROPERTY} token {GA4_TOKEN})");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    axum::serve(listener, router(opts))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
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

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let b64 = v.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

// ---------- WooCommerce ----------

fn woo_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(status, json!({"code": code, "message": message, "data": {"status": status.as_u16()}}))
}

fn woo_auth(headers: &HeaderMap, q: &HashMap<String, String>) -> Result<(), Response> {
    let creds = basic(headers).or_else(|| Some((q.get("consumer_key")?.clone(), q.get("consumer_secret")?.clone())));
    match creds {
        None => Err(woo_error(StatusCode::UNAUTHORIZED, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")),
        Some((k, _)) if k != WOO_KEY => Err(woo_error(StatusCode::UNAUTHORIZED, "woocommerce_rest_authentication_error", "Consumer key is invalid.")),
        Some((_, s)) if s != WOO_SECRET => Err(woo_error(StatusCode::UNAUTHORIZED, "woocommerce_rest_authentication_error", "Consumer secret is invalid.")),
        _ => Ok(()),
    }
}

fn woo_paging(q: &HashMap<String, String>) -> Result<(usize, usize), Response> {
    let per_page = q.get("per_page").map(|v| v.parse::<i64>().unwrap_or(-1)).unwrap_or(10);
    if !(1..=100).contains(&per_page) {
        let msg = "per_page must be between 1 (inclusive) and 100 (inclusive)";
        return Err(json_response(
            StatusCode::BAD_REQUEST,
            json!({"code": "rest_invalid_param", "message": "Invalid parameter(s): per_page",
                   "data": {"status": 400, "params": {"per_page": msg},
                            "details": {"per_page": {"code": "rest_out_of_bounds", "message": msg, "data": null}}}}),
        ));
    }
    let page = q.get("page").map(|v| v.parse::<i64>().unwrap_or(0)).unwrap_or(1);
    if page < 1 {
        return Err(woo_error(StatusCode::BAD_REQUEST, "rest_invalid_param", "Invalid parameter(s): page"));
    }
    Ok((per_page as usize, page as usize))
}

fn paged_headers(base: &str, route: &str, q: &HashMap<String, String>, total: usize, per_page: usize, page: usize) -> HeaderMap {
    let pages = total.div_ceil(per_page).max(1);
    let mut h = HeaderMap::new();
    h.insert("X-WP-Total", HeaderValue::from(total));
    h.insert("X-WP-TotalPages", HeaderValue::from(pages));
    let link = |p: usize| {
        let mut params: Vec<(String, String)> = q.iter().filter(|(k, _)| !k.starts_with("consumer_")).map(|(k, v)| (k.clone(), v.clone())).collect();
        params.retain(|(k, _)| k != "page");
        params.push(("page".into(), p.to_string()));
        params.sort();
        let qs: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect();
        format!("<{base}{route}?{}>", qs.join("&"))
    };
    let mut links = Vec::new();
    if page < pages {
        links.push(format!("{}; rel=\"next\"", link(page + 1)));
    }
    if page > 1 && page <= pages {
        links.push(format!("{}; rel=\"prev\"", link(page - 1)));
    }
    links.push(format!("{}; rel=\"last\"", link(pages)));
    if let Ok(v) = HeaderValue::from_str(&links.join(", ")) {
        h.insert("Link", v);
    }
    h
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' | b':' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn host(headers: &HeaderMap) -> String {
    format!("http://{}", headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1"))
}

fn woo_time(d: Day, hour: u32) -> String {
    format!("{}T{hour:02}:00:00", date_of(d))
}

async fn woo_products(State(st): State<St>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let (per_page, page) = match woo_auth(&headers, &q).and_then(|()| woo_paging(&q)) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let w = st.world.lock().unwrap();
    let visible: Vec<usize> = (0..w.products.len()).filter(|&i| w.products[i].created <= w.today).collect();
    let total = visible.len();
    let base = host(&headers);
    let items: Vec<Value> = visible
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|&i| {
            let p = &w.products[i];
            let price = if p.unpriced { String::new() } else { format!("{:.2}", p.price) };
            json!({
                "id": p.id,
                "name": p.name,
                "slug": p.name.to_lowercase().replace(' ', "-"),
                "permalink": format!("{base}/product/{}/", p.name.to_lowercase().replace(' ', "-")),
                "date_created": woo_time(p.created, 1),
                "date_created_gmt": woo_time(p.created, 9),
                "type": if p.unpriced { "variable" } else { "simple" },
                "status": "publish",
                "sku": p.sku,
                "price": price,
                "regular_price": price,
                "sale_price": "",
                "on_sale": false,
                "purchasable": !p.unpriced,
                "total_sales": 0,
                "manage_stock": p.manage_stock,
                "stock_quantity": if p.manage_stock { json!(p.stock) } else { Value::Null },
                "stock_status": if !p.manage_stock || p.stock > 0 { "instock" } else { "onbackorder" },
                "categories": [{"id": 30 + (i % 6), "name": p.category, "slug": p.category.to_lowercase()}],
                "variations": [],
                "parent_id": 0,
                "meta_data": [],
            })
        })
        .collect();
    let h = paged_headers(&base, "/wp-json/wc/v3/products", &q, total, per_page, page);
    (StatusCode::OK, h, Json(Value::Array(items))).into_response()
}

fn parse_local(v: &str) -> Option<Day> {
    let v = v.trim();
    NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S")
        .map(|t| t.date())
        .or_else(|_| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d"))
        .ok()
        .map(day_of)
}

async fn woo_stats(State(st): State<St>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Err(r) = woo_auth(&headers, &q) {
        return r;
    }
    if !st.opts.analytics {
        return woo_error(StatusCode::NOT_FOUND, "rest_no_route", "No route was found matching the URL and request method.");
    }
    let (per_page, page) = match woo_paging(&q) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if q.get("interval").map(String::as_str) != Some("day") {
        return woo_error(StatusCode::BAD_REQUEST, "rest_invalid_param", "Invalid parameter(s): interval (the sandbox serves interval=day)");
    }
    let (Some(after), Some(before)) = (q.get("after").and_then(|v| parse_local(v)), q.get("before").and_then(|v| parse_local(v))) else {
        return woo_error(StatusCode::BAD_REQUEST, "rest_invalid_param", "Invalid parameter(s): after, before");
    };
    let w = st.world.lock().unwrap();
    let ids: Vec<usize> = q
        .get("products")
        .map(|v| v.split(',').filter_map(|x| x.trim().parse::<u64>().ok()).filter_map(|id| w.product_index(id)).collect())
        .unwrap_or_default();
    let segmented = q.get("segmentby").map(String::as_str) == Some("product");
    let days: Vec<Day> = (after..=before).collect();
    let total = days.len();
    let sub = |d: Day, i: usize| {
        w.day_index(d).map(|k| w.product_days[k][i]).unwrap_or_default()
    };
    let intervals: Vec<Value> = days
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|&d| {
            let segs: Vec<Value> = ids
                .iter()
                .map(|&i| {
                    let pd = sub(d, i);
                    json!({"segment_id": w.products[i].id, "segment_label": w.products[i].name,
                           "subtotals": {"items_sold": pd.units, "net_revenue": pd.revenue, "orders_count": pd.units}})
                })
                .collect();
            let (units, revenue) = ids.iter().fold((0i64, 0f64), |(u, r), &i| {
                let pd = sub(d, i);
                (u + pd.units, r + pd.revenue)
            });
            let date = date_of(d);
            let mut subtotals = json!({"items_sold": units, "net_revenue": (revenue * 100.0).round() / 100.0, "orders_count": units,
                                       "products_count": ids.len(), "variations_count": 0});
            if segmented {
                subtotals["segments"] = Value::Array(segs);
            }
            json!({"interval": date.to_string(), "date_start": format!("{date} 00:00:00"), "date_start_gmt": format!("{date} 08:00:00"),
                   "date_end": format!("{date} 23:59:59"), "date_end_gmt": format!("{} 07:59:59", date.succ_opt().unwrap_or(date)),
                   "subtotals": subtotals})
        })
        .collect();
    let body = json!({"totals": {"items_sold": 0, "net_revenue": 0.0, "orders_count": 0, "products_count": ids.len(), "variations_count": 0}, "intervals": intervals});
    let h = paged_headers(&host(&headers), "/wp-json/wc-analytics/reports/products/stats", &q, total, per_page, page);
    (StatusCode::OK, h, Json(body)).into_response()
}

/// Orders of the simulated days: each day's product sales as orders of up to
/// three line items, plus one cancelled order a day that must not count.
async fn woo_orders(State(st): State<St>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let (per_page, page) = match woo_auth(&headers, &q).and_then(|()| woo_paging(&q)) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let w = st.world.lock().unwrap();
    let after = q.get("after").and_then(|v| parse_local(v)).unwrap_or(w.first_day);
    // `before` is exclusive at its instant: midnight excludes that day.
    let before = q.get("before").and_then(|v| parse_local(v)).map(|d| d - 1).unwrap_or(w.today);
    let statuses: Option<Vec<&str>> = q.get("status").map(|v| v.split(',').collect());
    let mut orders = Vec::new();
    for d in after.max(w.first_day)..=before.min(w.today) {
        let Some(k) = w.day_index(d) else { continue };
        let lines: Vec<Value> = w.product_days[k]
            .iter()
            .enumerate()
            .filter(|(_, pd)| pd.units > 0)
            .map(|(i, pd)| {
                let p = &w.products[i];
                json!({"id": i, "name": p.name, "product_id": p.id, "variation_id": 0, "quantity": pd.units,
                       "subtotal": format!("{:.2}", pd.revenue), "total": format!("{:.2}", pd.revenue), "sku": p.sku, "price": p.price})
            })
            .collect();
        let base = (d - w.first_day) as u64 * 100_000;
        let date = date_of(d);
        for (n, chunk) in lines.chunks(3).enumerate() {
            orders.push(json!({"id": base + n as u64 + 1, "status": "completed", "currency": "USD",
                               "date_created": format!("{date}T04:00:00"), "date_created_gmt": format!("{date}T12:00:00"),
                               "line_items": chunk, "refunds": []}));
        }
        if let Some(first) = lines.first() {
            orders.push(json!({"id": base + 99_999, "status": "cancelled", "currency": "USD",
                               "date_created_gmt": format!("{date}T13:00:00"), "line_items": [first], "refunds": []}));
        }
    }
    if let Some(wanted) = statuses {
        orders.retain(|o| wanted.contains(&o["status"].as_str().unwrap_or_default()));
    }
    let total = orders.len();
    let items: Vec<Value> = orders.into_iter().skip((page - 1) * per_page).take(per_page).collect();
    let h = paged_headers(&host(&headers), "/wp-json/wc/v3/orders", &q, total, per_page, page);
    (StatusCode::OK, h, Json(Value::Array(items))).into_response()
}

// ---------- GA4 ----------

fn ga4_error(status: StatusCode, text: &str, message: &str) -> Response {
    json_response(status, json!({"error": {"code": status.as_u16(), "message": message, "status": text}}))
}

async fn ga4_run_report(State(st): State<St>, headers: HeaderMap, Path(property): Path<String>, body: Option<Json<Value>>) -> Response {
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if token != Some(GA4_TOKEN) {
        return ga4_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", "Request is missing required authentication credential.");
    }
    let Some(prop) = property.strip_suffix(":runReport") else {
        return ga4_error(StatusCode::NOT_FOUND, "NOT_FOUND", "Unknown method");
    };
    if prop != GA4_PROPERTY {
        return ga4_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED", "User does not have sufficient permissions for this property.");
    }
    let Some(Json(req)) = body else {
        return ga4_error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", "Invalid JSON payload.");
    };
    let range = &req["dateRanges"][0];
    let (Some(start), Some(end)) = (
        range["startDate"].as_str().and_then(parse_local),
        range["endDate"].as_str().and_then(parse_local),
    ) else {
        return ga4_error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", "dateRanges[0] needs startDate and endDate (YYYY-MM-DD)");
    };
    let w = st.world.lock().unwrap();
    let wanted: Option<Vec<usize>> = req["dimensionFilter"]["filter"]["inListFilter"]["values"].as_array().map(|vals| {
        vals.iter().filter_map(|v| v.as_str()?.parse::<u64>().ok()).filter_map(|id| w.product_index(id)).collect()
    });
    let all: Vec<usize> = wanted.unwrap_or_else(|| (0..w.products.len()).collect());
    let mut rows = Vec::new();
    for d in start..=end.min(w.today) {
        let Some(k) = w.day_index(d) else { continue };
        let ymd = date_of(d).format("%Y%m%d").to_string();
        for &i in &all {
            let views = w.product_days[k][i].views;
            if views > 0 {
                rows.push(json!({"dimensionValues": [{"value": ymd}, {"value": w.products[i].id.to_string()}],
                                 "metricValues": [{"value": views.to_string()}]}));
            }
        }
    }
    let count = rows.len();
    let offset = req["offset"].as_u64().unwrap_or(0) as usize;
    let limit = req["limit"].as_u64().unwrap_or(10_000).clamp(1, 250_000) as usize;
    let page: Vec<Value> = rows.into_iter().skip(offset).take(limit).collect();
    json_response(
        StatusCode::OK,
        json!({"dimensionHeaders": [{"name": "date"}, {"name": "itemId"}],
               "metricHeaders": [{"name": "itemsViewed", "type": "TYPE_INTEGER"}],
               "rows": page, "rowCount": count,
               "metadata": {"currencyCode": "USD", "timeZone": "UTC"},
               "kind": "analyticsData#runReport"}),
    )
}

// ---------- Impact.com ----------

fn impact_error(status: StatusCode, message: &str, errors: &[(&str, &str)]) -> Response {
    let mut body = json!({"Status": "ERROR", "Message": message});
    if !errors.is_empty() {
        body["Errors"] = Value::Array(errors.iter().map(|(f, m)| json!({"Field": f, "Message": m})).collect());
    }
    json_response(status, body)
}

/// Auth, JSON-only-when-asked and the hourly budget; returns the rate headers.
fn impact_gate(st: &Shared, sid: &str, headers: &HeaderMap) -> Result<HeaderMap, Response> {
    match basic(headers) {
        Some((u, p)) if u == IMPACT_SID && p == IMPACT_TOKEN && sid.trim_end_matches(".json") == IMPACT_SID => {}
        _ => return Err(impact_error(StatusCode::UNAUTHORIZED, "Unauthorized: invalid Account SID or Auth Token", &[])),
    }
    let wants_json = headers.get("accept").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("json"));
    if !wants_json {
        return Err((StatusCode::OK, [("Content-Type", "application/xml")], "<ImpactRadiusResponse><Status>OK</Status></ImpactRadiusResponse>").into_response());
    }
    let mut r = st.rate.lock().unwrap();
    let window = st.opts.impact_rate_window;
    if r.started.elapsed() >= window {
        r.started = Instant::now();
        r.used = 0;
    }
    let reset = window.saturating_sub(r.started.elapsed()).as_secs_f64().ceil().max(1.0) as u64;
    let limit = st.opts.impact_rate_limit;
    let mut h = HeaderMap::new();
    h.insert("X-RateLimit-Limit", HeaderValue::from(limit));
    h.insert("X-RateLimit-Reset", HeaderValue::from(reset));
    if r.used >= limit {
        h.insert("X-RateLimit-Remaining", HeaderValue::from(0));
        h.insert("Retry-After", HeaderValue::from(reset));
        let mut resp = impact_error(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded", &[]);
        resp.headers_mut().extend(h);
        return Err(resp);
    }
    r.used += 1;
    h.insert("X-RateLimit-Remaining", HeaderValue::from(limit - r.used));
    Ok(h)
}

fn envelope(uri: &str, q: &HashMap<String, String>, key: &str, items: Vec<Value>, page: usize, page_size: usize, total: usize) -> Value {
    let pages = total.div_ceil(page_size).max(1);
    let page_uri = |p: usize| {
        let mut params: Vec<(String, String)> = q.iter().filter(|(k, _)| k.as_str() != "Page").map(|(k, v)| (k.clone(), v.clone())).collect();
        params.push(("Page".into(), p.to_string()));
        params.sort();
        let qs: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect();
        format!("{uri}?{}", qs.join("&"))
    };
    let start = (page - 1) * page_size;
    let mut v = json!({
        "@page": page.to_string(), "@numpages": pages.to_string(), "@pagesize": page_size.to_string(),
        "@total": total.to_string(), "@start": start.to_string(),
        "@end": (start + items.len()).saturating_sub(1).to_string(),
        "@uri": page_uri(page), "@firstpageuri": page_uri(1),
        "@previouspageuri": if page > 1 { page_uri(page - 1) } else { String::new() },
        "@nextpageuri": if page < pages { page_uri(page + 1) } else { String::new() },
        "@lastpageuri": page_uri(pages),
    });
    v[key] = Value::Array(items);
    v
}

fn impact_time(d: Day, minute: u32) -> String {
    format!("{}T{:02}:{:02}:00+00:00", date_of(d), minute / 60, minute % 60)
}

fn ad_json(w: &World, i: usize) -> Value {
    let c = &w.campaigns[i];
    let p = &w.products[c.product];
    json!({
        "Id": c.id.to_string(), "Name": c.name, "Description": c.description,
        "CampaignId": IMPACT_PROGRAM, "CampaignName": "Northwind Outdoor – US", "AdType": "TEXT_LINK",
        "LandingPage": format!("https://shop.sandbox.example/product/{}/", p.id),
        "DateCreated": impact_time(c.created - 1, 600), "DateLastUpdated": impact_time(c.created - 1, 600),
        "LinkText": p.name, "Labels": c.labels, "AllowDeepLinking": "true", "Language": "ENGLISH",
        "LimitedTimeStartDate": "",
        "LimitedTimeEndDate": c.end_date.map(|d| impact_time(d, 0)).unwrap_or_default(),
        "MobileReady": "true",
        "Uri": format!("/Advertisers/{IMPACT_SID}/Ads/{}", c.id),
    })
}

fn with_headers(h: HeaderMap, status: StatusCode, body: Value) -> Response {
    (status, h, Json(body)).into_response()
}

async fn impact_programs(State(st): State<St>, Path(sid): Path<String>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let h = match impact_gate(&st, &sid, &headers) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let program = json!({"Id": IMPACT_PROGRAM, "Name": "Northwind Outdoor – US", "State": "ACTIVE", "Type": "Performance",
                         "Uri": format!("/Advertisers/{IMPACT_SID}/Campaigns/{IMPACT_PROGRAM}")});
    with_headers(h, StatusCode::OK, envelope(&format!("/Advertisers/{IMPACT_SID}/Campaigns"), &q, "Campaigns", vec![program], 1, 1000, 1))
}

fn page_params(q: &HashMap<String, String>, default_size: usize, min_size: usize) -> Result<(usize, usize), Response> {
    let page = q.get("Page").map(|v| v.parse::<usize>().unwrap_or(0)).unwrap_or(1);
    let size = q.get("PageSize").map(|v| v.parse::<usize>().unwrap_or(0)).unwrap_or(default_size);
    if page == 0 {
        return Err(impact_error(StatusCode::BAD_REQUEST, "Validation Failed", &[("Page", "Not a valid page number")]));
    }
    if size < min_size || size > 20_000 {
        return Err(impact_error(StatusCode::BAD_REQUEST, "Validation Failed", &[("PageSize", "Out of range")]));
    }
    Ok((page, size))
}

async fn impact_ads(State(st): State<St>, Path(sid): Path<String>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let h = match impact_gate(&st, &sid, &headers) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let (page, size) = match page_params(&q, 1000, 1) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let w = st.world.lock().unwrap();
    if q.get("CampaignId").is_some_and(|c| c != IMPACT_PROGRAM) {
        return with_headers(h, StatusCode::OK, envelope(&format!("/Advertisers/{IMPACT_SID}/Ads"), &q, "Ads", vec![], 1, size, 0));
    }
    // Newest first, like the real list; ads not yet live are listed too.
    let order: Vec<usize> = (0..w.campaigns.len()).rev().filter(|&i| w.campaigns[i].status != Status::Ended).collect();
    let total = order.len();
    let items = order.iter().skip((page - 1) * size).take(size).map(|&i| ad_json(&w, i)).collect();
    with_headers(h, StatusCode::OK, envelope(&format!("/Advertisers/{IMPACT_SID}/Ads"), &q, "Ads", items, page, size, total))
}

async fn impact_ad(State(st): State<St>, Path((sid, id)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let h = match impact_gate(&st, &sid, &headers) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let w = st.world.lock().unwrap();
    match id.parse::<u64>().ok().and_then(|id| w.campaign_index(id)) {
        Some(i) => with_headers(h, StatusCode::OK, ad_json(&w, i)),
        None => impact_error(StatusCode::NOT_FOUND, "Resource not found", &[]),
    }
}

async fn impact_create_ad(State(st): State<St>, Path(sid): Path<String>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Response {
    let h = match impact_gate(&st, &sid, &headers) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let mut errors = Vec::new();
    for field in ["Name", "CampaignId", "AdType", "Language"] {
        if f.get(field).is_none_or(|v| v.trim().is_empty()) {
            errors.push((field, "Required"));
        }
    }
    if f.get("AdType").is_some_and(|t| t == "TEXT_LINK") && f.get("LinkText").is_none_or(|v| v.is_empty()) {
        errors.push(("LinkText", "Required for TEXT_LINK"));
    }
    if f.get("CampaignId").is_some_and(|c| c != IMPACT_PROGRAM) {
        errors.push(("CampaignId", "Not a valid campaign"));
    }
    let mut w = st.world.lock().unwrap();
    let labels = f.get("Labels").cloned().unwrap_or_default();
    let product = labels
        .split(',')
        .find_map(|l| l.trim().strip_prefix("product:"))
        .and_then(|id| id.parse::<u64>().ok())
        .and_then(|id| w.product_index(id));
    if product.is_none() {
        errors.push(("Labels", "the sandbox needs product:<WooCommerce id> to simulate the ad"));
    }
    if !errors.is_empty() {
        return impact_error(StatusCode::BAD_REQUEST, "Validation Failed", &errors);
    }
    // Impact has no budgets: the simulated ad spends at a level of its own.
    let i = w.create_campaign(product.expect("checked"), &f["Name"], 40.0, labels, "");
    if let Some(d) = f.get("Description") {
        w.campaigns[i].description = d.clone();
    }
    w.record("impact:POST /Ads", i, "create".into(), true);
    let id = w.campaigns[i].id;
    with_headers(h, StatusCode::OK, json!({"Status": "OK", "Uri": format!("/Advertisers/{IMPACT_SID}/Ads/{id}")}))
}

fn parse_impact_time(v: &str) -> Option<Day> {
    let v = v.trim();
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| day_of(t.date_naive()))
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S").ok().map(|t| day_of(t.date())))
}

async fn impact_update_ad(
    State(st): State<St>,
    Path((sid, id)): Path<(String, String)>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let h = match impact_gate(&st, &sid, &headers) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let mut w = st.world.lock().unwrap();
    let Some(i) = id.parse::<u64>().ok().and_then(|id| w.campaign_index(id)) else {
        return impact_error(StatusCode::NOT_FOUND, "Resource not found", &[]);
    };
    if let Some(end) = f.get("LimitedTimeEndDate") {
        let new = if end.trim().is_empty() {
            None
        } else {
            match parse_impact_time(end) {
                Some(d) => Some(d),
                None => return impact_error(StatusCode::BAD_REQUEST, "Validation Failed", &[("LimitedTimeEndDate", "Not a valid date")]),
            }
        };
        let changed = w.campaigns[i].end_date != new;
        w.campaigns[i].end_date = new;
        let what = match new {
            Some(d) => format!("end {}", date_of(d)),
            None => "end cleared".into(),
        };
        w.record("impact:PUT /Ads", i, what, changed);
    }
    for (field, target) in [("Name", 0), ("Description", 1), ("Labels", 2)] {
        if let Some(v) = f.get(field) {
            let c = &mut w.campaigns[i];
            match target {
                0 => c.name = v.clone(),
                1 => c.description = v.clone(),
                _ => c.labels = v.clone(),
            }
        }
    }
    let id = w.campaigns[i].id;
    with_headers(h, StatusCode::OK, json!({"Status": "OK", "Uri": format!("/Advertisers/{IMPACT_SID}/Ads/{id}")}))
}

async fn impact_actions(State(st): State<St>, Path(sid): Path<String>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let h = match impact_gate(&st, &sid, &headers) {
        Ok(h) => h,
        Err(r) => return r,
    };
    if q.get("CampaignId").is_none_or(|c| c.is_empty()) {
        return impact_error(StatusCode::BAD_REQUEST, "Validation Failed", &[("CampaignId", "Required")]);
    }
    let (page, size) = match page_params(&q, 20_000, 2_000) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let w = st.world.lock().unwrap();
    // Window on EventDate: start inclusive, end exclusive at its instant. A
    // date without time reads as midnight, so the last day is silently lost.
    let (start, end) = match (q.get("ActionDateStart"), q.get("ActionDateEnd")) {
        (None, None) => (w.today - 6, w.today + 1),
        (Some(s), Some(e)) => {
            let day_end = |v: &str| -> Option<Day> {
                if v.contains('T') {
                    let d = parse_impact_time(v)?;
                    // Any time after midnight includes that day.
                    let midnight = v.split('T').nth(1).is_some_and(|t| t.starts_with("00:00:00"));
                    Some(if midnight { d } else { d + 1 })
                } else {
                    parse_local(v)
                }
            };
            match (parse_impact_time(s).or_else(|| parse_local(s)), day_end(e)) {
                (Some(a), Some(b)) => (a, b),
                _ => return impact_error(StatusCode::BAD_REQUEST, "Validation Failed", &[("ActionDateStart", "Not a valid date")]),
            }
        }
        _ => return impact_error(StatusCode::BAD_REQUEST, "Validation Failed", &[("ActionDateEnd", "A start date requires an end date")]),
    };
    if end - start > 45 {
        return impact_error(StatusCode::BAD_REQUEST, "Validation Failed", &[("ActionDateEnd", "The date range cannot exceed 45 days")]);
    }
    if start < w.today - 3 * 365 {
        return impact_error(StatusCode::BAD_REQUEST, "Validation Failed", &[("ActionDateStart", "Cannot be more than 3 years ago")]);
    }
    // Count first (cheap), then build only this page's actions.
    let days: Vec<(Day, usize)> = (start.max(w.first_day)..end.min(w.today + 1)).filter_map(|d| w.day_index(d).map(|k| (d, k))).collect();
    let total: usize = days.iter().map(|&(_, k)| w.campaign_days[k].iter().map(|(_, cd)| cd.conversions.max(0) as usize).sum::<usize>()).sum();
    if total > 10 * size {
        return impact_error(StatusCode::BAD_REQUEST, "Too many results: narrow the date range", &[("ActionDateStart", "The result exceeds 10 pages")]);
    }
    let (lo, hi) = ((page - 1) * size, page * size);
    let mut at = 0usize;
    let mut items = Vec::new();
    'days: for &(d, k) in &days {
        for (ci, cd) in &w.campaign_days[k] {
            let n = cd.conversions.max(0) as usize;
            if at + n <= lo {
                at += n;
                continue;
            }
            if at >= hi {
                break 'days;
            }
            let c = &w.campaigns[*ci];
            for a in actions_of(IMPACT_PROGRAM, c.id, d, cd, w.today) {
                if at >= lo && at < hi {
                    items.push(json!({
                        "Id": a.id, "CampaignId": IMPACT_PROGRAM, "CampaignName": "Northwind Outdoor – US",
                        "ActionTrackerId": "6102", "ActionTrackerName": "Online Sale",
                        "MediaPartnerId": "318844", "MediaPartnerName": "TrailTalk Reviews",
                        "State": a.state, "AdId": a.ad_id.to_string(),
                        "Payout": format!("{:.2}", a.payout), "DeltaPayout": format!("{:.2}", a.payout), "IntendedPayout": format!("{:.2}", a.payout),
                        "ClientCost": format!("{:.2}", a.client_cost),
                        "Amount": format!("{:.2}", a.amount), "DeltaAmount": format!("{:.2}", a.amount), "IntendedAmount": format!("{:.2}", a.amount),
                        "Currency": "USD",
                        "EventDate": impact_time(a.day, a.minute), "CreationDate": impact_time(a.day, (a.minute + 3) % 1440),
                        "LockingDate": impact_time(a.locking_day, 0), "ClearedDate": "",
                        "ReferringType": "CLICK_COOKIE", "PromoCode": "", "Oid": format!("{}", 50_000 + at),
                        "CustomerStatus": if a.new_customer { "NEW" } else { "EXISTING" },
                        "Uri": format!("/Advertisers/{IMPACT_SID}/Actions/{}", a.id),
                    }));
                }
                at += 1;
            }
        }
    }
    with_headers(h, StatusCode::OK, envelope(&format!("/Advertisers/{IMPACT_SID}/Actions"), &q, "Actions", items, page, size, total))
}

// ---------- the sandbox's own budgeted platform and clock ----------

async fn sb_clock(State(st): State<St>) -> Response {
    let w = st.world.lock().unwrap();
    json_response(StatusCode::OK, json!({"today": date_of(w.today).to_string(), "first_day": date_of(w.first_day).to_string()}))
}

#[derive(Deserialize)]
struct AdvanceQuery {
    days: Option<u32>,
}

async fn sb_advance(State(st): State<St>, Query(q): Query<AdvanceQuery>) -> Response {
    let mut w = st.world.lock().unwrap();
    for _ in 0..q.days.unwrap_or(1).max(1) {
        w.advance();
    }
    json_response(StatusCode::OK, json!({"today": date_of(w.today).to_string()}))
}

async fn sb_log(State(st): State<St>) -> Response {
    let w = st.world.lock().unwrap();
    let log: Vec<Value> = w
        .log
        .iter()
        .map(|l| json!({"day": date_of(l.day).to_string(), "route": l.route, "campaign_id": l.campaign_id.to_string(), "what": l.what, "changed": l.changed}))
        .collect();
    json_response(StatusCode::OK, Value::Array(log))
}

async fn sb_stats(State(st): State<St>) -> Response {
    let r = st.requests.lock().unwrap();
    json_response(StatusCode::OK, json!({"requests": *r, "injected_failures": st.injected.load(std::sync::atomic::Ordering::Relaxed)}))
}

fn campaign_json(w: &World, i: usize) -> Value {
    let c = &w.campaigns[i];
    let status = match c.status {
        Status::Active if c.end_date.is_some_and(|e| e <= w.today + 1) => "paused",
        Status::Active => "active",
        Status::Paused => "paused",
        Status::Ended => "ended",
    };
    json!({
        "campaign_id": c.id.to_string(), "name": c.name, "product_id": w.products[c.product].id.to_string(),
        "status": status, "daily_budget": c.daily_budget, "start_date": date_of(c.created).to_string(),
        "paused_by": c.paused_by, "paused_at": c.paused_at.map(|d| date_of(d).to_string()).unwrap_or_default(),
        "created_by_key": c.created_by_key,
    })
}

async fn sb_campaigns(State(st): State<St>) -> Response {
    let w = st.world.lock().unwrap();
    json_response(StatusCode::OK, json!({"campaigns": (0..w.campaigns.len()).map(|i| campaign_json(&w, i)).collect::<Vec<_>>()}))
}

#[derive(Deserialize)]
struct CreateBody {
    key: String,
    product_id: String,
    name: String,
    daily_budget: f64,
}

async fn sb_create(State(st): State<St>, body: Result<Json<CreateBody>, axum::extract::rejection::JsonRejection>) -> Response {
    let Ok(Json(b)) = body else {
        return json_response(StatusCode::BAD_REQUEST, json!({"error": "expected {key, product_id, name, daily_budget}"}));
    };
    let mut w = st.world.lock().unwrap();
    if let Some(i) = (0..w.campaigns.len()).find(|&i| !b.key.is_empty() && w.campaigns[i].created_by_key == b.key) {
        // Same request key: the same campaign, not a second one.
        w.record("sandbox:create", i, format!("create {}", b.key), false);
        return json_response(StatusCode::OK, campaign_json(&w, i));
    }
    let Some(p) = b.product_id.parse::<u64>().ok().and_then(|id| w.product_index(id)) else {
        return json_response(StatusCode::BAD_REQUEST, json!({"error": format!("unknown product_id {}", b.product_id)}));
    };
    if !(b.daily_budget.is_finite() && b.daily_budget >= 0.0) {
        return json_response(StatusCode::BAD_REQUEST, json!({"error": "daily_budget must be ≥ 0"}));
    }
    let labels = format!("product:{}", w.products[p].id);
    let i = w.create_campaign(p, &b.name, b.daily_budget, labels, &b.key);
    w.record("sandbox:create", i, format!("create {}", b.key), true);
    json_response(StatusCode::CREATED, campaign_json(&w, i))
}

#[derive(Deserialize, Default)]
struct ChangeBody {
    #[serde(default)]
    paused_by: String,
    #[serde(default)]
    daily_budget: Option<f64>,
}

async fn sb_change(State(st): State<St>, Path((id, op)): Path<(String, String)>, body: Option<Json<ChangeBody>>) -> Response {
    let b = body.map(|Json(b)| b).unwrap_or_default();
    let mut w = st.world.lock().unwrap();
    let Some(i) = id.parse::<u64>().ok().and_then(|id| w.campaign_index(id)) else {
        return json_response(StatusCode::NOT_FOUND, json!({"error": format!("no campaign {id}")}));
    };
    let today = w.today;
    let c = &mut w.campaigns[i];
    let (changed, what) = match op.as_str() {
        "pause" => {
            if c.status == Status::Ended {
                return json_response(StatusCode::CONFLICT, json!({"error": "the campaign has ended"}));
            }
            let changed = c.status != Status::Paused;
            c.status = Status::Paused;
            c.paused_by = if b.paused_by.is_empty() { "pipeline".into() } else { b.paused_by.clone() };
            if changed {
                c.paused_at = Some(today + 1);
            }
            (changed, format!("pause by {}", c.paused_by))
        }
        "resume" => {
            if c.status == Status::Ended {
                return json_response(StatusCode::CONFLICT, json!({"error": "the campaign has ended"}));
            }
            let changed = c.status != Status::Active;
            c.status = Status::Active;
            c.paused_by.clear();
            c.paused_at = None;
            (changed, "resume".to_string())
        }
        "budget" => {
            let Some(v) = b.daily_budget.filter(|v| v.is_finite() && *v >= 0.0) else {
                return json_response(StatusCode::BAD_REQUEST, json!({"error": "daily_budget must be a number ≥ 0"}));
            };
            let changed = (c.daily_budget - v).abs() > 0.004;
            c.daily_budget = (v * 100.0).round() / 100.0;
            (changed, format!("budget {v:.2}"))
        }
        other => return json_response(StatusCode::NOT_FOUND, json!({"error": format!("unknown operation {other}")})),
    };
    w.record(&format!("sandbox:{op}"), i, what, changed);
    json_response(StatusCode::OK, campaign_json(&w, i))
}

#[derive(Deserialize)]
struct DailyQuery {
    from: String,
    to: String,
    page: Option<usize>,
    per_page: Option<usize>,
}

async fn sb_campaign_daily(State(st): State<St>, q: Result<Query<DailyQuery>, axum::extract::rejection::QueryRejection>) -> Response {
    let Ok(Query(q)) = q else {
        return json_response(StatusCode::BAD_REQUEST, json!({"error": "from and to (YYYY-MM-DD) are required"}));
    };
    let (Some(from), Some(to)) = (parse_local(&q.from), parse_local(&q.to)) else {
        return json_response(StatusCode::BAD_REQUEST, json!({"error": "from and to must be YYYY-MM-DD"}));
    };
    let per_page = q.per_page.unwrap_or(10_000).clamp(1, 50_000);
    let page = q.page.unwrap_or(1).max(1);
    let w = st.world.lock().unwrap();
    let mut rows = Vec::new();
    for d in from.max(w.first_day)..=to.min(w.today) {
        let Some(k) = w.day_index(d) else { continue };
        for (ci, cd) in &w.campaign_days[k] {
            rows.push((d, *ci, *cd));
        }
    }
    let total = rows.len();
    let items: Vec<Value> = rows
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|(d, ci, cd)| {
            json!({"date": date_of(*d).to_string(), "campaign_id": w.campaigns[*ci].id.to_string(),
                   "impressions": cd.impressions, "clicks": cd.clicks, "spend": cd.spend, "conversions": cd.conversions,
                   "revenue": cd.revenue, "new_customers": cd.new_customers})
        })
        .collect();
    json_response(StatusCode::OK, json!({"page": page, "pages": total.div_ceil(per_page).max(1), "total": total, "rows": items}))
}
