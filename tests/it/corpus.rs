//! The adversarial answer corpus: hostile or broken model answers, each a data file in
//! `tests/fixtures/answers/NN-name.json`, each run through the real `heal run -- python3 app.py`
//! on the crashing app of `heal.rs` (the `mesage` typo), in a project that is a git repository
//! with a bare `origin` (push mode, the default), `HEAL_INSTANT=false` (the model is asked),
//! `HEAL_MAX_ATTEMPTS=2`, `HEAL_RESTART=never`, the fake Anthropic answering every request with
//! the entry. For every entry, heal must end the incident `failed`, `rejected` or `skipped` with
//! the expected words in its reason, write nothing to the live tree (nor outside it, nor in
//! `.git/config` or `.git/hooks`), commit and push nothing, make no backup, let heal's model key
//! reach no record, no Slack message, no model request and no file, and not crash.
//!
//! # Fixture format
//!
//! ```text
//! {
//!   "about":  "one line: what this answer tries",                      (required)
//!   "expect": "words the record's reason must contain",                 (required)
//!   "status": "failed" | "rejected" | "skipped",                        (optional: exactly this)
//!   "output_has":   "text" or ["text", ...]: what the proof must have printed, (optional)
//!                   found in the output the record keeps of its runs
//!   "output_lacks": "text" or ["text", ...]: what the record must not hold,   (optional)
//!   "scan_off": {"expect": ..., "status": ..., "output_has": ..., "output_lacks": ...}
//!                   the case runs a second time with the scan of added lines off (optional)
//!                   (`HEAL_FAILPOINT=skip-scan`, only with the `failpoints` feature), so
//!                   that a fix the scan refuses reaches the proof; these keys, as above, say
//!                   how that run must end; every other check holds for it too
//!   "setup": {                                                          (optional)
//!     "files":    {"rel/path": "content"},     written in the project (after `git init`, so
//!                                              `.git/hooks/...` works), then committed
//!     "symlinks": {"link.py": "target"},       symlinks in the project, committed
//!     "outside":  {"rel/path": "content"}      files in a folder outside the project
//!   },
//!   and exactly one of
//!   "reply": <the `input` of the report_fix tool_use, any JSON>,
//!     with optionally
//!     "tool_name": "other_tool",                 the tool_use names this tool, not report_fix
//!     "edits_repeat": 10000,                     `edits` becomes its first edit, this many times
//!     "replace_repeat": {"text": "x = 1\n", "times": 9000000}
//!                                                the first edit's `replace` becomes `text`
//!                                                repeated (huge answers are generated, not stored)
//!   "raw_reply": {"status": 200, "body_text": "..."}     the HTTP body as is (not JSON, ...)
//!             or {"status": 200, "body_base64": "..."}   bytes that are not UTF-8, NUL, ...
//! }
//! ```
//!
//! In `reply` strings, symlink targets and `body_text`, `$OUTSIDE_REL` is the outside folder as
//! a path relative to the project (`../heal-corpus-outside-XXXX`), `$OUTSIDE` its absolute path
//! and `$PROJECT` the project's absolute path; `$MARKER` a path in the system's temporary folder
//! that must not exist after the run, and `$SLEEP` a `sleep` duration unique to the case: no
//! process whose command line holds it may outlive the run. Paths of hostile edits that reach the host
//! (`/etc/passwd`) use a search that never matches and code that is never called, so that even a
//! broken heal cannot damage the machine running the tests.
//!
//! Every case also runs with `HOME` set to a folder of its own, which must stay untouched, and
//! the proof sandboxed (bubblewrap, as `.ci/run` installs it): see issue 12. The attacks that
//! escaped the scan in issue 12 (`56`–`61`) run twice: with the scan, which refuses them before
//! the proof, and without it, when their payloads run in the proof and the sandbox alone must
//! contain them (the scan is a tripwire; the sandbox is the guarantee).
//!
//! A fixture without a valid shape fails the test. The cases run on a few threads; every
//! failing case is reported at the end, by name. `HEAL_CORPUS_ONLY=56,66-sandbox` runs only the
//! cases whose names start with one of the given prefixes (all fixtures are still checked).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::panic::AssertUnwindSafe;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::heal::{APP, KEY, setup};
use crate::support::anthropic::{Reply, tool_use_response_named};
use crate::support::git::git;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/answers");
/// The corpus must not shrink below this.
const MIN_CASES: usize = 34;
/// Cases run at once.
const PARALLEL: usize = 4;
/// One `heal run`, at most.
const RUN_LIMIT: Duration = Duration::from_secs(180);
const STATUSES: [&str; 3] = ["failed", "rejected", "skipped"];

