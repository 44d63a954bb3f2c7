//! The sandbox: synthetic data in the SPEC §3 contract (`sandbox generate`),
//! used for the embedded demo, the tests and the benchmark.

pub mod generate;
