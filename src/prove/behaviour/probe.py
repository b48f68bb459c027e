# heal's behaviour probe, loaded as `sitecustomize` from a folder heal owns and puts first on
# PYTHONPATH for one proof run.
#
# What it does: watches the functions named by the spec file ($HEAL_PROBE_SPEC) and appends one
# JSON line per distinct (function, arguments, return value or exception raised) to
# $HEAL_PROBE_OUT, so heal can tell whether a fix changed what the edited functions return.
# Then it runs the project's own sitecustomize, if there is one further on sys.path.
#
# What it must never do: print anything, raise into the program, change what the program
# computes, or hold the GIL for long. Any internal error switches it off silently; a run
# without data is judged "no data", never as a failure of the program.
#
# Decisions:
# - Two hooks, one per kind of Python. From 3.12 on, sys.monitoring (PEP 669), with a tool id
#   of its own: PY_START for every call, answered with DISABLE for code that is not watched
#   (Python then stops reporting it, so the rest of the program runs at full speed), PY_RETURN
#   set on watched code objects only, and PY_UNWIND, which tells a call that raised from one
#   that returned. Before 3.12 (and on 3.12+ when no tool id is free), sys.settrace, not
#   sys.setprofile: a profile hook sees "return" both for a real return and for an exception
#   unwinding the frame, and a call that raised must not be recorded as returning None.
# - With sys.settrace a call is recorded at its "return" event. If an "exception" event
#   happened in the frame and the value is None, the frame may be unwinding (or caught and
#   returned None): such a call is recorded as raised, never as returning None, which is the
#   conservative side. sys.monitoring knows, and records what happened.
# - The baseline and the fixed run use the same Python, so the same hook: each function's first
#   calls, up to the same bounds (max_calls seen, max_values distinct), are the same calls in
#   both, and their comparison holds.
# - Decisions are cached per code object (by id, the code object kept alive so the id cannot
#   be reused), so a function not watched, or no longer watched, costs one dict lookup; with
#   sys.settrace, a run that watches named functions first tests the function's name, which
#   lets most calls go without it.
# - Values are rendered by a bounded repr that never raises, masks memory addresses and sorts
#   set items and small dicts; a rendering may lose detail (cut, masked), which can only make
#   two different calls look alike, never one call look like two.
# - Lines are written with one os.write on a descriptor opened with O_APPEND for that write
#   only: processes sharing the file (multiprocessing) append whole lines, and a program that
#   closes or reuses descriptors cannot make the probe write into its own files.
# - The start imports no module Python's own start has not (json, re, enum, importlib), and
#   threading only for the settrace path: a probed run starts about 6 ms after a plain one,
#   most of them Python compiling this file (heal writes it into a fresh folder for each run).
# - When the project has no sitecustomize of its own, this module stays in sys.modules under
#   that name (the import running it expects it there when it ends): a program importing
#   `sitecustomize` itself gets this module, not an ImportError.
#
# Known costs, accepted (bench/probe_cost.sh measures them):
# - Before 3.12, while the tracer is on, all Python code of the program runs about twice as
#   slow, watched or not: CPython turns its specialised bytecode off for every frame while a
#   trace function is set (one written in C that does nothing costs the same), so nothing in
#   the probe's own code can make it much cheaper; the time it is on counts. A run that watches
#   named functions (the fixed run) takes it out once they are all past their bounds, so it
#   pays for everything the program runs before their first calls; a run that watches files
#   (the baseline) keeps it to the end. From 3.12 on, a call of unwatched code costs nothing
#   after its first: what is left is the start and each recorded call (about 15 us: its repr
#   and its line), some 10 per cent on bench/probe_cost.sh.
# - From 3.12 on, the probe holds sys.monitoring tool id 4 (or 3, when 4 is taken) until it is
#   done: a program that claims that very id gets Python's "already in use" error. Debuggers,
#   coverage and profilers use ids 0, 1 and 2, which stay free.
# - repr() is called on the arguments and values of watched calls, so a __repr__ with side
#   effects runs more often. With sys.settrace, sys.gettrace() returns the probe's function
#   while it is on, and a program that sets its own trace function stops the probe.
# - A program that recurses to its recursion limit reaches it a few frames earlier (the
#   hook's own frames count), and the probe switches itself off there.
#
# This file must stay parseable by old Pythons (no f-strings, no nonlocal): a SyntaxError here
# would make `site` print "Error in sitecustomize" into the program's stderr.

