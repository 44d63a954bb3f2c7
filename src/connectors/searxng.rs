//! The chat's web search (SPEC §12): a SearxNG instance's JSON API,
//! `GET /search?q=…&format=json` → `{query, results: [{url, title, content,
//! engine, score}], …}`, through the project's HTTP layer (retries, limits,
//! breaker). Results are untrusted text: the chat hands them to the model
//! between the markers only.

use serde::{Deserialize, Serialize};

use crate::config::Settings;
use crate::http::{Auth, HttpError, Peer, PeerOptions};

/// One result, as the chat passes it on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub url: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub content: String,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    results: Vec<SearchHit>,
}

pub struct Searxng {
    peer: Peer,
    max_results: usize,
}

impl Searxng {
    /// None unless `search.kind = "searxng"`.
    pub fn from_settings(s: &Settings) -> Result<Option<Searxng>, HttpError> {
        if s.search.kind != crate::model::kinds::SearchKind::Searxng {
            return Ok(None);
        }
        let peer = Peer::new(
            PeerOptions {
                name: "searxng",
                base_url: s.search.base_url.clone(),
                auth: Auth::None,
                credential_hint: "nothing (SearxNG takes no credentials)",
                rate_limit_per_hour: 0,
                concurrency: 4,
                extra_headers: Vec::new(),
            },
            &s.http,
        )?;
        Ok(Some(Searxng { peer, max_results: s.search.max_results as usize }))
    }

    /// The first `search.max_results` results for `q`.
    pub async fn search(&self, q: &str) -> Result<Vec<SearchHit>, HttpError> {
        let answer: Answer = self.peer.get("/search", &[("q", q.to_string()), ("format", "json".to_string())]).await?.body;
        Ok(answer.results.into_iter().filter(|h| !h.url.is_empty()).take(self.max_results).collect())
    }
}
