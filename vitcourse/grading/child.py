"""The submission's process: `python -I -B -m vitcourse.grading.child JOB.json FD`.

It loads trusted libraries first, then limits itself (memory, CPU time, file size), redirects
printing into a bounded sink, installs an audit hook (reads only of the Python installation and
its own directory, writes only in its own directory, no processes, sockets, ctypes or rlimit
changes), runs the submission's definitions one statement at a time, then the probes. It reports
progress and plain-data results as JSON lines on file descriptor FD; the grading process judges
them. Python's audit hooks are not a security boundary on their own (see the Python docs): the
process boundary, the resource limits and, where available, Linux namespaces (no network; the
solutions and other submissions hidden) are the isolation; the hook closes the easy doors.
"""
from __future__ import annotations

import builtins
import faulthandler
import importlib
import json
import os
import resource
import signal
import sys
import time

_CRASH_LOG = [None]
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
PATH_EVENTS = {"os.remove", "os.rmdir", "os.mkdir", "os.rename", "os.replace", "os.chmod", "os.chown",
               "os.truncate", "os.utime", "os.link", "os.symlink", "os.chflags", "os.lchflags", "os.mkfifo",
               "os.mknod", "shutil.copyfile", "shutil.copymode", "shutil.copystat", "shutil.copytree",
               "shutil.move", "shutil.rmtree", "shutil.chown", "os.setxattr", "os.removexattr"}
LIST_EVENTS = {"os.listdir", "os.scandir", "glob.glob", "glob.glob/2", "os.chdir"}
DENIED_PREFIXES = ("subprocess.", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "os.forkpty", "os.system",
                   "os.startfile", "pty.", "socket.", "ctypes.", "resource.setrlimit", "resource.prlimit",
                   "sys.remote_exec", "_posixsubprocess")


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


def _under(path: str, roots) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def install_guard(workdir: str, read_roots: list, protected: list, blocked: list) -> None:
    """The audit hook (cannot be removed once installed)."""
    import pathlib
    realpath, fsdecode, own_pid = os.path.realpath, os.fsdecode, os.getpid()
    write_roots = (realpath(workdir), "/dev/null")
    read_roots = tuple(realpath(r) for r in read_roots) + write_roots + (f"/proc/{own_pid}", "/proc/self")
    protected = tuple(realpath(p) for p in protected)
    pure_fspath = pathlib.PurePath.__fspath__

    def norm(p):
        if isinstance(p, int):
            return None
        if isinstance(p, pathlib.PurePath) and type(p).__fspath__ is pure_fspath:
            p = str(p)
        if type(p) not in (str, bytes):
            return "<a path-like object of type %s>" % type(p).__name__
        return realpath(fsdecode(p))

    def deny(what, detail):
        blocked.append(f"{what} {detail}"[:300])
        raise PermissionError(f"blocked by the grading sandbox: {what} {detail}")

    def hook(event, args):
        if event == "open":
            path = norm(args[0])
            if path is None:
                return
            mode = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            if any(c in mode for c in "wax+") or flags & WRITE_FLAGS:
                if not _under(path, write_roots):
                    deny("writing", path)
            elif _under(path, protected) or not _under(path, read_roots):
                deny("reading", path)
        elif event in PATH_EVENTS:
            for a in args:
                if isinstance(a, (str, bytes, pathlib.PurePath)) or hasattr(a, "__fspath__"):
                    path = norm(a)
                    if not _under(path, write_roots):
                        deny(event, path)
        elif event in LIST_EVENTS:
            path = norm(args[0] if args and args[0] is not None else ".")
            if path is not None and (_under(path, protected) or not _under(path, read_roots)):
                deny(event, path)
        elif event.startswith(DENIED_PREFIXES):
            deny(event, "")
        elif event in ("os.kill", "os.killpg", "signal.pthread_kill") and args and args[0] not in (own_pid, 0):
            deny(event, args[0])

    sys.addaudithook(hook)


def _limit(kind, value):
    value = int(value)
    try:
        resource.setrlimit(kind, (value, value))
    except (ValueError, OSError):
        soft, hard = resource.getrlimit(kind)
        resource.setrlimit(kind, (min(value, hard) if hard != resource.RLIM_INFINITY else value, hard))


def set_limits(memory_mb: float, cpu_s: float, fsize_mb: float) -> None:
    """Memory (address space beyond what the loaded libraries use), CPU seconds, file size, no core."""
    vm_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmSize:"))
    used = resource.getrusage(resource.RUSAGE_SELF)
    _limit(resource.RLIMIT_AS, vm_kb * 1024 + memory_mb * 2**20)
    _limit(resource.RLIMIT_CPU, used.ru_utime + used.ru_stime + cpu_s + 1)
    _limit(resource.RLIMIT_FSIZE, fsize_mb * 2**20)
    _limit(resource.RLIMIT_CORE, 0)


def main(argv) -> None:
    job_path, fd = argv[1], int(argv[2])
    sys.dont_write_bytecode = True
    write, dumps = os.write, json.dumps

    def emit(**record):
        write(fd, (dumps(record, allow_nan=True, separators=(",", ":")) + "\n").encode())

    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    os.chdir(job["workdir"])
    crash_log = _CRASH_LOG[0] = os.fdopen(os.dup(2), "w")       # faulthandler keeps the real stderr file
    faulthandler.enable(file=crash_log)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)                                              # anything written to fd 1 or 2 is discarded
    os.dup2(null, 2)
    for name in job.get("preload", []):
        try:
            importlib.import_module(name)
        except Exception:                                           # noqa: BLE001 - optional
            pass
    import numpy as np  # noqa: F401
    import torch
    torch.set_num_threads(1)
    from . import codec, spec
    from .assignments import get_assignment
    assignment = get_assignment(job["assignment"])
    tests = {t.name: t for t in assignment.tests}
    inputs = {t["name"]: codec.decode(t["inputs"]) for t in job["tests"]}
    blocked, sink = [], _Sink()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)             # a too-large write fails instead of killing
    set_limits(**job["limits"])
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))           # the vitcourse package
    roots = job["read_roots"] + [p for p in sys.path if p and os.path.isdir(p)] + [
        sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, here]
    install_guard(job["workdir"], roots, job["protected"], blocked)
    sys.stdout = sys.stderr = sink
    builtins.input = lambda *a: (_ for _ in ()).throw(EOFError("no input while grading"))
    emit(event="ready")

    ns = {"__name__": "__submission__", "__builtins__": builtins}
    skip = set(job.get("skip_statements", []))
    for i, st in enumerate(job["statements"]):
        if i in skip:
            continue
        emit(event="load", index=i)
        try:
            code = compile("\n" * (st["line"] - 1) + st["source"], f"<cell {st['cell']}>", "exec")
            exec(code, ns)
            emit(event="loaded", index=i, ok=True)
        except BaseException as e:                                  # noqa: BLE001
            emit(event="loaded", index=i, ok=False, error=spec.describe_error(e))

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
        started = time.perf_counter()
        missing = [n for n in t["graded"] if n not in ns]
        if missing:
            emit(event="result", name=name, missing=missing)
            continue
        torch.manual_seed(0)
        try:
            output = codec.encode(tests[name].probe(ns, inputs[name]))
        except BaseException as e:                                  # noqa: BLE001
            output = {"__error__": spec.describe_error(e)}
        try:
            emit(event="result", name=name, output=output, seconds=time.perf_counter() - started)
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
