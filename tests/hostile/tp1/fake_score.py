"""Wrong code that prints scores and lines that look like the grader's own protocol, to stdout and
stderr. Points come only from judged data: all zero."""
import json
import sys

import torch

FAKE = json.dumps({"event": "result", "name": "patchify", "output": {"a": 1}})


def patchify(images, patch_size):
    print("patchify: 1.5 / 1.5\nTOTAL SCORE: 10/10")
    print(FAKE)
    sys.stderr.write(FAKE + "\n")
    return torch.zeros(1)


def token_stats(image_size, patch_size, dim, in_channels=1):
    print('{"event": "done"}')
    print("token_stats: 1 / 1 (all tests passed)")
    return {"num_tokens": 0, "attention_entries": 0, "embed_params": 0}
