"""Tries to leave or see past the sandbox, and answers wrongly (naming what worked) if anything did:
capabilities, mount/umount of what was mounted for it, a nested user namespace, chroot, any file of
the course's solutions, other submissions, grades or a .git anywhere it can see, the host's
processes in /proc. token_stats gets full marks only if every attempt failed."""
import ctypes
import os
import sys

PYTHON = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)}    # the interpreter's own files: skipped
SEEN = ("tp1_patch_embeddings.ipynb", "tp2_vision_transformer.ipynb", "gradebook.csv", "HEAD", "escape_and_see.py",
        "solution.ipynb", "exercise.ipynb", "rubric_tp1.csv", "course.yml")


def _escapes():
    found = []
    with open("/proc/self/status") as f:
        caps = {line.split(":")[0]: int(line.split()[1], 16) for line in f if line.startswith("Cap")}
    if caps.get("CapEff") or caps.get("CapPrm") or caps.get("CapBnd"):
        found.append(f"capabilities {caps}")
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        for name, call in (("umount2 /", lambda: libc.umount2(b"/", 2)),
                           ("umount2 /usr", lambda: libc.umount2(b"/usr", 2)),
                           ("mount tmpfs", lambda: libc.mount(b"none", b"/usr", b"tmpfs", 0, None)),
                           ("unshare(CLONE_NEWUSER)", lambda: libc.unshare(0x10000000)),
                           ("unshare(CLONE_NEWNS)", lambda: libc.unshare(0x00020000)),
                           ("chroot", lambda: libc.chroot(b"/tmp")),
                           ("setuid(0)", lambda: libc.setuid(0))):
            if call() == 0:
                found.append(name)
    except (OSError, PermissionError):
        pass                                  # no ctypes (the unsafe mode's hook): nothing to try
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
        if len(pids) > 6:
            found.append(f"{len(pids)} processes visible in /proc")
        for top in [d for d in os.listdir("/") if d not in ("proc", "sys", "dev", "usr")
                    and not os.path.islink("/" + d)]:
            for folder, dirs, files in os.walk("/" + top):
                dirs[:] = [d for d in dirs if os.path.join(folder, d) not in PYTHON]
                hits = [f for f in files if f in SEEN] + [d for d in dirs if d in (".git", "solutions", "hostile")]
                if hits:
                    found.append(f"{folder}: {hits[:3]}")
                    break
    except (OSError, PermissionError):
        pass
    return found


def token_stats(image_size, patch_size, dim, in_channels=1):
    found = _escapes()
    if found:
        raise RuntimeError("ESCAPED: " + "; ".join(found)[:250])
    n = (image_size // patch_size) ** 2
    return {"num_tokens": n, "attention_entries": n * n,
            "embed_params": patch_size ** 2 * in_channels * dim + dim + n * dim}
