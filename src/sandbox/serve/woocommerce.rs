//! WooCommerce-shaped routes (reference: shared/reference/woocommerce): Basic
//! or query-string auth with the real 401 bodies, `per_page`/`page` with the
//! `X-WP-Total*` and `Link` headers, the products list, Analytics' daily
//! product stats (404 `rest_no_route` with `--no-analytics`) and orders.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::state::{basic, host, json_response, parse_local, urlencode, St};
use crate::connectors::sandbox_auth::*;
use crate::model::day::{date_of, Day};

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

fn woo_time(d: Day, hour: u32) -> String {
    format!("{}T{hour:02}:00:00", date_of(d))
}

pub(super) async fn woo_products(State(st): State<St>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
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

pub(super) async fn woo_stats(State(st): State<St>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
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
pub(super) async fn woo_orders(State(st): State<St>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
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
