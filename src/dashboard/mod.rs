//! What `heal serve` shows a team besides the ingest: the pages (`/`, `/incidents`,
//! `/incidents/{id}`), the records as JSON (`/api/...`) and Prometheus metrics (`/metrics`). Everything is read from the store's indexed columns and
//! daily counts ([`crate::record::query`]), from records already redacted, so no secret a
//! program printed is ever served.
//!
//! Reads need no token: `heal serve` listens on loopback unless told otherwise, and the
//! records hold nothing the team's Slack did not get. The actions (retry, revert) need
//! `serve.token` ([`actions`]).

mod actions;
pub mod api;
mod metrics;
mod pages;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::record::Store;
use crate::serve::routes::App;

/// What the dashboard's routes share.
pub struct Dashboard {
    /// The store the actions write to.
    pub store: Arc<Store>,
    /// The store the pages read: `store` itself, or on a fleet's store the copy of the
    /// fleet's incidents `heal serve` keeps ([`crate::fleet::mirror`]).
    pub view: Arc<Store>,
    /// For the actions: `serve.token`, and what a revert needs (the project, git).
    pub config: Arc<crate::config::Config>,
    /// The healer's queue, for a retry; `None` when this heal serve does not heal.
    pub queue: Option<crate::serve::heal::Queue>,
    /// `MAX_CLAUDE_CALLS_PER_HOUR`, shown against the calls made.
    pub max_calls_per_hour: u64,
    /// The ingest's state, for its counts.
    pub ingest: Arc<App>,
}

/// The dashboard's routes.
pub fn router(dashboard: Arc<Dashboard>) -> Router {
    Router::new()
        .route("/", get(pages::overview))
        .route("/incidents", get(pages::incidents))
        .route("/incidents/{id}", get(pages::incident))
        .route("/incidents/{id}/retry", post(actions::retry))
        .route("/incidents/{id}/revert", post(actions::revert))
        .route("/api/incidents", get(api::incidents))
        .route("/api/incidents/{id}", get(api::incident))
        .route("/api/stats", get(api::stats))
        .route("/metrics", get(metrics::metrics))
        .with_state(dashboard)
}
