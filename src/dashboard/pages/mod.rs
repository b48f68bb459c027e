//! The dashboard's HTML pages, rendered on the server from the store (maud escapes every
//! value). They work without JavaScript; the only script shows times in the viewer's zone.

mod charts;
mod incident;
mod layout;
mod list;
mod overview;

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::html;

use super::Dashboard;
use super::api::ListQuery;
use crate::record::RecordError;

pub async fn overview(State(d): State<Arc<Dashboard>>) -> Response {
    let (view, store) = (d.view.clone(), d.store.clone());
    let limit = d.max_calls_per_hour;
    let read = tokio::task::spawn_blocking(move || {
        let stats = view.stats(time::OffsetDateTime::now_utc())?;
        // A fleet's hosts, read from its store; a store that is down shows the rest.
        let hosts = store.shared().map(|pg| pg.hosts().unwrap_or_default());
        Ok::<_, RecordError>((stats, hosts))
    })
    .await;
    match read {
        Ok(Ok((stats, hosts))) => html_page(overview::render(&stats, limit, hosts.as_deref())),
        Ok(Err(e)) => unavailable(&e),
        Err(e) => unavailable(&e),
    }
}

pub async fn incidents(State(d): State<Arc<Dashboard>>, Query(q): Query<ListQuery>) -> Response {
    match super::api::page_and_daily(&d, q.filter()).await {
        Ok(Ok((page, daily))) => html_page(list::render(&q, &page, &daily)),
        Ok(Err(e)) => unavailable(&e),
        Err(e) => unavailable(&e),
    }
}

pub async fn incident(State(d): State<Arc<Dashboard>>, Path(id): Path<String>) -> Response {
    let store = d.view.clone();
    let actions = d.config.serve.token.is_some();
    let read = tokio::task::spawn_blocking(move || {
        let record = store.get(&id)?;
        let fixed_at = store.fixed_at(&id)?;
        Ok::<_, RecordError>((record, fixed_at))
    })
    .await;
    match read {
        Ok(Ok((record, fixed_at))) => {
            html_page(incident::render(&record, fixed_at.as_deref(), actions))
        }
        Ok(Err(RecordError::NotFound(id))) => (
            StatusCode::NOT_FOUND,
            Html(
                layout::page(
                    "Not found",
                    html! { h1 { "No incident " (id) } p { a href="/incidents" { "The list" } " shows them." } },
                )
                .into_string(),
            ),
        )
            .into_response(),
        Ok(Err(e)) => unavailable(&e),
        Err(e) => unavailable(&e),
    }
}

fn html_page(markup: maud::Markup) -> Response {
    (
        // Nothing of another origin is ever loaded: the pages are heal's alone.
        [(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        )],
        Html(markup.into_string()),
    )
        .into_response()
}

fn unavailable(e: &dyn std::fmt::Display) -> Response {
    tracing::warn!("the dashboard could not read the store: {e}");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("heal could not read its store: {e}; heal's log says more"),
    )
        .into_response()
}