import os
import sys

# co_flags bits: generators and coroutines are not judged (their "return" is a suspension
# point as often as an end); code without CO_OPTIMIZED is a module or class body.
_CO_OPTIMIZED = 0x01
_CO_VARARGS = 0x04
_CO_VARKEYWORDS = 0x08
_CO_SKIPPED = 0x20 | 0x80 | 0x100 | 0x200
_SKIPPED_NAMES = frozenset(["<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>", "<module>"])
# Bounds of one rendering, beside max_repr: nesting depth and items per container.
_MAX_DEPTH = 4
_MAX_ITEMS = 32
# Past this many cached code objects the cache starts again, so a program that compiles code
# forever does not grow the probe's memory forever.
_MAX_CACHED_CODES = 50000
# sys.monitoring tool ids the probe may take, in order: 0, 1, 2 and 5 are named for debuggers,
# coverage, profilers and optimizers, the ones a program's own tools claim; 3 and 4 are not.
_TOOL_IDS = (4, 3)
_HEX = frozenset("0123456789abcdefABCDEF")

_off = True
_out = None
_root = None
_cwd = None
_files = frozenset()
_exact = {}
_by_last = {}
# When only named functions are watched (the fixed run): the last parts of their names, so the
# calls of every other function are let go before any lookup. None when files are watched.
_names = None
_patterns = ()
_only_functions = False
_max_calls = 2000
_max_values = 256
_max_bytes = 1 << 20
_max_repr = 200
_cache = {}
_alive = {}
_rel_cache = {}
_states = {}
_quote = None
_threading = None
# The sys.monitoring path (3.12+): the module while the probe uses it, the tool id it holds,
# and the watched calls in flight, by id(frame): (code, state, rendered arguments). No frame
# is kept alive (that would delay the program's finalizers); an entry leaves at the call's
# PY_RETURN or PY_UNWIND, or when its function goes past its bounds.
_monitoring = False
_mon = None
_tool = None
_DISABLE = None
_PY_RETURN = 0
_in_flight = {}
_force_settrace = False


class _Watch(object):
    """What the probe knows of one watched function in this process."""

    __slots__ = ("file", "fn", "calls", "seen", "done")

    def __init__(self, file, fn):
        self.file = file
        self.fn = fn
        self.calls = 0
        self.seen = set()
        self.done = False


def _trace(frame, event, arg):
    """The global trace function: called at every new frame of every traced thread."""
    if _names is not None and frame.f_code.co_name not in _names and not _off:
        return None
    if _off:
        _leave_thread()
        return None
    try:
        code = frame.f_code
        try:
            w = _cache[id(code)]
        except KeyError:
            w = _decide(code)
        if w is None:
            return None
        if w.done:
            _cache[id(code)] = None
            return None
        return _enter(w, frame, code)
    except RecursionError:
        _recursion_error()
        _disable()
        return None
    except Exception:
        _disable()
        return None


def _enter(w, frame, code):
    w.calls += 1
    if w.calls > _max_calls:
        _truncate(w)
        _cache[id(code)] = None
        return None
    frame.f_trace_lines = False
    return _Local(w, _render_args(frame, code)).trace


class _Local(object):
    """The local trace function of one watched call."""

    __slots__ = ("w", "args", "raised")

    def __init__(self, w, args):
        self.w = w
        self.args = args
        self.raised = None

    def trace(self, frame, event, arg):
        try:
            if event == "return":
                if self.raised is None or arg is not None:
                    _record(self.w, self.args, arg)
                else:
                    # Unwinding, most likely (or caught, then returned None): kept apart, as
                    # what the call raised, never as what it returned.
                    _record_raised(self.w, self.args, self.raised)
            elif event == "exception":
                self.raised = getattr(arg[0], "__name__", "an exception")
        except RecursionError:
            _recursion_error()
            _disable()
            return None
        except Exception:
            _disable()
            return None
        # Returning the tracer keeps it for this frame: the "return" after an "exception"
        # must still be seen.
        return self.trace


