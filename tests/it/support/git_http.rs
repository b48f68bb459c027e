//! A real smart-HTTP git server: an axum server on `127.0.0.1:0` that runs `git http-backend`
//! as a CGI for every request under `/{repo}.git/`, serving the bare repositories of a
//! directory, optionally behind HTTP Basic authentication with a token as the password (as
//! GitHub takes `GITHUB_TOKEN`).
//!
//! Built on [`super::peer`]: it records every request with its headers, so a test can check
//! where the token went, and counts the pushes that carried it. A request outside
//! `/{repo}.git/` fails the test when the server is dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncWriteExt;

pub use super::git::git;
use super::peer::Request;
use super::peer::{Recorder, Server, respond};

/// The realm of the `WWW-Authenticate` challenge.
pub const REALM: &str = "heal-test";

struct Shared {
    root: PathBuf,
    token: Option<String>,
    recorder: Arc<Recorder>,
    authorized_pushes: AtomicUsize,
}

pub struct GitHttp {
    shared: Arc<Shared>,
    server: Server,
}

impl GitHttp {
    /// Serves the bare repositories under `root` (`root/{repo}.git`). With a `token`, every
    /// request must carry `Authorization: Basic base64(user:token)` (any user) or is answered
    /// 401 with a Basic challenge, so git asks its credential helper.
    pub fn start(root: &Path, token: Option<&str>) -> GitHttp {
        let recorder = Recorder::new("git-http");
        let shared = Arc::new(Shared {
            root: root.to_path_buf(),
            token: token.map(str::to_string),
            recorder: recorder.clone(),
            authorized_pushes: AtomicUsize::new(0),
        });
        let app = Router::new()
            .fallback(handle)
            .layer(DefaultBodyLimit::disable())
            .with_state(shared.clone());
        GitHttp {
            server: Server::start(recorder, app),
            shared,
        }
    }

    /// Creates `root/{name}.git`, a bare repository on branch `main` that accepts pushes over
    /// HTTP (`http.receivepack = true`), and returns its path.
    pub fn bare_repo(root: &Path, name: &str) -> PathBuf {
        let dir = root.join(format!("{name}.git"));
        let dir_str = dir.to_str().expect("a UTF-8 path");
        git(root, &["init", "--quiet", "--bare", "-b", "main", dir_str]);
        git(
            root,
            &["--git-dir", dir_str, "config", "http.receivepack", "true"],
        );
        dir
    }

    /// The clone URL of `repo`: `http://127.0.0.1:PORT/{repo}.git`.
    pub fn url(&self, repo: &str) -> String {
        format!("http://{}/{repo}.git", self.server.addr)
    }

    /// Every request so far, the refused ones included, with their headers.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.recorder.requests()
    }

    /// Waits until at least `n` requests have arrived and returns all of them; panics after
    /// `timeout`.
    pub fn wait_requests(&self, n: usize, timeout: Duration) -> Vec<Request> {
        self.shared.recorder.wait(n, timeout)
    }

    /// The `git-receive-pack` POSTs (the pushes proper) that passed authentication (all of
    /// them when the server takes no token). Counted before `git http-backend` runs them.
    pub fn authorized_pushes(&self) -> usize {
        self.shared.authorized_pushes.load(Ordering::SeqCst)
    }
}

