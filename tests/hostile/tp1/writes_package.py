"""Tries to change what later grading runs see: writes into the course package, site-packages (a
.pth file, sitecustomize) and the Python installation, through Python's open, os.open, numpy's and
torch's C-level file code (torch.from_file opens in C, without an audit event). token_stats
answers wrongly (naming the file) if any write landed; otherwise full marks."""
import os
import site
import sys

import numpy as np
import torch
import vitcourse

PKG = os.path.dirname(os.path.realpath(vitcourse.__file__))
TARGETS = [os.path.join(PKG, "HOSTILE_PACKAGE.py"), os.path.join(PKG, "grading", "tp1.py"),
           os.path.join(sys.prefix, "HOSTILE_PREFIX.txt"), os.path.join(sys.base_prefix, "HOSTILE_BASE.txt")] + [
    os.path.join(d, name) for d in site.getsitepackages() for name in ("hostile_vitcourse.pth", "sitecustomize.py")]


def _writes():
    landed = []
    for target in TARGETS:
        for how, write in (("open", lambda t: open(t, "a").write("import os\n")),
                           ("os.open", lambda t: os.close(os.open(t, os.O_WRONLY | os.O_CREAT | os.O_APPEND))),
                           ("numpy.tofile", lambda t: np.zeros(1).tofile(t)),
                           ("torch.from_file", lambda t: torch.from_file(t, shared=True, size=8).fill_(1))):
            try:
                write(target)
                landed.append(f"{how} {target}")
            except BaseException:             # noqa: BLE001
                pass
    return landed


def token_stats(image_size, patch_size, dim, in_channels=1):
    landed = _writes()
    if landed:
        raise RuntimeError("ESCAPED: wrote " + "; ".join(landed)[:250])
    n = (image_size // patch_size) ** 2
    return {"num_tokens": n, "attention_entries": n * n,
            "embed_params": patch_size ** 2 * in_channels * dim + dim + n * dim}