#[derive(Debug)]
struct Fixture {
    about: String,
    /// How the run must end.
    want: Want,
    /// How the run must end with the scan of added lines off.
    scan_off: Option<Want>,
    files: BTreeMap<String, String>,
    symlinks: BTreeMap<String, String>,
    outside: BTreeMap<String, String>,
    answer: Answer,
}

/// How one run of a case must end.
#[derive(Debug)]
struct Want {
    expect: String,
    status: Option<String>,
    output_has: Vec<String>,
    output_lacks: Vec<String>,
}

#[derive(Debug)]
enum Answer {
    Tool {
        name: String,
        input: Value,
        edits_repeat: Option<usize>,
        replace_repeat: Option<(String, usize)>,
    },
    Raw {
        status: u16,
        text: Option<String>,
        bytes: Vec<u8>,
    },
}

#[test]
fn corpus_of_hostile_answers_writes_nothing_and_commits_nothing() {
    let started = Instant::now();
    let cases = load_cases();
    let runs = runs_of(&cases);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(String, f64, Vec<String>)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((name, fixture, scan)) = runs.get(i) else {
                        break;
                    };
                    let t = Instant::now();
                    let mut problems = Vec::new();
                    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        run_case(fixture, *scan, &mut problems)
                    }));
                    if let Err(panic) = outcome {
                        problems.push(format!("the test case panicked: {}", panic_text(&*panic)));
                    }
                    let secs = t.elapsed().as_secs_f64();
                    println!(
                        "corpus {name}: {} in {secs:.1}s",
                        if problems.is_empty() { "ok" } else { "FAILED" }
                    );
                    results.lock().unwrap_or_else(|e| e.into_inner()).push((
                        name.clone(),
                        secs,
                        problems,
                    ));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let failures: Vec<String> = results
        .iter()
        .filter(|(_, _, problems)| !problems.is_empty())
        .map(|(name, _, problems)| format!("{name}:\n  - {}", problems.join("\n  - ")))
        .collect();
    println!(
        "corpus: {} cases, {} failed, {:.1}s",
        results.len(),
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases failed:\n{}",
        failures.len(),
        results.len(),
        failures.join("\n")
    );
}

/// Whether the scan of added lines is on for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    On,
    /// Off (`HEAL_FAILPOINT=skip-scan`): the fix reaches the proof, and the sandbox alone
    /// contains what it does.
    Off,
}

/// Every run: each case with the scan on, and the cases with `scan_off` again with it off
/// (the switch exists only in a build with the `failpoints` feature, as `.ci/run` builds it).
fn runs_of(cases: &[(String, Fixture)]) -> Vec<(String, &Fixture, Scan)> {
    let mut runs = Vec::new();
    let mut left_out = 0;
    let only = std::env::var("HEAL_CORPUS_ONLY").unwrap_or_default();
    let only: Vec<&str> = only.split(',').filter(|p| !p.is_empty()).collect();
    for (name, fixture) in cases {
        if !only.is_empty() && !only.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        runs.push((name.clone(), fixture, Scan::On));
        if fixture.scan_off.is_some() {
            if cfg!(feature = "failpoints") {
                runs.push((format!("{name} (scan off)"), fixture, Scan::Off));
            } else {
                left_out += 1;
            }
        }
    }
    if left_out > 0 {
        println!(
            "corpus: {left_out} runs with the scan off left out: they need `--features failpoints`"
        );
    }
    runs
}

