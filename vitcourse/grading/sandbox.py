"""Run one submission in its own process, with limits, and collect plain-data results.

One process per submission (`child.py`), started with a scrubbed environment in a fresh temporary
working directory, limited in memory, CPU time and file size. Where Linux user namespaces are
available (`unshare`), it also gets no network and empty directories mounted over the solutions,
the submissions and the grades. A watchdog kills it when one statement or test runs longer than
`Limits.timeout`; the run then resumes in a fresh process after the culprit, so a function that
hangs or crashes costs only its own test.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import codec

MAX_STREAM_BYTES = 32 * 2**20


@dataclass
class Limits:
    timeout: float = 30.0          # seconds for any one statement or test (the watchdog)
    total_timeout: float = 600.0   # wall-clock seconds per submission, restarts included
    startup_timeout: float = 180.0  # seconds to import torch before the submission's code starts
    memory_mb: float = 1024.0      # address space beyond the loaded libraries
    cpu_s: float = 300.0           # CPU seconds per process
    fsize_mb: float = 16.0         # largest file the submission may write
    max_restarts: int = 4          # fresh processes after a crash or a timeout
    isolate: str = "auto"          # "auto": namespaces when available; "none": limits and audit hook only

    def __post_init__(self):
        for name in ("timeout", "total_timeout", "startup_timeout", "memory_mb", "cpu_s", "fsize_mb"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Limits.{name} must be positive, got {getattr(self, name)!r}")
        if self.isolate not in ("auto", "none"):
            raise ValueError(f"Limits.isolate must be 'auto' or 'none', got {self.isolate!r}")


@dataclass
class Outcome:
    loads: dict = field(default_factory=dict)      # statement index -> error message (failed ones only)
    results: dict = field(default_factory=dict)    # test -> {"output": ...} | {"missing": [...]} | {"failure": msg}
    origins: dict = field(default_factory=dict)    # graded name -> modules it comes from (as reported)
    printed: int = 0
    blocked: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    processes: int = 0
    isolation: str = ""


@functools.lru_cache(maxsize=None)
def namespaces_available() -> bool:
    """True when `unshare` can give us a user, network and mount namespace (and mount a tmpfs)."""
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    with tempfile.TemporaryDirectory() as d:
        try:
            r = subprocess.run(["unshare", "--user", "--map-root-user", "--net", "--mount", "--", "/bin/sh", "-c",
                                'mount -t tmpfs -o size=16k tmpfs "$0"', d], capture_output=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return False
    return r.returncode == 0


_HIDE = 'while [ "$1" != "--" ]; do mount -t tmpfs -o size=16k,mode=000 tmpfs "$1" || exit 97; shift; done; ' \
        'shift; exec "$@"'


def _command(job_path: Path, fd: int, protected, isolate: bool) -> list:
    cmd = [sys.executable, "-I", "-B", "-m", "vitcourse.grading.child", str(job_path), str(fd)]
    if not isolate:
        return cmd
    hide = [str(p) for p in protected if Path(p).is_dir()]
    return ["unshare", "--user", "--map-root-user", "--net", "--mount", "--", "/bin/sh", "-c", _HIDE, "sh",
            *hide, "--", *cmd]


def _env(work: Path, mpl_dir: str | None) -> dict:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "TMPDIR": str(work), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONHASHSEED": "0"}
    if mpl_dir:
        env["MPLCONFIGDIR"] = mpl_dir
    return env


_SIGNALS = {signal.SIGSEGV: "crashed the Python interpreter (segmentation fault)",
            signal.SIGXCPU: "exceeded the CPU-time limit", signal.SIGXFSZ: "wrote a file larger than the limit",
            signal.SIGABRT: "aborted (often: out of memory inside a library)",
            signal.SIGKILL: "was killed (out of memory?)", signal.SIGBUS: "crashed (bus error)"}


def _why(returncode: int, killed: str | None) -> str:
    if killed:
        return killed
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"the process {_SIGNALS.get(-returncode, 'was killed by signal ' + name)}"
    return f"the process exited with status {returncode} (os._exit, or a crash)"


def _run_once(job: dict, limits: Limits, isolate: bool, deadline: float) -> tuple[list, str, str]:
    """Start one child; return (records, why it ended if it did not finish, tail of its stderr)."""
    root = Path(tempfile.mkdtemp(prefix="vitcourse-grade-"))
    work = root / "work"
    work.mkdir()
    job = dict(job, workdir=str(work))
    (root / "job.json").write_text(json.dumps(job), encoding="utf-8")
    r, w = os.pipe()
    records, state = [], {"last": time.monotonic(), "ready": False, "overflow": False}
    try:
        with open(root / "stderr", "wb") as err:
            proc = subprocess.Popen(_command(root / "job.json", w, job["protected"], isolate), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=err, pass_fds=(w,), cwd=work, start_new_session=True,
                                    env=_env(work, job.get("mpl_dir")))
        os.close(w)
        w = None                                                   # never close an fd number twice: threads reuse them
        reader = threading.Thread(target=_read, args=(r, records, state), daemon=True)
        reader.start()
        killed, started = None, time.monotonic()
        while proc.poll() is None:
            time.sleep(0.02)
            now = time.monotonic()
            if state["overflow"]:
                killed = "the process sent more data than the grader accepts"
            elif not state["ready"] and now - started > limits.startup_timeout:
                killed = f"the grader's process did not start within {limits.startup_timeout:g} s"
            elif state["ready"] and now - state["last"] > limits.timeout:
                killed = f"timed out after {limits.timeout:g} s (an infinite loop, or far too slow)"
            elif now > deadline:
                killed = "the time allowed for the whole submission ran out"
            if killed:
                _kill(proc)
        reader.join(timeout=5)
        tail = (root / "stderr").read_bytes()[-1500:].decode("utf-8", "replace")
        done = any(rec.get("event") == "done" for rec in records)
        return records, ("" if done else _why(proc.returncode, killed)), tail
    finally:
        for fd in (r, w):
            if fd is not None:
                os.close(fd)
        shutil.rmtree(root, ignore_errors=True)


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _read(fd: int, records: list, state: dict):
    buffer, total = b"", 0
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except OSError:
            break
        if not chunk:
            break
        total += len(chunk)
        if total > MAX_STREAM_BYTES:
            state["overflow"] = True
            break
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
                continue
            if isinstance(rec, dict) and isinstance(rec.get("event"), str):
                records.append(rec)
                state["last"] = time.monotonic()
                state["ready"] = state["ready"] or rec["event"] == "ready"


def run_submission(job: dict, limits: Limits) -> Outcome:
    """Run `job` (statements, tests with inputs, paths) to the end, restarting after crashes and timeouts."""
    isolate = limits.isolate == "auto" and namespaces_available()
    outcome = Outcome(isolation="process + rlimits + audit hook" + (" + namespaces (no network, hidden paths)"
                                                                     if isolate else ""))
    deadline = time.monotonic() + limits.total_timeout
    skip, todo = set(), [t["name"] for t in job["tests"]]
    n_statements = len(job["statements"])
    while todo:
        outcome.processes += 1
        run_job = dict(job, skip_statements=sorted(skip), tests=[t for t in job["tests"] if t["name"] in todo])
        records, ended, tail = _run_once(run_job, limits, isolate, deadline)
        phase = None
        for rec in records:
            event = rec["event"]
            if event == "load" and isinstance(rec.get("index"), int) and 0 <= rec["index"] < n_statements:
                phase = ("load", rec["index"])
            elif event == "loaded" and rec.get("ok") is False and isinstance(rec.get("index"), int):
                outcome.loads[rec["index"]] = str(rec.get("error"))[:400]
                phase = None
            elif event == "test" and rec.get("name") in todo:
                phase = ("test", rec["name"])
            elif event == "result" and rec.get("name") in todo:
                outcome.results[rec["name"]] = _result(rec)
                todo.remove(rec["name"])
                phase = None
            elif event == "origins" and isinstance(rec.get("origins"), dict):
                outcome.origins = {str(k): [str(m) for m in v][:20] for k, v in rec["origins"].items()
                                   if isinstance(v, list)}
            elif event == "done":
                outcome.printed = rec.get("printed") if isinstance(rec.get("printed"), int) else 0
                outcome.blocked = [str(b)[:300] for b in rec.get("blocked", [])][:20] \
                    if isinstance(rec.get("blocked"), list) else []
        if not ended:
            break
        if "faulthandler" in tail or "Fatal Python error" in tail:
            ended += " [" + tail.strip().splitlines()[0][:120] + "]"
        if phase and phase[0] == "load":
            skip.add(phase[1])
            outcome.loads[phase[1]] = ended
        elif phase and phase[0] == "test":
            outcome.results[phase[1]] = {"failure": ended}
            todo.remove(phase[1])
        elif not any(rec["event"] == "ready" for rec in records):
            outcome.notes.append(f"the grader could not start the submission's process: {ended}; stderr: {tail[-300:]}")
            break
        else:
            outcome.notes.append(f"the process ended between steps: {ended}" + (f"; its last words: {tail[-300:]}"
                                                                                  if tail.strip() else ""))
        if outcome.processes > limits.max_restarts or time.monotonic() > deadline:
            outcome.notes.append(f"stopped after {outcome.processes} processes")
            break
    for name in todo:
        outcome.results.setdefault(name, {"failure": "not run: the submission's process kept crashing or timing out"})
    return outcome


def _result(rec: dict) -> dict:
    if isinstance(rec.get("missing"), list):
        return {"missing": [str(m)[:100] for m in rec["missing"]][:10]}
    try:
        return {"output": codec.decode(rec.get("output"))}
    except codec.DecodeError as e:
        return {"failure": f"the result could not be read: {e}"}
