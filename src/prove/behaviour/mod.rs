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
//! Understood: CPython 3.8 and later started normally. Calls are keyed by their rendered
//! arguments (`10.0, 4`; a first parameter `self`/`cls` is rendered as its name) and values by
//! a bounded repr with memory addresses masked and set items (and small dicts) sorted. A call
//! during which an exception was seen and that "returned" None is not recorded: it may have
//! been unwinding.
//!
//! Not understood (the function is reported as not judged, never as changed): Python started
//! with `-S`, `-I` or `-E`, or older than 3.8, or a program that is not Python at all ("no
//! data"); generators and coroutines (never watched); a program that sets its own trace
//! function (`sys.settrace`: debuggers, coverage) stops the probe from then on.
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
//! Costs (the header of `probe.py` lists them all): while its tracer is on, call-heavy Python
//! runs about twice as slow (`bench/probe_cost.sh`), so the time limits of probed runs should
//! allow for it; a run watching named functions only drops the tracer once they are all past
//! their bounds.
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
mod tests {
    use super::*;
    use std::process::{Command, Output};

    /// The probe's tests run real Python: a missing interpreter fails them, loudly.
    fn python3() -> &'static str {
        let found = Command::new("python3")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "python3 is required by the probe's tests and was not found on PATH"
        );
        "python3"
    }

    fn id(file: &str, qualname: &str) -> FunctionId {
        FunctionId::new(file, qualname)
    }

    /// One run of a program, with or without the probe.
    struct Run {
        output: Output,
        calls: Calls,
        raw: String,
    }

    impl Run {
        fn stdout(&self) -> String {
            String::from_utf8_lossy(&self.output.stdout).into_owned()
        }

        /// The values `function` returned for `args` (matched like `compare` does).
        fn rets(&self, function: &FunctionId, args: &str) -> Vec<String> {
            self.calls
                .of(function)
                .get(args)
                .map(|rets| rets.iter().map(|r| r.to_string()).collect())
                .unwrap_or_default()
        }

        fn lines_of(&self, qualname: &str) -> Vec<serde_json::Value> {
            self.raw
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter(|v| v["fn"] == qualname)
                .collect()
        }
    }

    struct Project {
        root: tempfile::TempDir,
    }

    impl Project {
        fn new(files: &[(&str, &str)]) -> Project {
            let project = Project {
                root: tempfile::tempdir().unwrap(),
            };
            for (name, text) in files {
                project.write(name, text);
            }
            project
        }

        fn write(&self, name: &str, text: &str) {
            std::fs::write(self.root.path().join(name), text).unwrap();
        }

        fn root(&self) -> PathBuf {
            self.root.path().to_path_buf()
        }

        fn baseline_spec(&self, files: &[&str]) -> ProbeSpec {
            ProbeSpec {
                root: self.root(),
                files: files.iter().map(|f| f.to_string()).collect(),
                functions: Vec::new(),
                limits: Limits::default(),
            }
        }

        fn fixed_spec(&self, functions: &[FunctionId]) -> ProbeSpec {
            ProbeSpec {
                root: self.root(),
                files: Vec::new(),
                functions: functions.to_vec(),
                limits: Limits::default(),
            }
        }

        fn command(&self, script: &str) -> Command {
            let mut cmd = Command::new(python3());
            cmd.arg(script)
                .current_dir(self.root.path())
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .env_remove("PYTHONPATH")
                .env_remove("HEAL_PROBE_SPEC")
                .env_remove("HEAL_PROBE_OUT");
            cmd
        }

        fn run_plain(&self, script: &str) -> Output {
            self.command(script).output().unwrap()
        }

        fn run_probed(&self, script: &str, spec: &ProbeSpec) -> Run {
            self.run_probed_with(script, spec, None, &[])
        }

        /// Runs with the probe in a fresh folder, `python_path` after it on PYTHONPATH (as
        /// heal's own PYTHONPATH would be); `env` is set after the probe's variables.
        fn run_probed_with(
            &self,
            script: &str,
            spec: &ProbeSpec,
            python_path: Option<&Path>,
            env: &[(&str, OsString)],
        ) -> Run {
            let folder = tempfile::tempdir().unwrap();
            let installed = install(folder.path(), spec).unwrap();
            let mut cmd = self.command(script);
            cmd.envs(installed.env.iter().map(|(k, v)| (k, v)));
            if let Some(tail) = python_path {
                let joined = prepend_python_path(folder.path(), Some(tail.as_os_str())).unwrap();
                cmd.env("PYTHONPATH", joined);
            }
            cmd.envs(env.iter().map(|(k, v)| (k, v)));
            let output = cmd.output().unwrap();
            let raw = std::fs::read_to_string(&installed.output).unwrap_or_default();
            Run {
                output,
                calls: read(&installed.output),
                raw,
            }
        }
    }

    const COST_CRASHES: &str = "\
def cost_per_click(spend, clicks):
    return spend / clicks


