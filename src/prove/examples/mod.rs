//! The `examples` step: the examples the edited files' docstrings give (doctest lines, and
//! `ARG -> RESULT` pairs such as `0 -> '0', 36 -> '10'`) must hold with the fix.
//!
//! A program that never got past its error shows the behaviour step nothing to compare: a
//! base case that returns `'07'` for 7 passes the re-run. The docstring says what the function
//! is for, so heal holds the fix to it, fairly: each example runs in the copy against the
//! fixed module and against the module as it was, and fails the fix only when
//! - it held before the fix and not after (the fix broke it), or
//! - the function was edited by the fix and raised before it (the fix was meant to make it
//!   work, and it does not do what its docstring says).
//!
//! An example that gave another value before the fix too (the docstring was already out of
//! date), or that fails in a function the fix did not touch, is not the fix's doing. The
//! examples are read from the file as it was: a fix cannot rewrite the promise it is held to.
//!
//! The values the fixed re-run saw the edited functions return are held to what their
//! docstrings show without running anything: the form of a quoted example (`form`: `e.g.
//! '243.00 EUR'`) and the type the summary line names (`typed`: `as a Decimal`).

mod docstring;
mod form;
mod typed;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::behaviour::{Calls, FunctionId};
use super::edited::Edited;
use super::{ProveConfig, Sandbox, Step, StepName, ladder, run};
use crate::apply::Plan;
pub use docstring::{Found, Kind, examples};
use form::FormJudgement;

/// The runner, written into the scratch folder beside the copy.
const RUNNER: &str = include_str!("examples.py");
/// Its own limit per example is 5 s; the whole run gets this much more for imports.
const PER_EXAMPLE: Duration = Duration::from_secs(5);
const IMPORTS: Duration = Duration::from_secs(20);

/// One example, as the runner gets it.
#[derive(Debug, Serialize)]
struct Wire<'a> {
    id: usize,
    function: &'a str,
    kind: &'static str,
    source: &'a str,
    want: &'a str,
}

#[derive(Debug, Serialize)]
struct WireModule<'a> {
    name: String,
    path: PathBuf,
    before: PathBuf,
    package: String,
    examples: Vec<Wire<'a>>,
}

#[derive(Debug, Serialize)]
struct WireSpec<'a> {
    paths: Vec<PathBuf>,
    modules: Vec<WireModule<'a>>,
}

/// One line of the runner's results.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Ran {
    pub id: usize,
    pub side: Side,
    pub outcome: Outcome,
    #[serde(default)]
    pub got: String,
    #[serde(default)]
    pub error: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Before,
    After,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Differs,
    Raised,
    Timeout,
    /// The module could not be imported.
    Unloaded,
    /// The function is gone.
    Missing,
    /// An `ARG -> RESULT` pair that is not two literals: prose.
    Unusable,
}

/// An example of one file, with what the judge needs to know of it.
#[derive(Debug, Clone)]
pub struct Example {
    pub file: String,
    pub found: Found,
    /// Whether the fix edited the function whose docstring gives it.
    pub edited: bool,
}

impl Example {
    /// How a person would write the example: `to_base36(7)` or `>>> total`.
    fn call(&self) -> String {
        match self.found.kind {
            Kind::Pair => format!("{}({})", self.found.qualname, self.found.source),
            Kind::Doctest => format!(">>> {}", self.found.source.replace('\n', " ")),
        }
    }

    fn place(&self) -> String {
        let whose = if self.found.qualname.is_empty() {
            "the module".to_string()
        } else {
            self.found.qualname.clone()
        };
        format!(
            "the docstring of {whose} ({}:{})",
            self.file, self.found.line
        )
    }
}

/// What the examples said of the fix.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Judgement {
    /// Why the fix fails, one sentence per example.
    pub failures: Vec<String>,
    pub held: usize,
    /// Examples that say nothing of this fix (out of date before it, or in code it did not
    /// touch, or prose).
    pub ignored: usize,
    /// Modules the fixed code could not import on their own.
    pub unloaded: Vec<String>,
}