def _on_start(code, offset):
    """sys.monitoring's PY_START, at every start of a Python call (3.12+). Code that is not
    watched, or no longer, gets DISABLE: Python stops reporting its calls, so it runs at full
    speed from then on."""
    if _off:
        # At the recursion limit even this call raises: the program then raises the error in
        # its own frame, and a later event, with the stack shallower, stops the probe.
        try:
            _disable()
        except RecursionError:
            pass
        return None
    try:
        try:
            w = _cache[id(code)]
        except KeyError:
            w = _decide(code)
            if w is not None:
                # Its returns are reported from now on, this call's included.
                _mon.set_local_events(_tool, code, _PY_RETURN)
        if w is None or w.done:
            return _DISABLE
        w.calls += 1
        if w.calls > _max_calls:
            _truncate(w)
            return _DISABLE
        frame = sys._getframe(1)
        _in_flight[id(frame)] = (code, w, _render_args(frame, code))
        return None
    except RecursionError:
        _recursion_error()
        _disable()
        return None
    except Exception:
        _disable()
        return None


def _on_return(code, offset, value):
    """sys.monitoring's PY_RETURN, set on watched code only: a real return, never an unwind."""
    if _off:
        # At the recursion limit even this call raises: the program then raises the error in
        # its own frame, and a later event, with the stack shallower, stops the probe.
        try:
            _disable()
        except RecursionError:
            pass
        return None
    try:
        entry = _in_flight.pop(id(sys._getframe(1)), None)
        if entry is None:
            # A function past its bounds: its returns need not be reported any more.
            w = _cache.get(id(code))
            if w is not None and w.done:
                return _DISABLE
            return None
        if entry[0] is code:
            _record(entry[1], entry[2], value)
        return None
    except RecursionError:
        _recursion_error()
        _disable()
        return None
    except Exception:
        _disable()
        return None


def _on_unwind(code, offset, exc):
    """sys.monitoring's PY_UNWIND, for every frame an exception leaves (it cannot be set per
    code object): a watched call that raised is recorded as such."""
    if _off or not _in_flight:
        return None
    try:
        if _cache.get(id(code)) is None:
            return None
        entry = _in_flight.pop(id(sys._getframe(1)), None)
        if entry is not None and entry[0] is code:
            _record_raised(entry[1], entry[2], _clean(getattr(type(exc), "__name__", "?")))
        return None
    except RecursionError:
        _recursion_error()
        _disable()
        return None
    except Exception:
        _disable()
        return None


def _monitor():
    """Watches through sys.monitoring when this Python has it and one of _TOOL_IDS is free;
    returns whether it does."""
    global _monitoring, _mon, _tool, _DISABLE, _PY_RETURN
    mon = getattr(sys, "monitoring", None)
    if mon is None or _force_settrace:
        return False
    tool = None
    for candidate in _TOOL_IDS:
        if mon.get_tool(candidate) is None:
            tool = candidate
            break
    if tool is None:
        return False
    mon.use_tool_id(tool, "heal-probe")
    _monitoring = True
    events = mon.events
    _mon, _tool, _DISABLE, _PY_RETURN = mon, tool, mon.DISABLE, events.PY_RETURN
    mon.register_callback(tool, events.PY_START, _on_start)
    mon.register_callback(tool, events.PY_RETURN, _on_return)
    mon.register_callback(tool, events.PY_UNWIND, _on_unwind)
    mon.set_events(tool, events.PY_START | events.PY_UNWIND)
    return True


