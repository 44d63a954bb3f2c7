//! The API clients against wiremock: paging to the last page, string-typed
//! values, 401 naming the credential variables, 429 + Retry-After honoured,
//! 5xx retried then reported, malformed bodies reported with the endpoint,
//! the circuit breaker, and Impact's action windows.

use std::time::{Duration, Instant};

use campaign_pilot::config::HttpSettings;
use campaign_pilot::connectors::impact::Impact;
use campaign_pilot::connectors::woocommerce::WooCommerce;
use campaign_pilot::http::{Auth, HttpError, Peer, PeerOptions};
use campaign_pilot::model::day::day_of;
use chrono::NaiveDate;
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn settings() -> HttpSettings {
    HttpSettings {
        timeout_s: 5.0,
        retries: 2,
        backoff_min_ms: 10,
        backoff_max_ms: 50,
        max_retry_after_s: 5.0,
        breaker_failures: 100,
        breaker_cooldown_s: 60.0,
    }
}

fn peer(server: &MockServer, name: &'static str, hint: &'static str, s: &HttpSettings) -> Peer {
    Peer::new(
        PeerOptions {
            name,
            base_url: server.uri(),
            auth: Auth::Basic { user: "ck_test".into(), password: SecretString::from("cs_test_secret".to_string()) },
            credential_hint: hint,
            rate_limit_per_hour: 0,
            concurrency: 2,
            extra_headers: Vec::new(),
        },
        s,
    )
    .unwrap()
}

fn woo(server: &MockServer) -> WooCommerce {
    WooCommerce::new(peer(server, "woocommerce", "WOOCOMMERCE_KEY and WOOCOMMERCE_SECRET", &settings()), 100, 1000)
}

fn product(id: serde_json::Value, price: &str, stock: serde_json::Value, manage: bool) -> serde_json::Value {
    json!({"id": id, "name": format!("P {id}"), "sku": "", "price": price, "regular_price": price,
           "manage_stock": manage, "stock_quantity": stock, "stock_status": "instock",
           "date_created_gmt": "2024-02-11T22:20:05", "categories": [{"id": 31, "name": "Camping", "slug": "camping"}]})
}

