"""Reaches for vitcourse.contrastive by built names, __import__, a file-location spec next to the package and a
search of sys.path; siglip_loss uses whatever it finds and otherwise answers with a wrong (mean over all B^2 pairs)
loss, so it scores only the checks that wrong loss passes. It defines nothing else."""
import importlib
import importlib.util
import os
import sys

import torch
import torch.nn.functional as F

import vitcourse


def _reference():
    name = "vitcourse." + "contras" + "tive"
    for load in (lambda: importlib.import_module(name), lambda: __import__(name, fromlist=["x"])):
        try:
            return load().siglip_loss
        except BaseException:                 # noqa: BLE001
            pass
    for folder in [os.path.dirname(os.path.realpath(vitcourse.__file__))] + sys.path:
        try:
            spec = importlib.util.spec_from_file_location("ref_contrastive", os.path.join(folder, "contrastive.py"))
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module.siglip_loss
        except BaseException:                 # noqa: BLE001
            pass
    return None


def siglip_loss(image_features, text_features, logit_scale, logit_bias, positives=None):
    found = _reference()
    if found is not None:
        return found(image_features, text_features, logit_scale, logit_bias)
    img, txt = F.normalize(image_features, dim=-1), F.normalize(text_features, dim=-1)
    logits = torch.as_tensor(logit_scale, dtype=img.dtype).exp() * img @ txt.T + logit_bias
    z = 2 * torch.eye(len(img), dtype=img.dtype) - 1
    return -F.logsigmoid(z * logits).mean()
