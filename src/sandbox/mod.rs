//! The sandbox: synthetic data in the SPEC §3 contract (`sandbox generate`)
//! for the demo, the tests and the benchmark, and a simulated WooCommerce +
//! GA4 + Impact.com + budgeted ad platform over HTTP (`sandbox serve`),
//! and the closed loop that scores decision policies on it (`sandbox simulate`).

pub mod generate;
pub mod serve;
pub mod simulate;
pub mod world;
