"""Run one submission in its own sandboxed process, with limits, and collect plain-data results.

One sandbox per submission run (`isolation`: bubblewrap, a container, or — only when asked for by
name — none), holding the Python installation, the sandbox's own `vitcourse` (`pkgtree`: no
reference modules) and the job, read-only; its only writable place is a size-limited tmpfs. The
process inside (`child`) limits memory, CPU time and file size. A watchdog kills the sandbox when
one statement or test runs longer than `Limits.timeout`; the run then resumes in a fresh sandbox
after the culprit, so a function that hangs or crashes costs only its own test. Nothing started
inside outlives its run (PID namespace, `--die-with-parent`, `--rm`).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from . import codec, isolation

MAX_STREAM_BYTES = 32 * 2**20


@dataclass
class Limits:
    timeout: float = 30.0          # seconds for any one statement or test (the watchdog)
    total_timeout: float = 600.0   # wall-clock seconds per submission, restarts included
    startup_timeout: float = 180.0  # seconds to import torch before the submission's code starts
    memory_mb: float = 1024.0      # address space beyond the loaded libraries
    cpu_s: float = 300.0           # CPU seconds per process
    fsize_mb: float = 16.0         # largest file the submission may write
    tmp_mb: float = 64.0           # size of the sandbox's tmpfs (/tmp and /dev/shm each)
    max_restarts: int = 4          # fresh processes after a crash or a timeout
    isolate: str = "auto"          # auto | bwrap | docker | podman | unsafe-no-sandbox (see `isolation`)
    image: str = ""                # the container image (docker/podman)

    def __post_init__(self):
        for name in ("timeout", "total_timeout", "startup_timeout", "memory_mb", "cpu_s", "fsize_mb", "tmp_mb"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Limits.{name} must be positive, got {getattr(self, name)!r}")
        if self.isolate not in isolation.MODES:
            raise ValueError(f"Limits.isolate must be one of {isolation.MODES}, got {self.isolate!r}")


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


def _env(work: str, mpl_dir: str | None) -> dict:
    env = {"PATH": "/usr/bin:/bin", "HOME": work, "TMPDIR": "/tmp", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONHASHSEED": "0"}
    if mpl_dir:
        env["MPLCONFIGDIR"] = mpl_dir
    return env


def _launch(job: dict, limits: Limits, mode: str, root: Path, w: int):
    """(command, env, pass_fds, container name or None, job as the child reads it) for one run."""
    tree, protected = Path(job["tree"]), job["protected"]
    mpl = job.get("mpl_dir")
    job = {k: v for k, v in job.items() if k not in ("tree", "protected")}    # host paths stay outside
    if mode == isolation.UNSAFE:
        work = str(root / "work")
        roots = [str(r) for r in isolation.python_roots()] + [str(tree), "/usr", "/etc/localtime",
                                                               "/sys/devices/system/cpu"] + ([mpl] if mpl else [])
        child = dict(job, workdir=work, read_roots=roots)
        (root / "job.json").write_text(json.dumps(child), encoding="utf-8")
        cmd = isolation.boot(sys.executable, str(tree), str(root / "job.json"), w)
        return cmd, _env(work, mpl), (w,), None, child
    child = dict(job, workdir="/tmp/work", read_roots=None, expect_tree=True)
    (root / "job").mkdir()
    (root / "job" / "job.json").write_text(json.dumps(child), encoding="utf-8")
    job_file = isolation.JOB + "/job.json"
    env = _env("/tmp/work", "/grader/mpl" if mpl else None)
    if mode == "bwrap":
        from .pkgtree import PACKAGE
        inner = isolation.boot(sys.executable, isolation.PKG, job_file, w)
        cmd = isolation.bwrap_command(inner, package_dir=PACKAGE, tree=tree / "vitcourse", job_dir=root / "job",
                                      mpl_dir=mpl, tmp_mb=limits.tmp_mb, protected=protected)
        return cmd, env, (w,), None, child
    name = f"vitcourse-grade-{uuid.uuid4().hex[:12]}"
    cmd = isolation.container_command(mode, limits.image, isolation.boot("python", isolation.PKG, job_file, 1),
                                      name=name, tree=tree / "vitcourse", job_dir=root / "job", env=env,
                                      memory_mb=limits.memory_mb, tmp_mb=limits.tmp_mb)
    return cmd, env, (), name, child


_SIGNALS = {signal.SIGSEGV: "crashed the Python interpreter (segmentation fault)",
            signal.SIGXCPU: "exceeded the CPU-time limit", signal.SIGXFSZ: "wrote a file larger than the limit",
            signal.SIGABRT: "aborted (often: out of memory inside a library)",
            signal.SIGKILL: "was killed (out of memory?)", signal.SIGBUS: "crashed (bus error)"}


def _why(returncode: int, killed: str | None) -> str:
    if killed:
        return killed
    if returncode - 128 in {int(s) for s in _SIGNALS}:
        returncode = 128 - returncode                              # bwrap and containers: 128 + the signal
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"the process {_SIGNALS.get(-returncode, 'was killed by signal ' + name)}"
    return f"the process exited with status {returncode} (os._exit, or a crash)"


def _run_once(job: dict, limits: Limits, mode: str, deadline: float) -> tuple[list, str, str]:
    """Start one sandbox; return (records, why it ended if it did not finish, tail of its stderr)."""
    root = Path(tempfile.mkdtemp(prefix="vitcourse-grade-"))
    (root / "work").mkdir()
    r, w = os.pipe()
    records, state = [], {"last": time.monotonic(), "ready": False, "overflow": False}
    container = None
    try:
        cmd, env, fds, container, _ = _launch(job, limits, mode, root, w)
        with open(root / "stderr", "wb") as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=w if container else subprocess.DEVNULL,
                                    stderr=err, pass_fds=fds, cwd=root / "work", start_new_session=True, env=env)
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
                _kill(proc, mode, container)
        reader.join(timeout=5)
        tail = (root / "stderr").read_bytes()[-1500:].decode("utf-8", "replace")
        done = any(rec.get("event") == "done" for rec in records)
        return records, ("" if done else _why(proc.returncode, killed)), tail
    finally:
        for fd in (r, w):
            if fd is not None:
                os.close(fd)
        shutil.rmtree(root, ignore_errors=True)


def _kill(proc, mode: str, container: str | None):
    """End the whole sandbox: its process group (bwrap's PID namespace dies with it) or the container."""
    if container:
        subprocess.run([shutil.which(mode) or mode, "kill", container], capture_output=True, timeout=30)
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
    """Run `job` (statements, tests with inputs, the package tree, paths) to the end, restarting after
    crashes and timeouts. Raises `isolation.SandboxUnavailable` when the sandbox asked for cannot run."""
    mode = isolation.choose(limits.isolate, limits.image)
    outcome = Outcome(isolation=mode)
    deadline = time.monotonic() + limits.total_timeout
    skip, todo = set(), [t["name"] for t in job["tests"]]
    n_statements = len(job["statements"])
    while todo:
        outcome.processes += 1
        run_job = dict(job, skip_statements=sorted(skip), tests=[t for t in job["tests"] if t["name"] in todo])
        records, ended, tail = _run_once(run_job, limits, mode, deadline)
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
