//! Impact.com-shaped routes (reference: shared/reference/impact-api): Basic
//! auth, JSON only when asked, the hourly rate budget with 429 +
//! `Retry-After`, `@`-paged envelopes, ads (list, get, create, update of
//! `LimitedTimeEndDate`) and actions with the 45-day window rules.

use std::time::Instant;

use chrono::NaiveDateTime;

use crate::model::campaign::CampaignStatus;
use crate::sandbox::world::{actions_of, World};
use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde_json::{json, Value};

use super::state::{basic, json_response, parse_local, urlencode, Shared, St};
use crate::connectors::sandbox_auth::*;
use crate::model::day::{date_of, day_of, Day};

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

pub(super) async fn impact_programs(State(st): State<St>, Path(sid): Path<String>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
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

pub(super) async fn impact_ads(State(st): State<St>, Path(sid): Path<String>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
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
    let order: Vec<usize> = (0..w.campaigns.len()).rev().filter(|&i| w.campaigns[i].status != CampaignStatus::Ended).collect();
    let total = order.len();
    let items = order.iter().skip((page - 1) * size).take(size).map(|&i| ad_json(&w, i)).collect();
    with_headers(h, StatusCode::OK, envelope(&format!("/Advertisers/{IMPACT_SID}/Ads"), &q, "Ads", items, page, size, total))
}

pub(super) async fn impact_ad(State(st): State<St>, Path((sid, id)): Path<(String, String)>, headers: HeaderMap) -> Response {
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

pub(super) async fn impact_create_ad(State(st): State<St>, Path(sid): Path<String>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Response {
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

pub(super) async fn impact_update_ad(
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

pub(super) async fn impact_actions(State(st): State<St>, Path(sid): Path<String>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
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
