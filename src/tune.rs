//! `tune` (SPEC §13): which decision settings would have made more money?
//! Each setting of a small grid around the current configuration — one key
//! changed at a time, then the best value of every key that helped, together
//! — runs the real pipeline's closed loop (`sandbox simulate`) on each seed;
//! the table gives expected profit, capture and held runs per setting, the
//! best and its margin over the current configuration. Nothing is edited:
//! `--write` puts the suggested keys in a file of their own.

use std::fmt::Write as _;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use chrono::NaiveDate;

use crate::config::{LoadedConfig, Settings};
use crate::connectors::sync;
use crate::db::Db;
use crate::decisions::guardrails;
use crate::error::{Error, Result};
use crate::model::day::day_of;
use crate::model::plan::ActionKind;
use crate::pipeline::{plan_valid, ReadFacts};
use crate::decisions::reach::needed_from;
use crate::stages::validate::RangeValidator;
use crate::sandbox::simulate::{self, Policy, PolicyScore, SimulateError, SimulateOptions};
use crate::stages::act::plan_shape;

/// A decision key the grid varies, and the values it tries.
struct Key {
    name: &'static str,
    values: &'static [f64],
    get: fn(&Settings) -> f64,
    set: fn(&mut Settings, f64),
}

const KEYS: &[Key] = &[
    Key { name: "model.pause_confidence", values: &[0.8, 0.9, 0.95, 0.99], get: |s| s.model.pause_confidence, set: |s, v| s.model.pause_confidence = v },
    Key { name: "model.min_change_pct", values: &[1.0, 2.0, 5.0], get: |s| s.model.min_change_pct, set: |s, v| s.model.min_change_pct = v },
    Key { name: "model.lookback_days", values: &[21.0, 28.0, 42.0], get: |s| s.model.lookback_days as f64, set: |s, v| s.model.lookback_days = v as u32 },
    Key { name: "budget.max_increase_pct", values: &[10.0, 20.0, 40.0], get: |s| s.budget.max_increase_pct, set: |s, v| s.budget.max_increase_pct = v },
    Key { name: "decisions.min_days", values: &[3.0, 7.0], get: |s| s.decisions.min_days as f64, set: |s, v| s.decisions.min_days = v as u32 },
];

#[derive(Debug, Clone)]
pub struct TuneOptions {
    pub seeds: Vec<u64>,
    pub days: u32,
    pub warmup: u32,
    pub products: u32,
    pub campaigns: u32,
    pub policy: Policy,
    pub progress: bool,
}

/// One setting, scored on every seed.
#[derive(Debug, Clone, Serialize)]
pub struct SettingScore {
    /// "current", or the keys changed from it.
    pub label: String,
    pub changes: Vec<(String, f64)>,
    pub per_seed: Vec<PolicyScore>,
    pub mean_capture: f64,
    pub min_capture: f64,
    pub mean_capture_existing: f64,
    /// Expected profit per acting day, averaged over the seeds.
    pub expected_profit_per_day: f64,
    pub held_runs: usize,
    pub pauses_of_profitable: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TuneResult {
    pub seeds: Vec<u64>,
    pub days: u32,
    pub policy: String,
    pub settings: Vec<SettingScore>,
    /// Index of the best setting in `settings` (0: the current one).
    pub best: usize,
}

impl TuneResult {
    pub fn current(&self) -> &SettingScore {
        &self.settings[0]
    }
    pub fn best(&self) -> &SettingScore {
        &self.settings[self.best]
    }
}

fn label(changes: &[(String, f64)]) -> String {
    if changes.is_empty() {
        "current".into()
    } else {
        changes.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    }
}

fn applied(base: &LoadedConfig, changes: &[(String, f64)]) -> Option<LoadedConfig> {
    let mut cfg = base.clone();
    for (k, v) in changes {
        let key = KEYS.iter().find(|x| x.name == k)?;
        (key.set)(&mut cfg.settings, *v);
    }
    cfg.settings.validate().is_empty().then_some(cfg)
}

/// The current setting, then each key's other values one at a time (the
/// valid ones).
pub fn grid(base: &LoadedConfig) -> Vec<Vec<(String, f64)>> {
    let mut grid: Vec<Vec<(String, f64)>> = vec![Vec::new()];
    for k in KEYS {
        let now = (k.get)(&base.settings);
        for &v in k.values.iter().filter(|&&v| (v - now).abs() > 1e-9) {
            grid.push(vec![(k.name.to_string(), v)]);
        }
    }
    grid.retain(|c| applied(base, c).is_some());
    grid
}

pub async fn tune(base: &LoadedConfig, o: &TuneOptions) -> std::result::Result<TuneResult, SimulateError> {
    let grid = grid(base);
    let loops = o.seeds.len() as u64 * (2 + grid.len() as u64 + 1);
    let bar = if o.progress { ProgressBar::new(loops) } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("tune [{bar:30}] {pos}/{len} loops ({eta}) {msg}").expect("template"));
    let opts = |seed: u64| SimulateOptions {
        seed,
        days: o.days,
        warmup: o.warmup,
        products: o.products,
        campaigns: o.campaigns,
        policies: vec![o.policy],
        start: simulate::default_start(o.warmup),
        progress: false,
        keep: None,
    };
    let mut baselines = Vec::new();
    for &seed in &o.seeds {
        bar.set_message(format!("seed {seed}: baselines"));
        let none = simulate::score(base, &opts(seed), Policy::None).await?;
        bar.inc(1);
        let oracle = simulate::score(base, &opts(seed), Policy::Oracle).await?;
        bar.inc(1);
        baselines.push((none, oracle));
    }
    let mut settings = Vec::new();
    let run = |changes: Vec<(String, f64)>| {
        let cfg = applied(base, &changes).expect("a valid setting");
        let (bar, baselines, opts) = (&bar, &baselines, &opts);
        async move {
            let mut per_seed = Vec::new();
            for (&seed, (none, oracle)) in o.seeds.iter().zip(baselines) {
                bar.set_message(format!("seed {seed}: {}", label(&changes)));
                let s = simulate::score(&cfg, &opts(seed), o.policy).await?;
                per_seed.push(simulate::with_capture(s, none, oracle));
                bar.inc(1);
            }
            Ok::<_, SimulateError>(summarise(changes, per_seed, o.days))
        }
    };
    for changes in grid {
        settings.push(run(changes).await?);
    }
    // Every key's best value where it beat the current setting, together.
    let current = settings[0].mean_capture;
    let mut combined: Vec<(String, f64)> = Vec::new();
    for k in KEYS {
        if let Some(best) = settings
            .iter()
            .filter(|s| s.changes.len() == 1 && s.changes[0].0 == k.name && s.mean_capture > current)
            .max_by(|a, b| a.mean_capture.total_cmp(&b.mean_capture))
        {
            combined.push(best.changes[0].clone());
        }
    }
    if combined.len() > 1 && applied(base, &combined).is_some() {
        settings.push(run(combined).await?);
    }
    bar.finish_and_clear();
    let best = settings
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.mean_capture.total_cmp(&b.1.mean_capture).then_with(|| b.0.cmp(&a.0)))
        .map_or(0, |(i, _)| i);
    Ok(TuneResult { seeds: o.seeds.clone(), days: o.days, policy: o.policy.as_str().to_string(), settings, best })
}