for spend, clicks in [(10.0, 4), (3.0, 2), (10.0, 0), (8.0, 4)]:
    print(cost_per_click(spend, clicks))
";

    const COST_BAD_FIX: &str = "\
def cost_per_click(spend, clicks):
    if clicks == 0:
        return 0.0


for spend, clicks in [(10.0, 4), (3.0, 2), (10.0, 0), (8.0, 4)]:
    print(cost_per_click(spend, clicks))
";

    const COST_GOOD_FIX: &str = "\
def cost_per_click(spend, clicks):
    if clicks == 0:
        return 0.0
    return spend / clicks


for spend, clicks in [(10.0, 4), (3.0, 2), (10.0, 0), (8.0, 4)]:
    print(cost_per_click(spend, clicks))
";

    #[test]
    fn cost_per_click_bad_fix_is_caught_and_good_fix_kept() {
        let project = Project::new(&[("app.py", COST_CRASHES)]);
        let cost = id("app.py", "cost_per_click");
        let spec = project.baseline_spec(&["app.py"]);
        let baselines = [
            project.run_probed("app.py", &spec),
            project.run_probed("app.py", &spec),
        ];
        for run in &baselines {
            assert!(!run.output.status.success(), "the baseline crashes");
            assert_eq!(run.rets(&cost, "10.0, 4"), ["2.5"]);
            assert_eq!(run.rets(&cost, "3.0, 2"), ["1.5"]);
            // It raised: recording it as returning None would be a lie.
            assert!(run.rets(&cost, "10.0, 0").is_empty(), "{}", run.raw);
            assert!(run.rets(&cost, "8.0, 4").is_empty());
        }
        let baselines = baselines.map(|run| run.calls);

        project.write("app.py", COST_BAD_FIX);
        let fixed = project.run_probed("app.py", &project.fixed_spec(std::slice::from_ref(&cost)));
        assert!(fixed.output.status.success());
        let judgement = compare(&baselines, &fixed.calls, std::slice::from_ref(&cost));
        assert_eq!(
            judgement.describe(),
            "cost_per_click(10.0, 4) returned 2.5 before the fix and None after"
        );
        assert!(judgement.is_changed());

        project.write("app.py", COST_GOOD_FIX);
        let fixed = project.run_probed("app.py", &project.fixed_spec(std::slice::from_ref(&cost)));
        assert_eq!(fixed.stdout(), "2.5\n1.5\n0.0\n2.0\n");
        assert_eq!(
            compare(&baselines, &fixed.calls, std::slice::from_ref(&cost)),
            Judgement::Kept {
                judged: vec![cost],
                not_judged: Vec::new(),
                calls_compared: 2,
            }
        );
    }

    #[test]
    fn results_that_depend_on_time_or_randomness_are_not_judged() {
        let program = "\
import random, time


def roll():
    return random.random()


def stamp():
    return time.time()


def double(x):
    return 2 * x


roll(); stamp(); double(21)
";
        let project = Project::new(&[("app.py", program)]);
        let spec = project.baseline_spec(&["app.py"]);
        let baselines = [
            project.run_probed("app.py", &spec).calls,
            project.run_probed("app.py", &spec).calls,
        ];
        let edited = [
            id("app.py", "roll"),
            id("app.py", "stamp"),
            id("app.py", "double"),
        ];
        // The program is not even changed: whatever varies by itself must not count as a change.
        let fixed = project.run_probed("app.py", &project.fixed_spec(&edited));
        assert_eq!(
            compare(&baselines, &fixed.calls, &edited),
            Judgement::Kept {
                judged: vec![id("app.py", "double")],
                not_judged: vec![
                    (id("app.py", "roll"), NOT_DETERMINISTIC.to_string()),
                    (id("app.py", "stamp"), NOT_DETERMINISTIC.to_string()),
                ],
                calls_compared: 1,
            }
        );
    }

    #[test]
    fn a_method_renders_self_and_cls_by_name() {
        let program = "\
class Budget:
    def __init__(self, total):
        self.total = total

    def share(self, parts):
        return self.total / parts

    @classmethod
    def empty(cls):
        return cls(0)


print(Budget(9).share(3), Budget.empty().total)
";
        let project = Project::new(&[("app.py", program)]);
        let run = project.run_probed("app.py", &project.baseline_spec(&["app.py"]));
        assert_eq!(run.stdout(), "3.0 0\n");
        assert_eq!(run.rets(&id("app.py", "Budget.share"), "self, 3"), ["3.0"]);
        assert_eq!(
            run.rets(&id("app.py", "Budget.empty"), "cls"),
            ["<__main__.Budget object at 0x?>"]
        );
        assert_eq!(
            run.rets(&id("app.py", "Budget.__init__"), "self, 0"),
            ["None"]
        );
    }

    #[test]
    fn a_repr_that_raises_is_named_not_raised() {
        let program = "\
class Sulky:
    def __repr__(self):
        raise RuntimeError('no repr for you')


def make():
    return Sulky()


def take(thing):
    return 1


print(take(make()))
";
        let project = Project::new(&[("app.py", program)]);
        let run = project.run_probed("app.py", &project.baseline_spec(&["app.py"]));
        assert_eq!(run.stdout(), "1\n");
        assert_eq!(run.output.stderr, b"");
        assert_eq!(
            run.rets(&id("app.py", "make"), ""),
            ["<repr failed: Sulky>"]
        );
        assert_eq!(
            run.rets(&id("app.py", "take"), "<repr failed: Sulky>"),
            ["1"]
        );
    }

    #[test]
    fn addresses_are_masked_and_sets_and_dicts_sorted() {
        let program = "\
def thing():
    return object()


def func():
    return thing


def letters():
    return {'c', 'a', 'b'}


def counts():
    return {'b': 2, 'a': 1}


def hex_text():
    return '0xdeadbeef'


thing(); func(); letters(); counts(); hex_text()
";
        let project = Project::new(&[("app.py", program)]);
        let spec = project.baseline_spec(&["app.py"]);
        let run = project.run_probed("app.py", &spec);
        assert_eq!(
            run.rets(&id("app.py", "thing"), ""),
            ["<object object at 0x?>"]
        );
        assert_eq!(
            run.rets(&id("app.py", "func"), ""),
            ["<function thing at 0x?>"]
        );
        assert_eq!(run.rets(&id("app.py", "letters"), ""), ["{'a', 'b', 'c'}"]);
        assert_eq!(run.rets(&id("app.py", "counts"), ""), ["{'a': 1, 'b': 2}"]);
        // A string is the program's own data, not an address.
        assert_eq!(run.rets(&id("app.py", "hex_text"), ""), ["'0xdeadbeef'"]);
        // Sorted and masked, the same program gives the same lines every run (string hashing
        // and addresses change between runs).
        let again = project.run_probed("app.py", &spec);
        assert_eq!(run.calls, again.calls);
    }

    #[test]
    fn a_call_that_saw_an_exception_and_returned_none_is_not_recorded() {
        let program = "\
def parse(text):
    try:
        return int(text)
    except ValueError:
        return None


def recover(text):
    try:
        return int(text)
    except ValueError:
        return -1


parse('12'); parse('x'); recover('x')
";
        let project = Project::new(&[("app.py", program)]);
        let run = project.run_probed("app.py", &project.baseline_spec(&["app.py"]));
        assert_eq!(run.rets(&id("app.py", "parse"), "'12'"), ["12"]);
        assert!(run.rets(&id("app.py", "parse"), "'x'").is_empty());
        assert_eq!(run.rets(&id("app.py", "recover"), "'x'"), ["-1"]);
    }

    // Swallowing a RecursionError raised in the tracer while the program was at its limit made
    // Python 3.8 abort ("Cannot recover from stack overflow"); a __repr__ that recursed without
    // end must stay a failed repr, not become the program's error.
    #[test]
    fn recursion_errors_stay_the_programs() {
        let program = "\
class Loop:
    def __repr__(self):
        return 'Loop(%r)' % (self,)


def make():
    return Loop()


def deeper(n):
    return deeper(n + 1)


print(make().__class__.__name__)
try:
    deeper(0)
except RecursionError:
    print('limit reached')
";
        let project = Project::new(&[("app.py", program)]);
        let run = project.run_probed("app.py", &project.baseline_spec(&["app.py"]));
        assert_eq!(run.stdout(), "Loop\nlimit reached\n");
        assert_eq!(run.output.stderr, b"");
        assert!(run.output.status.success());
        assert_eq!(run.rets(&id("app.py", "make"), ""), ["<repr failed: Loop>"]);
    }

    const MANY_CALLS: &str = "\
def ident(n):
    return n


