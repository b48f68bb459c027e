//! The "behaviour kept" probe: whether a fix changed what the functions it edits return.
//!
//! The program is run twice unchanged (the baselines) and once with the fix, each in its own
//! copy, with `probe.py` loaded as `sitecustomize` from a heal-owned folder put first on
//! `PYTHONPATH` ([`install`]). The probe appends one JSON line per distinct
//! (function, arguments, return value) to a file that [`read`] turns into [`Calls`], and
//! [`compare`] judges: a call that returned normally in the baselines must return the same
//! value after the fix, or the proof fails with a sentence like
//! `cost_per_click(10.0, 4) returned 2.5 before the fix and None after`.
//!
//! Understood: CPython 3.8 and later started normally, watched through `sys.monitoring` from
//! 3.12 on and `sys.settrace` before. Calls are keyed by their rendered arguments (`10.0, 4`; a
//! first parameter `self`/`cls` is rendered as its name) and values by a bounded repr with
//! memory addresses masked and set items (and small dicts) sorted. Before 3.12, a call during
//! which an exception was seen and that "returned" None is recorded as raised, not as returning
//! None: it may have been unwinding (from 3.12 on the probe knows which).
//!
//! Not understood (the function is reported as not judged, never as changed): Python started
//! with `-S`, `-I` or `-E`, or older than 3.8, or a program that is not Python at all ("no
//! data"); generators and coroutines (never watched); before 3.12, a program that sets its own
//! trace function (`sys.settrace`: debuggers, coverage) stops the probe from then on.
//!
//! Decisions:
//! - Non-determinism is detected, not guessed: when the same arguments gave two different
//!   values across the two baseline runs (or within one), the function is not judged.
//! - A rendering may lose detail (cut at `max_repr`, addresses masked, `self`), so calls that
//!   differ can share one key. That is why the fixed run only has to *include* the baseline's
//!   value for a key, not return only that value: the fixed run goes further than the crashed
//!   baseline, and a method keyed `self` or a function reading global state may return other
//!   values there for the "same" key. A pure function whose results the fix changed returns
//!   the new value for every call with those arguments, so it is still caught.
//! - Keys present on one side only are not compared: the fixed run may go further or stop
//!   earlier, and bounds cut both.
//! - Qualified names match exactly, or by their last dotted component when either side has
//!   none (before 3.11 Python gives only `co_name`).
//!
//! Costs (the header of `probe.py` lists them all; `bench/probe_cost.sh` measures them): from
//! Python 3.12 on, a probed run costs a few per cent. Before 3.12, all Python code runs about
//! twice as slow while the tracer is on, which CPython decides, not the probe: a run watching
//! named functions (the fixed run) drops it once they are all past their bounds, a run
//! watching files (the baselines) keeps it to the end, so the time limits of probed runs
//! should allow for it.
//!
//! It must never change what the program prints or does (the probe writes nothing to stdout or
//! stderr and switches itself off on any internal error), never read more than
//! [`MAX_READ_BYTES`] of output, and never report a change it did not see: no data, or unclear
//! data, gives "not judged".

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod frames;

pub use frames::strip_probe_frames;

/// The Python side, written as `sitecustomize.py` into the probe's folder.
pub const PROBE_PY: &str = include_str!("probe.py");
/// At most this much of the probe's output is read; the rest is ignored (and the run marked cut).
pub const MAX_READ_BYTES: u64 = 4 * 1024 * 1024;

const SITECUSTOMIZE: &str = "sitecustomize.py";
const SPEC_FILE: &str = "heal-probe-spec.json";
const OUT_FILE: &str = "calls.jsonl";

/// Why a function could not be judged (the texts go into reports as they are).
pub const NO_DATA: &str = "no data: the probe did not load";
pub const NEVER_RETURNED: &str = "never returned in the baseline";
pub const NOT_DETERMINISTIC: &str = "its results differ between runs of the unchanged program";
pub const NO_COMMON_CALL: &str = "the fixed run made none of the baseline's calls";

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot resolve the probe folder {path}")]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the probe file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the probe's spec")]
    Spec(#[source] serde_json::Error),
    #[error("the path {0} is not valid UTF-8, which the probe's spec cannot carry")]
    NotUtf8(PathBuf),
    #[error("the probe folder {path} cannot be put on PYTHONPATH")]
    PythonPath {
        path: PathBuf,
        #[source]
        source: std::env::JoinPathsError,
    },
}