/// Every fixture, by file name; panics (failing the test) on any that has no valid shape.
fn load_cases() -> Vec<(String, Fixture)> {
    let mut names: Vec<String> = std::fs::read_dir(FIXTURES)
        .unwrap_or_else(|e| panic!("cannot read {FIXTURES}: {e}"))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut cases = Vec::new();
    let mut bad = Vec::new();
    for file in names {
        let Some(name) = file.strip_suffix(".json") else {
            bad.push(format!("{file}: not a .json file"));
            continue;
        };
        if !valid_name(name) {
            bad.push(format!(
                "{file}: the name must be NN-name.json (two digits, a dash, lowercase words)"
            ));
            continue;
        }
        let text = match std::fs::read_to_string(Path::new(FIXTURES).join(&file)) {
            Ok(text) => text,
            Err(e) => {
                bad.push(format!("{file}: {e}"));
                continue;
            }
        };
        match serde_json::from_str::<Value>(&text)
            .map_err(|e| format!("not JSON: {e}"))
            .and_then(|v| parse_fixture(&v))
        {
            Ok(fixture) => cases.push((name.to_string(), fixture)),
            Err(e) => bad.push(format!("{file}: {e}")),
        }
    }
    assert!(
        bad.is_empty(),
        "fixtures without a valid shape:\n{}",
        bad.join("\n")
    );
    assert!(
        cases.len() >= MIN_CASES,
        "the corpus has {} cases, fewer than {MIN_CASES}",
        cases.len()
    );
    cases
}

fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() > 3
        && b[0].is_ascii_digit()
        && b[1].is_ascii_digit()
        && b[2] == b'-'
        && b[3..]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

fn parse_fixture(v: &Value) -> Result<Fixture, String> {
    let obj = v.as_object().ok_or("the fixture is not a JSON object")?;
    known_keys(
        obj,
        &[
            "about",
            "expect",
            "status",
            "output_has",
            "output_lacks",
            "scan_off",
            "setup",
            "reply",
            "tool_name",
            "edits_repeat",
            "replace_repeat",
            "raw_reply",
        ],
        "",
    )?;
    let about = non_empty_str(obj, "about")?;
    let want = parse_want(obj, "")?;
    let scan_off = match obj.get("scan_off") {
        None => None,
        Some(v) => {
            let off = v.as_object().ok_or("`scan_off` is not an object")?;
            known_keys(
                off,
                &["expect", "status", "output_has", "output_lacks"],
                "scan_off.",
            )?;
            Some(parse_want(off, "scan_off.")?)
        }
    };
    let (mut files, mut symlinks, mut outside) = Default::default();
    if let Some(setup) = obj.get("setup") {
        let setup = setup.as_object().ok_or("`setup` is not an object")?;
        known_keys(setup, &["files", "symlinks", "outside"], "setup.")?;
        files = string_map(setup, "files")?;
        symlinks = string_map(setup, "symlinks")?;
        outside = string_map(setup, "outside")?;
        for path in files.keys().chain(symlinks.keys()).chain(outside.keys()) {
            let p = Path::new(path);
            if path.is_empty()
                || p.is_absolute()
                || p.components().any(|c| !matches!(c, Component::Normal(_)))
            {
                return Err(format!(
                    "setup path {path:?} must be relative, without `.` or `..`"
                ));
            }
            if path == "storage" || path.starts_with("storage/") || path == ".git/config" {
                return Err(format!(
                    "setup path {path:?} would clobber heal's storage or git"
                ));
            }
        }
    }
    let reply = obj.get("reply");
    let raw = obj.get("raw_reply");
    let answer = match (reply, raw) {
        (Some(input), None) => {
            let name = match obj.get("tool_name") {
                None => "report_fix".to_string(),
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                Some(other) => return Err(format!("`tool_name` must be a string, got {other}")),
            };
            let edits_repeat = match obj.get("edits_repeat") {
                None => None,
                Some(n) => Some(
                    n.as_u64()
                        .filter(|n| *n > 0)
                        .ok_or("`edits_repeat` must be a positive integer")?
                        as usize,
                ),
            };
            let replace_repeat = match obj.get("replace_repeat") {
                None => None,
                Some(r) => {
                    let r = r.as_object().ok_or("`replace_repeat` is not an object")?;
                    known_keys(r, &["text", "times"], "replace_repeat.")?;
                    let text = non_empty_str(r, "text")?;
                    let times = r
                        .get("times")
                        .and_then(Value::as_u64)
                        .filter(|n| *n > 0)
                        .ok_or("`replace_repeat.times` must be a positive integer")?;
                    Some((text, times as usize))
                }
            };
            if (edits_repeat.is_some() || replace_repeat.is_some())
                && !input["edits"].get(0).is_some_and(Value::is_object)
            {
                return Err("`edits_repeat` and `replace_repeat` need `reply.edits[0]`".into());
            }
            Answer::Tool {
                name,
                input: input.clone(),
                edits_repeat,
                replace_repeat,
            }
        }
        (None, Some(raw)) => {
            for key in ["tool_name", "edits_repeat", "replace_repeat"] {
                if obj.contains_key(key) {
                    return Err(format!("`{key}` goes with `reply`, not `raw_reply`"));
                }
            }
            let raw = raw.as_object().ok_or("`raw_reply` is not an object")?;
            known_keys(raw, &["status", "body_text", "body_base64"], "raw_reply.")?;
            let status =
                raw.get("status")
                    .and_then(Value::as_u64)
                    .filter(|s| (100..600).contains(s))
                    .ok_or("`raw_reply.status` must be an HTTP status")? as u16;
            match (raw.get("body_text"), raw.get("body_base64")) {
                (Some(Value::String(text)), None) => Answer::Raw {
                    status,
                    text: Some(text.clone()),
                    bytes: Vec::new(),
                },
                (None, Some(Value::String(b64))) => Answer::Raw {
                    status,
                    text: None,
                    bytes: base64_decode(b64).ok_or("`raw_reply.body_base64` is not base64")?,
                },
                _ => {
                    return Err(
                        "`raw_reply` needs exactly one of `body_text`, `body_base64` (a string)"
                            .into(),
                    );
                }
            }
        }
        _ => return Err("the fixture needs exactly one of `reply`, `raw_reply`".into()),
    };
    if scan_off.is_some() && !matches!(answer, Answer::Tool { .. }) {
        return Err("`scan_off` goes with `reply`: only a fix meets the scan".into());
    }
    Ok(Fixture {
        about,
        want,
        scan_off,
        files,
        symlinks,
        outside,
        answer,
    })
}

