//! The sandbox's own budgeted platform and clock under `/_sandbox/`: what
//! the real APIs lack (pause, resume, budgets, create with a request key),
//! the simulated clock (`advance`), and the write log tests read.

use crate::model::campaign::{CampaignStatus, PausedBy};
use crate::sandbox::world::World;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::state::{json_response, parse_local, St};
use crate::model::day::date_of;

pub(super) async fn sb_clock(State(st): State<St>) -> Response {
    let w = st.world.lock().unwrap();
    json_response(StatusCode::OK, json!({"today": date_of(w.today).to_string(), "first_day": date_of(w.first_day).to_string()}))
}

#[derive(Deserialize)]
pub(super) struct AdvanceQuery {
    days: Option<u32>,
}

/// The most days one `advance` may simulate (the world is locked meanwhile).
pub const MAX_ADVANCE_DAYS: u32 = 366;
/// The largest daily budget the platform takes.
pub const MAX_BUDGET: f64 = 1e9;

pub(super) async fn sb_advance(State(st): State<St>, Query(q): Query<AdvanceQuery>) -> Response {
    let days = q.days.unwrap_or(1).max(1);
    if days > MAX_ADVANCE_DAYS {
        return json_response(StatusCode::BAD_REQUEST, json!({"error": format!("days must be between 1 and {MAX_ADVANCE_DAYS}, found {days}")}));
    }
    let mut w = st.world.lock().unwrap();
    for _ in 0..days {
        w.advance();
    }
    json_response(StatusCode::OK, json!({"today": date_of(w.today).to_string()}))
}

pub(super) async fn sb_log(State(st): State<St>) -> Response {
    let w = st.world.lock().unwrap();
    let log: Vec<Value> = w
        .log
        .iter()
        .map(|l| json!({"day": date_of(l.day).to_string(), "route": l.route, "campaign_id": l.campaign_id.to_string(), "what": l.what, "changed": l.changed}))
        .collect();
    json_response(StatusCode::OK, Value::Array(log))
}

pub(super) async fn sb_stats(State(st): State<St>) -> Response {
    let r = st.requests.lock().unwrap();
    json_response(StatusCode::OK, json!({"requests": *r, "injected_failures": st.injected.load(std::sync::atomic::Ordering::Relaxed)}))
}

fn campaign_json(w: &World, i: usize) -> Value {
    let c = &w.campaigns[i];
    let status = match c.status {
        // An ad ended on the Impact-shaped routes reads as paused here.
        CampaignStatus::Active if c.end_date.is_some_and(|e| e <= w.today + 1) => CampaignStatus::Paused,
        other => other,
    };
    json!({
        "campaign_id": c.id.to_string(), "name": c.name, "product_id": w.products[c.product].id.to_string(),
        "status": status, "daily_budget": c.daily_budget, "start_date": date_of(c.created).to_string(),
        "paused_by": c.paused_by.map(PausedBy::as_str).unwrap_or(""), "paused_at": c.paused_at.map(|d| date_of(d).to_string()).unwrap_or_default(),
        "created_by_key": c.created_by_key,
    })
}

pub(super) async fn sb_campaigns(State(st): State<St>) -> Response {
    let w = st.world.lock().unwrap();
    json_response(StatusCode::OK, json!({"campaigns": (0..w.campaigns.len()).map(|i| campaign_json(&w, i)).collect::<Vec<_>>()}))
}

#[derive(Deserialize)]
pub(super) struct CreateBody {
    key: String,
    product_id: String,
    name: String,
    daily_budget: f64,
}

pub(super) async fn sb_create(State(st): State<St>, body: Result<Json<CreateBody>, axum::extract::rejection::JsonRejection>) -> Response {
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
    if !(b.daily_budget.is_finite() && (0.0..=MAX_BUDGET).contains(&b.daily_budget)) {
        return json_response(StatusCode::BAD_REQUEST, json!({"error": format!("daily_budget must be a number between 0 and {MAX_BUDGET}")}));
    }
    let labels = format!("product:{}", w.products[p].id);
    let i = w.create_campaign(p, &b.name, b.daily_budget, labels, &b.key);
    w.record("sandbox:create", i, format!("create {}", b.key), true);
    json_response(StatusCode::CREATED, campaign_json(&w, i))
}

#[derive(Deserialize, Default)]
pub(super) struct ChangeBody {
    #[serde(default)]
    paused_by: Option<PausedBy>,
    #[serde(default)]
    daily_budget: Option<f64>,
}

pub(super) async fn sb_change(State(st): State<St>, Path((id, op)): Path<(String, String)>, body: Option<Json<ChangeBody>>) -> Response {
    let b = body.map(|Json(b)| b).unwrap_or_default();
    let mut w = st.world.lock().unwrap();
    let Some(i) = id.parse::<u64>().ok().and_then(|id| w.campaign_index(id)) else {
        return json_response(StatusCode::NOT_FOUND, json!({"error": format!("no campaign {id}")}));
    };
    let today = w.today;
    let c = &mut w.campaigns[i];
    let (changed, what) = match op.as_str() {
        "pause" => {
            if c.status == CampaignStatus::Ended {
                return json_response(StatusCode::CONFLICT, json!({"error": "the campaign has ended"}));
            }
            let changed = c.status != CampaignStatus::Paused;
            c.status = CampaignStatus::Paused;
            c.paused_by = Some(b.paused_by.unwrap_or(PausedBy::Pipeline));
            if changed {
                c.paused_at = Some(today + 1);
            }
            (changed, format!("pause by {}", c.paused_by.map(PausedBy::as_str).unwrap_or_default()))
        }
        "resume" => {
            if c.status == CampaignStatus::Ended {
                return json_response(StatusCode::CONFLICT, json!({"error": "the campaign has ended"}));
            }
            let changed = c.status != CampaignStatus::Active;
            c.status = CampaignStatus::Active;
            c.paused_by = None;
            c.paused_at = None;
            (changed, "resume".to_string())
        }
        "budget" => {
            let Some(v) = b.daily_budget.filter(|v| v.is_finite() && (0.0..=MAX_BUDGET).contains(v)) else {
                return json_response(StatusCode::BAD_REQUEST, json!({"error": format!("daily_budget must be a number between 0 and {MAX_BUDGET}")}));
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
pub(super) struct DailyQuery {
    from: String,
    to: String,
    page: Option<usize>,
    per_page: Option<usize>,
}

pub(super) async fn sb_campaign_daily(State(st): State<St>, q: Result<Query<DailyQuery>, axum::extract::rejection::QueryRejection>) -> Response {
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
