//! The GA4-shaped route: `properties/{id}:runReport` with a bearer token,
//! the items-viewed report by date and item id.


use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};

use super::state::{json_response, parse_local, St};
use crate::connectors::sandbox_auth::*;
use crate::model::day::date_of;

fn ga4_error(status: StatusCode, text: &str, message: &str) -> Response {
    json_response(status, json!({"error": {"code": status.as_u16(), "message": message, "status": text}}))
}

pub(super) async fn ga4_run_report(State(st): State<St>, headers: HeaderMap, Path(property): Path<String>, body: Option<Json<Value>>) -> Response {
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
