//! The HTTP routes the Sentry SDKs post to: `POST /api/{project_id}/envelope/` and the legacy
//! `POST /api/{project_id}/store/` (the body one event's JSON).
//!
//! A request goes through the checks in the order that costs least first: the key (401/403),
//! the project id (404), the body's size on the wire (413), its decoding (`ingest`: 400, 413,
//! 415), then each event: read, converted, deduplicated by its id, counted against the hourly
//! budgets (429), recorded (503 when the store fails). Every refusal's body says what happened
//! and what to do, as plain text; the SDK logs it.
//!
//! Decisions:
//! - The key is checked before the project id, so a 404 (which names the DSN's form) tells
//!   nothing to a sender without the key.
//! - An event with no exception (`capture_message`) is answered 200 and not recorded: heal
//!   heals errors. Unknown item types (`session`, `profile`, `client_report`...) are skipped.
//! - An envelope is answered by its first refusal: the events before it in the same envelope
//!   stay recorded (the SDKs send one event per envelope, so this is rare).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use sha2::{Digest as _, Sha256};

use super::limits::{Budgets, Limited, Scope, SeenIds};
use super::record::Sink;
use crate::detect::locate::locate_traceback;
use crate::ingest::{self, ENVELOPE_CAP, EVENT_CAP, IngestError};
use crate::record::build::Finding;

/// The project id of the DSN `heal serve` prints: it serves one project, the one in the
/// current folder.
pub const PROJECT_ID: u64 = 1;

/// What the routes share.
pub struct App {
    pub key: String,
    /// The DSN printed at start, named by the 404 of another project id.
    pub dsn: String,
    /// The project root as given and canonical, for locating an event's frames.
    pub roots: Vec<String>,
    pub sink: Sink,
    pub events_per_hour: u64,
    pub events_per_fingerprint_hour: u64,
    pub memory: Mutex<Memory>,
    /// How requests were answered, for `/metrics`.
    pub counts: IngestCounts,
}

/// Requests answered, by how: each an event or an envelope (bounded labels for `/metrics`).
#[derive(Debug, Default)]
pub struct IngestCounts {
    pub accepted: AtomicU64,
    /// A bad key, project, body or event.
    pub refused: AtomicU64,
    /// Over an hourly budget (429).
    pub limited: AtomicU64,
    /// The store could not record it (503).
    pub failed: AtomicU64,
}