fn day(s: &str) -> i32 {
    day_of(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
}

#[tokio::test]
async fn woocommerce_products_are_read_to_the_last_page_with_string_values() {
    let server = MockServer::start().await;
    let pages = [
        vec![product(json!(1187), "149.00", json!(64), true), product(json!(1188), "", json!(3), true)],
        vec![product(json!("1189"), "21.99", json!(null), false), product(json!(1190), "5", json!(-4), true)],
        vec![product(json!(1191), "9.50", json!("12"), true)],
    ];
    for (i, body) in pages.iter().enumerate() {
        Mock::given(method("GET"))
            .and(path("/wp-json/wc/v3/products"))
            .and(query_param("page", (i + 1).to_string()))
            .and(query_param("per_page", "100"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body).insert_header("X-WP-TotalPages", "3").insert_header("X-WP-Total", "5"))
            .expect(1)
            .mount(&server)
            .await;
    }
    let products = woo(&server).products().await.unwrap();
    let ids: Vec<&str> = products.iter().map(|p| p.product_id.as_str()).collect();
    assert_eq!(ids, ["1187", "1188", "1189", "1190", "1191"]);
    assert_eq!(products[0].price, Some(149.0));
    assert_eq!(products[0].category, "Camping");
    assert_eq!(products[0].created, Some(NaiveDate::from_ymd_opt(2024, 2, 11).unwrap()));
    // "" is no price (the validator quarantines it), not 0.
    assert_eq!(products[1].price, None);
    // Unmanaged stock that is in stock counts as store.unmanaged_stock.
    assert_eq!((products[2].price, products[2].stock), (Some(21.99), Some(1000)));
    assert_eq!(products[3].stock, Some(-4));
    assert_eq!(products[4].stock, Some(12));
    assert!(products[1].raw.contains("\"price\":\"\""));
}

#[tokio::test]
async fn woocommerce_daily_sales_come_from_analytics_segments() {
    let server = MockServer::start().await;
    let body = json!({"totals": {}, "intervals": [
        {"interval": "2024-05-13", "subtotals": {"items_sold": 4, "segments": [
            {"segment_id": 1187, "subtotals": {"items_sold": 3, "net_revenue": 447.0, "orders_count": 3}},
            {"segment_id": 1302, "subtotals": {"items_sold": "1", "net_revenue": "29.00", "orders_count": 1}}]}},
        {"interval": "2024-05-14", "subtotals": {"items_sold": 0, "segments": [
            {"segment_id": 1187, "subtotals": {"items_sold": 0, "net_revenue": 0.0, "orders_count": 0}},
            {"segment_id": 1302, "subtotals": {"items_sold": 2, "net_revenue": 58.5, "orders_count": 1}}]}}]});
    Mock::given(method("GET"))
        .and(path("/wp-json/wc-analytics/reports/products/stats"))
        .and(query_param("interval", "day"))
        .and(query_param("segmentby", "product"))
        .and(query_param("products", "1187,1302"))
        .and(query_param("after", "2024-05-13T00:00:00"))
        .and(query_param("before", "2024-05-14T23:59:59"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body).insert_header("X-WP-TotalPages", "1"))
        .expect(1)
        .mount(&server)
        .await;
    let rows = woo(&server).daily_sales(&["1187".into(), "1302".into()], day("2024-05-13"), day("2024-05-14")).await.unwrap();
    let got: Vec<(i32, &str, Option<i64>, Option<f64>)> = rows.iter().map(|r| (r.day, r.product_id.as_str(), r.units, r.revenue)).collect();
    // The zero day of 1187 is left out (a missing day counts as zero).
    assert_eq!(
        got,
        vec![
            (day("2024-05-13"), "1187", Some(3), Some(447.0)),
            (day("2024-05-13"), "1302", Some(1), Some(29.0)),
            (day("2024-05-14"), "1302", Some(2), Some(58.5)),
        ]
    );
}

#[tokio::test]
async fn a_refused_key_names_the_credential_variables_and_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/wp-json/wc/v3/products"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"code": "woocommerce_rest_authentication_error", "message": "Consumer key is invalid.", "data": {"status": 401}})))
        .expect(1)
        .mount(&server)
        .await;
    let e = woo(&server).products().await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, HttpError::Unauthorized { status: 401, .. }), "{e:?}");
    assert!(text.contains("WOOCOMMERCE_KEY and WOOCOMMERCE_SECRET") && text.contains("Consumer key is invalid."), "{text}");
    assert!(!text.contains("cs_test_secret"), "the secret leaked: {text}");
}

#[tokio::test]
async fn a_429_waits_what_retry_after_says_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/wp-json/wc/v3/products"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1").set_body_string("slow down"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/wp-json/wc/v3/products"))
        .respond_with(ResponseTemplate::new(200).set_body_json(vec![product(json!(7), "1.00", json!(1), true)]))
        .expect(1)
        .mount(&server)
        .await;
    let started = Instant::now();
    let products = woo(&server).products().await.unwrap();
    let waited = started.elapsed();
    assert_eq!(products.len(), 1);
    // The backoff alone would be 10–50 ms: the second second is Retry-After's.
    assert!(waited >= Duration::from_millis(1000), "retried after {waited:?}");
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_with_the_endpoint() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/wp-json/wc/v3/products"))
        .respond_with(ResponseTemplate::new(503).set_body_string("<html>503 Service Unavailable</html>"))
        .expect(3) // the first attempt and http.retries = 2
        .mount(&server)
        .await;
    let e = woo(&server).products().await.unwrap_err();
    let text = e.to_string();
    assert!(text.contains("/wp-json/wc/v3/products") && text.contains("503") && text.contains("non-JSON body"), "{text}");
}

#[tokio::test]
async fn a_malformed_body_is_reported_with_the_endpoint_not_a_panic() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/wp-json/wc/v3/products"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html><body>Maintenance</body></html>"))
        .expect(1)
        .mount(&server)
        .await;
    let e = woo(&server).products().await.unwrap_err();
    assert!(matches!(e, HttpError::Malformed { .. }), "{e:?}");
    assert!(e.to_string().contains("woocommerce /wp-json/wc/v3/products"), "{e}");
    assert!(e.to_string().contains("Maintenance"), "{e}");

    // Valid JSON of the wrong shape, too.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/wp-json/wc-analytics/reports/products/stats"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"totals": {}})))
        .mount(&server)
        .await;
    let e = woo(&server).daily_sales(&["1".into()], 100, 101).await.unwrap_err();
    assert!(e.to_string().contains("/wp-json/wc-analytics/reports/products/stats") && e.to_string().contains("intervals"), "{e}");
}

