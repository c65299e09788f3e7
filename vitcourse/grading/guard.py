"""An extra layer inside the submission's process: an audit hook and an import blocker.

Neither is the boundary (Python's audit hooks are not a security mechanism: C code such as
`_posixsubprocess.fork_exec` or ctypes raises no event); the sandbox (`isolation`) is. They refuse
the easy doors early, with a clear message: starting programs, sockets, changing rlimits, walking
the garbage collector for the grader's objects, writing outside the working folders, and
importing the course's reference modules. Without a sandbox (`unsafe-no-sandbox`) the hook also
limits reads to the Python installation and the working folder, and refuses ctypes.

The hook's policy lives only in its closure (immutable tuples); nothing the submission can name
switches it off: it is not a module attribute, and the garbage-collector walks that would find
it are refused.
"""
from __future__ import annotations

import os
import sys

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
PATH_EVENTS = frozenset({"os.remove", "os.rmdir", "os.mkdir", "os.rename", "os.replace", "os.chmod", "os.chown",
                         "os.truncate", "os.utime", "os.link", "os.symlink", "os.mkfifo", "os.mknod",
                         "shutil.copyfile", "shutil.copymode", "shutil.copystat", "shutil.copytree", "shutil.move",
                         "shutil.rmtree", "shutil.chown", "os.setxattr", "os.removexattr"})
LIST_EVENTS = frozenset({"os.listdir", "os.scandir", "glob.glob", "glob.glob/2", "os.chdir"})
DENIED = ("subprocess.", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "os.forkpty", "os.system",
          "os.startfile", "pty.", "socket.", "resource.setrlimit", "resource.prlimit", "sys.remote_exec",
          "_posixsubprocess", "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys.addaudithook")
DENIED_UNSAFE = ("ctypes.",)


def install(write_roots, read_roots=None, blocked=None) -> None:
    """Install the hook (it cannot be removed). `read_roots` None: reads are the sandbox's business."""
    import pathlib
    realpath, fsdecode, own_pid, pure = os.path.realpath, os.fsdecode, os.getpid(), pathlib.PurePath
    pure_fspath = pure.__fspath__
    writes = tuple(realpath(r) for r in write_roots) + ("/dev/null",)
    reads = None if read_roots is None else tuple(realpath(r) for r in read_roots) + writes + (
        f"/proc/{own_pid}", "/proc/self")
    denied = DENIED + (DENIED_UNSAFE if read_roots is not None else ())
    log = blocked if blocked is not None else []
    append, startswith = log.append, str.startswith

    def under(path, roots):
        return any(path == r or startswith(path, r.rstrip("/") + "/") for r in roots)

    def norm(p):
        if isinstance(p, int):
            return None
        if isinstance(p, pure) and type(p).__fspath__ is pure_fspath:
            p = str(p)
        if type(p) not in (str, bytes):
            return "<a path-like object of type %s>" % type(p).__name__
        return realpath(fsdecode(p))

    def deny(what, detail):
        if len(log) < 50:
            append(f"{what} {detail}"[:300])
        raise PermissionError(f"blocked by the grading sandbox: {what} {detail}")

    def hook(event, args):
        if event == "open":
            path = norm(args[0])
            if path is None:
                return
            mode = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            if any(c in mode for c in "wax+") or flags & WRITE_FLAGS:
                if not under(path, writes):
                    deny("writing", path)
            elif reads is not None and not under(path, reads):
                deny("reading", path)
        elif event in PATH_EVENTS:
            for a in args:
                if isinstance(a, (str, bytes, pure)) or hasattr(a, "__fspath__"):
                    path = norm(a)
                    if not under(path, writes):
                        deny(event, path)
        elif event in LIST_EVENTS and reads is not None:
            path = norm(args[0] if args and args[0] is not None else ".")
            if path is not None and not under(path, reads):
                deny(event, path)
        elif startswith(event, denied):
            deny(event, "")
        elif event in ("os.kill", "os.killpg", "signal.pthread_kill") and args and args[0] not in (own_pid, 0):
            deny(event, args[0])

    sys.addaudithook(hook)


class ReferenceBlocker:
    """A meta-path finder refusing every `vitcourse` module not named in `allowed` (the modules of the
    sandbox's package tree, `pkgtree.modules`)."""

    def __init__(self, allowed):
        self.allowed = frozenset(allowed) | {"vitcourse"}

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] != "vitcourse" or name in self.allowed:
            return None
        raise ModuleNotFoundError(f"No module named {name!r} while grading: the course's reference "
                                  f"implementation is not available to graded code (an import only your "
                                  f"experiments use may fail here; graded functions must not need it)", name=name)

    def find_module(self, name, path=None):                      # pragma: no cover - old protocol
        return None


def block_references(allowed) -> None:
    """Drop loaded course modules that are not allowed and refuse to import them again."""
    for name in [n for n in sys.modules if n.split(".")[0] == "vitcourse"]:
        if name != "vitcourse" and name not in allowed:
            del sys.modules[name]
    sys.meta_path.insert(0, ReferenceBlocker(allowed))