/// Decodes standard base64 (padding optional); `None` on anything else.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim().trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The user name of a `Basic` authorization whose password is `token`.
fn basic_user(authorization: Option<&str>, token: &str) -> Option<String> {
    let (scheme, encoded) = authorization?.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(encoded)?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    (password == token).then(|| user.to_string())
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Request::new(&method, &uri, &headers, &body);
    let path = request.path.clone();
    let authorization = request.header("authorization").map(str::to_string);
    shared.recorder.record(request);

    let under_repo = path
        .strip_prefix('/')
        .and_then(|p| p.split_once(".git/"))
        .is_some_and(|(repo, _)| !repo.is_empty() && !repo.split('/').any(|s| s == ".."));
    if !under_repo {
        shared
            .recorder
            .problem(format!("{method} {path}: not under /{{repo}}.git/"));
        return respond(404, &[], "not found\n".into());
    }

    let user = match &shared.token {
        None => None,
        Some(token) => match basic_user(authorization.as_deref(), token) {
            Some(user) => Some(user),
            None => {
                return respond(
                    401,
                    &[(
                        "www-authenticate".into(),
                        format!("Basic realm=\"{REALM}\""),
                    )],
                    "authentication required\n".into(),
                );
            }
        },
    };
    if method == Method::POST && path.ends_with("/git-receive-pack") {
        shared.authorized_pushes.fetch_add(1, Ordering::SeqCst);
    }

    match cgi(&shared, &method, &uri, &headers, user, body).await {
        Ok(response) => response,
        Err(e) => {
            eprintln!("git-http: {method} {path}: {e}");
            respond(500, &[], format!("{e}\n"))
        }
    }
}

/// Runs `git http-backend` for one request and turns its CGI output into a response.
async fn cgi(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    user: Option<String>,
    body: Bytes,
) -> Result<Response, String> {
    let mut command = tokio::process::Command::new("git");
    command
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", &shared.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", uri.path())
        .env("REQUEST_METHOD", method.as_str())
        .env("QUERY_STRING", uri.query().unwrap_or(""))
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", body.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(user) = user {
        command.env("REMOTE_USER", user);
    }
    for (name, value) in headers {
        let Ok(value) = value.to_str() else { continue };
        match name.as_str() {
            "content-type" => {
                command.env("CONTENT_TYPE", value);
            }
            // Not passed to CGIs by real servers; the length is the body's, once dechunked.
            "authorization" | "content-length" | "transfer-encoding" | "connection" => {}
            // HTTP_CONTENT_ENCODING (gzip), HTTP_GIT_PROTOCOL, ...
            other => {
                command.env(
                    format!("HTTP_{}", other.to_ascii_uppercase().replace('-', "_")),
                    value,
                );
            }
        }
    }
    let mut child = command.spawn().map_err(|e| format!("spawn git: {e}"))?;
    let mut stdin = child.stdin.take().unwrap();
    // Fed while the output is read: a big pack must not fill both pipes.
    let feed = tokio::spawn(async move {
        let _ = stdin.write_all(&body).await;
    });
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| format!("git http-backend: {e}"))?;
    let _ = feed.await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stderr.trim().is_empty() {
        eprintln!("git http-backend {}: {stderr}", uri.path());
    }
    parse_cgi(&out.stdout)
}

/// A CGI answer: headers up to a blank line (`Status:` gives the code), then the body.
fn parse_cgi(out: &[u8]) -> Result<Response, String> {
    let (head, body) = [&b"\r\n\r\n"[..], b"\n\n"]
        .iter()
        .filter_map(|sep| {
            out.windows(sep.len())
                .position(|w| w == *sep)
                .map(|i| (i, sep.len()))
        })
        .min()
        .map(|(i, len)| (&out[..i], &out[i + len..]))
        .ok_or_else(|| {
            format!(
                "no CGI headers in: {}",
                String::from_utf8_lossy(&out[..out.len().min(200)])
            )
        })?;
    let mut status = StatusCode::OK;
    let mut map = HeaderMap::new();
    for line in String::from_utf8_lossy(head).lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or("");
            status = code
                .parse::<u16>()
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok())
                .ok_or_else(|| format!("bad CGI status {value:?}"))?;
        } else {
            let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|e| e.to_string())?;
            let value = HeaderValue::from_str(value).map_err(|e| e.to_string())?;
            map.append(name, value);
        }
    }
    Ok((status, map, body.to_vec()).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64() {
        assert_eq!(base64_decode("eDpTRUNSRVQ=").unwrap(), b"x:SECRET");
        assert_eq!(base64_decode("YWJj").unwrap(), b"abc");
        assert_eq!(base64_decode("YWI").unwrap(), b"ab");
        assert!(base64_decode("a*b").is_none());
    }
}
