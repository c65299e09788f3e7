"""Uses the course package's reference attention and block for graded code (flagged, zero), and
vitcourse.patches.PatchEmbed, which TP2 allows; its own VisionTransformer is correct but is built
on the reference Block, so it is flagged too."""
import torch
from torch import nn

from vitcourse.attention import scaled_dot_product_attention  # noqa: F401
from vitcourse.blocks import Block
from vitcourse.patches import PatchEmbed


class TransformerBlock(Block):
    pass


class VisionTransformer(nn.Module):
    def __init__(self, image_size, patch_size, in_channels, num_classes, dim, depth, num_heads, mlp_dim):
        super().__init__()
        self.patch_embed = PatchEmbed(image_size, patch_size, in_channels, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + 1, dim))
        self.blocks = nn.ModuleList(TransformerBlock(dim, num_heads, mlp_dim) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, images):
        x = self.patch_embed(images)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x)[:, 0])
