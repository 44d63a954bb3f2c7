//! campaign-pilot: a batch job that runs an online store's ad campaigns.
//!
//! The pipeline is visible in the tree: `model/` is the ground floor of
//! shared types, `stages/` are the steps in order, `decisions/` the pure
//! rules, `connectors/` the edges, `db/` the only SQL, `report/` what a
//! person reads. `pipeline` runs one pass; `cli` parses; `error` maps every
//! ending to its exit code.

// First, so its `named!` macro is in scope for every module after it.
#[macro_use]
pub mod model;
pub mod backfill;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connectors;
pub mod db;
pub mod decisions;
pub mod error;
pub mod http;
pub mod llm;
pub mod metrics;
pub mod notify;
pub mod pipeline;
pub mod report;
pub mod review;
pub mod sandbox;
pub mod schedule;
pub mod secrets;
pub mod stages;
pub mod stop;
pub mod tune;
pub mod tools;
pub mod chat;
pub mod mcp;
pub mod serve;