#[tokio::test]
async fn the_circuit_opens_after_repeated_failures_and_stops_calling() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/wp-json/wc/v3/products"))
        .respond_with(ResponseTemplate::new(500))
        .expect(3)
        .mount(&server)
        .await;
    let s = HttpSettings { breaker_failures: 3, ..settings() };
    let client = WooCommerce::new(peer(&server, "woocommerce", "WOOCOMMERCE_KEY", &s), 100, 1000);
    assert!(client.products().await.is_err());
    // Open now: fails at once, the server sees no fourth request.
    let e = client.products().await.unwrap_err();
    assert!(matches!(e, HttpError::CircuitOpen { failures: 3, .. }), "{e:?}");
}

fn impact(server: &MockServer) -> Impact {
    Impact::new(peer(server, "impact", "IMPACT_ACCOUNT_SID and IMPACT_AUTH_TOKEN", &settings()), "IRTEST", "24811", 2000)
}

fn envelope(page: u32, pages: u32, key: &str, items: serde_json::Value) -> serde_json::Value {
    let mut v = json!({"@page": page.to_string(), "@numpages": pages.to_string(), "@pagesize": "2", "@total": "3",
                       "@nextpageuri": if page < pages { format!("/Advertisers/IRTEST/{key}?Page={}", page + 1) } else { String::new() }});
    v[key] = items;
    v
}

#[tokio::test]
async fn impact_ads_follow_the_page_envelope_and_decode_strings_or_numbers() {
    let server = MockServer::start().await;
    let ad = |id: serde_json::Value, labels: &str, end: &str| {
        json!({"Id": id, "Name": "Tent", "Labels": labels, "LimitedTimeEndDate": end, "DateCreated": "2024-04-02T10:15:44-07:00"})
    };
    Mock::given(method("GET"))
        .and(path("/Advertisers/IRTEST/Ads"))
        .and(query_param("Page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(1, 2, "Ads", json!([ad(json!("604512"), "product:1187", ""), ad(json!(604513), "", "")]))))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/Advertisers/IRTEST/Ads"))
        .and(query_param("Page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(2, 2, "Ads", json!([ad(json!("604514"), "sku:X,product:1302,cp:ab12", "2024-05-20T00:00:00-07:00")]))))
        .expect(1)
        .mount(&server)
        .await;
    let ads = impact(&server).ads().await.unwrap();
    assert_eq!(ads.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["604512", "604513", "604514"]);
    assert_eq!(ads[0].product_id(), Some("1187"));
    assert_eq!(ads[1].product_id(), None);
    assert_eq!((ads[2].product_id(), ads[2].created_by()), (Some("1302"), Some("ab12")));
    assert_eq!(ads[2].end, Some(day("2024-05-20")));
    assert_eq!(ads[0].created, Some(day("2024-04-02")));
}

#[tokio::test]
async fn impact_actions_are_read_in_windows_of_at_most_45_days_and_halved_when_too_many() {
    let server = MockServer::start().await;
    let action = |id: &str, ad: &str, date: &str, state: &str| {
        json!({"Id": id, "AdId": ad, "EventDate": format!("{date}T09:31:07-07:00"), "State": state, "Amount": "148.50",
               "ClientCost": "17.08", "Payout": "14.85", "CustomerStatus": "New"})
    };
    // The first 45-day window is "too many"; its halves answer.
    Mock::given(method("GET"))
        .and(path("/Advertisers/IRTEST/Actions"))
        .and(query_param("ActionDateStart", "2024-01-01T00:00:00Z"))
        .and(query_param("ActionDateEnd", "2024-02-15T00:00:00Z"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"Status": "ERROR", "Message": "Too many results: narrow the date range"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/Advertisers/IRTEST/Actions"))
        .and(query_param("ActionDateStart", "2024-01-01T00:00:00Z"))
        .and(query_param("ActionDateEnd", "2024-01-24T00:00:00Z"))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(1, 1, "Actions", json!([action("a1", "604512", "2024-01-03", "APPROVED")]))))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/Advertisers/IRTEST/Actions"))
        .and(query_param("ActionDateStart", "2024-01-24T00:00:00Z"))
        .and(query_param("ActionDateEnd", "2024-02-15T00:00:00Z"))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(1, 1, "Actions", json!([action("a2", "604512", "2024-02-01", "PENDING"), action("a1", "604512", "2024-01-03", "APPROVED")]))))
        .expect(1)
        .mount(&server)
        .await;
    // The second window: the remaining 15 days.
    Mock::given(method("GET"))
        .and(path("/Advertisers/IRTEST/Actions"))
        .and(query_param("ActionDateStart", "2024-02-15T00:00:00Z"))
        .and(query_param("ActionDateEnd", "2024-03-01T00:00:00Z"))
        .and(query_param("CampaignId", "24811"))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(1, 1, "Actions", json!([action("a3", "604513", "2024-02-20", "REVERSED")]))))
        .expect(1)
        .mount(&server)
        .await;
    let acts = impact(&server).actions(day("2024-01-01"), day("2024-02-29")).await.unwrap();
    // De-duplicated by id across windows.
    assert_eq!(acts.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["a1", "a2", "a3"]);
    assert_eq!(acts[0].cost, Some(17.08));
    assert_eq!(acts[0].amount, Some(148.5));
    assert!(acts[0].new_customer);
    assert_eq!(acts[2].state, "REVERSED");
    assert_eq!(acts[1].day, day("2024-02-01"));
}

