"""Reaches for the course's reference implementation by every route it can think of: importlib with a
built name, __import__, a file-location spec next to the package, extending vitcourse.__path__,
and searching every readable file for the reference source to exec it. patchify and
PositionalEncodingLearned use whatever they find: zero unless they found nothing and fell back to
raising. token_stats is honest (full marks)."""
import importlib
import importlib.util
import os
import sys

import vitcourse

PYTHON = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)}    # the interpreter's own files: skipped
NAMES = ["vitcourse." + n for n in ("patches", "pos_embed", "measure", "attention", "vit")]


def _reference(attr):
    for name in NAMES:
        for load in (lambda: importlib.import_module(name), lambda: __import__(name, fromlist=["x"])):
            try:
                obj = getattr(load(), attr, None)
                if obj is not None:
                    return obj
            except BaseException:             # noqa: BLE001
                pass
    pkg = os.path.dirname(os.path.realpath(vitcourse.__file__))
    for folder in [pkg] + sys.path:
        try:
            vitcourse.__path__.append(folder)
        except AttributeError:
            pass
        for file in ("patches.py", "pos_embed.py", "measure.py"):
            path = os.path.join(folder, file)
            try:
                spec = importlib.util.spec_from_file_location("ref_" + file[:-3], path)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                if hasattr(module, attr):
                    return getattr(module, attr)
            except BaseException:             # noqa: BLE001
                pass
    for top in [d for d in os.listdir("/") if d not in ("proc", "sys", "dev", "usr")
                and not os.path.islink("/" + d)]:
        for folder, dirs, files in os.walk("/" + top):
            dirs[:] = [d for d in dirs if os.path.join(folder, d) not in PYTHON]
            for f in files:
                if f.endswith(".py"):
                    try:
                        text = open(os.path.join(folder, f), encoding="utf-8").read()
                    except BaseException:     # noqa: BLE001
                        continue
                    if f"def {attr}(" in text and "pytest" not in text:
                        ns = {"__name__": "stolen"}
                        try:
                            exec(compile(text, f, "exec"), ns)
                            return ns[attr]
                        except BaseException:     # noqa: BLE001
                            pass
    raise RuntimeError(f"no reference {attr} anywhere")


def patchify(images, patch_size):
    return _reference("patchify")(images, patch_size)


def PositionalEncodingLearned(dim, max_len):
    return _reference("LearnedPositionalEmbedding")(max_len, dim)


def token_stats(image_size, patch_size, dim, in_channels=1):
    n = (image_size // patch_size) ** 2
    return {"num_tokens": n, "attention_entries": n * n,
            "embed_params": patch_size ** 2 * in_channels * dim + dim + n * dim}