impl IngestCounts {
    fn note(&self, answer: &Answer) {
        let counter = match answer {
            Answer::Accepted(_) => &self.accepted,
            Answer::Refused(_) | Answer::WrongProject(_) | Answer::BodyRejected(..) => {
                &self.refused
            }
            Answer::Limited(..) => &self.limited,
            Answer::StoreFailed(_) => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The budgets and the ids seen: one lock, held for a few map operations, never across an
/// await.
pub struct Memory {
    pub budgets: Budgets,
    pub seen: SeenIds,
}

impl App {
    fn memory(&self) -> MutexGuard<'_, Memory> {
        // A panic while it was held leaves counts at worst one off: go on with them.
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The router, its bodies capped at [`ENVELOPE_CAP`] as sent (compressed).
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/api/{project_id}/envelope/", post(envelope))
        .route("/api/{project_id}/envelope", post(envelope))
        .route("/api/{project_id}/store/", post(store))
        .route("/api/{project_id}/store", post(store))
        .layer(DefaultBodyLimit::max(ENVELOPE_CAP))
        .with_state(app)
}

/// The request's parts every route reads.
struct Request {
    project_id: String,
    headers: HeaderMap,
    query: Option<String>,
    body: Result<Bytes, BytesRejection>,
}

async fn envelope(
    State(app): State<Arc<App>>,
    Path(project_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request = Request {
        project_id,
        headers,
        query,
        body,
    };
    let answered = handle(&app, request, Form::Envelope).await;
    app.counts.note(&answered);
    answer(answered)
}

async fn store(
    State(app): State<Arc<App>>,
    Path(project_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request = Request {
        project_id,
        headers,
        query,
        body,
    };
    let answered = handle(&app, request, Form::Store).await;
    app.counts.note(&answered);
    answer(answered)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// An envelope of items.
    Envelope,
    /// One event's JSON.
    Store,
}

/// How a request is answered.
enum Answer {
    /// 200 `{"id": ...}`, or `{}` for an envelope with no event.
    Accepted(Option<String>),
    Refused(IngestError),
    WrongProject(String),
    BodyRejected(StatusCode, String),
    Limited(Limited, u64),
    StoreFailed(String),
}

fn answer(answer: Answer) -> Response {
    let text = |status: StatusCode, body: String| (status, body).into_response();
    match answer {
        Answer::Accepted(Some(id)) => axum::Json(serde_json::json!({ "id": id })).into_response(),
        Answer::Accepted(None) => axum::Json(serde_json::json!({})).into_response(),
        Answer::Refused(e) => {
            tracing::debug!("an SDK's request was refused: {}", e.detail());
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            text(status, e.detail())
        }
        Answer::WrongProject(dsn_form) => text(
            StatusCode::NOT_FOUND,
            format!(
                "heal serve answers project {PROJECT_ID} only: give the SDK the DSN heal serve printed, {dsn_form}"
            ),
        ),
        Answer::BodyRejected(status, why) => text(status, why),
        Answer::Limited(limited, budget) => {
            let secs = limited.retry_after_secs();
            let (what, key) = match limited.scope {
                Scope::Fingerprint => ("of this error", "serve.events_per_fingerprint_hour"),
                Scope::Project => ("of this project", "serve.events_per_hour"),
            };
            let mut response = text(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "heal already recorded {budget} events {what} this hour ({key}): send again after {secs} s"
                ),
            );
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            // `<seconds>:<categories>:<scope>`, which the SDKs honour: errors only, since
            // heal reads nothing else.
            if let Ok(value) = HeaderValue::from_str(&format!("{secs}:error:organization")) {
                headers.insert("x-sentry-rate-limits", value);
            }
            response
        }
        Answer::StoreFailed(why) => {
            tracing::warn!("an SDK's event was answered 503: {why}");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "heal could not record the event: {why}; the SDK may send it again, and heal's log says more"
                ),
            )
        }
    }
}

async fn handle(app: &App, request: Request, form: Form) -> Answer {
    let header = |name: header::HeaderName| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let auth = header(header::HeaderName::from_static("x-sentry-auth"))
        .or_else(|| header(header::AUTHORIZATION));
    let given = ingest::sentry_key(auth.as_deref(), request.query.as_deref());
    if let Err(e) = ingest::check(given.as_deref(), &app.key) {
        return Answer::Refused(e);
    }
    if request.project_id != PROJECT_ID.to_string() {
        return Answer::WrongProject(app.dsn.clone());
    }
    let body = match request.body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Answer::Refused(IngestError::TooLarge {
                what: "body as sent",
                cap: ENVELOPE_CAP,
            });
        }
        Err(rejection) => return Answer::BodyRejected(rejection.status(), rejection.body_text()),
    };
    let encoding = header(header::CONTENT_ENCODING);
    let cap = match form {
        Form::Envelope => ENVELOPE_CAP,
        Form::Store => EVENT_CAP,
    };
    let decoded = match ingest::decode(encoding.as_deref(), &body, cap) {
        Ok(decoded) => decoded,
        Err(e) => return Answer::Refused(e),
    };
    drop(body);
    match form {
        Form::Store => event(app, &decoded, None).await,
        Form::Envelope => {
            let envelope = match ingest::parse_envelope(&decoded) {
                Ok(envelope) => envelope,
                Err(e) => return Answer::Refused(e),
            };
            for item in &envelope.items {
                if item.kind != ingest::ItemType::Event {
                    tracing::debug!("an SDK's {:?} item was skipped", item.kind);
                }
            }
            let header_id = envelope.header.event_id.as_deref();
            let mut first = None;
            for item in envelope.events() {
                match event(app, item.payload, header_id).await {
                    Answer::Accepted(id) => first = first.or(id),
                    refused => return refused,
                }
            }
            Answer::Accepted(first.or_else(|| header_id.map(str::to_string)))
        }
    }
}

/// One event: read, converted, deduplicated, counted, recorded.
async fn event(app: &App, payload: &[u8], header_id: Option<&str>) -> Answer {
    let event = match ingest::parse_event(payload) {
        Ok(event) => event,
        Err(e) => return Answer::Refused(e),
    };
    let id = event
        .event_id
        .clone()
        .or_else(|| header_id.map(str::to_string))
        .unwrap_or_else(new_event_id);
    let Some(converted) = ingest::to_traceback(&event) else {
        tracing::debug!("event {id} holds no exception (a captured message): not recorded");
        return Answer::Accepted(Some(id));
    };
    let (root, extra) = app
        .roots
        .split_first()
        .map_or(("", &[][..]), |(r, e)| (r.as_str(), e));
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let location = locate_traceback(&converted.traceback, root, &extra);
    let finding = Finding::from_sdk(&converted, location);
    let fingerprint = finding.fingerprint.clone();
    {
        let mut memory = app.memory();
        if !memory.seen.insert(&id) {
            tracing::debug!("event {id} was sent again: counted once");
            return Answer::Accepted(Some(id));
        }
        if let Err(limited) = memory.budgets.take(&fingerprint, Instant::now()) {
            // Refused, so not seen: the SDK may send it again once the wait is over.
            memory.seen.remove(&id);
            let budget = match limited.scope {
                Scope::Fingerprint => app.events_per_fingerprint_hour,
                Scope::Project => app.events_per_hour,
            };
            return Answer::Limited(limited, budget);
        }
    }
    match app.sink.accept(finding).await {
        Ok(()) => Answer::Accepted(Some(id)),
        Err(e) => {
            let mut memory = app.memory();
            memory.budgets.give_back(&fingerprint);
            memory.seen.remove(&id);
            Answer::StoreFailed(e.to_string())
        }
    }
}

/// An id for an event that came without one: 32 hex digits, as the SDKs write them, from the
/// time and a counter (unique within this process, which is all an answer needs).
fn new_event_id() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let digest = Sha256::digest(format!("{nanos}:{n}:{}", std::process::id()));
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}
