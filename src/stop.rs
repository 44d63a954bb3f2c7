//! A graceful stop, shared by `run`, `schedule` and `backfill`: the first
//! SIGTERM or SIGINT asks the work in flight to stop at its next safe point
//! (between two actions, before acting, between two backfill days); nothing
//! is left half-done and the run records where it stopped. A second signal
//! exits at once (130), for a person at a terminal who means it.
//!
//! The request travels as a [`Stop`] handle in each step's context: the
//! signal listener holds one clone, the work in flight another.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Whether a stop was asked for; clones share the answer.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// Asks the work in flight to stop at its next safe point.
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Listens for SIGTERM and SIGINT on the current runtime: the first asks
/// `stop` for a stop and resolves the returned receiver with the signal's
/// name; the second exits the process.
pub fn listen(stop: Stop) -> tokio::sync::oneshot::Receiver<&'static str> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    // Installed here, not in the task: a SIGTERM that arrives before the
    // task first runs (a loaded machine) must still be a graceful stop.
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    tokio::spawn(async move {
        let Ok(mut term) = term else {
            tracing::warn!("cannot listen for SIGTERM; a signal will stop the process at once");
            return;
        };
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "SIGINT",
        };
        tracing::warn!(signal = name, "stopping at the next safe point (a second signal exits at once)");
        stop.request();
        let _ = tx.send(name);
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
        tracing::error!("second signal: exiting now");
        std::process::exit(130);
    });
    rx
}