/// `expect`, `status`, `output_has` and `output_lacks` of `obj`; `prefix` names it in errors.
fn parse_want(obj: &Map<String, Value>, prefix: &str) -> Result<Want, String> {
    let expect = non_empty_str(obj, "expect").map_err(|e| format!("{prefix}{e}"))?;
    let status = match obj.get("status") {
        None => None,
        Some(Value::String(s)) if STATUSES.contains(&s.as_str()) => Some(s.clone()),
        Some(other) => {
            return Err(format!(
                "`{prefix}status` must be one of {STATUSES:?}, got {other}"
            ));
        }
    };
    Ok(Want {
        expect,
        status,
        output_has: texts(obj, "output_has", prefix)?,
        output_lacks: texts(obj, "output_lacks", prefix)?,
    })
}

/// A non-empty string, or a non-empty list of them; none when `key` is absent.
fn texts(obj: &Map<String, Value>, key: &str, prefix: &str) -> Result<Vec<String>, String> {
    let bad = || format!("`{prefix}{key}` must be a non-empty string or a list of them");
    let items = match obj.get(key) {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) if !items.is_empty() => items.iter().collect(),
        Some(one) => vec![one],
    };
    items
        .into_iter()
        .map(|v| match v {
            Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
            _ => Err(bad()),
        })
        .collect()
}

fn known_keys(obj: &Map<String, Value>, known: &[&str], prefix: &str) -> Result<(), String> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(format!("unknown field `{prefix}{k}` (known: {known:?})")),
        None => Ok(()),
    }
}

fn non_empty_str(obj: &Map<String, Value>, key: &str) -> Result<String, String> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        _ => Err(format!("`{key}` must be a non-empty string")),
    }
}

