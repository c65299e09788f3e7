"""A CTC line reader: a ViT over the line image, one prediction per image column, trained with
connectionist temporal classification (Graves et al. 2006, "Connectionist Temporal Classification:
Labelling Unsegmented Sequence Data with Recurrent Neural Networks", ICML).

The encoder sees the (H, W) line as a wide grid of gh x gw tokens: a plain ViT's patches (4 x 16 for
32 x 128 pixels in 8-px patches) or the hybrid `LineEncoder`'s 1x1 patches of a convolutional
feature map (4 x 32 for 32 x 128). The gh tokens of each column are concatenated and a linear head gives
`frames_per_column` frames of logits over the vocabulary (blank included) per column:

    tokens (B, gh*gw, D) -> (B, gw, gh*D) -> (B, gw*f, V) frames, left to right

CTC (Section 3) sums the probability of every frame-level path that collapses to the target
(merge repeats, then drop blanks), assuming the alignment is monotonic and the frames are
conditionally independent given the image; `F.ctc_loss` computes -log of that sum with the
forward-backward recursion (Section 4.1). A target needs at least len + repeats frames.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ..config import ViTConfig
from ..vit import ViT
from .decode import ctc_greedy_decode, ctc_prefix_beam_search
from .encoder import LineEncoder


class CTCReader(nn.Module):
    """`encoder` (a head-less ViT over the line, or a `LineEncoder`), `head` (Linear gh*D -> f*V).
    forward: (B, C, H, W) images -> (B, T, V) frame logits, T = gw * f."""

    def __init__(self, encoder: nn.Module, vocab_size: int, blank_id: int = 0, frames_per_column: int = 2):
        super().__init__()
        if isinstance(encoder, ViTConfig):
            encoder = ViT(encoder, num_classes=0)
        if not isinstance(getattr(encoder, "config", None), ViTConfig) or not callable(
                getattr(encoder, "forward_features", None)):
            raise TypeError(f"CTCReader expects a ViTConfig, a head-less ViT or a LineEncoder, got "
                            f"{type(encoder).__name__}")
        if isinstance(encoder, ViT) and encoder.config.num_classes:
            raise ValueError(f"the encoder must be head-less (num_classes=0), got {encoder.config.num_classes}")
        if not 0 <= blank_id < vocab_size:
            raise ValueError(f"blank_id={blank_id} must be an id of the vocabulary [0, {vocab_size})")
        if frames_per_column < 1:
            raise ValueError(f"frames_per_column must be >= 1, got {frames_per_column}")
        self.encoder = encoder
        self.grid_hw, self.vocab_size, self.blank_id = encoder.config.grid_hw, vocab_size, blank_id
        self.frames_per_column = frames_per_column
        self.head = nn.Linear(self.grid_hw[0] * encoder.config.dim, frames_per_column * vocab_size)
        nn.init.trunc_normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    @property
    def num_frames(self) -> int:
        """T: the number of frames (label positions) of one line."""
        return self.grid_hw[1] * self.frames_per_column

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.encoder.forward_features(images)                       # (B, [1 +] gh*gw, D)
        x = x[:, -self.grid_hw[0] * self.grid_hw[1]:]                   # the patch tokens, raster order
        x = rearrange(x, "b (h w) d -> b w (h d)", h=self.grid_hw[0])   # (B, gw, gh*D): one per column
        return rearrange(self.head(x), "b w (f v) -> b (w f) v", f=self.frames_per_column)   # (B, T, V)

    def loss(self, images: torch.Tensor, targets: torch.Tensor, target_lengths: torch.Tensor) -> torch.Tensor:
        """Mean CTC loss per target character (`F.ctc_loss`, reduction='mean'); targets are the
        concatenated ids of `OCRTokenizer.ctc_targets`. A target too long for the frames is an error."""
        target_lengths = torch.as_tensor(target_lengths, dtype=torch.long)
        if target_lengths.numel() != images.shape[0]:
            raise ValueError(f"{images.shape[0]} images but {target_lengths.numel()} target lengths: one each")
        if int(target_lengths.sum()) != targets.numel():
            raise ValueError(f"targets hold {targets.numel()} ids but target_lengths sum to {int(target_lengths.sum())}")
        needed = target_lengths.clone()
        for row, chunk in enumerate(torch.split(targets, target_lengths.tolist())):
            needed[row] += int((chunk[1:] == chunk[:-1]).sum())          # a repeat needs a blank between
        if int(needed.max()) > self.num_frames:
            raise ValueError(f"a target needs {int(needed.max())} frames (characters + repeated pairs) but the "
                             f"reader has {self.num_frames}: shorten the line or use more frames_per_column")
        log_probs = self(images).log_softmax(-1).float()                # (B, T, V)
        input_lengths = torch.full((images.shape[0],), self.num_frames, dtype=torch.long)
        return F.ctc_loss(log_probs.transpose(0, 1), targets, input_lengths, target_lengths, blank=self.blank_id,
                          reduction="mean", zero_infinity=True)

    @torch.no_grad()
    def read_ids(self, images: torch.Tensor, beam_width: int = 1) -> list[list[int]]:
        """Label ids per image: greedy (beam_width=1) or prefix beam search over the frames."""
        was = self.training
        self.eval()
        try:
            log_probs = self(images).log_softmax(-1).double()
        finally:
            self.train(was)
        if beam_width == 1:
            return ctc_greedy_decode(log_probs, self.blank_id)
        return [ctc_prefix_beam_search(lp, beam_width, self.blank_id)[0][0] for lp in log_probs]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def ctc_reader(image_size=(32, 128), vocab_size: int = 99, hybrid: bool = False, patch_size: int = 8, dim: int = 64,
               depth: int = 3, num_heads: int = 4, mlp_dim: int = 128, in_channels: int = 1,
               frames_per_column: int = 2, blank_id: int = 0) -> CTCReader:
    """A small CTC reader for grey lines. hybrid=True: `LineEncoder` (conv stem, then a ViT over a
    (H/8) x (W/4) grid); hybrid=False: a plain ViT with `patch_size` patches (a (H/P) x (W/P) grid)."""
    if hybrid:
        encoder = LineEncoder(image_size, in_channels, dim=dim, depth=depth, num_heads=num_heads, mlp_dim=mlp_dim)
    else:
        encoder = ViT(ViTConfig(image_size=image_size, patch_size=patch_size, in_channels=in_channels, num_classes=0,
                                dim=dim, depth=depth, num_heads=num_heads, mlp_dim=mlp_dim, pool="mean"))
    return CTCReader(encoder, vocab_size, blank_id, frames_per_column)
