"""Starts programs by every route there is — os.system, subprocess, os.posix_spawn, os.fork,
_posixsubprocess.fork_exec (no audit event) and ctypes fork/execve/system (no audit event) — each
program trying to leave a mark outside: a file in the host's /tmp and in the repository. Some routes
do start a program inside the sandbox; none of the marks may appear on the host. token_stats is
correct and gets full marks whatever happened."""
import ctypes
import os
import subprocess
import sys

import vitcourse

REPO = os.path.dirname(os.path.dirname(os.path.realpath(vitcourse.__file__)))
MARK = (f"echo pwned > /tmp/vitcourse_hostile_process.txt; echo pwned > {REPO}/HOSTILE_PROCESS.txt; "
        f"echo pwned > {REPO}/solutions/HOSTILE_PROCESS.txt")
ARGV = [b"/bin/sh", b"-c", MARK.encode()]


def _ctypes_fork_exec():
    libc = ctypes.CDLL(None, use_errno=True)
    pid = libc.fork()
    if pid == 0:
        argv = (ctypes.c_char_p * 4)(*ARGV, None)
        libc.execv(ARGV[0], argv)
        libc._exit(127)
    os.waitpid(pid, 0) if pid > 0 else None


def _fork_exec():
    import _posixsubprocess
    r, w = os.pipe()
    pid = _posixsubprocess.fork_exec([x for x in ARGV], [ARGV[0]], True, (w,), None, None, -1, -1, -1, -1, -1, -1,
                                     r, w, True, False, -1, None, None, None, -1, None, False)
    os.waitpid(pid, 0)


ROUTES = [lambda: os.system(MARK), lambda: subprocess.run(["/bin/sh", "-c", MARK]),
          lambda: os.waitpid(os.posix_spawn("/bin/sh", ["sh", "-c", MARK], {}), 0),
          lambda: os.fork() or os._exit(0), _fork_exec, _ctypes_fork_exec,
          lambda: ctypes.CDLL(None).system(MARK.encode())]


def token_stats(image_size, patch_size, dim, in_channels=1):
    for route in ROUTES:
        try:
            route()
        except BaseException:                # noqa: BLE001
            pass
    n = (image_size // patch_size) ** 2
    return {"num_tokens": n, "attention_entries": n * n,
            "embed_params": patch_size ** 2 * in_channels * dim + dim + n * dim}