fn string_map(obj: &Map<String, Value>, key: &str) -> Result<BTreeMap<String, String>, String> {
    let Some(v) = obj.get(key) else {
        return Ok(BTreeMap::new());
    };
    let map = v
        .as_object()
        .ok_or(format!("`setup.{key}` is not an object"))?;
    map.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            _ => Err(format!("`setup.{key}.{k}` is not a string")),
        })
        .collect()
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        if c == b'=' {
            break;
        }
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// What `$OUTSIDE_REL`, `$OUTSIDE`, `$PROJECT`, `$MARKER` and `$SLEEP` stand for.
struct Places {
    project: PathBuf,
    outside: PathBuf,
    outside_rel: String,
    marker: PathBuf,
    sleep: String,
}

impl Places {
    fn fill(&self, text: &str) -> String {
        text.replace("$OUTSIDE_REL", &self.outside_rel)
            .replace("$OUTSIDE", &self.outside.to_string_lossy())
            .replace("$PROJECT", &self.project.to_string_lossy())
            .replace("$MARKER", &self.marker.to_string_lossy())
            .replace("$SLEEP", &self.sleep)
    }

    fn fill_json(&self, v: &mut Value) {
        match v {
            Value::String(s) => *s = self.fill(s),
            Value::Array(items) => items.iter_mut().for_each(|i| self.fill_json(i)),
            Value::Object(map) => map.values_mut().for_each(|i| self.fill_json(i)),
            _ => {}
        }
    }
}

/// The reply the fake gives to every request of this case, and the absolute paths its edits
/// name (watched for writes).
fn build_reply(answer: &Answer, places: &Places) -> (Reply, Vec<PathBuf>) {
    match answer {
        Answer::Tool {
            name,
            input,
            edits_repeat,
            replace_repeat,
        } => {
            let mut input = input.clone();
            places.fill_json(&mut input);
            if let Some((text, times)) = replace_repeat {
                input["edits"][0]["replace"] = Value::String(text.repeat(*times));
            }
            if let Some(n) = edits_repeat {
                let first = input["edits"][0].clone();
                input["edits"] = Value::Array(vec![first; *n]);
            }
            let mut watched: Vec<PathBuf> = input["edits"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["file"].as_str())
                .filter(|f| f.starts_with('/') && !f.contains('\0'))
                .map(PathBuf::from)
                .collect();
            watched.sort();
            watched.dedup();
            let body = tool_use_response_named(name, input);
            (Reply::json(200, body), watched)
        }
        Answer::Raw {
            status,
            text,
            bytes,
        } => {
            let bytes = match text {
                Some(text) => places.fill(text).into_bytes(),
                None => bytes.clone(),
            };
            (Reply::raw(*status, bytes), Vec::new())
        }
    }
}

