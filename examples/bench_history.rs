//! History write throughput (issue 17): stores synthetic product days,
//! campaign days and Impact actions into a new database and prints rows per
//! second for each, then stores the same actions again (a daily run's
//! re-read of the changeable tail). `scripts/bench.sh history` runs it.
//!
//!   cargo run --release --example bench_history -- [DATABASE_URL] [ACTIONS]
//!
//! Without a URL: a new SQLite file in a temporary directory.

use std::time::Instant;

use campaign_pilot::db::Db;
use campaign_pilot::model::history::{CampaignDayRow, ImpactAction, SalesRow};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = args.first().cloned().unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display()));
    let actions: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(370_000);
    let db = Db::connect(&url).await.expect("the database");
    let first = 20_000;
    let days: Vec<i32> = (first..first + 14).collect();
    let sales: Vec<SalesRow> = days
        .iter()
        .flat_map(|&day| (0..10_000).map(move |p| SalesRow { day, product_id: format!("P{p:06}"), units: Some(p % 7), revenue: Some((p % 7) as f64 * 19.99) }))
        .collect();
    let campaign: Vec<CampaignDayRow> = days
        .iter()
        .flat_map(|&day| {
            (0..10_000).map(move |c| CampaignDayRow {
                day,
                campaign_id: format!("C{c:05}"),
                impressions: Some(1000 + c),
                clicks: Some(c % 50),
                spend: Some(c as f64 * 0.37),
                conversions: Some(c % 5),
                revenue: Some(c as f64 * 1.13),
                new_customers: Some(c % 2),
            })
        })
        .collect();
    let acts: Vec<ImpactAction> = (0..actions)
        .map(|i| ImpactAction {
            id: format!("A{i:09}"),
            ad_id: format!("C{:05}", i % 10_000),
            day: days[i % days.len()],
            state: "PENDING".into(),
            amount: Some((i % 997) as f64 * 0.31),
            cost: Some((i % 997) as f64 * 0.031),
            new_customer: i % 3 == 0,
        })
        .collect();
    let kind = if url.starts_with("postgres") { "postgres" } else { "sqlite" };
    let report = |what: &str, rows: usize, started: Instant| {
        let s = started.elapsed().as_secs_f64();
        println!("{kind:8} {what:28} {rows:>9} rows {s:>7.2} s {:>9.0} rows/s", rows as f64 / s);
    };
    let t = Instant::now();
    db.store_sales_days("bench", &days, &sales).await.expect("sales");
    report("product days", sales.len(), t);
    let t = Instant::now();
    db.store_campaign_days("bench", &days, &campaign).await.expect("campaign days");
    report("campaign days", campaign.len(), t);
    let t = Instant::now();
    let _ = db.store_impact_actions("bench", &days, &acts).await.expect("actions");
    report("impact actions, new", acts.len(), t);
    let mut again = acts.clone();
    for a in again.iter_mut().step_by(50) {
        a.state = "APPROVED".into();
    }
    let t = Instant::now();
    let _ = db.store_impact_actions("bench", &days, &again).await.expect("actions again");
    report("impact actions, re-read 2%", again.len(), t);
    db.close().await;
}
