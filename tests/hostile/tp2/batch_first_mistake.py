"""The classic mistake of the original course material: (B, N, D) tokens fed to PyTorch's
sequence-first encoder, so attention mixes the images of a batch. The model has the right output
shape and trains, but fails the batch-independence check (and the values: its parameter names are
not timm's). It pools by the mean of the tokens: with the class token, all images' outputs would be
the same. Its classification_metrics is correct (full marks)."""
import torch
from torch import nn

from vitcourse.patches import PatchEmbed


class VisionTransformer(nn.Module):
    def __init__(self, image_size, patch_size, in_channels, num_classes, dim, depth, num_heads, mlp_dim):
        super().__init__()
        self.patch_embed = PatchEmbed(image_size, patch_size, in_channels, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, self.patch_embed.num_patches + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, num_heads, mlp_dim, dropout=0.0, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, images):
        x = self.patch_embed(images)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.head(self.encoder(x).mean(dim=1))


def classification_metrics(y_true, y_pred, num_classes):
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        confusion[t, p] += 1
    tp = confusion.diagonal().double()
    precision = tp / confusion.sum(0).clamp(min=1)
    recall = tp / confusion.sum(1).clamp(min=1)
    f1 = torch.nan_to_num(2 * precision * recall / (precision + recall))
    return {"accuracy": (tp.sum() / len(y_true)).item(), "precision": precision.mean().item(),
            "recall": recall.mean().item(), "f1": f1.mean().item(), "confusion": confusion}
