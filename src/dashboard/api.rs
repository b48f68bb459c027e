//! `/api/incidents` (the list, filtered like the page: `status`, `type`, `file`, `q`, `tag`, `since`,
//! `until`, `page`, `per_page`), `/api/incidents/{id}` (one record as exported) and
//! `/api/stats` (the overview's figures). Errors are plain text that says what to change.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::Dashboard;
use crate::record::RecordError;
use crate::record::query::{Filter, Page};
use std::collections::BTreeMap;

/// Days of the sparkline each row of the list carries.
pub const SPARK_DAYS: u32 = 14;

/// The list's query string.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub status: Option<String>,
    #[serde(rename = "type")]
    pub exc_type: Option<String>,
    pub file: Option<String>,
    pub q: Option<String>,
    pub tag: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub page: Option<usize>,
    pub per_page: Option<usize>,
}

impl ListQuery {
    pub fn filter(&self) -> Filter {
        Filter {
            status: self.status.clone(),
            exc_type: self.exc_type.clone(),
            file: self.file.clone(),
            search: self.q.clone(),
            tag: self.tag.clone(),
            since: self.since.clone(),
            until: self.until.clone(),
            page: self.page.unwrap_or(1),
            per_page: self.per_page.unwrap_or(50),
        }
    }
}

pub async fn incidents(State(d): State<Arc<Dashboard>>, Query(q): Query<ListQuery>) -> Response {
    match page_and_daily(&d, q.filter()).await {
        Ok(Ok((page, daily))) => {
            let rows: Vec<serde_json::Value> = page
                .rows
                .iter()
                .map(|r| {
                    let mut v = serde_json::to_value(r).unwrap_or_default();
                    v["daily"] = serde_json::json!(daily.get(&r.id).cloned().unwrap_or_default());
                    v
                })
                .collect();
            Json(serde_json::json!({
                "incidents": rows,
                "total": page.total,
                "page": page.page,
                "per_page": page.per_page,
            }))
            .into_response()
        }
        Ok(Err(e)) => unavailable(&e),
        Err(e) => unavailable(&e),
    }
}

/// A page of the list and its rows' sparklines, read off the async threads. The outer error
/// is the blocking task's (a panic), the inner the store's.
pub async fn page_and_daily(
    d: &Dashboard,
    filter: Filter,
) -> Result<Result<(Page, BTreeMap<String, Vec<u64>>), RecordError>, tokio::task::JoinError> {
    let store = d.view.clone();
    tokio::task::spawn_blocking(move || {
        let page = store.incidents(&filter)?;
        let ids: Vec<String> = page.rows.iter().map(|r| r.id.clone()).collect();
        let daily = store.daily(&ids, SPARK_DAYS, time::OffsetDateTime::now_utc())?;
        Ok((page, daily))
    })
    .await
}

pub async fn incident(State(d): State<Arc<Dashboard>>, Path(id): Path<String>) -> Response {
    let store = d.view.clone();
    match tokio::task::spawn_blocking(move || store.get(&id)).await {
        Ok(Ok(record)) => Json(record).into_response(),
        Ok(Err(RecordError::NotFound(id))) => (
            StatusCode::NOT_FOUND,
            format!("no incident {id}: /api/incidents lists them"),
        )
            .into_response(),
        Ok(Err(e)) => unavailable(&e),
        Err(e) => unavailable(&e),
    }
}

pub async fn stats(State(d): State<Arc<Dashboard>>) -> Response {
    let store = d.view.clone();
    let limit = d.max_calls_per_hour;
    match tokio::task::spawn_blocking(move || store.stats(time::OffsetDateTime::now_utc())).await {
        Ok(Ok(stats)) => {
            let mut v = serde_json::to_value(stats).unwrap_or_default();
            v["model_calls_limit_hour"] = serde_json::json!(limit);
            Json(v).into_response()
        }
        Ok(Err(e)) => unavailable(&e),
        Err(e) => unavailable(&e),
    }
}

fn unavailable(e: &dyn std::fmt::Display) -> Response {
    tracing::warn!("the dashboard could not read the store: {e}");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("heal could not read its store: {e}; heal's log says more"),
    )
        .into_response()
}