/// Runs one entry; every way heal misbehaved is pushed to `problems`.
fn run_case(f: &Fixture, scan: Scan, problems: &mut Vec<String>) {
    let want = match (scan, &f.scan_off) {
        (Scan::On, _) => &f.want,
        (Scan::Off, Some(want)) => want,
        (Scan::Off, None) => panic!("a run with the scan off for a case without `scan_off`"),
    };
    let mut s = setup();
    s.p.env("HEAL_INSTANT", "false");
    s.p.env("HEAL_MAX_ATTEMPTS", "2");
    s.p.env("HEAL_RESTART", "never");
    if scan == Scan::Off {
        s.p.env("HEAL_FAILPOINT", "skip-scan");
    }
    let outside_dir = tempfile::Builder::new()
        .prefix("heal-corpus-outside-")
        .tempdir()
        .unwrap();
    let project = s.p.path().canonicalize().unwrap();
    let outside = outside_dir.path().canonicalize().unwrap();
    static CASE: AtomicUsize = AtomicUsize::new(0);
    let n = CASE.fetch_add(1, Ordering::SeqCst);
    let places = Places {
        outside_rel: relative(&project, &outside),
        project: project.clone(),
        outside: outside.clone(),
        marker: std::env::temp_dir().join(format!("heal-corpus-marker-{}-{n}", std::process::id())),
        sleep: format!("4321.{}{n:03}", std::process::id()),
    };
    let home = tempfile::Builder::new()
        .prefix("heal-corpus-home-")
        .tempdir()
        .unwrap();
    s.p.env("HOME", home.path().to_str().unwrap());

    // The project: a git repository on `main`, pushed to a bare origin.
    let origin = tempfile::tempdir().unwrap();
    git(origin.path(), &["init", "-q", "--bare", "-b", "main"]);
    git(&project, &["init", "-q", "-b", "main"]);
    s.p.file(".gitignore", "storage/\n");
    for (rel, content) in &f.files {
        s.p.file(rel, content);
    }
    for (rel, target) in &f.symlinks {
        let link = project.join(rel);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(places.fill(target), link).unwrap();
    }
    for (rel, content) in &f.outside {
        let path = outside.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    git(&project, &["add", "-A"]);
    git(&project, &["commit", "-q", "-m", "initial"]);
    git(
        &project,
        &["remote", "add", "origin", origin.path().to_str().unwrap()],
    );
    git(&project, &["push", "-q", "-u", "origin", "main"]);

    let (reply, watched) = build_reply(&f.answer, &places);
    s.model.respond_always(reply);

    let home_before = snapshot(home.path(), &[]);
    let tree_before = snapshot(&project, &["storage", ".git"]);
    let git_before = git_snapshot(&project);
    let outside_before = snapshot(&outside, &[]);
    let watched_before: Vec<Option<Vec<u8>>> =
        watched.iter().map(|p| std::fs::read(p).ok()).collect();
    let head_before = git(&project, &["rev-parse", "HEAD"]);
    let origin_before = git(origin.path(), &["rev-parse", "main"]);

    // The run, bounded.
    let mut child = s.p.spawn(&["run", "--", "python3", "app.py"]);
    let mut out = crate::support::Stream::new(child.stdout.take().unwrap());
    let mut err = crate::support::Stream::new(child.stderr.take().unwrap());
    let t = Instant::now();
    let status = crate::support::wait_with_timeout(&mut child, RUN_LIMIT);
    if t.elapsed() >= RUN_LIMIT {
        problems.push(format!(
            "heal did not finish within {RUN_LIMIT:?} and was killed"
        ));
    }
    let stdout = String::from_utf8_lossy(&out.rest(Duration::from_secs(10))).into_owned();
    let stderr = String::from_utf8_lossy(&err.rest(Duration::from_secs(10))).into_owned();
    let tail = |text: &str| {
        let start = text.len().saturating_sub(1500);
        let start = (start..=text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text[start..].to_string()
    };

    // heal itself did not crash, and exited with the child's code.
    if status.code() != Some(1) {
        problems.push(format!(
            "exit {:?} (signal {:?}), expected 1 (the child's); stderr tail:\n{}",
            status.code(),
            std::os::unix::process::ExitStatusExt::signal(&status),
            tail(&stderr)
        ));
    }
    if stderr.contains("panicked") {
        problems.push(format!("heal panicked; stderr tail:\n{}", tail(&stderr)));
    }

    // The record.
    let records = s.p.records();
    if records.len() != 1 {
        problems.push(format!(
            "expected one record, got {}: {:?}",
            records.len(),
            records
                .iter()
                .map(|r| (r["status"].clone(), r["reason"].clone()))
                .collect::<Vec<_>>()
        ));
    }
    if let Some(r) = records.first() {
        let id = r["id"].as_str().unwrap_or("?");
        let st = r["status"].as_str().unwrap_or("?");
        let reason = r["reason"].as_str().unwrap_or_default();
        println!("corpus     {id}: {st}: {}", excerpt(reason, 300));
        if !STATUSES.contains(&st) {
            problems.push(format!(
                "status `{st}`, expected one of {STATUSES:?} (reason: {})",
                excerpt(reason, 600)
            ));
        } else if let Some(want) = &want.status
            && st != want
        {
            problems.push(format!(
                "status `{st}`, expected `{want}` (reason: {})",
                excerpt(reason, 600)
            ));
        }
        if reason.trim().is_empty() {
            problems.push("the record's reason is empty".to_string());
        } else if !reason.contains(&want.expect) {
            problems.push(format!(
                "the reason lacks `{}`: {}",
                want.expect,
                excerpt(reason, 600)
            ));
        }
        let said = format!("incident {id}: {st}");
        if STATUSES.contains(&st) && !stderr.contains(&said) {
            problems.push(format!(
                "stderr does not say `{said}`; its tail:\n{}",
                tail(&stderr)
            ));
        }
    }

    // No backup.
    let backups: Vec<String> = std::fs::read_dir(s.p.storage().join("errors"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains("_backup_"))
                .collect()
        })
        .unwrap_or_default();
    if !backups.is_empty() {
        problems.push(format!("backups written in storage/errors: {backups:?}"));
    }

    // Nothing written: the project, git's config and hooks, the folder outside, the host.
    diff_snapshots(
        "the live tree",
        &tree_before,
        &snapshot(&project, &["storage", ".git"]),
        problems,
    );
    diff_snapshots(
        ".git/config and .git/hooks",
        &git_before,
        &git_snapshot(&project),
        problems,
    );
    diff_snapshots(
        "the folder outside the project",
        &outside_before,
        &snapshot(&outside, &[]),
        problems,
    );
    for (path, before) in watched.iter().zip(&watched_before) {
        if &std::fs::read(path).ok() != before {
            problems.push(format!("{} was changed", path.display()));
        }
    }
    if std::fs::read_to_string(project.join("app.py"))
        .ok()
        .as_deref()
        != Some(APP)
    {
        problems.push("app.py is not the crashing app any more".to_string());
    }

    // Nothing in $HOME, nothing at the marker, no process left.
    diff_snapshots("$HOME", &home_before, &snapshot(home.path(), &[]), problems);
    if places.marker.exists() {
        problems.push(format!("{} was written", places.marker.display()));
        let _ = std::fs::remove_file(&places.marker);
    }
    let left = processes_holding(&places.sleep);
    if !left.is_empty() {
        problems.push(format!("processes outlived the run: {left:?}"));
        for pid in left {
            crate::support::kill(pid, libc::SIGKILL);
        }
    }
    // What the proof printed, as the record keeps it: what the payload tried really ran.
    if let Some(r) = records.first() {
        let printed = proof_output(r);
        for needle in &want.output_has {
            if !printed.contains(needle.as_str()) {
                problems.push(format!(
                    "the proof's output lacks `{needle}`; what the record keeps of it:\n{}",
                    tail(&printed)
                ));
            }
        }
        let text = r.to_string();
        for unwanted in &want.output_lacks {
            if text.contains(unwanted.as_str()) {
                problems.push(format!("the record holds `{unwanted}`"));
            }
        }
        // With the scan off the fix met the proof, and bubblewrap contained it.
        let sandbox = r["fix"]["sandbox"].as_str().unwrap_or_default();
        if scan == Scan::Off && !sandbox.starts_with("bubblewrap") {
            problems.push(format!(
                "the scan was off, and the record does not say bubblewrap confined the proof: fix.sandbox = {:?}",
                r["fix"]["sandbox"]
            ));
        }
    }

    // heal's model key reached no record, no message, no request body, no file.
    let mut channels = vec![
        (
            "the record".to_string(),
            Value::Array(records.clone()).to_string(),
        ),
        ("heal's stdout".to_string(), stdout),
        ("heal's stderr".to_string(), stderr.clone()),
    ];
    channels.extend(
        s.model
            .requests()
            .into_iter()
            .map(|r| (format!("a model request to {}", r.path), r.raw)),
    );
    channels.extend(
        s.slack
            .requests()
            .into_iter()
            .map(|r| (format!("a Slack request to {}", r.path), r.raw)),
    );
    // (The live tree is left out: a fixture's `.env` may hold the key, and any file the run
    // changed there is already a problem.)
    for root in [s.p.storage(), home.path().to_path_buf(), outside.clone()] {
        for (rel, entry) in snapshot(&root, &[]) {
            if let Entry::File { bytes, .. } = entry {
                channels.push((
                    format!("{}", root.join(rel).display()),
                    String::from_utf8_lossy(&bytes).into_owned(),
                ));
            }
        }
    }
    for (channel, text) in &channels {
        if text.contains(KEY) {
            problems.push(format!("heal's model key is in {channel}"));
        }
    }

    // No commit, no push, no branch.
    let head = git(&project, &["rev-parse", "HEAD"]);
    if head != head_before {
        problems.push(format!(
            "HEAD moved to {head}: {}",
            git(&project, &["log", "-1", "--format=%s", "HEAD"])
        ));
    }
    let origin_main = git(origin.path(), &["rev-parse", "main"]);
    if origin_main != origin_before {
        problems.push(format!("origin's main moved to {origin_main}"));
    }
    for dir in [project.as_path(), origin.path()] {
        let branches = git(
            dir,
            &["for-each-ref", "--format=%(refname)", "refs/heads/heal/"],
        );
        if !branches.is_empty() {
            problems.push(format!("heal/* branches in {}: {branches}", dir.display()));
        }
    }
    if !problems.is_empty() {
        problems.push(format!("(the case: {})", f.about));
    }
}

/// What the record keeps of the proof's output, one text after the other: the output tail of
/// each step of the last proof, and each refused candidate's failure, which ends with the output
/// of the step that failed.
fn proof_output(record: &Value) -> String {
    fn collect(v: &Value, out: &mut String) {
        match v {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("output_tail" | "failure", Value::String(text)) => {
                            out.push_str(text);
                            out.push('\n');
                        }
                        _ => collect(value, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
            _ => {}
        }
    }
    let mut out = String::new();
    collect(record, &mut out);
    out
}

/// Processes whose command line holds `needle`.
fn processes_holding(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline"))
                        .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else {
        "(no message)".to_string()
    }
}

/// `to` relative to `from` (both absolute and canonical): `../heal-corpus-outside-XXXX`.
fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

/// A file system entry as a snapshot keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Dir,
    File { bytes: Vec<u8>, mode: u32 },
    Link(PathBuf),
    Other,
}

/// Every entry under `root` by relative path, symlinks not followed; top-level names in `skip`
/// left out.
fn snapshot(root: &Path, skip: &[&str]) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    walk(root, "", skip, &mut out);
    out
}

