use super::*;
use std::process::{Command, Output};

/// The probe's tests run real Python: a missing interpreter fails them, loudly. `python3`, or
/// the interpreter `HEAL_TEST_PYTHON` names: the probe has two paths (`sys.settrace` before
/// 3.12, `sys.monitoring` from 3.12 on), and `.ci/run` runs these tests again on the other
/// Pythons the machine has.
fn python3() -> OsString {
    let python = std::env::var_os("HEAL_TEST_PYTHON").unwrap_or_else(|| OsString::from("python3"));
    let found = Command::new(&python)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{} is required by the probe's tests and was not found",
        python.to_string_lossy()
    );
    python
}

/// Whether the probe watched through `sys.monitoring` (3.12+) in `run`, from its start line.
fn monitoring(run: &Run) -> bool {
    run.raw
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .any(|v| v["tracer"] == "sys.monitoring")
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
    // Watched by name (the fixed run, whose tracer lets every other name go at once), a method
    // is found by its qualified name, and only it is recorded.
    let share = id("app.py", "Budget.share");
    let fixed = project.run_probed("app.py", &project.fixed_spec(std::slice::from_ref(&share)));
    assert_eq!(fixed.rets(&share, "self, 3"), ["3.0"]);
    assert!(fixed.rets(&id("app.py", "Budget.empty"), "cls").is_empty());
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


def fail(text):
    return int(text)


parse('12'); parse('x'); recover('x')
try:
    fail('y')
except ValueError:
    pass
";
    let project = Project::new(&[("app.py", program)]);
    let run = project.run_probed("app.py", &project.baseline_spec(&["app.py"]));
    assert_eq!(run.rets(&id("app.py", "parse"), "'12'"), ["12"]);
    if monitoring(&run) {
        // sys.monitoring tells a return from an unwind: the None is what parse returned.
        assert_eq!(run.rets(&id("app.py", "parse"), "'x'"), ["None"]);
    } else {
        assert!(run.rets(&id("app.py", "parse"), "'x'").is_empty());
    }
    assert_eq!(run.rets(&id("app.py", "recover"), "'x'"), ["-1"]);
    let fail = &run.calls.functions()[&id("app.py", "fail")];
    assert!(fail.results.is_empty());
    assert_eq!(fail.raised["'y'"], "ValueError");
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

// A recursion the program does not catch must fail in the program's frame, not the probe's:
// the baseline compares where the error was raised, and a probe frame there made it miss the
// error it was asked about (the bench's recursion_self_parent). Python 3.11 and later only;
// before, the probe re-raises (see `_recursion_error`).
#[test]
fn an_uncaught_recursion_error_is_raised_in_the_programs_frame() {
    let program = "\
def deeper(n):
    return deeper(n + 1)


deeper(0)
";
    let project = Project::new(&[("app.py", program)]);
    let run = project.run_probed("app.py", &project.baseline_spec(&["app.py"]));
    let stderr = String::from_utf8_lossy(&run.output.stderr);
    assert!(!run.output.status.success());
    assert!(stderr.contains("RecursionError"), "{stderr}");
    let version = Command::new(python3())
        .args(["-c", "import sys; print(sys.version_info >= (3, 11))"])
        .output()
        .unwrap();
    if String::from_utf8_lossy(&version.stdout).trim() == "True" {
        let innermost = stderr
            .lines()
            .rfind(|l| l.trim_start().starts_with("File "))
            .unwrap();
        assert!(
            innermost.contains("app.py") && innermost.contains("in deeper"),
            "{stderr}"
        );
        assert!(!stderr.contains("sitecustomize"), "{stderr}");
        assert!(
            stderr
                .trim_end()
                .ends_with("RecursionError: maximum recursion depth exceeded"),
            "{stderr}"
        );
    }
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

// See: issue 10. The probe's cost is the time its hook is on; a run watching named functions
// takes it out (sys.settrace) or gives its sys.monitoring tool id back once they are past
// their bounds, and the program can tell.
#[test]
fn r10_the_probe_leaves_once_the_watched_functions_are_past_their_bounds() {
    let program = "\
import sys


def ident(n):
    return n


for i in range(3000):
    ident(i)
mon = getattr(sys, 'monitoring', None)
held = [t for t in range(6) if mon is not None and mon.get_tool(t) is not None]
print(sys.gettrace() is None, held)
";
    let project = Project::new(&[("app.py", program)]);
    let ident = id("app.py", "ident");
    let run = project.run_probed("app.py", &project.fixed_spec(std::slice::from_ref(&ident)));
    assert_eq!(run.stdout(), "True []\n");
    assert_eq!(run.output.stderr, b"");
    let calls = &run.calls.functions()[&ident];
    assert!(calls.truncated);
    assert_eq!(calls.results.len() as u64, Limits::default().max_values);
}

// A program with its own tools keeps them: its trace function, and (3.12+) the sys.monitoring
// tool ids named for debuggers, coverage and profilers.
#[test]
fn a_programs_own_tracer_and_monitoring_tools_keep_working() {
    let program = "\
import sys

seen = []


def mine(frame, event, arg):
    if frame.f_code.co_name == 'double':
        seen.append(event)
    return None


def double(n):
    return n * 2


double(1)
sys.settrace(mine)
double(2)
sys.settrace(None)
mon = getattr(sys, 'monitoring', None)
if mon is not None:
    for tool in (mon.DEBUGGER_ID, mon.COVERAGE_ID, mon.PROFILER_ID, mon.OPTIMIZER_ID):
        mon.use_tool_id(tool, 'mine')
        mon.free_tool_id(tool)
print(seen, double(3))
";
    let project = Project::new(&[("app.py", program)]);
    let plain = project.run_plain("app.py");
    assert_eq!(String::from_utf8_lossy(&plain.stdout), "['call'] 6\n");
    let double = id("app.py", "double");
    let run = project.run_probed("app.py", &project.fixed_spec(std::slice::from_ref(&double)));
    assert_eq!(run.output.stdout, plain.stdout);
    assert_eq!(run.output.stderr, b"");
    assert_eq!(run.rets(&double, "1"), ["2"]);
    if monitoring(&run) {
        // sys.monitoring is apart from the program's trace function: nothing is missed.
        assert_eq!(run.rets(&double, "2"), ["4"]);
        assert_eq!(run.rets(&double, "3"), ["6"]);
    }
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
fn a_none_that_was_the_error_may_change_and_nothing_else() {
    // find('Ana@Example.com') returned None, and `.name` on it was the crash.
    let before = calls(&[
        ("find", "'Ana@Example.com'", "None"),
        ("find", "'ben'", "<Ben>"),
    ]);
    let right = calls(&[
        ("find", "'Ana@Example.com'", "<Ana>"),
        ("find", "'ben'", "<Ben>"),
    ]);
    let edited = [id("app.py", "find")];
    let baselines = [before.clone(), before.clone()];
    assert!(compare(&baselines, &right, &edited).is_changed());
    assert!(!compare_for(&baselines, &right, &edited, true).is_changed());
    // The other call must still keep its result.
    let broke = calls(&[
        ("find", "'Ana@Example.com'", "<Ana>"),
        ("find", "'ben'", "None"),
    ]);
    assert_eq!(
        compare_for(&baselines, &broke, &edited, true).describe(),
        "find('ben') returned <Ben> before the fix and None after"
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