/// A Python function: its file relative to the project root (`/` separators) and its
/// qualified name (`Budget.share`; before Python 3.11 the probe reports only `share`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FunctionId {
    pub file: String,
    pub qualname: String,
}

impl FunctionId {
    pub fn new(file: impl Into<String>, qualname: impl Into<String>) -> FunctionId {
        FunctionId {
            file: file.into(),
            qualname: qualname.into(),
        }
    }

    /// Whether `other` names the same function: the same file, and the same qualified name,
    /// or the same last component when either name has no dot.
    pub fn matches(&self, other: &FunctionId) -> bool {
        normal_file(&self.file) == normal_file(&other.file)
            && qualnames_match(&self.qualname, &other.qualname)
    }
}

fn normal_file(file: &str) -> &str {
    let mut file = file;
    while let Some(rest) = file.strip_prefix("./") {
        file = rest;
    }
    file
}

fn qualnames_match(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let last = |s: &str| s.rsplit('.').next().unwrap_or(s).to_string();
    (!a.contains('.') || !b.contains('.')) && last(a) == last(b)
}

/// Bounds of what the probe records in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Calls of one function observed before it stops being watched.
    pub max_calls: u64,
    /// Distinct (arguments, value) lines written for one function.
    pub max_values: u64,
    /// Size of the output file past which the probe stops altogether.
    pub max_bytes: u64,
    /// Characters of one rendered value.
    pub max_repr: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_calls: 2000,
            max_values: 256,
            max_bytes: 1024 * 1024,
            max_repr: 200,
        }
    }
}

/// What one run watches.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    /// The copy's root, absolute: files outside it are never watched.
    pub root: PathBuf,
    /// Every function defined in these root-relative files is watched (the baselines).
    pub files: Vec<String>,
    /// These functions are watched (the fixed run).
    pub functions: Vec<FunctionId>,
    pub limits: Limits,
}

/// The spec file as `probe.py` reads it.
#[derive(Serialize)]
struct SpecWire<'a> {
    root: &'a str,
    files: &'a [String],
    functions: Vec<[&'a str; 2]>,
    max_calls: u64,
    max_values: u64,
    max_bytes: u64,
    max_repr: u64,
}

/// What [`install`] set up for one run.
#[derive(Debug, Clone)]
pub struct Installed {
    /// To set on the run: `PYTHONPATH` (the probe's folder first), `HEAL_PROBE_SPEC`,
    /// `HEAL_PROBE_OUT`.
    pub env: Vec<(String, OsString)>,
    /// Where the probe writes; give it to [`read`] after the run.
    pub output: PathBuf,
}

