//! The probe's frames taken off a traceback the program printed under it.
//!
//! Before Python 3.11 the probe must re-raise a RecursionError it meets at the recursion limit
//! (see `_recursion_error` in `probe.py`), so the program's error ends in the probe's own frames
//! (`sitecustomize.py`, `_trace`, `_render`...). Judged as printed, the error would be placed in
//! the probe and never match the incident's, and the proof would call the incident not
//! reproduced. Without the probe, Python would have raised it in the program's innermost frame,
//! so that is where it is placed. Pure.

use std::path::Path;

use crate::detect::{Exception, Traceback};

/// Takes the frames of files in `probe_dir` (the folder [`super::install`] wrote into) off the
/// inner end of every exception of `tb`. Only the inner end: a probe frame can only be where
/// the error was raised, and a frame further out with that path would be the program's own
/// business, left as printed.
pub fn strip_probe_frames(tb: &mut Traceback, probe_dir: &Path) {
    strip_exception(&mut tb.exception, probe_dir);
    for (exception, _) in &mut tb.chain {
        strip_exception(exception, probe_dir);
    }
}

fn strip_exception(exception: &mut Exception, probe_dir: &Path) {
    while exception
        .frames
        .last()
        .is_some_and(|f| Path::new(&f.file).starts_with(probe_dir))
    {
        exception.frames.pop();
    }
    for member in &mut exception.group {
        strip_exception(member, probe_dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::python;

    // As Python 3.10 printed it for `def deeper(n): return deeper(n + 1)` under the probe.
    const UNDER_THE_PROBE: &str = r#"Traceback (most recent call last):
  File "/tmp/x/copy/app.py", line 5, in <module>
    deeper(0)
  File "/tmp/x/copy/app.py", line 2, in deeper
    return deeper(n + 1)
  [Previous line repeated 989 more times]
  File "/tmp/x/copy/app.py", line 1, in deeper
    def deeper(n):
  File "/tmp/x/scratch/probe/sitecustomize.py", line 156, in _trace
    _recursion_error()
  File "/tmp/x/scratch/probe/sitecustomize.py", line 467, in _render
    return repr(x)
RecursionError: maximum recursion depth exceeded while getting the repr of an object
"#;

    fn parsed(text: &str) -> Traceback {
        python::parse(text).traceback.expect("one traceback")
    }

    #[test]
    fn the_probe_s_inner_frames_are_taken_off() {
        let mut tb = parsed(UNDER_THE_PROBE);
        strip_probe_frames(&mut tb, Path::new("/tmp/x/scratch/probe"));
        let last = tb.exception.frames.last().expect("a frame");
        assert_eq!(last.file, "/tmp/x/copy/app.py");
        assert_eq!(last.function, "deeper");
        assert_eq!(tb.exception.exc_type, "RecursionError");
    }

    #[test]
    fn another_folder_s_frames_are_kept() {
        let mut tb = parsed(UNDER_THE_PROBE);
        let before = tb.exception.frames.len();
        strip_probe_frames(&mut tb, Path::new("/tmp/x/scratch/prob"));
        assert_eq!(tb.exception.frames.len(), before);
        strip_probe_frames(&mut tb, Path::new("/tmp/x/copy/app"));
        assert_eq!(tb.exception.frames.len(), before);
    }

    #[test]
    fn a_probe_frame_further_out_is_left_as_printed() {
        let text = r#"Traceback (most recent call last):
  File "/tmp/x/scratch/probe/sitecustomize.py", line 9, in _start
    run()
  File "/tmp/x/copy/app.py", line 2, in run
    1 / 0
ZeroDivisionError: division by zero
"#;
        let mut tb = parsed(text);
        strip_probe_frames(&mut tb, Path::new("/tmp/x/scratch/probe"));
        assert_eq!(tb.exception.frames.len(), 2);
    }
}
