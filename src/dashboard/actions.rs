//! The dashboard's two actions, `POST /incidents/{id}/retry` and `POST /incidents/{id}/revert`.
//!
//! Guarded three ways, in this order:
//! - no `serve.token` configured: refused (403), the pages are read-only;
//! - a request another site made (an `Origin` that is not this server, or `Sec-Fetch-Site:
//!   cross-site`): refused (403), whatever it carries;
//! - the form's `token` field must be `serve.token` (compared in constant time).
//!
//! The token is typed into the form and never kept in a cookie, so a browser holds no ambient
//! credential another site could ride on: that, with the origin check, is the CSRF guard.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::Dashboard;
use crate::record::model::Status;

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    pub token: String,
}

pub async fn retry(
    State(d): State<Arc<Dashboard>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Response {
    if let Err((status, why)) = guard(&d, &headers, &form) {
        return refuse(status, why);
    }
    let Some(queue) = d.queue.clone() else {
        return refuse(
            StatusCode::CONFLICT,
            "this heal serve does not heal (ENABLE_AUTO_HEALING=false): retry with `heal retry` on the host",
        );
    };
    let store = d.store.clone();
    let reset_id = id.clone();
    let reset = tokio::task::spawn_blocking(move || {
        let record = store.get(&reset_id)?;
        if record.status.is_fixed() || record.status == Status::Healing {
            return Ok(Some(record.status));
        }
        store.update(&reset_id, |r| {
            r.status = Status::Detected;
            r.heal_failures = 0;
            r.reason = Some("healing retried on request (the dashboard)".to_string());
        })?;
        Ok::<_, crate::record::RecordError>(None)
    })
    .await;
    match reset {
        Ok(Ok(None)) => {
            tracing::info!("incident {id}: healing retried from the dashboard");
            queue.heal(&id);
            Redirect::to(&format!("/incidents/{id}")).into_response()
        }
        Ok(Ok(Some(status))) => refuse(
            StatusCode::CONFLICT,
            &format!("incident {id} is {}: nothing to retry", status.as_str()),
        ),
        Ok(Err(crate::record::RecordError::NotFound(id))) => {
            refuse(StatusCode::NOT_FOUND, &format!("no incident {id}"))
        }
        Ok(Err(e)) => refuse(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
        Err(e) => refuse(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

pub async fn revert(
    State(d): State<Arc<Dashboard>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Response {
    if let Err((status, why)) = guard(&d, &headers, &form) {
        return refuse(status, why);
    }
    match crate::pipeline::revert(d.config.clone(), d.store.clone(), &id).await {
        Ok(_) => {
            tracing::info!("incident {id}: reverted from the dashboard");
            Redirect::to(&format!("/incidents/{id}")).into_response()
        }
        Err(e) => refuse(StatusCode::CONFLICT, &format!("{e}")),
    }
}

/// The three checks of the module's header; the refusal to send when one fails.
fn guard(
    d: &Dashboard,
    headers: &HeaderMap,
    form: &ActionForm,
) -> Result<(), (StatusCode, &'static str)> {
    let Some(token) = d.config.serve.token.as_deref() else {
        return Err((
            StatusCode::FORBIDDEN,
            "the dashboard is read-only: set serve.token (HEAL_SERVE_TOKEN) to allow retry and revert",
        ));
    };
    if cross_site(headers) {
        return Err((
            StatusCode::FORBIDDEN,
            "refused: the request came from another site; use the dashboard's own page",
        ));
    }
    if !same_secret(&form.token, token) {
        return Err((
            StatusCode::FORBIDDEN,
            "wrong dashboard token: give serve.token (HEAL_SERVE_TOKEN)",
        ));
    }
    Ok(())
}

/// Whether the browser says another site sent this request.
fn cross_site(headers: &HeaderMap) -> bool {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if value("sec-fetch-site").is_some_and(|s| s == "cross-site" || s == "same-site") {
        return true;
    }
    match (value("origin"), value(header::HOST.as_str())) {
        // `null` is what a sandboxed or file page sends: not this server.
        (Some(origin), Some(host)) => {
            let origin = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            origin != Some(host)
        }
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Equal, compared in time that does not depend on where they differ.
fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (Sha256::digest(given), Sha256::digest(expected));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (status, why.to_string()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn another_origin_or_a_cross_site_fetch_is_refused_and_the_same_origin_is_not() {
        assert!(!cross_site(&headers(&[("host", "127.0.0.1:8080")])));
        assert!(!cross_site(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
            ("sec-fetch-site", "same-origin")
        ])));
        assert!(cross_site(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example")
        ])));
        assert!(cross_site(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "null")
        ])));
        assert!(cross_site(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("sec-fetch-site", "cross-site")
        ])));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_secret("s3cret", "s3cret"));
        assert!(!same_secret("s3cre", "s3cret"));
        assert!(!same_secret("", "s3cret"));
    }
}
