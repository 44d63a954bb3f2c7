//! The credentials `sandbox serve` accepts (documented in the README; not
//! secrets): the clients fall back to them when the store or the ads kind is
//! `sandbox` and the environment sets none, and the server checks them.

pub const WOO_KEY: &str = "ck_sandbox";
pub const WOO_SECRET: &str = "cs_sandbox";
pub const IMPACT_SID: &str = "IRSANDBOX0000000000000000000000001";
pub const IMPACT_TOKEN: &str = "sandbox-token";
pub const IMPACT_PROGRAM: &str = "24811";
pub const GA4_TOKEN: &str = "sandbox-ga4-token";
pub const GA4_PROPERTY: &str = "312345678";
