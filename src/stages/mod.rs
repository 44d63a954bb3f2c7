//! The pipeline's stages, in order. Each is a plain function whose output
//! type is the next one's input, so the compiler keeps the order:
//! `RawBatch → ValidBatch → Frames → Analysis → Plan → Outcome`. Each also
//! returns a [`StageReport`](crate::model::run::StageReport) for the run report.

pub mod act;
pub mod analyze;
pub mod decide;
pub mod learn;
pub mod transform;
pub mod validate;

/// A left join that keeps the left frame's row order.
pub fn left_ordered() -> polars::prelude::JoinArgs {
    let mut args = polars::prelude::JoinArgs::new(polars::prelude::JoinType::Left);
    args.maintain_order = polars::prelude::MaintainOrderJoin::Left;
    args
}