/// Judges each example by its two runs. Pure.
pub fn judge(examples: &[Example], ran: &[Ran]) -> Judgement {
    let mut out = Judgement::default();
    let find = |id: usize, side: Side| ran.iter().find(|r| r.id == id && r.side == side);
    for (id, example) in examples.iter().enumerate() {
        let (Some(after), before) = (find(id, Side::After), find(id, Side::Before)) else {
            // Not reached before the time limit: nothing seen, nothing said.
            out.ignored += 1;
            continue;
        };
        match after.outcome {
            Outcome::Ok => {
                out.held += 1;
                continue;
            }
            Outcome::Unusable | Outcome::Missing => {
                out.ignored += 1;
                continue;
            }
            Outcome::Unloaded => {
                if !out.unloaded.contains(&example.file) {
                    out.unloaded.push(example.file.clone());
                }
                out.ignored += 1;
                continue;
            }
            Outcome::Differs | Outcome::Raised | Outcome::Timeout => {}
        }
        let before_outcome = before.map(|b| b.outcome);
        let held_before = before_outcome == Some(Outcome::Ok);
        let broke_before = matches!(
            before_outcome,
            Some(Outcome::Raised | Outcome::Timeout | Outcome::Unloaded)
        );
        if !(held_before || (example.edited && broke_before)) {
            out.ignored += 1;
            continue;
        }
        let now = match after.outcome {
            Outcome::Differs if example.found.kind == Kind::Doctest => {
                format!("shows {}", one_line(&after.got))
            }
            Outcome::Differs => format!("returns {}", one_line(&after.got)),
            Outcome::Timeout => format!("does not return within {} s", PER_EXAMPLE.as_secs()),
            _ => format!("raises {}", one_line(&after.error)),
        };
        let then = if held_before {
            "it held before the fix".to_string()
        } else {
            match before {
                Some(b) if !b.error.is_empty() => {
                    format!("before the fix it raised {}", one_line(&b.error))
                }
                _ => "it did not work before the fix either".to_string(),
            }
        };
        let want = if example.found.want.is_empty() {
            "nothing".to_string()
        } else {
            one_line(&example.found.want)
        };
        out.failures.push(format!(
            "{} {now} with the fix; {} says {want} ({then})",
            example.call(),
            example.place()
        ));
    }
    out
}

fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() > 160 {
        format!("{}…", joined.chars().take(160).collect::<String>())
    } else {
        joined
    }
}

/// The examples of the Python files `plan` edits, read from their text before it.
pub fn planned(plan: &Plan) -> Vec<Example> {
    let edited = Edited::of(plan).functions();
    let mut out = Vec::new();
    for file in plan.files.iter().filter(|f| f.rel.ends_with(".py")) {
        for found in examples(&file.before) {
            let edited = edited
                .iter()
                .any(|(rel, qualname)| *rel == file.rel && *qualname == found.qualname);
            out.push(Example {
                file: file.rel.clone(),
                found,
                edited,
            });
        }
    }
    out
}

/// The values the re-runs saw, for the forms the docstrings show: the unchanged program's
/// (one per baseline run) and the fixed one's.
pub(super) struct Seen<'a> {
    pub before: &'a [Calls],
    pub after: &'a Calls,
}

/// The documented forms of the Python files `plan` edits, read from their text before it,
/// judged on the values `seen` holds.
fn forms_judged(plan: &Plan, seen: &Seen<'_>) -> FormJudgement {
    let edited: Vec<FunctionId> = Edited::of(plan)
        .functions()
        .into_iter()
        .map(|(file, qualname)| FunctionId::new(file, qualname))
        .collect();
    let forms: Vec<(String, form::Form)> = plan
        .files
        .iter()
        .filter(|f| f.rel.ends_with(".py"))
        .flat_map(|f| {
            form::forms(&f.before)
                .into_iter()
                .map(|form| (f.rel.clone(), form))
        })
        .collect();
    let typed: Vec<(String, typed::Typed)> = plan
        .files
        .iter()
        .filter(|f| f.rel.ends_with(".py"))
        .flat_map(|f| {
            typed::types(&f.before)
                .into_iter()
                .map(|t| (f.rel.clone(), t))
        })
        .collect();
    let mut judged = form::judge(&forms, &edited, seen.before, seen.after);
    for more in [
        typed::judge(&typed, &edited, seen.before, seen.after),
        typed::judge_consistency(&edited, seen.before, seen.after),
    ] {
        judged.failures.extend(more.failures);
        judged.held += more.held;
    }
    judged
}

