//! The ground floor: the types every room shares, and nothing else.
//!
//! The data contract (SPEC §3), the days and money the rules count in, the
//! campaigns and their states, the decisions, the plan and its actions, the
//! run and its data quality, the rows history keeps, the report (SPEC §9),
//! the configured kinds and the shard. Everything else in the crate imports
//! from here; this room imports nothing of the crate, so a type defined here
//! never pulls a stage, a connector or the database along with it.
//!
//! States are enums with serde names, matched exhaustively: parsing a stored
//! or received name that is not one of them is an error
//! ([`UnknownName`]), never a silent default.

#[macro_use]
pub mod names;

pub mod audit;
pub mod batch;
pub mod campaign;
pub mod contract;
pub mod day;
pub mod decision;
pub mod history;
pub mod kinds;
pub mod outcome;
pub mod plan;
pub mod reason;
pub mod report;
pub mod run;
pub mod shard;
pub mod text;