/// Writes `sitecustomize.py` and the spec into `dir`, a fresh folder heal owns outside the
/// copy (one per run), and returns the environment for the run. `PYTHONPATH` is the folder
/// followed by heal's own `PYTHONPATH`, if any, so the program still finds what it found.
pub fn install(dir: &Path, spec: &ProbeSpec) -> Result<Installed, ProbeError> {
    let dir = std::path::absolute(dir).map_err(|source| ProbeError::Folder {
        path: dir.to_path_buf(),
        source,
    })?;
    let python_path = prepend_python_path(&dir, std::env::var_os("PYTHONPATH").as_deref())?;
    let spec_path = dir.join(SPEC_FILE);
    let output = dir.join(OUT_FILE);
    write_file(&dir.join(SITECUSTOMIZE), PROBE_PY.as_bytes())?;
    write_file(&spec_path, spec_json(spec)?.as_bytes())?;
    Ok(Installed {
        env: vec![
            ("PYTHONPATH".to_string(), python_path),
            ("HEAL_PROBE_SPEC".to_string(), spec_path.into_os_string()),
            (
                "HEAL_PROBE_OUT".to_string(),
                output.clone().into_os_string(),
            ),
        ],
        output,
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ProbeError> {
    std::fs::write(path, bytes).map_err(|source| ProbeError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The spec file's text. Pure.
fn spec_json(spec: &ProbeSpec) -> Result<String, ProbeError> {
    let root = spec
        .root
        .to_str()
        .ok_or_else(|| ProbeError::NotUtf8(spec.root.clone()))?;
    let wire = SpecWire {
        root,
        files: &spec.files,
        functions: spec
            .functions
            .iter()
            .map(|f| [normal_file(&f.file), f.qualname.as_str()])
            .collect(),
        max_calls: spec.limits.max_calls,
        max_values: spec.limits.max_values,
        max_bytes: spec.limits.max_bytes,
        max_repr: spec.limits.max_repr,
    };
    serde_json::to_string(&wire).map_err(ProbeError::Spec)
}

/// `dir` followed by `existing` (left byte for byte as it was). Pure.
pub fn prepend_python_path(dir: &Path, existing: Option<&OsStr>) -> Result<OsString, ProbeError> {
    let mut out = std::env::join_paths([dir]).map_err(|source| ProbeError::PythonPath {
        path: dir.to_path_buf(),
        source,
    })?;
    if let Some(existing) = existing.filter(|e| !e.is_empty()) {
        out.push(":");
        out.push(existing);
    }
    Ok(out)
}

/// What one function did in one run: its arguments, each with the values it returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionCalls {
    pub results: BTreeMap<String, BTreeSet<String>>,
    /// Calls that raised (most likely: an exception was seen and the call ended without a
    /// value), by arguments: the exception's type. Context for the model, never judged.
    pub raised: BTreeMap<String, String>,
    /// The probe stopped watching it (bounds), so calls may be missing.
    pub truncated: bool,
}

/// What the probe saw in one run. [`Calls::default`] is a run where it did not load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calls {
    loaded: bool,
    cut: bool,
    ignored_lines: usize,
    functions: BTreeMap<FunctionId, FunctionCalls>,
}

/// One line of the probe's output.
#[derive(Deserialize)]
struct LineWire {
    probe: Option<String>,
    file: Option<String>,
    #[serde(rename = "fn")]
    function: Option<String>,
    args: Option<String>,
    ret: Option<String>,
    raised: Option<String>,
    #[serde(default)]
    truncated: bool,
}

impl Calls {
    /// A run in which the probe loaded and has seen nothing yet (for building `Calls` by hand).
    pub fn loaded_empty() -> Calls {
        Calls {
            loaded: true,
            ..Calls::default()
        }
    }

    /// Whether the probe loaded in at least one process of the run.
    pub fn probe_loaded(&self) -> bool {
        self.loaded
    }

    /// Whether the output stopped at its size bound (so any function may miss calls).
    pub fn cut(&self) -> bool {
        self.cut
    }

    /// Lines that could not be read (malformed, torn, or of an unknown shape).
    pub fn ignored_lines(&self) -> usize {
        self.ignored_lines
    }

    pub fn functions(&self) -> &BTreeMap<FunctionId, FunctionCalls> {
        &self.functions
    }

    /// Adds one call: `function` returned `ret` when called with `args`.
    pub fn record(&mut self, function: FunctionId, args: &str, ret: &str) {
        self.functions
            .entry(function)
            .or_default()
            .results
            .entry(args.to_string())
            .or_default()
            .insert(ret.to_string());
    }

    /// What the calls of the function named `name` (its qualified name's last part, in
    /// `file`) did, as sentences for the model: the ones that raised first, then some that
    /// returned; at most `max`.
    pub fn described(&self, file: &str, name: &str, max: usize) -> Vec<String> {
        let mut raised = Vec::new();
        let mut returned = Vec::new();
        for (id, calls) in &self.functions {
            if id.file != file || id.qualname.rsplit('.').next() != Some(name) {
                continue;
            }
            let short = id.qualname.rsplit('.').next().unwrap_or(&id.qualname);
            for (args, exc) in &calls.raised {
                raised.push(format!("{short}({args}) raised {exc}"));
            }
            for (args, rets) in &calls.results {
                for ret in rets {
                    returned.push(format!("{short}({args}) returned {ret}"));
                }
            }
        }
        raised.truncate(max / 2 + max % 2);
        let room = max.saturating_sub(raised.len());
        raised.extend(returned.into_iter().take(room));
        raised
    }

    pub fn mark_truncated(&mut self, function: FunctionId) {
        self.functions.entry(function).or_default().truncated = true;
    }

    /// Reads the probe's JSON lines. Never fails: a line that is not whole, not JSON or not of
    /// a known shape is counted in [`Calls::ignored_lines`] and skipped. Pure.
    pub fn parse(bytes: &[u8]) -> Calls {
        let mut calls = Calls::default();
        let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        // What follows the last newline is a torn line (or nothing): the probe writes each
        // line and its newline in one write.
        if lines.pop().is_some_and(|rest| !rest.is_empty()) {
            calls.ignored_lines += 1;
        }
        for line in lines.into_iter().filter(|l| !l.is_empty()) {
            match serde_json::from_slice::<LineWire>(line) {
                Ok(wire) => calls.take(wire),
                Err(_) => calls.ignored_lines += 1,
            }
        }
        calls
    }

    fn take(&mut self, wire: LineWire) {
        match wire {
            LineWire { probe: Some(_), .. } => self.loaded = true,
            LineWire {
                file: Some(file),
                function: Some(function),
                args: Some(args),
                ret: Some(ret),
                ..
            } => self.record(FunctionId::new(file, function), &args, &ret),
            LineWire {
                file: Some(file),
                function: Some(function),
                args: Some(args),
                raised: Some(raised),
                ..
            } => {
                self.functions
                    .entry(FunctionId::new(file, function))
                    .or_default()
                    .raised
                    .insert(args, raised);
            }
            LineWire {
                file: Some(file),
                function: Some(function),
                truncated: true,
                ..
            } => self.mark_truncated(FunctionId::new(file, function)),
            LineWire {
                file: None,
                function: None,
                truncated: true,
                ..
            } => self.cut = true,
            _ => self.ignored_lines += 1,
        }
    }

    /// The calls of every recorded function that `edited` names, merged.
    fn of(&self, edited: &FunctionId) -> BTreeMap<&str, BTreeSet<&str>> {
        let mut out: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (id, calls) in &self.functions {
            if !edited.matches(id) {
                continue;
            }
            for (args, rets) in &calls.results {
                out.entry(args.as_str())
                    .or_default()
                    .extend(rets.iter().map(String::as_str));
            }
        }
        out
    }
}

/// Reads the probe's output file, at most [`MAX_READ_BYTES`] of it. A missing or unreadable
/// file is a run where the probe did not load.
pub fn read(path: &Path) -> Calls {
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path)
        .and_then(|file| file.take(MAX_READ_BYTES).read_to_end(&mut bytes));
    if let Err(err) = read {
        if err.kind() != std::io::ErrorKind::NotFound {
            tracing::debug!("cannot read the probe's output {}: {err}", path.display());
        }
        return Calls::default();
    }
    let mut calls = Calls::parse(&bytes);
    if bytes.len() as u64 >= MAX_READ_BYTES {
        calls.cut = true;
    }
    calls
}

/// The verdict on the edited functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// Every judged function kept its results. `not_judged` says which edited functions could
    /// not be judged and why ([`NO_DATA`], [`NEVER_RETURNED`], [`NOT_DETERMINISTIC`],
    /// [`NO_COMMON_CALL`]); `calls_compared` counts the argument lists compared.
    Kept {
        judged: Vec<FunctionId>,
        not_judged: Vec<(FunctionId, String)>,
        calls_compared: usize,
    },
    /// The first changed call found: `call` like `cost_per_click(10.0, 4)`, `after` the fixed
    /// run's values for it (joined with " or " when there are several).
    Changed {
        function: FunctionId,
        call: String,
        before: String,
        after: String,
    },
}

impl Judgement {
    pub fn is_changed(&self) -> bool {
        matches!(self, Judgement::Changed { .. })
    }

    /// One sentence for the report: `cost_per_click(10.0, 4) returned 2.5 before the fix and
    /// None after`, or what was kept and what could not be judged.
    pub fn describe(&self) -> String {
        match self {
            Judgement::Changed {
                call,
                before,
                after,
                ..
            } => format!("{call} returned {before} before the fix and {after} after"),
            Judgement::Kept {
                judged,
                not_judged,
                calls_compared,
            } => {
                let mut parts = Vec::new();
                if !judged.is_empty() {
                    let names: Vec<&str> = judged.iter().map(|f| f.qualname.as_str()).collect();
                    let s = if *calls_compared == 1 { "" } else { "s" };
                    parts.push(format!(
                        "{} kept {} results ({calls_compared} call{s} compared)",
                        names.join(", "),
                        if judged.len() == 1 { "its" } else { "their" },
                    ));
                }
                if !not_judged.is_empty() {
                    let why: Vec<String> = not_judged
                        .iter()
                        .map(|(f, reason)| format!("{} ({reason})", f.qualname))
                        .collect();
                    parts.push(format!("not judged: {}", why.join(", ")));
                }
                if parts.is_empty() {
                    "no edited function to judge".to_string()
                } else {
                    parts.join("; ")
                }
            }
        }
    }
}

/// Compares the edited functions' calls: `baselines` are the unchanged runs (two, so that
/// non-determinism shows), `fixed` the run with the fix. Pure.
///
/// For each edited function the baselines' calls are merged into arguments → values. A
/// function with no call is not judged ([`NEVER_RETURNED`]); one whose arguments gave more
/// than one value, across or within the baseline runs, is not judged either
/// ([`NOT_DETERMINISTIC`]): that is how results depending on time, randomness or state are
/// told apart from results the fix changed. For the other functions, every argument list the
/// fixed run also made must have returned the baseline's value there (among others, see the
/// module's Decisions), else the first such call is [`Judgement::Changed`]. If any run has no
/// data, nothing is judged ([`NO_DATA`]).
pub fn compare(baselines: &[Calls], fixed: &Calls, edited: &[FunctionId]) -> Judgement {
    compare_for(baselines, fixed, edited, false)
}

/// [`compare`], for an incident whose error was about a None (`'NoneType' object has no
/// attribute 'name'`) when `none_was_the_error`: a call that returned None before the fix may
/// return something else after, since that None is the bad value the fix must change (a
/// lookup that found nothing, a function that forgot its `return`). Every other call must
/// keep its result.
pub fn compare_for(
    baselines: &[Calls],
    fixed: &Calls,
    edited: &[FunctionId],
    none_was_the_error: bool,
) -> Judgement {
    let no_data = baselines.is_empty() || !fixed.loaded || baselines.iter().any(|b| !b.loaded);
    let mut judged = Vec::new();
    let mut not_judged = Vec::new();
    let mut calls_compared = 0;
    let mut seen = BTreeSet::new();
    for function in edited {
        if !seen.insert(function) {
            continue;
        }
        if no_data {
            not_judged.push((function.clone(), NO_DATA.to_string()));
            continue;
        }
        let mut before: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for run in baselines {
            for (args, rets) in run.of(function) {
                before.entry(args).or_default().extend(rets);
            }
        }
        if none_was_the_error {
            for rets in before.values_mut() {
                if rets.len() == 1 && rets.contains("None") {
                    rets.clear();
                }
            }
            before.retain(|_, rets| !rets.is_empty());
        }
        match judge_one(&before, &fixed.of(function)) {
            Verdict::NotJudged(reason) => not_judged.push((function.clone(), reason.to_string())),
            Verdict::Kept(n) => {
                judged.push(function.clone());
                calls_compared += n;
            }
            Verdict::Changed {
                args,
                before,
                after,
            } => {
                return Judgement::Changed {
                    function: function.clone(),
                    call: format!("{}({args})", function.qualname),
                    before,
                    after,
                };
            }
        }
    }
    Judgement::Kept {
        judged,
        not_judged,
        calls_compared,
    }
}

enum Verdict {
    NotJudged(&'static str),
    Kept(usize),
    Changed {
        args: String,
        before: String,
        after: String,
    },
}

fn judge_one(
    before: &BTreeMap<&str, BTreeSet<&str>>,
    after: &BTreeMap<&str, BTreeSet<&str>>,
) -> Verdict {
    if before.is_empty() {
        return Verdict::NotJudged(NEVER_RETURNED);
    }
    if before.values().any(|rets| rets.len() > 1) {
        return Verdict::NotJudged(NOT_DETERMINISTIC);
    }
    let mut compared = 0;
    for (args, rets) in before {
        let (Some(was), Some(now)) = (rets.first(), after.get(args)) else {
            continue;
        };
        compared += 1;
        if !now.contains(was) {
            return Verdict::Changed {
                args: (*args).to_string(),
                before: (*was).to_string(),
                after: now.iter().copied().collect::<Vec<_>>().join(" or "),
            };
        }
    }
    if compared == 0 {
        Verdict::NotJudged(NO_COMMON_CALL)
    } else {
        Verdict::Kept(compared)
    }
}

#[cfg(test)]
mod tests;