fn summarise(changes: Vec<(String, f64)>, per_seed: Vec<PolicyScore>, days: u32) -> SettingScore {
    let n = per_seed.len().max(1) as f64;
    let captures: Vec<f64> = per_seed.iter().map(|s| s.capture.unwrap_or(0.0)).collect();
    SettingScore {
        label: label(&changes),
        mean_capture: captures.iter().sum::<f64>() / n,
        min_capture: captures.iter().copied().fold(f64::INFINITY, f64::min),
        mean_capture_existing: per_seed.iter().map(|s| s.capture_existing.unwrap_or(0.0)).sum::<f64>() / n,
        expected_profit_per_day: per_seed.iter().map(|s| s.expected_profit).sum::<f64>() / n / days.max(1) as f64,
        held_runs: per_seed.iter().map(|s| s.held_runs).sum(),
        pauses_of_profitable: per_seed.iter().map(|s| s.pauses_of_profitable).sum(),
        changes,
        per_seed,
    }
}

/// The table `tune` prints, best last.
pub fn table(r: &TuneResult) -> String {
    let seeds: Vec<String> = r.seeds.iter().map(u64::to_string).collect();
    let mut out = format!("tune: policy {} · seeds {} · {} acting days each\n", r.policy, seeds.join(", "), r.days);
    let _ = writeln!(out, "{:>12} {:>8} {:>8} {:>9} {:>5} {:>11} {:>8}  setting", "profit/day", "capture", "min", "existing", "held", "profitable", "vs now");
    let now = r.current().mean_capture;
    for (i, s) in r.settings.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:>12.2} {:>8.3} {:>8.3} {:>9.3} {:>5} {:>11} {:>+8.3}  {}{}",
            s.expected_profit_per_day,
            s.mean_capture,
            s.min_capture,
            s.mean_capture_existing,
            s.held_runs,
            s.pauses_of_profitable,
            s.mean_capture - now,
            s.label,
            if i == r.best { "  ← best" } else { "" }
        );
    }
    let (b, c) = (r.best(), r.current());
    if r.best == 0 {
        let _ = writeln!(out, "\nThe current configuration is the best of the grid (capture {:.3}).", c.mean_capture);
    } else {
        let _ = writeln!(
            out,
            "\nBest: {} — capture {:.3} against {:.3} now ({:+.3}), {:+.2} expected profit a day; pipeline.toml is unchanged (--write FILE keeps the keys).",
            b.label,
            b.mean_capture,
            c.mean_capture,
            b.mean_capture - c.mean_capture,
            b.expected_profit_per_day - c.expected_profit_per_day
        );
    }
    out
}