def _unmonitor():
    """Gives the tool id back, its events and callbacks cleared, so a program (or a tool it
    starts later) finds it free."""
    global _mon
    mon, _mon = _mon, None
    _in_flight.clear()
    if mon is None:
        return
    events = mon.events
    try:
        mon.set_events(_tool, 0)
        for code in list(_alive.values()):
            if _cache.get(id(code)) is not None:
                mon.set_local_events(_tool, code, 0)
    except Exception:
        pass
    for event in (events.PY_START, events.PY_RETURN, events.PY_UNWIND):
        try:
            mon.register_callback(_tool, event, None)
        except Exception:
            pass
    try:
        mon.free_tool_id(_tool)
    except Exception:
        pass


def _decide(code):
    """Whether calls of `code` are watched: its state, or None. Cached."""
    w = None
    name = code.co_name
    if (
        code.co_flags & _CO_OPTIMIZED
        and not code.co_flags & _CO_SKIPPED
        and name not in _SKIPPED_NAMES
    ):
        rel = _relative(code.co_filename)
        if rel is not None:
            qual = getattr(code, "co_qualname", None) or name
            if rel in _files or _matches(rel, qual):
                key = (rel, qual)
                w = _states.get(key)
                if w is None:
                    w = _Watch(_clean(rel), _clean(qual))
                    _states[key] = w
    if len(_cache) >= _MAX_CACHED_CODES:
        _cache.clear()
        _alive.clear()
        _rel_cache.clear()
    _cache[id(code)] = w
    _alive[id(code)] = code
    return w


def _matches(rel, qual):
    """Exact qualname, or by last dotted component when either side has no dot (before 3.11
    Python gives only the bare name)."""
    names = _exact.get(rel)
    if not names:
        return False
    if qual in names:
        return True
    if "." not in qual:
        return qual in _by_last.get(rel, ())
    return qual.rsplit(".", 1)[1] in names


def _relative(filename):
    """`filename` relative to the root, with '/' separators, or None when outside it."""
    try:
        return _rel_cache[filename]
    except KeyError:
        pass
    rel = None
    if filename and not filename.startswith("<"):
        real = os.path.realpath(os.path.join(_cwd, filename))
        if real.startswith(_root + os.sep):
            rel = real[len(_root) + 1 :].replace(os.sep, "/")
    _rel_cache[filename] = rel
    return rel


def _render_args(frame, code):
    """The call's arguments as `10.0, 4`: positional parameters in order, then *args, then
    keyword-only parameters and **kwargs as name=value (kwargs sorted)."""
    loc = frame.f_locals
    names = code.co_varnames
    count = code.co_argcount
    kwonly = code.co_kwonlyargcount
    parts = []
    for i in range(count):
        name = names[i]
        if i == 0 and (name == "self" or name == "cls"):
            parts.append(name)
        else:
            parts.append(_safe_repr(loc.get(name)))
    index = count + kwonly
    if code.co_flags & _CO_VARARGS:
        star = loc.get(names[index], ())
        index += 1
        for i, value in enumerate(star):
            if i >= _MAX_ITEMS:
                parts.append("...")
                break
            parts.append(_safe_repr(value))
    for i in range(count, count + kwonly):
        parts.append(names[i] + "=" + _safe_repr(loc.get(names[i])))
    if code.co_flags & _CO_VARKEYWORDS:
        kwargs = loc.get(names[index]) or {}
        for key in sorted(kwargs)[:_MAX_ITEMS]:
            parts.append(_clean(str(key)) + "=" + _safe_repr(kwargs[key]))
    return ", ".join(parts)


def _safe_repr(value):
    """A bounded, deterministic rendering of `value` that never raises."""
    try:
        text = _render(value, 0)
    except RecursionError:
        # A __repr__ that recursed without end: a failed repr, unless the program itself is
        # at its recursion limit.
        _recursion_error()
        text = "<repr failed: " + _type_name(value) + ">"
    except Exception:
        text = "<repr failed: " + _type_name(value) + ">"
    if len(text) > _max_repr:
        text = text[:_max_repr] + "..."
    return text


def _type_name(value):
    try:
        return _clean(str(type(value).__name__))
    except Exception:
        return "?"


