//! Client setup for the API connectors: each peer built from its settings
//! and credentials (secrets from the environment only), and the names the
//! history is kept under.

use secrecy::SecretString;

use super::ga4::{self, Ga4};
use super::impact::{Impact, SID_ENV, TOKEN_ENV};
use super::sandbox_ads::SandboxAds;
use super::sandbox_auth;
use super::woocommerce::{KEY_ENV, SECRET_ENV};
use super::ConnectorError;
use crate::config::Settings;
use crate::http::{secret_env, Auth, Peer, PeerOptions};
use crate::model::kinds::{AdsKind, StoreKind, ViewsKind};

fn credential(name: &str, fallback: Option<&str>) -> Result<SecretString, ConnectorError> {
    match (secret_env(name), fallback) {
        (Ok(s), _) => Ok(s),
        (Err(_), Some(f)) => Ok(SecretString::from(f.to_string())),
        (Err(e), None) => Err(ConnectorError::Setup(e)),
    }
}

fn plain_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The store's peer (WooCommerce or the sandbox's WooCommerce-shaped routes).
pub fn store_peer(s: &Settings) -> Result<Peer, ConnectorError> {
    let sandbox = s.store.kind == StoreKind::Sandbox;
    let key = credential(KEY_ENV, sandbox.then_some(sandbox_auth::WOO_KEY))?;
    let secret = credential(SECRET_ENV, sandbox.then_some(sandbox_auth::WOO_SECRET))?;
    let user = secrecy::ExposeSecret::expose_secret(&key).to_string();
    let auth = if s.store.auth_in_query {
        Auth::Query { user_param: "consumer_key", user, password_param: "consumer_secret", password: secret }
    } else {
        Auth::Basic { user, password: secret }
    };
    Peer::new(
        PeerOptions {
            name: "woocommerce",
            base_url: s.store.base_url.clone(),
            auth,
            credential_hint: "WOOCOMMERCE_KEY and WOOCOMMERCE_SECRET",
            rate_limit_per_hour: s.store.rate_limit_per_hour,
            concurrency: s.store.concurrency,
            extra_headers: Vec::new(),
        },
        &s.http,
    )
    .map_err(ConnectorError::Http)
}

/// The views source: GA4 (or, for the sandbox store, its GA4-shaped route).
pub fn views_client(s: &Settings) -> Result<Option<Ga4>, ConnectorError> {
    let (base, property, token) = match (s.views.kind, s.store.kind) {
        (ViewsKind::Ga4, _) => (s.views.base_url.clone(), s.views.property_id.clone(), credential(ga4::TOKEN_ENV, None)?),
        (ViewsKind::None, StoreKind::Sandbox) => {
            (s.store.base_url.clone(), sandbox_auth::GA4_PROPERTY.to_string(), SecretString::from(sandbox_auth::GA4_TOKEN.to_string()))
        }
        (ViewsKind::None | ViewsKind::Files, _) => return Ok(None),
    };
    let peer = Peer::new(
        PeerOptions {
            name: "ga4",
            base_url: base,
            auth: Auth::Bearer(token),
            credential_hint: "GA4_ACCESS_TOKEN",
            rate_limit_per_hour: 0,
            concurrency: 2,
            extra_headers: Vec::new(),
        },
        &s.http,
    )?;
    Ok(Some(Ga4::new(peer, &property)))
}

pub fn impact_client(s: &Settings) -> Result<Impact, ConnectorError> {
    let sid = if s.ads.account_sid.trim().is_empty() { plain_env(SID_ENV) } else { Some(s.ads.account_sid.clone()) };
    let Some(sid) = sid else {
        return Err(ConnectorError::Setup(format!(
            "ads.account_sid is empty and the environment variable {SID_ENV} is not set"
        )));
    };
    let token = credential(TOKEN_ENV, None)?;
    let peer = Peer::new(
        PeerOptions {
            name: "impact",
            base_url: s.ads.base_url.clone(),
            auth: Auth::Basic { user: sid.clone(), password: token },
            credential_hint: "IMPACT_ACCOUNT_SID and IMPACT_AUTH_TOKEN",
            rate_limit_per_hour: s.ads.rate_limit_per_hour,
            concurrency: s.ads.concurrency,
            extra_headers: vec![("IR-Version", "14".to_string())],
        },
        &s.http,
    )?;
    Ok(Impact::new(peer, &sid, &s.ads.program_id, s.ads.page_size))
}

pub fn sandbox_ads(s: &Settings) -> Result<SandboxAds, ConnectorError> {
    let peer = Peer::new(
        PeerOptions {
            name: "sandbox",
            base_url: s.ads.base_url.clone(),
            auth: Auth::None,
            credential_hint: "(the sandbox needs none)",
            // The sandbox's own platform has no rate limit (its Impact-shaped routes do).
            rate_limit_per_hour: 0,
            concurrency: s.ads.concurrency,
            extra_headers: Vec::new(),
        },
        &s.http,
    )?;
    Ok(SandboxAds::new(peer))
}

/// The name history is kept under for a peer.
pub fn store_source(s: &Settings) -> String {
    format!("{}:{}", s.store.kind, s.store.base_url.trim_end_matches('/'))
}

pub fn ads_source(s: &Settings) -> String {
    match s.ads.kind {
        AdsKind::Impact => {
            let sid = if s.ads.account_sid.is_empty() { plain_env(SID_ENV).unwrap_or_default() } else { s.ads.account_sid.clone() };
            format!("impact:{sid}:{}", s.ads.program_id)
        }
        k @ (AdsKind::Files | AdsKind::Sandbox) => format!("{k}:{}", s.ads.base_url.trim_end_matches('/')),
    }
}
