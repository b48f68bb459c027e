//! A `heal serve` under test and the Sentry SDKs' requests to it: the real binary, real HTTP
//! on loopback.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::project::{Spawned, Stream};
use super::{Project, kill, wait_with_timeout};

pub const T: Duration = Duration::from_secs(30);
/// The event id of `uncaught.envelope.gz` (and of `crash.event.json`).
pub const UNCAUGHT_ID: &str = "e73cbe3e121a4fe5b4d43e122c526bd7";

pub fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sentry")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A running `heal serve`, with what its DSN says.
pub struct Server {
    pub heal: Spawned,
    pub log: Stream,
    pub dsn: String,
    pub key: String,
    pub addr: String,
}

impl Server {
    pub fn start(p: &Project) -> Server {
        let mut heal = p.spawn(&["serve", "--listen", "127.0.0.1:0"]);
        let mut out = Stream::new(heal.stdout.take().unwrap());
        let mut log = Stream::new(heal.stderr.take().unwrap());
        out.wait_for_or_show("/1\n", T, &mut log);
        let dsn = String::from_utf8_lossy(&out.seen)
            .lines()
            .next()
            .unwrap()
            .to_string();
        let rest = dsn.strip_prefix("http://").expect(&dsn);
        let (key, host) = rest.split_once('@').expect(&dsn);
        let addr = host.strip_suffix("/1").expect(&dsn).to_string();
        Server {
            heal,
            log,
            key: key.to_string(),
            addr,
            dsn,
        }
    }

    /// Posts an envelope with the SDK's auth header.
    pub fn envelope(&self, encoding: Option<&str>, body: &[u8]) -> Reply {
        let auth = format!(
            "Sentry sentry_key={}, sentry_version=7, sentry_client=sentry.python/2.75.0",
            self.key
        );
        let mut headers = vec![("X-Sentry-Auth", auth.as_str())];
        if let Some(e) = encoding {
            headers.push(("Content-Encoding", e));
        }
        post(&self.addr, "/api/1/envelope/", &headers, body)
    }

    /// Stops heal with SIGTERM; it must exit 0.
    pub fn stop(mut self) -> String {
        kill(self.heal.id(), libc::SIGTERM);
        let status = wait_with_timeout(&mut self.heal, T);
        let log = String::from_utf8_lossy(&self.log.rest(Duration::from_secs(5))).into_owned();
        assert_eq!(status.code(), Some(0), "{log}");
        log
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
}

/// One HTTP/1.1 POST of an envelope on its own connection; the answer read to the
/// connection's end.
pub fn post(addr: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    request(
        addr,
        "POST",
        path,
        headers,
        Some(("application/x-sentry-envelope", body)),
    )
}

/// `crash.event.json` with another event id: the same error, so the same fingerprint.
pub fn event(id: &str) -> Vec<u8> {
    let mut event: Value = serde_json::from_slice(&fixture("crash.event.json")).unwrap();
    event["event_id"] = json!(id);
    serde_json::to_vec(&event).unwrap()
}

/// An envelope of `items` (type, payload), each framed by its length.
pub fn envelope_of(id: &str, items: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = serde_json::to_vec(&json!({ "event_id": id })).unwrap();
    out.push(b'\n');
    for (kind, payload) in items {
        let header = json!({ "type": kind, "length": payload.len() });
        out.extend(serde_json::to_vec(&header).unwrap());
        out.push(b'\n');
        out.extend_from_slice(payload);
        out.push(b'\n');
    }
    out
}

pub fn event_envelope(id: &str) -> Vec<u8> {
    envelope_of(id, &[("event", &event(id))])
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// The incident as the store holds it now (`heal show --json`): the JSON export of a repeat
/// may be up to a second behind.
pub fn stored(p: &Project, record: &Value) -> Value {
    let id = record["id"].as_str().expect("a record with an id");
    let out = p.heal(&["show", id, "--json"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

pub fn id(n: usize) -> String {
    format!("{n:032x}")
}

/// A form POST (`application/x-www-form-urlencoded`) with `headers`, as a browser sends one.
pub fn post_form(addr: &str, path: &str, headers: &[(&str, &str)], form: &str) -> Reply {
    request(
        addr,
        "POST",
        path,
        headers,
        Some(("application/x-www-form-urlencoded", form.as_bytes())),
    )
}

/// One HTTP/1.1 GET on its own connection; the answer read to the connection's end.
pub fn get(addr: &str, path: &str) -> Reply {
    request(addr, "GET", path, &[], None)
}

/// One request on its own connection, with a body of a content type when given; the answer
/// read to the connection's end (dechunked).
fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Reply {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(T)).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some((kind, bytes)) = body {
        head.push_str(&format!(
            "Content-Type: {kind}\r\nContent-Length: {}\r\n",
            bytes.len()
        ));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) before it has read everything.
    let _ = conn.write_all(body.map_or(&[][..], |(_, b)| b));
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect(&text);
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: dechunk(
            head.to_ascii_lowercase()
                .contains("transfer-encoding: chunked"),
            body,
        ),
    }
}

/// A chunked body's data (axum sends bodies of unknown length chunked).
fn dechunk(chunked: bool, body: &str) -> String {
    if !chunked {
        return body.to_string();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

/// The test venv's python when it can import `module` (`bash .ci/run` makes the venv). Without
/// it the test says so and is skipped, unless HEAL_TEST_SENTRY_SDK=required (CI), where it
/// fails.
pub fn venv_python(module: &str) -> Option<String> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin/python");
    let ok = std::process::Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python.to_string_lossy().into_owned());
    }
    let how = format!(
        "{} has no {module}: run `bash .ci/run` once, or install what it installs into target/test-venv",
        python.display()
    );
    assert!(
        std::env::var("HEAL_TEST_SENTRY_SDK").as_deref() != Ok("required"),
        "{how}"
    );
    eprintln!("SKIPPED: {how}");
    None
}