#[tokio::test]
async fn impact_401_names_the_token_variable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/Advertisers/IRTEST/Ads"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"Status": "ERROR", "Message": "Unauthorized"})))
        .expect(1)
        .mount(&server)
        .await;
    let e = impact(&server).ads().await.unwrap_err();
    assert!(e.to_string().contains("IMPACT_ACCOUNT_SID and IMPACT_AUTH_TOKEN"), "{e}");
}

#[tokio::test]
async fn impact_rate_limit_headers_and_429_are_honoured() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/Advertisers/IRTEST/Ads"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("X-RateLimit-Remaining", "0")
                .insert_header("X-RateLimit-Reset", "1")
                .set_body_json(json!({"Status": "ERROR", "Message": "Rate limit exceeded"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/Advertisers/IRTEST/Ads"))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(1, 1, "Ads", json!([]))))
        .mount(&server)
        .await;
    let started = Instant::now();
    let ads = impact(&server).ads().await.unwrap();
    assert!(ads.is_empty());
    // No Retry-After: the reset header (delta seconds) sets the wait.
    assert!(started.elapsed() >= Duration::from_millis(1000), "{:?}", started.elapsed());
}

#[tokio::test]
async fn ga4_views_are_paged_by_offset_and_string_values_decode() {
    use campaign_pilot::connectors::ga4::Ga4;
    use wiremock::matchers::body_partial_json;
    let server = MockServer::start().await;
    let row = |d: &str, id: &str, v: &str| json!({"dimensionValues": [{"value": d}, {"value": id}], "metricValues": [{"value": v}]});
    Mock::given(method("POST"))
        .and(path("/v1beta/properties/312345678:runReport"))
        .and(body_partial_json(json!({"offset": 0, "dateRanges": [{"startDate": "2024-05-13", "endDate": "2024-05-14"}]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"rows": [row("20240513", "1187", "212"), row("20240513", "1302", "57")], "rowCount": 3})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1beta/properties/312345678:runReport"))
        .and(body_partial_json(json!({"offset": 2})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"rows": [row("20240514", "1187", "198")], "rowCount": 3})))
        .expect(1)
        .mount(&server)
        .await;
    let ga = Ga4::new(peer(&server, "ga4", "GA4_ACCESS_TOKEN", &settings()), "312345678");
    let views = ga.views(day("2024-05-13"), day("2024-05-14")).await.unwrap();
    let views: Vec<(i32, String, i64)> = views.into_iter().map(|v| (v.day, v.product_id, v.views)).collect();
    assert_eq!(
        views,
        vec![(day("2024-05-13"), "1187".to_string(), 212), (day("2024-05-13"), "1302".to_string(), 57), (day("2024-05-14"), "1187".to_string(), 198)]
    );

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {"code": 403, "message": "User does not have sufficient permissions for this property.", "status": "PERMISSION_DENIED"}})))
        .mount(&server)
        .await;
    let ga = Ga4::new(peer(&server, "ga4", "GA4_ACCESS_TOKEN", &settings()), "312345678");
    let e = ga.views(1, 2).await.unwrap_err();
    assert!(e.to_string().contains("GA4_ACCESS_TOKEN") && e.to_string().contains("sufficient permissions"), "{e}");
}