/// The best setting's keys as TOML, for `--write`.
pub fn suggested_toml(r: &TuneResult) -> String {
    let (b, c) = (r.best(), r.current());
    let mut out = format!(
        "# campaign-pilot tune: policy {}, seeds {:?}, {} acting days each.\n# capture {:.3} with these keys against {:.3} with the configuration tuned.\n",
        r.policy, r.seeds, r.days, b.mean_capture, c.mean_capture
    );
    let mut sections: std::collections::BTreeMap<&str, Vec<(&str, f64)>> = Default::default();
    for (k, v) in &b.changes {
        let (section, key) = k.split_once('.').expect("section.key");
        sections.entry(section).or_default().push((key, *v));
    }
    if sections.is_empty() {
        out.push_str("# The current configuration was the best: nothing to change.\n");
    }
    for (section, keys) in sections {
        let _ = writeln!(out, "[{section}]");
        for (k, v) in keys {
            let integer = matches!(k, "lookback_days" | "min_days");
            if integer {
                let _ = writeln!(out, "{k} = {}", v as i64);
            } else {
                let _ = writeln!(out, "{k} = {v:?}");
            }
        }
    }
    out
}

/// One setting replayed on the stored history: what it would have done.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayScore {
    pub label: String,
    pub changes: Vec<(String, f64)>,
    pub days: usize,
    pub actions: usize,
    pub pauses: usize,
    pub budget_changes: usize,
    pub creates: usize,
    /// Days a guardrail would have held the whole plan.
    pub held_days: usize,
    /// The model's own expected change in daily profit of the plans, per
    /// day (profit policy only): what it believed, not what happened.
    pub expected_gain_per_day: Option<f64>,
}

/// Replays the stored history of `[from, to]` with each setting: every
/// day's plan made as a run would (dry: nothing applied, nothing stored but
/// the history a fetch brings), its actions counted and the guardrails asked.
pub async fn replay(base: &LoadedConfig, settings: &[Vec<(String, f64)>], from: NaiveDate, to: NaiveDate, progress: bool) -> Result<Vec<ReplayScore>> {
    if from > to {
        return Err(Error::Usage(format!("--from {from} is after --to {to}")));
    }
    let s = &base.settings;
    let db = Db::connect(&base.database_url()).await?;
    let Some(_lock) = db.try_lock("run").await? else {
        db.close().await;
        return Err(Error::Locked);
    };
    let (raw, _) = sync::read_range(base, &db, day_of(from) - s.history.days as i32 + 1, day_of(to), None).await?;
    db.close().await;
    let read = ReadFacts::of(&raw);
    let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
    let bar = if progress { ProgressBar::new((days.len() * settings.len()) as u64) } else { ProgressBar::hidden() };
    let mut out = Vec::new();
    for changes in settings {
        let cfg = applied(base, changes).ok_or_else(|| Error::Usage(format!("tune: {} is not a valid setting", label(changes))))?;
        let st = &cfg.settings;
        let mut r = ReplayScore { label: label(changes), changes: changes.clone(), days: days.len(), actions: 0, pauses: 0, budget_changes: 0, creates: 0, held_days: 0, expected_gain_per_day: None };
        let mut gain = Vec::new();
        // Validated once per setting (one may change the validation's own keys).
        let range = RangeValidator::new(raw.clone(), day_of(to), &st.validate, st.act.min_day_fraction)?;
        for day in &days {
            bar.set_message(format!("{day}: {}", r.label));
            let (valid, r_validate) = range.day(day_of(*day), Some(needed_from(day_of(*day), st)))?;
            let (valid, plan, _) = plan_valid(st, valid, r_validate, &read, "tune-replay")?;
            r.actions += plan.actions.len();
            r.pauses += plan.actions.iter().filter(|a| a.kind == ActionKind::Pause).count();
            r.budget_changes += plan.actions.iter().filter(|a| a.kind == ActionKind::SetBudget).count();
            r.creates += plan.actions.iter().filter(|a| a.kind == ActionKind::Create).count();
            if !guardrails::check(&plan_shape(&plan, &valid.quality), &st.act, &st.budget).is_empty() {
                r.held_days += 1;
            }
            if let (Some(b), Some(a)) = (plan.totals.expected_profit_before, plan.totals.expected_profit_after) {
                gain.push(a - b);
            }
            bar.inc(1);
        }
        r.expected_gain_per_day = (!gain.is_empty()).then(|| gain.iter().sum::<f64>() / gain.len() as f64);
        out.push(r);
    }
    bar.finish_and_clear();
    Ok(out)
}

/// The replay's table.
pub fn replay_table(rows: &[ReplayScore], from: NaiveDate, to: NaiveDate) -> String {
    let mut out = format!("replay of the stored history {from} to {to} (dry: nothing applied; the gain is the model's own expectation)\n");
    let _ = writeln!(out, "{:>5} {:>8} {:>7} {:>8} {:>8} {:>5} {:>14}  setting", "days", "actions", "pauses", "budgets", "creates", "held", "expected/day");
    for r in rows {
        let _ = writeln!(
            out,
            "{:>5} {:>8} {:>7} {:>8} {:>8} {:>5} {:>14}  {}",
            r.days,
            r.actions,
            r.pauses,
            r.budget_changes,
            r.creates,
            r.held_days,
            r.expected_gain_per_day.map_or("–".to_string(), |g| format!("{g:+.2}")),
            r.label
        );
    }
    out
}
