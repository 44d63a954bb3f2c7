//! Settings: `pipeline.toml` layered under `CAMPAIGN_PILOT__SECTION__KEY`
//! environment variables, resolved once into typed structs.
//!
//! Responsible for: reading, type-checking and validating every key, and
//! reporting *all* problems at once (each naming its key). Not responsible for:
//! secrets (those are read from the environment by the connectors that need
//! them) or for deciding anything with the values.
//!
//! Every number the rules use is a key here; the defaults are the SPEC's and are
//! repeated, documented, in the shipped `pipeline.toml`.

pub mod load;
pub mod loaded;
pub mod sections;
pub mod shape;
pub mod validate;

pub use load::{load, ConfigError, CONFIG_ENV, ENV_PREFIX};
pub use loaded::LoadedConfig;
pub use sections::*;
