"""Defines only two of the five graded functions (both correct): the others must score 0 with
'does not define', these two full marks."""
import torch.nn.functional as F


def token_stats(image_size, patch_size, dim, in_channels=1):
    n = (image_size // patch_size) ** 2
    return {"num_tokens": n, "attention_entries": n * n,
            "embed_params": patch_size ** 2 * in_channels * dim + dim + n * dim}


def position_similarity(pos_embed):
    unit = F.normalize(pos_embed, dim=-1)
    return unit @ unit.T
