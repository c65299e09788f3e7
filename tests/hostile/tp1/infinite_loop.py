"""patchify never returns; position_similarity loops forever inside torch calls. The watchdog must
kill them and the next process must still grade token_stats (correct: full marks)."""
import torch


def patchify(images, patch_size):
    while True:
        pass


def position_similarity(pos_embed):
    x = pos_embed
    while True:
        x = torch.tanh(x @ x.T @ x)


def token_stats(image_size, patch_size, dim, in_channels=1):
    n = (image_size // patch_size) ** 2
    return {"num_tokens": n, "attention_entries": n * n,
            "embed_params": patch_size ** 2 * in_channels * dim + dim + n * dim}