def _render(x, depth):
    t = type(x)
    if x is None or t is bool or t is float or t is complex:
        return repr(x)
    if t is int:
        # Past a few hundred digits the text would be cut anyway; repr of a huge int is slow
        # (and refused past 4300 digits on 3.11+).
        if x.bit_length() > 4 * _max_repr:
            return "<int of " + str(x.bit_length()) + " bits>"
        return repr(x)
    if t is str or t is bytes:
        if len(x) > _max_repr:
            return repr(x[:_max_repr]) + "..."
        return repr(x)
    if t is list or t is tuple:
        inner = _render_items(iter(x), len(x), depth)
        if t is list:
            return "[" + inner + "]"
        return "(" + inner + ("," if len(x) == 1 else "") + ")"
    if t is dict:
        # Equal dicts are equal whatever their order: a small one is sorted, so that an order
        # coming from set iteration (different every run) does not hide the value.
        return "{" + _render_pairs(x, depth, len(x) <= _MAX_ITEMS) + "}"
    if t is set or t is frozenset:
        return _render_set(x, depth, t is set)
    # Subclasses of the containers are walked through the base type (bounded, and their own
    # __iter__ is not called); anything else gets its own repr, cut and masked.
    if isinstance(x, dict):
        return _type_name(x) + "({" + _render_pairs(x, depth, False) + "})"
    if isinstance(x, (list, tuple)):
        base = list if isinstance(x, list) else tuple
        return _type_name(x) + "(" + _render_items(base.__iter__(x), base.__len__(x), depth) + ")"
    if isinstance(x, (str, bytes)) and len(x) > _max_repr:
        base = str if isinstance(x, str) else bytes
        return _type_name(x) + "(" + repr(base(x[:_max_repr])) + "...)"
    try:
        text = repr(x)
    except RecursionError:
        raise
    except Exception:
        return "<repr failed: " + _type_name(x) + ">"
    if not isinstance(text, str):
        return "<repr failed: " + _type_name(x) + ">"
    if len(text) > _max_repr:
        text = text[:_max_repr] + "..."
    return _clean(_mask(text))


def _render_items(items, length, depth):
    if depth >= _MAX_DEPTH:
        return "..." if length else ""
    parts = []
    size = 0
    for i, item in enumerate(items):
        if i >= _MAX_ITEMS or size > _max_repr:
            parts.append("...")
            break
        text = _render(item, depth + 1)
        size += len(text) + 2
        parts.append(text)
    return ", ".join(parts)


def _render_pairs(d, depth, sort):
    if depth >= _MAX_DEPTH:
        return "..." if len(d) else ""
    parts = []
    size = 0
    for i, (key, value) in enumerate(dict.items(d)):
        if i >= _MAX_ITEMS or (size > _max_repr and not sort):
            parts.append("...")
            break
        text = _render(key, depth + 1) + ": " + _render(value, depth + 1)
        size += len(text) + 2
        parts.append(text)
    if sort:
        parts.sort()
    return ", ".join(parts)


def _render_set(s, depth, mutable):
    # Set order depends on string hashing, which changes from run to run: items are sorted by
    # their rendering. A set too big to sort cheaply is summarised by its size.
    if not s:
        return "set()" if mutable else "frozenset()"
    if depth >= _MAX_DEPTH or len(s) > _MAX_ITEMS:
        inner = "<" + str(len(s)) + " items>"
    else:
        inner = ", ".join(sorted(_render(item, depth + 1) for item in s))
    if mutable:
        return "{" + inner + "}"
    return "frozenset({" + inner + "})"


def _mask(text):
    """Memory addresses (0x7f3a...) become 0x?: they change from run to run."""
    i = text.find("0x")
    if i < 0:
        return text
    out = []
    start = 0
    n = len(text)
    while i >= 0:
        j = i + 2
        while j < n and text[j] in _HEX:
            j += 1
        if j > i + 2:
            out.append(text[start:i])
            out.append("0x?")
        else:
            out.append(text[start:j])
        start = j
        i = text.find("0x", j)
    out.append(text[start:])
    return "".join(out)


