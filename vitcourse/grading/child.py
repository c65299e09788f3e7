"""The submission's process: `python -I -B -c BOOT JOB.json FD`, inside the sandbox.

It loads trusted libraries first, then limits itself (memory, CPU time, file size), redirects
printing into a bounded sink, installs the extra layer (`guard`: an audit hook and an import
blocker for the course's reference modules), and runs the submission's definitions one statement
at a time in a real module named `__main__` (as in Jupyter: dataclasses, pickling and `typing`
work), compiled without the grader's `__future__` flags; then the probes. It reports progress and
plain-data results as JSON lines on file descriptor FD; the grading process judges them and trusts
nothing else: whatever this process computes, the submission could have changed.
"""
import builtins
import faulthandler
import importlib
import json
import linecache
import os
import resource
import signal
import sys
import time
import types

_CRASH_LOG = [None]


class _Sink:
    """A bounded stand-in for stdout/stderr: counts characters, keeps nothing."""

    def __init__(self):
        self.chars = 0

    def write(self, text):
        self.chars += len(text) if isinstance(text, str) else 0
        return len(text) if isinstance(text, str) else 0

    def flush(self):
        pass

    def isatty(self):
        return False


def _limit(kind, value):
    value = int(value)
    try:
        resource.setrlimit(kind, (value, value))
    except (ValueError, OSError):
        soft, hard = resource.getrlimit(kind)
        resource.setrlimit(kind, (min(value, hard) if hard != resource.RLIM_INFINITY else value, hard))


def set_limits(memory_mb: float, cpu_s: float, fsize_mb: float) -> None:
    """Memory (address space beyond what the loaded libraries use), CPU seconds, file size, no core."""
    with open("/proc/self/status") as f:
        vm_kb = next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))
    used = resource.getrusage(resource.RUSAGE_SELF)
    _limit(resource.RLIMIT_AS, vm_kb * 1024 + memory_mb * 2**20)
    _limit(resource.RLIMIT_CPU, used.ru_utime + used.ru_stime + cpu_s + 1)
    _limit(resource.RLIMIT_FSIZE, fsize_mb * 2**20)
    _limit(resource.RLIMIT_CORE, 0)


def _write_files(workdir: str, files: dict) -> None:
    """The notebook's %%writefile cells, so `import mymodule` finds what the student wrote."""
    for name, text in files.items():
        path = os.path.realpath(os.path.join(workdir, name))
        if path.startswith(os.path.realpath(workdir) + os.sep):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)


def main(argv) -> None:
    fd = os.dup(int(argv[2]))                                     # fd 1 (containers) is replaced below
    sys.dont_write_bytecode = True
    write, dumps = os.write, json.dumps

    def emit(**record):
        write(fd, (dumps(record, allow_nan=True, separators=(",", ":")) + "\n").encode())

    with open(argv[1], encoding="utf-8") as f:
        job = json.load(f)
    workdir = job["workdir"]
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    _write_files(workdir, job.get("files", {}))
    crash_log = _CRASH_LOG[0] = os.fdopen(os.dup(2), "w")       # faulthandler keeps the real stderr file
    faulthandler.enable(file=crash_log)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)                                              # anything written to fd 1 or 2 is discarded
    os.dup2(null, 2)
    import vitcourse
    if job.get("expect_tree") and "sandbox" not in (vitcourse.__doc__ or ""):
        raise RuntimeError(f"the sandbox sees the full course package at {vitcourse.__file__}")
    for name in job.get("preload", []):
        try:
            importlib.import_module(name)
        except Exception:                                           # noqa: BLE001 - optional
            pass
    import torch
    torch.set_num_threads(1)
    from . import codec, guard, spec
    from .assignments import get_assignment
    tests = {t.name: t for t in get_assignment(job["assignment"]).tests}
    rescue = job.get("phase") == "rescue"
    inputs = {t["name"]: codec.decode(t["inputs"]) for t in job["tests"]}
    encode, describe, manual_seed, perf = codec.encode, spec.describe_error, torch.manual_seed, time.perf_counter
    blocked, sink = [], _Sink()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)             # a too-large write fails instead of killing
    set_limits(**job["limits"])
    roots = job.get("read_roots")
    guard.install([workdir, "/tmp", "/dev/shm"] if roots is None else [workdir], roots, blocked)
    guard.block_references(job.get("allowed", ()))
    for name in [n for n in sys.modules if n.startswith("vitcourse.grading")]:
        del sys.modules[name]                                     # `import vitcourse.grading.tp1` is a fresh copy
    module = types.ModuleType("__main__")
    module.__builtins__ = builtins
    sys.modules["__main__"] = module
    sys.path.insert(0, workdir)
    ns = module.__dict__
    sys.stdout = sys.stderr = sink
    builtins.input = lambda *a: (_ for _ in ()).throw(EOFError("no input while grading"))
    emit(event="ready")

    skip = set(job.get("skip_statements", []))
    for i, st in enumerate(job["statements"]):
        if i in skip:
            continue
        emit(event="load", index=i)
        name = f"<cell {st['cell']}>"
        text = "\n" * (st["line"] - 1) + st["source"]
        linecache.cache[name] = (len(text), None, text.splitlines(True), name)
        try:
            exec(compile(text, name, "exec", dont_inherit=True), ns)
            emit(event="loaded", index=i, ok=True)
        except BaseException as e:                                  # noqa: BLE001
            emit(event="loaded", index=i, ok=False, error=describe(e))

    origins = {}
    for t in job["tests"]:
        for name in t["graded"]:
            obj = ns.get(name)
            mods = [getattr(c, "__module__", None) for c in getattr(obj, "__mro__", [obj])] if obj is not None else []
            origins[name] = [m for m in mods if isinstance(m, str)][:20]
    emit(event="origins", origins=origins)

    for t in job["tests"]:
        name = t["name"]
        emit(event="test", name=name)
        started = perf()
        missing = [n for n in t["graded"] if n not in ns]
        if missing:
            emit(event="result", name=name, missing=missing)
            continue
        manual_seed(0)
        try:
            probe = tests[name].rescue if rescue else tests[name].probe
            output = encode(probe(ns, inputs[name]))
        except BaseException as e:                                  # noqa: BLE001
            output = {"__error__": describe(e)}
        try:
            emit(event="result", name=name, output=output, seconds=perf() - started)
        except (TypeError, ValueError) as e:
            emit(event="result", name=name, output={"__error__": f"the result could not be sent: {e}"})
    emit(event="done", printed=sink.chars, blocked=blocked[:20])
    os._exit(0)


if __name__ == "__main__":
    try:
        main(sys.argv)
    except BaseException:                                          # noqa: BLE001 - a grader bug: say where, exit 70
        import traceback
        traceback.print_exc(file=_CRASH_LOG[0] or sys.__stderr__)
        (_CRASH_LOG[0] or sys.__stderr__).flush()
        os._exit(70)