/// Runs the step; `None` when the edited files' docstrings give no example and show no form
/// the fixed run's values could be held to.
pub(super) async fn step(
    config: &ProveConfig,
    plan: &Plan,
    sandbox: &Sandbox,
    seen: Option<Seen<'_>>,
) -> Option<Step> {
    let forms = seen
        .map(|seen| forms_judged(plan, &seen))
        .unwrap_or_default();
    let examples = planned(plan);
    if examples.is_empty() {
        if forms.failures.is_empty() && forms.held == 0 {
            return None;
        }
        return Some(Step::judged(
            StepName::Examples,
            forms.failures.is_empty(),
            describe_forms(&forms),
        ));
    }
    if !forms.failures.is_empty() {
        // The fix already fails on what the run showed: no need to run the examples.
        return Some(Step::judged(
            StepName::Examples,
            false,
            describe_forms(&forms),
        ));
    }
    let started = std::time::Instant::now();
    let copy = sandbox.path();
    let interpreter = interpreter(&config.command);
    let mut step = Step {
        name: StepName::Examples,
        command: format!("{interpreter} examples.py (heal's docstring examples runner)"),
        exit: None,
        output_tail: String::new(),
        duration_ms: 0,
        passed: true,
        detail: String::new(),
    };
    let prepared = match prepare(config, plan, sandbox, &examples) {
        Ok(p) => p,
        Err(e) => {
            // Heal's own scratch folder failed: say so, and leave the judging to the other
            // steps rather than fail a fix for it.
            step.detail = format!("not judged: the examples could not be set up: {e}");
            return Some(step);
        }
    };
    let args = vec![
        prepared.runner.clone().into_os_string(),
        prepared.spec.clone().into_os_string(),
        prepared.results.clone().into_os_string(),
    ];
    let env = [
        ("PYTHONDONTWRITEBYTECODE".to_string(), OsString::from("1")),
        ("PYTHONIOENCODING".to_string(), OsString::from("utf-8")),
    ];
    let count = u32::try_from(examples.len()).unwrap_or(u32::MAX);
    let timeout = config
        .check_timeout
        .min(IMPORTS + PER_EXAMPLE.saturating_mul(count.saturating_mul(2)));
    let outcome = run::execute(&run::Spec {
        program: std::ffi::OsStr::new(&interpreter),
        args: &args,
        cwd: copy,
        env: &env,
        timeout,
        jail: &config.jail,
        writable: &[copy, prepared.dir.as_path()],
    })
    .await;
    match &outcome {
        Ok(o) => {
            step.exit = o.exit;
            step.output_tail = o.output_tail.clone();
        }
        Err(e) => {
            step.detail = format!("not judged: {interpreter} could not be started: {e}");
            step.duration_ms = ladder::millis(started.elapsed());
            return Some(step);
        }
    }
    let ran = read_results(&prepared.results);
    let judgement = judge(&examples, &ran);
    step.passed = judgement.failures.is_empty();
    step.detail = describe(&judgement, examples.len());
    if forms.held > 0 {
        step.detail.push_str("; ");
        step.detail.push_str(&describe_forms(&forms));
    }
    step.duration_ms = ladder::millis(started.elapsed());
    Some(step)
}

fn describe(j: &Judgement, total: usize) -> String {
    if !j.failures.is_empty() {
        return j.failures.join("; ");
    }
    let mut text = format!(
        "{} of {total} docstring example(s) of the edited files hold",
        j.held
    );
    if j.ignored > 0 {
        text.push_str(&format!(
            "; {} say nothing of this fix (out of date before it, in code it did not touch, or not run)",
            j.ignored
        ));
    }
    if !j.unloaded.is_empty() {
        text.push_str(&format!(
            "; not importable on their own: {}",
            j.unloaded.join(", ")
        ));
    }
    text
}