def _clean(text):
    """Lone surrogates (from a user __repr__ or an undecodable file name) as escapes, so the
    line is valid UTF-8 JSON."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _record(w, args, ret):
    if w.done:
        return
    text = _safe_repr(ret)
    if _first(w, (args, text)):
        _write({"file": w.file, "fn": w.fn, "args": args, "ret": text})


def _record_raised(w, args, exc_name):
    if not w.done and _first(w, (args, "raised " + exc_name)):
        _write({"file": w.file, "fn": w.fn, "args": args, "raised": exc_name})


def _first(w, key):
    """Whether `key` is new for this function and fits its limit (past it, the function is
    marked truncated)."""
    seen = w.seen
    if key in seen:
        return False
    if len(seen) >= _max_values:
        _truncate(w)
        return False
    seen.add(key)
    return True


def _truncate(w):
    if w.done:
        return
    w.done = True
    if _in_flight:
        for key, entry in list(_in_flight.items()):
            if entry[1] is w:
                _in_flight.pop(key, None)
    _write({"file": w.file, "fn": w.fn, "truncated": True})
    if _only_functions and _all_done():
        _stop()


def _all_done():
    """Whether every function of the spec has been seen and is past its bounds: then the
    probe has nothing left to learn and takes itself out (a later code object with the same
    name would go unwatched, which loses data, never invents it)."""
    for state in list(_states.values()):
        if not state.done:
            return False
    for rel, qual in _patterns:
        if not any(_matches_one(rel, qual, key) for key in list(_states)):
            return False
    return True


def _matches_one(rel, qual, key):
    if key[0] != rel:
        return False
    other = key[1]
    if other == qual:
        return True
    if "." not in other or "." not in qual:
        return other.rsplit(".", 1)[-1] == qual.rsplit(".", 1)[-1]
    return False


def _write(obj):
    """Appends one JSON line, or stops the probe once the file holds max_bytes."""
    line = (_dumps(obj) + "\n").encode("utf-8")
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(_out, flags, 0o600)
    try:
        if os.fstat(fd).st_size + len(line) > _max_bytes:
            _stop()
            os.write(fd, b'{"truncated": true}\n')
            return
        os.write(fd, line)
    finally:
        os.close(fd)


def _dumps(obj):
    """`obj`, a dict of strings and Trues, as json.dumps(obj, ensure_ascii=False) writes it."""
    parts = []
    for key, value in obj.items():
        parts.append(_quote(key) + ": " + ("true" if value is True else _quote(value)))
    return "{" + ", ".join(parts) + "}"


def _json_tools():
    """A JSON reader and string quoter taken from the C module `_json`, not from `json`, whose
    import pulls in `re`, `enum` and more: milliseconds at every start, for a program that may
    never use them. `json`'s own when `_json` is missing."""
    try:
        import _json

        class _Context(object):
            strict = True
            object_hook = None
            object_pairs_hook = None
            parse_float = float
            parse_int = int
            parse_constant = float

        scan = _json.make_scanner(_Context())

        def loads(text):
            value, end = scan(text, 0)
            if text[end:].strip():
                raise ValueError("the probe's spec has more than one JSON value")
            return value

        return loads, _json.encode_basestring
    except (ImportError, AttributeError):
        import json
        import json.encoder

        return json.loads, json.encoder.py_encode_basestring


def _stop():
    global _off
    _off = True
    if _monitoring:
        # Never sys.settrace here: the trace function, if any, is the program's.
        _unmonitor()
        return
    try:
        if getattr(_threading, "_trace_hook", None) is _trace:
            _threading.settrace(None)
    except Exception:
        pass
    _leave_thread()


# Decided once: at the recursion limit even a comparison can raise RecursionError again.
_RAISE_AT_LIMIT = sys.version_info < (3, 11)


