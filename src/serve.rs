//! `campaign-pilot serve` (SPEC §12): one HTTP server with the tool
//! registry over MCP streamable HTTP at `/mcp` (rmcp's transport), the chat
//! at `POST /chat`, and `GET /healthz`. Bound to loopback by default; anywhere else a bearer
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

use crate::chat::{Chat, ChatError};
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

/// `POST /chat`'s body.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ChatRequest {
    session_id: Option<String>,
    message: String,
}

/// The chat route's own Host / Origin check (rmcp checks /mcp's): a browser
/// page elsewhere must not reach the chat through DNS rebinding.
#[derive(Clone)]
struct Allowed {
    hosts: Arc<Vec<String>>,
    origins: Arc<Vec<String>>,
}

/// `host[:port]` without its port (`[::1]:8787` → `::1`).
fn host_part(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match h.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => h,
    }
}

/// An Origin against `scheme://host[:port|:*]` patterns.
fn origin_allowed(origin: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| match p.strip_suffix(":*") {
        Some(base) => origin == base || origin.strip_prefix(base).and_then(|r| r.strip_prefix(':')).is_some_and(|port| !port.is_empty() && port.chars().all(|c| c.is_ascii_digit())),
        None => origin == p,
    })
}

async fn chat_handler(
    State((chat, allowed)): State<(Arc<Chat>, Allowed)>,
    headers: axum::http::HeaderMap,
    body: std::result::Result<axum::Json<ChatRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).map(host_part);
    if !host.is_some_and(|h| allowed.hosts.iter().any(|a| host_part(a) == h)) {
        return (StatusCode::FORBIDDEN, "Host not allowed\n").into_response();
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        if !origin_allowed(origin, &allowed.origins) {
            return (StatusCode::FORBIDDEN, "Origin not allowed\n").into_response();
        }
    }
    let body = match body {
        Ok(axum::Json(b)) => b,
        Err(e) => return (e.status(), axum::Json(serde_json::json!({ "error": e.body_text() }))).into_response(),
    };
    match chat.turn(body.session_id.as_deref(), &body.message).await {
        Ok(reply) => axum::Json(reply).into_response(),
        Err(ChatError::BadRequest(m)) => (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({ "error": m }))).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "chat turn failed");
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(serde_json::json!({ "error": e.to_string() }))).into_response()
        }
    }
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
    let shared = Arc::new(cfg.clone());
    let hub = Arc::new(Hub::new(db.clone(), shared.clone(), Arc::new(crate::clock::SystemClock)));
    let chat = Arc::new(Chat::open(hub.clone(), db, shared).await.map_err(|e| Error::Usage(format!("serve: {e}")))?);
    let ct = CancellationToken::new();
    let mut hosts = s.allowed_hosts.clone();
    hosts.push(addr.to_string());
    let allowed = Allowed { hosts: Arc::new(hosts.clone()), origins: Arc::new(s.allowed_origins.clone()) };
    let config = StreamableHttpServerConfig::default()
        .with_cancellation_token(ct.child_token())
        .with_allowed_hosts(hosts)
        .with_allowed_origins(s.allowed_origins.clone())
        .with_max_request_body_bytes(s.max_body_bytes as usize);
    let mcp = StreamableHttpService::new(move || Ok(McpServer::new(hub.clone(), "mcp-http")), Arc::new(LocalSessionManager::default()), config);
    let app = axum::Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok\n" }))
        .nest_service("/mcp", mcp)
        .route("/chat", axum::routing::post(chat_handler).with_state((chat, allowed)))
        .layer(axum::extract::DefaultBodyLimit::max(s.max_body_bytes as usize))
        .layer(axum::middleware::from_fn_with_state(token.clone(), authorize));
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| Error::Usage(format!("serve: cannot listen on {addr}: {e}")))?;
    let local = listener.local_addr().map_err(|e| Error::Usage(format!("serve: {e}")))?;
    tracing::info!(addr = %local, token = token.is_some(), "serving MCP at /mcp, the chat at /chat and /healthz");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lose_their_port_and_origins_match_their_patterns() {
        assert_eq!(host_part("127.0.0.1:8787"), "127.0.0.1");
        assert_eq!(host_part("[::1]:8787"), "::1");
        assert_eq!(host_part("localhost"), "localhost");
        let p = vec!["http://localhost:*".to_string(), "https://app.example".to_string()];
        assert!(origin_allowed("http://localhost:3000", &p));
        assert!(origin_allowed("http://localhost", &p));
        assert!(origin_allowed("https://app.example", &p));
        assert!(!origin_allowed("http://localhost.evil.com", &p));
        assert!(!origin_allowed("http://localhost:3000.evil.com", &p));
        assert!(!origin_allowed("https://app.example.evil", &p));
    }
}
