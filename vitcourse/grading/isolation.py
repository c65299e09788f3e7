"""Which sandbox a submission runs in, and the command that starts it.

- `bwrap` (bubblewrap, Linux; the sandbox Flatpak uses): new user, PID, mount, network, IPC, UTS and
  cgroup namespaces; uid/gid 65534 with no capabilities and (bubblewrap >= 0.8) no nested user
  namespaces; a fresh root holding only /usr (and the /bin, /lib symlinks), the loader cache, the
  Python installation and the virtual environment, read-only; the sandbox's own `vitcourse` (`pkgtree`) over the package's
  path, read-only; a size-limited tmpfs on /tmp and /dev/shm, the only writable places. Nothing of
  solutions/, the submissions, the grades or .git exists inside. `--die-with-parent` and the PID
  namespace end every process the submission started when its run ends.
- `docker` / `podman`: the instructor's image (Python and the course's requirements, without
  `vitcourse`), `--network none`, a read-only root, tmpfs /tmp, uid 65534, no capabilities, no new
  privileges, memory/CPU/pids limits, `--rm`; the same package tree and job folder mounted read-only.
- `unsafe-no-sandbox`: only the process, its rlimits and the audit hook (trusted code only; the
  grader refuses untrusted work without a sandbox unless this is asked for by name).
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

MODES = ("auto", "bwrap", "docker", "podman", "unsafe-no-sandbox")
UNSAFE = "unsafe-no-sandbox"
JOB = "/grader/job"                       # where the job folder appears inside the sandbox
PKG = "/grader/pkg"                       # the package tree inside a container
NOBODY = "65534"


class SandboxUnavailable(ValueError):
    """The requested isolation cannot be used here (the message says what to install or pass)."""


def describe(mode: str) -> str:
    return {"bwrap": "bubblewrap (user/PID/mount/network namespaces, uid 65534, no capabilities, read-only "
                     "system, tmpfs /tmp; no solutions, submissions or grades mounted)",
            "docker": "docker container (--network none, read-only root, uid 65534, no capabilities, limits)",
            "podman": "podman container (--network none, read-only root, uid 65534, no capabilities, limits)",
            UNSAFE: "NONE: unsafe-no-sandbox (process, rlimits and audit hook only; trusted code only)"}[mode]


def python_roots() -> list:
    """The folders the interpreter needs: its installation and the virtual environment."""
    roots = {Path(p).resolve() for p in (sys.base_prefix, sys.prefix, sys.exec_prefix, sys.base_exec_prefix)}
    roots.add(Path(sys.executable).resolve().parent.parent)
    return sorted(roots)


def _system_binds() -> list:
    args = []
    for name in ("bin", "lib", "lib32", "lib64", "libx32", "sbin"):
        p = Path("/") / name
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            args += ["--ro-bind", str(p), str(p)]
    args += ["--ro-bind", "/usr", "/usr"]
    for f in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime"):
        if os.path.exists(f):
            args += ["--ro-bind", f, f]
    return args


@functools.lru_cache(maxsize=None)
def bwrap_has(option: str) -> bool:
    """Whether this bubblewrap knows an option (`--disable-userns` needs 0.8; Ubuntu 22.04 has 0.6)."""
    try:
        r = subprocess.run([shutil.which("bwrap") or "bwrap", "--help"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return option in r.stdout + r.stderr


def check_mounts(mounts, protected) -> None:
    """No mounted folder may hold, or lie inside, a protected one (solutions, submissions, grades, .git)."""
    for m in mounts:
        m = Path(m).resolve()
        for p in protected:
            p = Path(p).resolve()
            if m == p or p.is_relative_to(m) or m.is_relative_to(p):
                raise SandboxUnavailable(f"the sandbox would mount {m}, which overlaps the protected folder {p}: "
                                         f"keep the Python installation, the virtual environment and the course "
                                         f"package outside the solutions, submissions and grades folders")


def bwrap_command(inner: list, *, package_dir, tree, job_dir, mpl_dir=None, tmp_mb: float = 64,
                  protected=()) -> list:
    """bwrap arguments running `inner` (an argv using paths valid inside) in a fresh sandbox."""
    roots = [r for r in python_roots() if not str(r).startswith("/usr/") and str(r) != "/usr"]
    check_mounts(roots + [package_dir], protected)
    size = str(int(tmp_mb * 2**20))
    nested = ["--disable-userns"] if bwrap_has("--disable-userns") else []   # older: nested ones see nothing more
    cmd = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--unshare-user", "--uid", NOBODY, "--gid", NOBODY,
           *nested, "--cap-drop", "ALL", "--new-session", "--die-with-parent", "--hostname", "sandbox",
           *_system_binds(), "--proc", "/proc", "--dev", "/dev",
           "--size", size, "--tmpfs", "/tmp", "--size", size, "--tmpfs", "/dev/shm"]
    for r in roots:
        cmd += ["--ro-bind", str(r), str(r)]
    cmd += ["--ro-bind", str(tree), str(package_dir), "--ro-bind", str(tree), PKG + "/vitcourse",
            "--ro-bind", str(job_dir), JOB]
    if mpl_dir:
        cmd += ["--ro-bind", str(mpl_dir), "/grader/mpl"]
    return cmd + ["--chdir", "/tmp", "--", *inner]


def container_command(runtime: str, image: str, inner: list, *, name: str, tree, job_dir, env: dict,
                      memory_mb: float, tmp_mb: float = 64, cpus: float = 1.0, pids: int = 256) -> list:
    """`docker run` / `podman run` arguments with the same guarantees as the bwrap sandbox."""
    if not image:
        raise SandboxUnavailable(f"--sandbox {runtime} needs --image: an image with Python and the course's "
                                 f"requirements (not vitcourse itself), e.g. built from requirements.txt")
    size = int(tmp_mb * 2**20)
    cmd = [shutil.which(runtime) or runtime, "run", "--rm", "-i", "--name", name, "--network", "none", "--read-only", "--cap-drop", "ALL",
           "--security-opt", "no-new-privileges", "--user", f"{NOBODY}:{NOBODY}", "--ipc", "none",
           "--pids-limit", str(pids), "--memory", f"{int(memory_mb * 2 + 512)}m", "--cpus", f"{cpus:g}",
           "--tmpfs", f"/tmp:rw,size={size},mode=1777", "--tmpfs", f"/dev/shm:rw,size={size}",
           "-v", f"{tree}:{PKG}/vitcourse:ro", "-v", f"{job_dir}:{JOB}:ro", "-w", "/tmp"]
    for k, v in sorted(env.items()):
        cmd += ["-e", f"{k}={v}"]
    return cmd + [image, *inner]


def boot(python: str, pkg_parent: str, job: str, fd: int) -> list:
    """The child's command: the sandbox's package tree first on sys.path, then `grading.child`."""
    code = f"import sys, runpy; sys.path.insert(0, {str(pkg_parent)!r}); runpy.run_module('vitcourse.grading.child', " \
           f"run_name='__main__', alter_sys=True)"
    return [python, "-I", "-B", "-c", code, job, str(fd)]


@functools.lru_cache(maxsize=None)
def bwrap_works() -> bool:
    """True when bubblewrap is installed and can start a sandbox with these options on this machine."""
    if not sys.platform.startswith("linux") or shutil.which("bwrap") is None:
        return False
    from . import pkgtree
    with tempfile.TemporaryDirectory() as d:
        cmd = bwrap_command([sys.executable, "-I", "-c", "import os; assert os.getuid() == 65534"],
                            package_dir=pkgtree.PACKAGE, tree=pkgtree.PACKAGE, job_dir=d)
        try:
            return subprocess.run(cmd, capture_output=True, timeout=60).returncode == 0
        except (OSError, subprocess.SubprocessError):
            return False


def choose(mode: str, image: str | None = None) -> str:
    """The isolation to use: `mode` itself if it works, the best available for "auto", else an error."""
    if mode not in MODES:
        raise SandboxUnavailable(f"unknown sandbox {mode!r}: expected one of {MODES}")
    if mode == UNSAFE:
        return mode
    if mode in ("auto", "bwrap") and bwrap_works():
        return "bwrap"
    if mode in ("docker", "podman"):
        if shutil.which(mode) is None:
            raise SandboxUnavailable(f"--sandbox {mode}: `{mode}` is not installed")
        container_command(mode, image or "", [], name="x", tree="t", job_dir="j", env={}, memory_mb=1)
        return mode
    if mode == "auto" and image:
        for runtime in ("podman", "docker"):
            if shutil.which(runtime):
                return runtime
    raise SandboxUnavailable(
        "no sandbox for untrusted code: install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap), "
        "or use a container (--sandbox docker|podman --image IMAGE); to grade TRUSTED code without a "
        "sandbox pass --unsafe-no-sandbox" + ("" if sys.platform.startswith("linux") else
                                             " (on macOS: grade inside a Linux container, see solutions/README.md)"))