def tens(n):
    return n * 10


for i in range(100000):
    ident(i)
    tens(i % 10)
print('done')
";

    #[test]
    fn a_function_called_100000_times_writes_at_most_max_values_lines() {
        let project = Project::new(&[("app.py", MANY_CALLS)]);
        let mut spec = project.baseline_spec(&["app.py"]);
        spec.limits.max_values = 50;
        spec.limits.max_calls = 1_000_000;
        let run = project.run_probed("app.py", &spec);
        assert_eq!(run.stdout(), "done\n");
        let ident = run.lines_of("ident");
        assert_eq!(ident.iter().filter(|v| v.get("ret").is_some()).count(), 50);
        assert_eq!(ident.iter().filter(|v| v["truncated"] == true).count(), 1);
        // Ten values only, and the call bound is far: nothing cut.
        let tens = run.lines_of("tens");
        assert_eq!(tens.len(), 10);
        let calls = &run.calls.functions()[&id("app.py", "ident")];
        assert!(calls.truncated);
        assert_eq!(calls.results.len(), 50);
        assert!(!run.calls.functions()[&id("app.py", "tens")].truncated);
    }

    #[test]
    fn max_calls_stops_watching_a_function() {
        let project = Project::new(&[("app.py", MANY_CALLS)]);
        let run = project.run_probed("app.py", &project.baseline_spec(&["app.py"]));
        let limits = Limits::default();
        let ident = run.lines_of("ident");
        assert_eq!(
            ident.iter().filter(|v| v.get("ret").is_some()).count() as u64,
            limits.max_values
        );
        let tens = run.lines_of("tens");
        assert_eq!(tens.iter().filter(|v| v.get("ret").is_some()).count(), 10);
        assert_eq!(tens.iter().filter(|v| v["truncated"] == true).count(), 1);
    }

    #[test]
    fn max_bytes_stops_the_probe() {
        let project = Project::new(&[("app.py", MANY_CALLS)]);
        let mut spec = project.baseline_spec(&["app.py"]);
        spec.limits.max_bytes = 2000;
        let run = project.run_probed("app.py", &spec);
        assert_eq!(run.stdout(), "done\n");
        assert!(run.calls.cut());
        assert!(run.raw.len() <= 2000 + "{\"truncated\": true}\n".len());
        assert_eq!(run.calls.ignored_lines(), 0);
    }

    #[test]
    fn the_projects_own_sitecustomize_still_runs() {
        let project = Project::new(&[
            (
                "sitecustomize.py",
                "import os\nos.environ['PROJECT_SITECUSTOMIZE'] = 'ran'\n",
            ),
            (
                "app.py",
                "\
import os, sys, sitecustomize


def answer():
    return 42


print(os.environ.get('PROJECT_SITECUSTOMIZE'), sitecustomize.__file__, answer())
print(sys.path[1:])
",
            ),
        ]);
        let root = project.root();
        let plain = project
            .command("app.py")
            .env("PYTHONPATH", &root)
            .output()
            .unwrap();
        let spec = project.fixed_spec(&[id("app.py", "answer")]);
        let run = project.run_probed_with("app.py", &spec, Some(&root), &[]);
        let expected = format!("ran {} 42\n", root.join("sitecustomize.py").display());
        assert!(run.stdout().starts_with(&expected), "{}", run.stdout());
        // The same sys.path as without the probe: its own folder is gone, nothing else is.
        assert_eq!(run.output.stdout, plain.stdout);
        assert_eq!(run.output.stderr, b"");
        assert_eq!(run.rets(&id("app.py", "answer"), ""), ["42"]);
    }

    #[test]
    fn the_output_is_unchanged_byte_for_byte() {
        let program = "\
import sys, threading


def shout(word):
    print(word.upper())
    print('to stderr', word, file=sys.stderr)
    return word


threads = [threading.Thread(target=shout, args=(w,)) for w in ['a', 'b']]
for t in threads:
    t.start()
    t.join()
print(sys.path)
print(1 / 0)
";
        let project = Project::new(&[("app.py", program)]);
        let plain = project.run_plain("app.py");
        assert!(!plain.status.success());
        assert!(!plain.stderr.is_empty());

        let spec = project.baseline_spec(&["app.py"]);
        let probed = project.run_probed("app.py", &spec);
        assert_eq!(probed.output.status.code(), plain.status.code());
        assert_eq!(probed.output.stdout, plain.stdout);
        assert_eq!(probed.output.stderr, plain.stderr);
        // Calls from threads are watched too.
        assert_eq!(probed.rets(&id("app.py", "shout"), "'b'"), ["'b'"]);

        // A probe that cannot work switches itself off without a word.
        let broken = [
            ("HEAL_PROBE_SPEC", OsString::from("/nonexistent/spec.json")),
            ("HEAL_PROBE_OUT", OsString::from("/nonexistent/out.jsonl")),
        ];
        let probed = project.run_probed_with("app.py", &spec, None, &broken);
        assert_eq!(probed.output.stdout, plain.stdout);
        assert_eq!(probed.output.stderr, plain.stderr);
        let unwritable = [("HEAL_PROBE_OUT", OsString::from("/nonexistent/out.jsonl"))];
        let probed = project.run_probed_with("app.py", &spec, None, &unwritable);
        assert_eq!(probed.output.stdout, plain.stdout);
        assert_eq!(probed.output.stderr, plain.stderr);
    }

    #[test]
    fn multiprocessing_children_append_whole_lines() {
        let program = "\
import multiprocessing as mp


def square(x):
    return x * x


def main():
    for method, numbers in [('spawn', range(0, 20)), ('fork', range(20, 40))]:
        with mp.get_context(method).Pool(2) as pool:
            print(method, sum(pool.map(square, numbers, chunksize=1)))


if __name__ == '__main__':
    main()
";
        let project = Project::new(&[("app.py", program)]);
        let square = id("app.py", "square");
        let run = project.run_probed("app.py", &project.fixed_spec(std::slice::from_ref(&square)));
        assert_eq!(run.stdout(), "spawn 2470\nfork 18070\n");
        assert_eq!(run.output.stderr, b"");
        assert_eq!(run.calls.ignored_lines(), 0, "{}", run.raw);
        assert!(run.raw.ends_with('\n'));
        for x in 0..40 {
            assert_eq!(
                run.rets(&square, &x.to_string()),
                [(x * x).to_string()],
                "{}",
                run.raw
            );
        }
    }

    #[test]
    fn python_started_without_site_gives_no_data() {
        let project = Project::new(&[("app.py", COST_CRASHES)]);
        let folder = tempfile::tempdir().unwrap();
        let installed = install(folder.path(), &project.baseline_spec(&["app.py"])).unwrap();
        let output = Command::new(python3())
            .args(["-S", "app.py"])
            .current_dir(project.root.path())
            .envs(installed.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        assert!(!output.status.success());
        let calls = read(&installed.output);
        assert!(!calls.probe_loaded());
        let cost = id("app.py", "cost_per_click");
        assert_eq!(
            compare(
                &[calls.clone(), calls.clone()],
                &calls,
                std::slice::from_ref(&cost)
            ),
            Judgement::Kept {
                judged: Vec::new(),
                not_judged: vec![(cost, NO_DATA.to_string())],
                calls_compared: 0,
            }
        );
    }

    // Pure parts.

    fn calls(lines: &[(&str, &str, &str)]) -> Calls {
        let mut calls = Calls::loaded_empty();
        for (function, args, ret) in lines {
            calls.record(id("app.py", function), args, ret);
        }
        calls
    }

    #[test]
    fn compare_finds_the_first_changed_call() {
        let before = calls(&[("f", "1", "2"), ("f", "2", "4"), ("g", "1", "'a'")]);
        let after = calls(&[("f", "1", "2"), ("f", "2", "5"), ("g", "1", "'b'")]);
        let judgement = compare(
            &[before.clone(), before],
            &after,
            &[id("app.py", "f"), id("app.py", "g")],
        );
        assert_eq!(
            judgement,
            Judgement::Changed {
                function: id("app.py", "f"),
                call: "f(2)".to_string(),
                before: "4".to_string(),
                after: "5".to_string(),
            }
        );
        assert_eq!(
            judgement.describe(),
            "f(2) returned 4 before the fix and 5 after"
        );
    }

    #[test]
    fn compare_skips_keys_missing_on_either_side() {
        let before = calls(&[("f", "1", "2"), ("f", "2", "4")]);
        let after = calls(&[("f", "1", "2"), ("f", "3", "9")]);
        assert_eq!(
            compare(&[before.clone(), before], &after, &[id("app.py", "f")]),
            Judgement::Kept {
                judged: vec![id("app.py", "f")],
                not_judged: Vec::new(),
                calls_compared: 1,
            }
        );
    }

    #[test]
    fn compare_accepts_more_values_after_as_long_as_the_baselines_is_among_them() {
        // A method keyed `self`, called later on another object in the run that goes further.
        let before = calls(&[("total", "self", "10")]);
        let after = calls(&[("total", "self", "10"), ("total", "self", "25")]);
        assert!(
            !compare(
                &[before.clone(), before.clone()],
                &after,
                &[id("app.py", "total")]
            )
            .is_changed()
        );
        let after = calls(&[("total", "self", "25"), ("total", "self", "None")]);
        assert_eq!(
            compare(&[before.clone(), before], &after, &[id("app.py", "total")]).describe(),
            "total(self) returned 10 before the fix and 25 or None after"
        );
    }

    #[test]
    fn compare_does_not_judge_what_varies_without_the_fix() {
        let across = [calls(&[("f", "", "1")]), calls(&[("f", "", "2")])];
        let within = [calls(&[("g", "", "1"), ("g", "", "2")]), calls(&[])];
        let after = calls(&[("f", "", "3"), ("g", "", "3")]);
        for baselines in [&across, &within] {
            let judgement = compare(baselines, &after, &[id("app.py", "f"), id("app.py", "g")]);
            let Judgement::Kept {
                judged, not_judged, ..
            } = judgement
            else {
                panic!("{judgement:?}");
            };
            assert!(judged.is_empty());
            assert!(not_judged.iter().any(|(_, why)| why == NOT_DETERMINISTIC));
        }
    }

    #[test]
    fn compare_says_why_a_function_was_not_judged() {
        let before = calls(&[("f", "1", "2")]);
        let after = calls(&[("f", "3", "6")]);
        let edited = [id("app.py", "f"), id("app.py", "never")];
        assert_eq!(
            compare(&[before.clone(), before.clone()], &after, &edited),
            Judgement::Kept {
                judged: Vec::new(),
                not_judged: vec![
                    (id("app.py", "f"), NO_COMMON_CALL.to_string()),
                    (id("app.py", "never"), NEVER_RETURNED.to_string()),
                ],
                calls_compared: 0,
            }
        );
        for (baselines, fixed) in [
            (vec![before.clone(), Calls::default()], before.clone()),
            (vec![before.clone(), before.clone()], Calls::default()),
            (Vec::new(), before.clone()),
        ] {
            let Judgement::Kept { not_judged, .. } = compare(&baselines, &fixed, &edited) else {
                panic!("no data is never a change");
            };
            assert!(not_judged.iter().all(|(_, why)| why == NO_DATA));
            assert_eq!(not_judged.len(), 2);
        }
    }

    #[test]
    fn qualnames_match_by_last_component_when_one_side_has_no_dot() {
        // Python before 3.11 reports `share`; heal names `Budget.share`.
        let before = calls(&[("share", "self, 3", "3.0")]);
        let after = calls(&[("share", "self, 3", "None")]);
        let edited = [id("./app.py", "Budget.share")];
        let judgement = compare(&[before.clone(), before], &after, &edited);
        assert_eq!(
            judgement.describe(),
            "Budget.share(self, 3) returned 3.0 before the fix and None after"
        );
        assert!(id("app.py", "share").matches(&id("app.py", "Budget.share")));
        assert!(id("app.py", "Budget.share").matches(&id("app.py", "share")));
        assert!(!id("app.py", "Budget.share").matches(&id("app.py", "Other.share")));
        assert!(!id("app.py", "share").matches(&id("other.py", "share")));
    }

    #[test]
    fn kept_is_described_with_what_was_not_judged() {
        let judgement = Judgement::Kept {
            judged: vec![id("app.py", "cost_per_click")],
            not_judged: vec![(id("app.py", "roll"), NOT_DETERMINISTIC.to_string())],
            calls_compared: 2,
        };
        assert_eq!(
            judgement.describe(),
            "cost_per_click kept its results (2 calls compared); not judged: roll (its results \
             differ between runs of the unchanged program)"
        );
    }

    #[test]
    fn parse_keeps_what_it_can_read() {
        let text = concat!(
            "{\"probe\": \"start\", \"python\": \"3.11.7\"}\n",
            "{\"file\": \"app.py\", \"fn\": \"f\", \"args\": \"1\", \"ret\": \"2\"}\n",
            "not json\n",
            "{\"file\": \"app.py\", \"fn\": \"f\", \"args\": 1, \"ret\": \"2\"}\n",
            "{\"something\": \"else\"}\n",
            "\n",
            "{\"file\": \"app.py\", \"fn\": \"f\", \"truncated\": true}\n",
            "{\"file\": \"app.py\", \"fn\": \"g\", \"args\": \"\", \"ret\": \"'\\u00e9'\"}\n",
            "{\"truncated\": true}\n",
            "{\"file\": \"app.py\", \"fn\": \"f\", \"args\": \"3\", \"re",
        );
        let calls = Calls::parse(text.as_bytes());
        assert!(calls.probe_loaded());
        assert!(calls.cut());
        assert_eq!(calls.ignored_lines(), 4);
        let f = &calls.functions()[&id("app.py", "f")];
        assert!(f.truncated);
        assert_eq!(f.results.len(), 1);
        assert_eq!(calls.of(&id("app.py", "g"))[""].first(), Some(&"'é'"));

        assert_eq!(
            Calls::parse(b"\xff\xfe\n{"),
            Calls {
                ignored_lines: 2,
                ..Calls::default()
            }
        );
    }

    #[test]
    fn a_missing_output_is_a_run_without_data() {
        let dir = tempfile::tempdir().unwrap();
        let calls = read(&dir.path().join("missing.jsonl"));
        assert_eq!(calls, Calls::default());
        assert!(!calls.probe_loaded());
    }

    #[test]
    fn read_stops_at_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.jsonl");
        let line = "{\"file\": \"app.py\", \"fn\": \"f\", \"args\": \"1\", \"ret\": \"2\"}\n";
        let mut text = String::from("{\"probe\": \"start\"}\n");
        while (text.len() as u64) < MAX_READ_BYTES + 1000 {
            text.push_str(line);
        }
        std::fs::write(&path, text).unwrap();
        let calls = read(&path);
        assert!(calls.cut());
        assert!(calls.probe_loaded());
        assert_eq!(calls.functions().len(), 1);
    }

    #[test]
    fn python_path_puts_the_probe_first_and_keeps_the_rest() {
        let dir = Path::new("/tmp/probe");
        assert_eq!(prepend_python_path(dir, None).unwrap(), "/tmp/probe");
        assert_eq!(
            prepend_python_path(dir, Some(OsStr::new(""))).unwrap(),
            "/tmp/probe"
        );
        assert_eq!(
            prepend_python_path(dir, Some(OsStr::new("/a:/b"))).unwrap(),
            "/tmp/probe:/a:/b"
        );
        assert!(prepend_python_path(Path::new("/tmp/a:b"), None).is_err());
    }

    #[test]
    fn the_spec_is_what_probe_py_reads() {
        let spec = ProbeSpec {
            root: PathBuf::from("/copy"),
            files: vec!["app.py".to_string()],
            functions: vec![id("./pkg/mod.py", "Budget.share")],
            limits: Limits::default(),
        };
        let json: serde_json::Value = serde_json::from_str(&spec_json(&spec).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "root": "/copy",
                "files": ["app.py"],
                "functions": [["pkg/mod.py", "Budget.share"]],
                "max_calls": 2000,
                "max_values": 256,
                "max_bytes": 1048576,
                "max_repr": 200,
            })
        );
    }
}
