//! `campaign-pilot serve` (SPEC §12): one HTTP server with the tool
//! registry over MCP streamable HTTP at `/mcp` (rmcp's transport) and
//! `GET /healthz`. Bound to loopback by default; anywhere else a bearer
//! token from `CAMPAIGN_PILOT_SERVE_TOKEN` is required (and, when set, it is
//! required on loopback too). `Host` and `Origin` are checked (DNS
//! rebinding), bodies are bounded, SIGTERM/SIGINT stop it cleanly.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

use crate::config::LoadedConfig;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::mcp::McpServer;
use crate::stop::{self, Stop};
use crate::tools::Hub;

/// The environment variable holding the bearer token.
pub const TOKEN_ENV: &str = "CAMPAIGN_PILOT_SERVE_TOKEN";

/// Every request but `/healthz` carries `Authorization: Bearer <token>`
/// when a token is configured.
async fn authorize(State(token): State<Option<Arc<SecretString>>>, req: Request, next: Next) -> Response {
    let Some(token) = token else { return next.run(req).await };
    if req.uri().path() == "/healthz" {
        return next.run(req).await;
    }
    let given = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let ok = given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.expose_secret().as_bytes()));
    if ok {
        next.run(req).await
    } else {
        (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], "a bearer token is required\n").into_response()
    }
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub async fn serve(cfg: &LoadedConfig, bind: Option<&str>) -> Result<()> {
    let s = &cfg.settings.serve;
    let bind = bind.unwrap_or(&s.bind);
    let addr: SocketAddr = bind.parse().map_err(|e| Error::Usage(format!("serve.bind / --bind: {bind:?} is not ADDR:PORT ({e})")))?;
    let token = std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()).map(|t| Arc::new(SecretString::from(t)));
    if token.is_none() && !addr.ip().is_loopback() {
        return Err(Error::Usage(format!("serve: binding {addr} (not loopback) needs a bearer token in {TOKEN_ENV}")));
    }
    let db = Db::connect(&cfg.database_url()).await?;
    let hub = Arc::new(Hub::new(db, Arc::new(cfg.clone()), Arc::new(crate::clock::SystemClock)));
    let ct = CancellationToken::new();
    let mut hosts = s.allowed_hosts.clone();
    hosts.push(addr.to_string());
    let config = StreamableHttpServerConfig::default()
        .with_cancellation_token(ct.child_token())
        .with_allowed_hosts(hosts)
        .with_allowed_origins(s.allowed_origins.clone())
        .with_max_request_body_bytes(s.max_body_bytes as usize);
    let mcp = StreamableHttpService::new(move || Ok(McpServer::new(hub.clone(), "mcp-http")), Arc::new(LocalSessionManager::default()), config);
    let app = axum::Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok\n" }))
        .nest_service("/mcp", mcp)
        .layer(axum::middleware::from_fn_with_state(token.clone(), authorize));
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| Error::Usage(format!("serve: cannot listen on {addr}: {e}")))?;
    let local = listener.local_addr().map_err(|e| Error::Usage(format!("serve: {e}")))?;
    tracing::info!(addr = %local, token = token.is_some(), "serving MCP at /mcp and /healthz");
    // The address on stderr for whoever started it on port 0.
    eprintln!("campaign-pilot: serving http://{local}/mcp");
    let signal = stop::listen(Stop::default());
    let shutdown = ct.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = signal.await;
            shutdown.cancel();
        })
        .await
        .map_err(|e| Error::Usage(format!("serve: {e}")))?;
    Ok(())
}
