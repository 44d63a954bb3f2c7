//! The pipeline's stages, in order. Each is a plain function whose output
//! type is the next one's input, so the compiler keeps the order:
//! `RawBatch → ValidBatch → Frames → Analysis → Plan → Outcome`.

pub mod act;
pub mod analyze;
pub mod decide;
pub mod transform;
pub mod validate;

use std::time::Instant;

use serde::Serialize;

/// What a stage did, for the run report.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    pub name: &'static str,
    pub ms: u64,
    pub rows_in: u64,
    pub rows_out: u64,
}

impl StageReport {
    pub fn new(name: &'static str, started: Instant, rows_in: u64, rows_out: u64) -> Self {
        let ms = started.elapsed().as_millis() as u64;
        tracing::info!(stage = name, ms, rows_in, rows_out, "stage done");
        StageReport { name, ms, rows_in, rows_out }
    }
}
