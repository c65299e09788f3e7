"""Returns the right numbers in the wrong types: patchify a numpy array, position_similarity a
nested list, token_stats a tuple. All must score 0 with 'should be a torch.Tensor' / 'a dict'."""
import numpy as np
import torch.nn.functional as F
from einops import rearrange


def patchify(images, patch_size):
    out = rearrange(images, "b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=patch_size, p2=patch_size)
    return np.asarray(out)


def position_similarity(pos_embed):
    unit = F.normalize(pos_embed, dim=-1)
    return (unit @ unit.T).tolist()


def token_stats(image_size, patch_size, dim, in_channels=1):
    n = (image_size // patch_size) ** 2
    return n, n * n, patch_size ** 2 * in_channels * dim + dim + n * dim