#[tokio::test]
async fn impact_and_sandbox_platform_report_5xx_after_retries_and_malformed_bodies_with_the_endpoint() {
    use campaign_pilot::connectors::sandbox_ads::SandboxAds;
    // Impact: 502 three times (first attempt + 2 retries), then reported.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/Advertisers/IRTEST/Ads"))
        .respond_with(ResponseTemplate::new(502).set_body_string("Bad Gateway"))
        .expect(3)
        .mount(&server)
        .await;
    let e = impact(&server).ads().await.unwrap_err();
    assert!(e.to_string().contains("/Advertisers/IRTEST/Ads") && e.to_string().contains("502"), "{e}");
    // Impact: an envelope without its paging keys.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/Advertisers/IRTEST/Ads"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"Ads": []})))
        .mount(&server)
        .await;
    let e = impact(&server).ads().await.unwrap_err();
    assert!(matches!(e, HttpError::Malformed { .. }) && e.to_string().contains("@page"), "{e}");

    // The sandbox platform: the same layer, the same reports.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/_sandbox/campaigns"))
        .respond_with(ResponseTemplate::new(500))
        .expect(3)
        .mount(&server)
        .await;
    let sb = SandboxAds::new(peer(&server, "sandbox", "(none)", &settings()));
    let e = sb.campaigns().await.unwrap_err();
    assert!(e.to_string().contains("sandbox /_sandbox/campaigns: HTTP 500"), "{e}");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/_sandbox/campaigns"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"campaigns": [{"campaign_id": "1"}]})))
        .mount(&server)
        .await;
    let sb = SandboxAds::new(peer(&server, "sandbox", "(none)", &settings()));
    let e = sb.campaigns().await.unwrap_err();
    assert!(matches!(e, HttpError::Malformed { .. }) && e.to_string().contains("/_sandbox/campaigns"), "{e}");
}

#[tokio::test]
async fn woocommerce_orders_fallback_counts_only_sales_statuses_once() {
    let server = MockServer::start().await;
    let order = |id: u64, status: &str, date: &str, items: serde_json::Value| json!({"id": id, "status": status, "date_created_gmt": format!("{date}T16:31:07"), "line_items": items});
    let page1 = json!([
        order(1, "processing", "2024-05-14", json!([{"product_id": 1187, "quantity": 1, "total": "149.00", "price": 149}, {"product_id": 1302, "quantity": 2, "total": "58.00", "price": 29}])),
        order(2, "cancelled", "2024-05-14", json!([{"product_id": 1187, "quantity": 5, "total": "745.00"}])),
    ]);
    // Page 2 repeats order 1 (data shifted while paging) and adds one the next day.
    let page2 = json!([
        order(1, "processing", "2024-05-14", json!([{"product_id": 1187, "quantity": 1, "total": "149.00"}])),
        order(3, "completed", "2024-05-15", json!([{"product_id": "1187", "quantity": "2", "total": 280.5}])),
    ]);
    for (p, body) in [(1, page1), (2, page2)] {
        Mock::given(method("GET"))
            .and(path("/wp-json/wc/v3/orders"))
            .and(query_param("page", p.to_string()))
            .and(query_param("dates_are_gmt", "true"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body).insert_header("X-WP-TotalPages", "2"))
            .expect(1)
            .mount(&server)
            .await;
    }
    let rows = woo(&server).daily_sales_from_orders(day("2024-05-14"), day("2024-05-15")).await.unwrap();
    let got: Vec<(i32, &str, Option<i64>, Option<f64>)> = rows.iter().map(|r| (r.day, r.product_id.as_str(), r.units, r.revenue)).collect();
    assert_eq!(
        got,
        vec![
            (day("2024-05-14"), "1187", Some(1), Some(149.0)),
            (day("2024-05-14"), "1302", Some(2), Some(58.0)),
            (day("2024-05-15"), "1187", Some(2), Some(280.5)),
        ]
    );
}
