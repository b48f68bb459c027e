//! A fake GitHub REST API: an axum server on `127.0.0.1:0` that records every request and
//! answers `POST /repos/{owner}/{repo}/pulls` as GitHub does (201 and the new pull request), or
//! from a script of replies.
//!
//! Built on [`super::peer`], like the Slack fake: it runs on its own thread and runtime, tests
//! wait on `wait_requests` / `wait_requests_async`, never on sleeps. It never talks to the real
//! GitHub. A request heal should never send (another method or path, no `Authorization`, a body
//! that is not a pull request) is answered as GitHub would (404, 401, 422) and fails the test when
//! the fake is dropped.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde_json::{Value, json};

pub use super::peer::Request;
use super::peer::{self, Fake, Replies, respond};
/// The same scripted answer as the Slack fake's: `Reply::json(422, json!({...}))`.
pub use super::slack::Reply;

/// How the fake answers.
#[derive(Default)]
pub struct Script {
    /// Answers to give to pulls POSTs before the defaults.
    replies: Replies<Reply>,
    /// The number of the last pull request opened by default.
    number: u64,
}

type Shared = peer::Shared<Script>;

pub struct FakeGitHub(Fake<Script>);

impl std::ops::Deref for FakeGitHub {
    type Target = Fake<Script>;
    fn deref(&self) -> &Fake<Script> {
        &self.0
    }
}

impl FakeGitHub {
    /// Starts the fake on a free port; it is listening when this returns.
    pub fn start() -> FakeGitHub {
        FakeGitHub(Fake::start("github", handle))
    }

    /// The API base URL, as `https://api.github.com` would be given: no trailing slash.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// Answers the next pulls POSTs with `replies`, in order, then the default.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.script_mut().replies.queue.extend(replies);
    }

    /// Answers every pulls POST with `status` and the JSON `body` (after any script), e.g.
    /// `respond_always(401, json!({"message": "Bad credentials"}))`.
    pub fn respond_always(&self, status: u16, body: Value) {
        self.respond_always_with(Reply::json(status, body));
    }

    pub fn respond_always_with(&self, reply: Reply) {
        self.script_mut().replies.always = Some(reply);
    }
}

/// A GitHub error body.
fn error(status: u16, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"message": message, "documentation_url": "https://docs.github.com/rest"}),
    )
}

/// `owner` and `repo` of `/repos/{owner}/{repo}/pulls`.
fn pulls_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/repos/")?.strip_suffix("/pulls")?;
    let (owner, repo) = rest.split_once('/')?;
    let ok = |s: &str| !s.is_empty() && !s.contains('/');
    (ok(owner) && ok(repo)).then_some((owner, repo))
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Request::new(&method, &uri, &headers, &body);
    let reply = answer(&shared, &request);
    shared.recorder.record(request);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    respond(reply.status, &reply.headers, reply.body)
}

fn answer(shared: &Shared, request: &Request) -> Reply {
    let what = format!("{} {}", request.method, request.path);
    let problem = |text: String| shared.recorder.problem(format!("{what}: {text}"));
    let Some((owner, repo)) = pulls_path(&request.path).filter(|_| request.method == "POST") else {
        problem("not POST /repos/{owner}/{repo}/pulls".into());
        return error(404, "Not Found");
    };
    if !request
        .header("authorization")
        .is_some_and(|v| v.starts_with("Bearer ") && v.len() > "Bearer ".len())
    {
        problem("no Authorization: Bearer header".into());
        return error(401, "Requires authentication");
    }
    let body = &request.body;
    let missing: Vec<&str> = ["title", "head", "base"]
        .into_iter()
        .filter(|k| !body[*k].is_string())
        .collect();
    if !missing.is_empty() {
        problem(format!("body lacks {missing:?}: {}", request.raw));
        return Reply::json(
            422,
            json!({"message": "Validation Failed", "errors": missing.iter().map(|k| json!({
                "resource": "PullRequest", "field": k, "code": "missing_field"
            })).collect::<Vec<_>>()}),
        );
    }
    let mut script = shared.script();
    if let Some(reply) = script.replies.next() {
        return reply;
    }
    script.number += 1;
    let n = script.number;
    let host = request.header("host").unwrap_or("api.github.com");
    Reply::json(
        201,
        json!({
            "id": 1_000_000 + n,
            "number": n,
            "url": format!("http://{host}/repos/{owner}/{repo}/pulls/{n}"),
            "html_url": format!("https://github.com/{owner}/{repo}/pull/{n}"),
            "state": "open",
            "title": body["title"],
            "body": body["body"],
            "draft": body["draft"].as_bool().unwrap_or(false),
            "head": {"ref": body["head"], "repo": {"full_name": format!("{owner}/{repo}")}},
            "base": {"ref": body["base"], "repo": {"full_name": format!("{owner}/{repo}")}},
        }),
    )
    .header(
        "location",
        &format!("http://{host}/repos/{owner}/{repo}/pulls/{n}"),
    )
}
