//! Errors are found on whichever stream the program prints them, stdout included, and the
//! output still passes through untouched. See: issue 11.

use std::process::Command;

use crate::support::Project;

const LOGS_TO_STDOUT: &str = "\
import logging, sys

log = logging.getLogger(\"svc\")
handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(logging.Formatter(\"%(levelname)s %(name)s: %(message)s\"))
log.addHandler(handler)
log.setLevel(logging.INFO)


def handle(order):
    return order[\"quantity\"] * order[\"price\"]


log.info(\"serving\")
for order in [{\"quantity\": 2, \"price\": 3}, {\"quantity\": 1}]:
    try:
        print(handle(order))
    except KeyError:
        log.exception(\"order failed\")
print(\"caf\\xe9 done\")
sys.stdout.flush()
";

#[test]
fn r11_a_traceback_logged_to_stdout_is_an_incident_and_the_output_is_untouched() {
    let mut p = Project::new();
    p.env("HEAL_PROVIDER", "none");
    p.file("svc.py", LOGS_TO_STDOUT);
    let run = p.run(&["run", "--", "python3", "svc.py"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let r = p.record();
    assert_eq!(r["error"]["type"], "KeyError", "{r:#}");
    assert_eq!(r["error"]["stream"], "stdout", "{r:#}");
    assert_eq!(r["context"]["function"], "handle");
    assert_eq!(r["context"]["file"], "svc.py");
    // Byte for byte what python alone prints.
    let alone = Command::new("python3")
        .arg("svc.py")
        .current_dir(p.path())
        .output()
        .unwrap();
    assert_eq!(run.stdout_bytes, alone.stdout);
    assert!(run.stdout.contains("Traceback (most recent call last):"));
}

#[test]
fn r11_a_traceback_on_each_stream_is_two_incidents_never_one_mixed_block() {
    let mut p = Project::new();
    p.env("HEAL_PROVIDER", "none");
    // Both streams print a traceback at once, line by line, interleaved.
    p.file(
        "both.py",
        "import sys, traceback\n\ndef left():\n    raise ValueError('left')\n\ndef right():\n    raise KeyError('right')\n\nblocks = []\nfor f in (left, right):\n    try:\n        f()\n    except Exception:\n        blocks.append(traceback.format_exc().splitlines())\nfor a, b in zip(blocks[0], blocks[1]):\n    sys.stdout.write(a + '\\n'); sys.stdout.flush()\n    sys.stderr.write(b + '\\n'); sys.stderr.flush()\n",
    );
    let run = p.run(&["run", "--", "python3", "both.py"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let records = p.records();
    let mut seen: Vec<(String, String, String)> = records
        .iter()
        .map(|r| {
            (
                r["error"]["type"].as_str().unwrap().to_string(),
                r["error"]["stream"].as_str().unwrap().to_string(),
                r["context"]["function"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("KeyError".into(), "stderr".into(), "right".into()),
            ("ValueError".into(), "stdout".into(), "left".into()),
        ]
    );
}