fn describe_forms(j: &FormJudgement) -> String {
    if !j.failures.is_empty() {
        return j.failures.join("; ");
    }
    format!(
        "{} value(s) of the edited functions have the form their docstrings show",
        j.held
    )
}

/// The runner's results; lines it did not finish are dropped.
fn read_results(path: &Path) -> Vec<Ran> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The supervised command's interpreter when it names one (`python3.12`, `.venv/bin/python`),
/// so the examples import what the program imports; `python3` otherwise.
fn interpreter(command: &[String]) -> String {
    command
        .first()
        .filter(|c| {
            Path::new(c)
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("python"))
        })
        .cloned()
        .unwrap_or_else(|| "python3".to_string())
}

struct Prepared {
    dir: PathBuf,
    runner: PathBuf,
    spec: PathBuf,
    results: PathBuf,
}

/// Writes the runner, the files as they were and the spec into a folder of the scratch space.
fn prepare(
    config: &ProveConfig,
    plan: &Plan,
    sandbox: &Sandbox,
    examples: &[Example],
) -> Result<Prepared, String> {
    let copy = sandbox.path();
    let dir = sandbox
        .scratch()
        .map_err(|e| e.to_string())?
        .join("examples");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let write = |name: &str, text: &str| -> Result<PathBuf, String> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    };
    let runner = write("examples.py", RUNNER)?;
    let mut paths = vec![copy.to_path_buf()];
    // `python3 app/main.py` puts app/ first on sys.path: the program's own imports resolve
    // from there.
    if let Some(script) = config
        .command
        .iter()
        .skip(1)
        .find(|a| a.ends_with(".py") && !a.starts_with('-'))
        && let Some(parent) = Path::new(script).parent()
        && !parent.as_os_str().is_empty()
    {
        paths.insert(0, copy.join(parent));
    }
    let mut modules = Vec::new();
    for (index, file) in plan
        .files
        .iter()
        .filter(|f| examples.iter().any(|e| e.file == f.rel))
        .enumerate()
    {
        let (root, name, package) = module_of(copy, &file.rel);
        if !paths.contains(&root) {
            paths.push(root);
        }
        let before = write(&format!("before_{index}.py"), &file.before)?;
        let wire = examples
            .iter()
            .enumerate()
            .filter(|(_, e)| e.file == file.rel)
            .map(|(id, e)| Wire {
                id,
                function: &e.found.qualname,
                kind: e.found.kind.as_str(),
                source: &e.found.source,
                want: &e.found.want,
            })
            .collect();
        modules.push(WireModule {
            name,
            path: copy.join(&file.rel),
            before,
            package,
            examples: wire,
        });
    }
    let spec = WireSpec { paths, modules };
    let spec_text = serde_json::to_string(&spec).map_err(|e| e.to_string())?;
    let spec = write("spec.json", &spec_text)?;
    let results = write("results.jsonl", "")?;
    Ok(Prepared {
        dir,
        runner,
        spec,
        results,
    })
}

/// The import root, dotted module name and package of `rel` in `copy`: its folders up to the
/// first without an `__init__.py` are its packages.
fn module_of(copy: &Path, rel: &str) -> (PathBuf, String, String) {
    let rel_path = Path::new(rel);
    let stem = rel_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A package's `__init__.py` is imported as the package itself.
    let is_init = stem == "__init__";
    let mut parts = if is_init { Vec::new() } else { vec![stem] };
    let mut dir = rel_path.parent().map(Path::to_path_buf).unwrap_or_default();
    while !dir.as_os_str().is_empty() && copy.join(&dir).join("__init__.py").is_file() {
        if let Some(name) = dir.file_name() {
            parts.push(name.to_string_lossy().into_owned());
        }
        dir = dir.parent().map(Path::to_path_buf).unwrap_or_default();
    }
    parts.reverse();
    let package = if is_init {
        parts.join(".")
    } else {
        parts[..parts.len().saturating_sub(1)].join(".")
    };
    (copy.join(dir), parts.join("."), package)
}

#[cfg(test)]
mod tests;