def _recursion_error():
    """Called while a RecursionError is handled: when the program's own stack is near the
    limit, turns the probe off, and from Python 3.11 lets the program go on to raise the error
    in its own frame. Raised here, it would show the probe's frame as where the program failed,
    and the proof would not see the error it was asked to remove. Before 3.11 it is re-raised:
    the overflow flag stays set until the stack unwinds, and going on would recurse past the
    limit and abort with "Cannot recover from stack overflow"."""
    global _off
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back
    if depth > sys.getrecursionlimit() - 100:
        _off = True
        if _RAISE_AT_LIMIT:
            raise


def _disable():
    try:
        _stop()
    except Exception:
        pass


def _leave_thread():
    # Each thread drops the tracer at its next call once the probe is off; a trace function
    # the program set since is left alone.
    try:
        if sys.gettrace() is _trace:
            sys.settrace(None)
    except Exception:
        pass


def _start():
    global _off, _out, _root, _cwd, _files, _exact, _by_last, _names, _patterns, _only_functions
    global _max_calls, _max_values, _max_bytes, _max_repr, _quote, _threading, _force_settrace
    if sys.version_info < (3, 8):
        return
    spec_path = os.environ.get("HEAL_PROBE_SPEC")
    out_path = os.environ.get("HEAL_PROBE_OUT")
    if not spec_path or not out_path:
        return
    import posixpath

    loads, _quote = _json_tools()
    with open(spec_path, "rb") as f:
        spec = loads(f.read().decode("utf-8"))
    _out = os.path.abspath(out_path)
    _cwd = os.getcwd()
    _root = os.path.realpath(spec["root"]).rstrip(os.sep) or os.sep
    _files = frozenset(posixpath.normpath(f) for f in spec.get("files") or ())
    exact = {}
    by_last = {}
    patterns = []
    for rel, qual in spec.get("functions") or ():
        rel = posixpath.normpath(rel)
        patterns.append((rel, qual))
        exact.setdefault(rel, set()).add(qual)
        by_last.setdefault(rel, set()).add(qual.rsplit(".", 1)[-1])
    _exact, _by_last, _patterns = exact, by_last, tuple(patterns)
    _only_functions = not _files
    if _only_functions:
        _names = frozenset(name for names in by_last.values() for name in names)
    _max_calls = int(spec.get("max_calls", _max_calls))
    _max_values = int(spec.get("max_values", _max_values))
    _max_bytes = int(spec.get("max_bytes", _max_bytes))
    _max_repr = int(spec.get("max_repr", _max_repr))
    # For the tests and the benchmark: the sys.settrace path on a Python that has the other.
    _force_settrace = spec.get("tracer") == "settrace"
    tracer = "none"
    if _files or _patterns:
        _off = False
        if _monitor():
            tracer = "sys.monitoring"
        else:
            import threading

            _threading = threading
            threading.settrace(_trace)
            sys.settrace(_trace)
            tracer = "sys.settrace"
    _write({"probe": "start", "python": sys.version.split()[0], "tracer": tracer})


def _forget_own_folder():
    """Removes the probe's folder from sys.path (the program sees the path it would have seen),
    and nothing else."""
    here = os.path.dirname(os.path.realpath(__file__))
    kept = []
    for entry in sys.path:
        try:
            same = os.path.realpath(entry or os.curdir) == here
        except Exception:
            same = False
        if not same:
            kept.append(entry)
    sys.path[:] = kept


def _chain():
    """Runs the project's own sitecustomize, the one Python would have found without the probe.
    Its errors propagate, so `site` reports them exactly as it would have."""
    ours = sys.modules.get("sitecustomize")
    # Out of sys.modules while the next one is looked up, so the import machinery searches
    # sys.path (now without the probe's folder) instead of returning this module.
    sys.modules.pop("sitecustomize", None)
    try:
        # __import__, not importlib.import_module: the same search, without importing the
        # importlib package at every start.
        __import__("sitecustomize")
    except ImportError as exc:
        if getattr(exc, "name", "sitecustomize") != "sitecustomize":
            raise
        # None found: this module stays, since the import that is running it expects to find
        # it in sys.modules when it ends.
        if ours is not None:
            sys.modules["sitecustomize"] = ours


try:
    _start()
except Exception:
    _disable()
try:
    _forget_own_folder()
except Exception:
    pass
_chain()