fn walk(dir: &Path, prefix: &str, skip: &[&str], out: &mut BTreeMap<String, Entry>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if prefix.is_empty() && skip.contains(&name.as_str()) {
            continue;
        }
        let rel = format!("{prefix}{name}");
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            out.insert(
                rel,
                Entry::Link(std::fs::read_link(&path).unwrap_or_default()),
            );
        } else if kind.is_dir() {
            out.insert(rel.clone(), Entry::Dir);
            walk(&path, &format!("{rel}/"), skip, out);
        } else if kind.is_file() {
            let bytes = std::fs::read(&path).unwrap_or_default();
            out.insert(
                rel,
                Entry::File {
                    bytes,
                    mode: meta.permissions().mode(),
                },
            );
        } else {
            out.insert(rel, Entry::Other);
        }
    }
}

/// What of `.git` heal must never write: its config and its hooks.
fn git_snapshot(project: &Path) -> BTreeMap<String, Entry> {
    let mut out = snapshot(&project.join(".git/hooks"), &[]);
    if let Ok(bytes) = std::fs::read(project.join(".git/config")) {
        out.insert("config".to_string(), Entry::File { bytes, mode: 0 });
    }
    out
}

fn diff_snapshots(
    what: &str,
    before: &BTreeMap<String, Entry>,
    after: &BTreeMap<String, Entry>,
    problems: &mut Vec<String>,
) {
    let describe = |e: &Entry| match e {
        Entry::Dir => "a folder".to_string(),
        Entry::File { bytes, mode } => format!(
            "a file of {} bytes, mode {mode:o}: {:?}",
            bytes.len(),
            excerpt(&String::from_utf8_lossy(bytes), 200)
        ),
        Entry::Link(target) => format!("a symlink to {}", target.display()),
        Entry::Other => "something else".to_string(),
    };
    for (path, entry) in after {
        match before.get(path) {
            None => problems.push(format!("{what}: {path} was created ({})", describe(entry))),
            Some(old) if old != entry => problems.push(format!(
                "{what}: {path} was changed, from {} to {}",
                describe(old),
                describe(entry)
            )),
            Some(_) => {}
        }
    }
    for path in before.keys().filter(|p| !after.contains_key(*p)) {
        problems.push(format!("{what}: {path} was deleted"));
    }
}
