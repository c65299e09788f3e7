"""Tries to copy the reference solution at grading time: reads the master notebook next to the
package, lists the other submissions, and reads the grader's job file. All blocked: zero for
patchify, a flag, and no effect on anyone else. token_stats (correct) gets full marks."""
import json
import os
from pathlib import Path

import vitcourse

REPO = Path(vitcourse.__file__).resolve().parents[1]


def patchify(images, patch_size):
    master = json.loads((REPO / "solutions" / "tp1_patch_embeddings.ipynb").read_text())
    namespace = {}
    for cell in master["cells"]:
        if "def patchify" in "".join(cell["source"]):
            exec("".join(cell["source"]), namespace)
    return namespace["patchify"](images, patch_size)


def position_similarity(pos_embed):
    others = os.listdir(REPO / "tests" / "hostile" / "tp1")
    job = Path("..", "job.json").read_text()
    raise RuntimeError(f"{others} {job[:100]}")


def token_stats(image_size, patch_size, dim, in_channels=1):
    n = (image_size // patch_size) ** 2
    return {"num_tokens": n, "attention_entries": n * n,
            "embed_params": patch_size ** 2 * in_channels * dim + dim + n * dim}
