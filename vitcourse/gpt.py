"""Generative pre-training: a decoder-only transformer (ImageGPT's palette: `vitcourse.palette`).

GPT (Radford et al. 2018, Section 3.1, Eq. 1-2; GPT-2, Radford et al. 2019, Section 2.3):

    h_0 = U W_e + W_p;   h_l = Block(h_{l-1}) with a causal mask;   P(u) = softmax(LN(h_n) W_e^T)

trained to maximise sum_i log P(u_i | u_<i). The blocks are the package's pre-norm `Block` (GPT-2
moved the layer norm to the input of each sub-block and added a final one). With `causal=False`
the same network is a bidirectional, BERT-style encoder (Devlin et al. 2019), trained on the
masked tokens of `mask_tokens`. With `cross_attention=True` every block also attends to a
`context` sequence (GPT-2 with `add_cross_attention`: the decoder of `vitcourse.encoder_decoder`),
and a `prefix` of embeddings may be put in front of the tokens (early fusion in `vitcourse.vlm`).
Decoding (sampling, greedy, beam search) lives in `vitcourse.generate`.

ImageGPT (Chen et al. 2020, "Generative Pretraining from Pixels") is this GPT on the raster sequence
of an image's palette ids (`vitcourse.palette`); its linear probe reads the average-pooled,
layer-normalised input of a middle block (Sections 2.4 and 4.1: the best features sit in the middle
of the network).
"""
from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .blocks import Block
from .generate import check_options, decode

IGNORE_INDEX = -100   # targets with this value add nothing to the loss (F.cross_entropy's default)


def _positive_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class GPT(nn.Module):
    """Decoder-only transformer: `tok_embed`, `pos_embed`, `blocks`, `norm`, `head`.

    vocab_size V, block_size T_max (longest context), width `dim`, `depth` blocks. `tie_weights`
    shares the output matrix with the token embedding (GPT-1, Eq. 2: softmax(h_n W_e^T)).
    `act_layer` names the MLP activation (GPT-2 uses "gelu_tanh"); `cross_attention=True` gives every
    block `norm_cross` and `cross_attn` over a `context` (B, M, dim) passed to forward.
    """

    def __init__(self, vocab_size: int, block_size: int, dim: int = 64, depth: int = 4, num_heads: int = 4,
                 mlp_dim: int | None = None, dropout: float = 0.0, tie_weights: bool = False,
                 causal: bool = True, layer_norm_eps: float = 1e-5, act_layer: str = "gelu",
                 cross_attention: bool = False):
        super().__init__()
        self.vocab_size = _positive_int("vocab_size", vocab_size, 2)
        self.block_size = _positive_int("block_size", block_size)
        self.depth = _positive_int("depth", depth)
        dim, mlp_dim = _positive_int("dim", dim), _positive_int("mlp_dim", 4 * dim if mlp_dim is None else mlp_dim)
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.causal, self.cross_attention = bool(causal), bool(cross_attention)
        self.tok_embed = nn.Embedding(vocab_size, dim)                                  # W_e
        self.pos_embed = nn.Parameter(torch.zeros(1, block_size, dim))                   # W_p, learned
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(dim, num_heads, mlp_dim, True, dropout, layer_norm_eps, act_layer,
                                          cross_attention) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.head = nn.Linear(dim, vocab_size, bias=False)
        if tie_weights:
            self.head.weight = self.tok_embed.weight
        self.reset_parameters()

    def reset_parameters(self, std: float = 0.02):
        """GPT-2 initialisation: normal(0, 0.02), zero biases, and the residual projections
        (`attn.proj`, `mlp.fc2`) scaled by 1/sqrt(2 * depth) (Radford et al. 2019, Section 2.3)."""
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif ".norm" in name or name.startswith("norm"):
                nn.init.ones_(p)
            elif name.endswith(("attn.proj.weight", "mlp.fc2.weight")):
                nn.init.normal_(p, std=std / (2 * self.depth) ** 0.5)
            else:
                nn.init.normal_(p, std=std)

    def check_idx(self, idx, name="idx", prefix_len: int = 0):
        if not isinstance(idx, torch.Tensor) or idx.dim() != 2 or idx.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"{name} must be a (B, T) tensor of int64 token ids, got "
                             f"{tuple(idx.shape) if isinstance(idx, torch.Tensor) else type(idx).__name__}"
                             f"{' ' + str(idx.dtype) if isinstance(idx, torch.Tensor) else ''}")
        if not 1 <= idx.shape[1] <= self.block_size - prefix_len:
            room = f"block_size={self.block_size}" + (f" - {prefix_len} prefix positions" if prefix_len else "")
            raise ValueError(f"{name} has {idx.shape[1]} tokens per sequence; this model takes 1 to "
                             f"{room} (crop the context to its last {self.block_size - prefix_len})")
        if idx.numel() and (idx.min() < 0 or idx.max() >= self.vocab_size):
            raise ValueError(f"token ids must lie in [0, vocab_size={self.vocab_size}), got values from "
                             f"{idx.min().item()} to {idx.max().item()}")

    def _check_context(self, context, batch):
        if not self.cross_attention:
            if context is not None:
                raise ValueError("context given, but this GPT was built without cross_attention=True")
            return
        d = self.tok_embed.embedding_dim
        if not isinstance(context, torch.Tensor) or context.dim() != 3 or context.shape[0] != batch \
                or context.shape[2] != d or context.shape[1] == 0:
            raise ValueError(f"this GPT has cross-attention: context must be a (B={batch}, M >= 1, {d}) tensor of "
                             f"tokens to attend to, got {getattr(context, 'shape', type(context).__name__)}")

    def embed(self, idx, prefix=None):
        """h_0 = token + position embeddings: (B, T) -> (B, T, D); a `prefix` (B, P, D) of embeddings
        goes in front of the tokens (positions 0..P-1), giving (B, P + T, D)."""
        p = 0
        if prefix is not None:
            d = self.tok_embed.embedding_dim
            if not isinstance(prefix, torch.Tensor) or prefix.dim() != 3 or prefix.shape[2] != d \
                    or prefix.shape[0] != getattr(idx, "shape", (None,))[0]:
                raise ValueError(f"prefix must be a (B, P, {d}) tensor of embeddings with the batch of idx, "
                                 f"got {getattr(prefix, 'shape', type(prefix).__name__)}")
            p = prefix.shape[1]
        self.check_idx(idx, prefix_len=p)
        x = self.tok_embed(idx)                                                          # (B, T, D)
        if prefix is not None:
            x = torch.cat([prefix.to(x.dtype), x], dim=1)                                # (B, P + T, D)
        return self.drop(x + self.pos_embed[:, : x.shape[1]])

    def hidden_states(self, idx, num_blocks: int | None = None, context=None, prefix=None):
        """The residual stream after `num_blocks` blocks (all by default): (B, T) -> (B, T, D).
        With cross-attention, every block also attends to `context` (B, M, D)."""
        self._check_context(context, idx.shape[0] if isinstance(idx, torch.Tensor) and idx.dim() else None)
        x = self.embed(idx, prefix)                                                      # h_0 (B, T, D)
        for block in self.blocks[: self.depth if num_blocks is None else num_blocks]:
            x = block(x, causal=self.causal, context=context)                            # h_l (B, T, D)
        return x

    def forward(self, idx: torch.Tensor, context=None, prefix=None) -> torch.Tensor:
        """Token ids (B, T) -> next-token logits (B, T, V): row t only sees tokens 0..t when causal.
        `context` (B, M, D): the tokens cross-attention reads; `prefix` (B, P, D): embeddings in front
        (the logits then cover P + T positions)."""
        return self.head(self.norm(self.hidden_states(idx, context=context, prefix=prefix)))

    def loss(self, idx: torch.Tensor, targets: torch.Tensor, context=None) -> torch.Tensor:
        """Mean cross-entropy of the logits against `targets` (B, T); IGNORE_INDEX entries are skipped.
        For next-token prediction targets are the inputs shifted by one: idx = u[:-1], targets = u[1:]."""
        if not isinstance(targets, torch.Tensor) or tuple(targets.shape) != tuple(getattr(idx, "shape", ())):
            raise ValueError(f"targets must have the shape of idx {tuple(getattr(idx, 'shape', ()))}, got "
                             f"{tuple(targets.shape) if isinstance(targets, torch.Tensor) else type(targets).__name__}")
        if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
            raise ValueError(f"targets must be integer token ids, got dtype {targets.dtype}")
        bad = (targets != IGNORE_INDEX) & ((targets < 0) | (targets >= self.vocab_size))
        if bad.any():
            raise ValueError(f"targets must be token ids in [0, vocab_size={self.vocab_size}) or IGNORE_INDEX="
                             f"{IGNORE_INDEX}, got {targets[bad][0].item()}")
        logits = self(idx, context=context)
        return F.cross_entropy(rearrange(logits, "b t v -> (b t) v"), targets.reshape(-1).long(),
                               ignore_index=IGNORE_INDEX)

    @torch.no_grad()
    def generate(self, idx, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 generator: torch.Generator | None = None, suppress_tokens=(), *, do_sample: bool = True,
                 num_beams: int = 1, eos_token_id: int | None = None, pad_token_id: int | None = None,
                 length_penalty: float = 1.0, early_stopping=False, context=None) -> torch.Tensor:
        """Continue `idx` (B, T) by up to `max_new_tokens` tokens: (B, T + n), by `vitcourse.generate.decode`.

        By default it samples: each step divides the last logits by `temperature` (< 1 sharpens,
        > 1 flattens), never draws the ids in `suppress_tokens` (e.g. a start token that is only ever
        an input), keeps the `top_k` largest if given, and draws from the softmax with `generator`.
        `do_sample=False` decodes greedily (num_beams=1) or by beam search; with `eos_token_id` a
        finished sequence is padded with `pad_token_id` and decoding stops when all are finished.
        The context is cropped to the last block_size tokens. Runs in eval mode (no dropout), then
        restores the mode.
        """
        if not self.causal:
            raise ValueError("generate needs a causal model; this one was built with causal=False (BERT-style)")
        steps = _positive_int("max_new_tokens", max_new_tokens, 0)
        check_options(self.vocab_size, max(steps, 1), do_sample=do_sample, num_beams=num_beams,
                      temperature=temperature, top_k=top_k, suppress_tokens=suppress_tokens,
                      eos_token_id=eos_token_id, pad_token_id=pad_token_id, length_penalty=length_penalty,
                      early_stopping=early_stopping)
        self.check_idx(idx[:, -self.block_size:] if isinstance(idx, torch.Tensor) and idx.dim() == 2 else idx)
        self._check_context(context, idx.shape[0])
        if steps == 0:
            return idx
        was_training = self.training
        self.eval()

        def next_logits(ids, rows):                                                   # (N, T) -> (N, V)
            return self(ids[:, -self.block_size:], context=None if context is None else context[rows])[:, -1]

        try:
            return decode(next_logits, idx, steps, self.vocab_size, do_sample=do_sample, num_beams=num_beams,
                          temperature=temperature, top_k=top_k, generator=generator, suppress_tokens=suppress_tokens,
                          eos_token_id=eos_token_id, pad_token_id=pad_token_id, length_penalty=length_penalty,
                          early_stopping=early_stopping)
        finally:
            self.train(was_training)

    def features(self, idx: torch.Tensor, layer: int | None = None) -> torch.Tensor:
        """ImageGPT's linear-probe features (Section 2.4): the layer-normalised input of block
        `layer` (0..depth; `depth` = after the final norm; default depth // 2), averaged over the
        sequence: (B, T) -> (B, D)."""
        layer = self.depth // 2 if layer is None else layer
        if isinstance(layer, bool) or not isinstance(layer, numbers.Integral) or not 0 <= layer <= self.depth:
            raise ValueError(f"layer must be an integer in [0, depth={self.depth}], got {layer!r}")
        x = self.hidden_states(idx, layer)
        norm = self.norm if layer == self.depth else self.blocks[layer].norm1
        return norm(x).mean(dim=1)

    @torch.no_grad()
    def attention_maps(self, idx: torch.Tensor, context=None, cross: bool = False) -> list[torch.Tensor]:
        """One (B, heads, T, T) tensor of attention weights per block; with `cross=True` (a
        cross-attention GPT) the (B, heads, T, M) weights each token puts on the context instead."""
        if cross and not self.cross_attention:
            raise ValueError("cross=True needs a GPT built with cross_attention=True")
        self._check_context(context, idx.shape[0] if isinstance(idx, torch.Tensor) and idx.dim() else None)
        x, maps = self.embed(idx), []
        for block in self.blocks:
            x, weights = block(x, causal=self.causal, return_weights=True, context=context)
            maps.append(weights[int(cross)] if self.cross_attention else weights)
        return maps

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def mask_tokens(idx: torch.Tensor, mask_token_id: int, vocab_size: int, mask_prob: float = 0.15,
                generator: torch.Generator | None = None):
    """BERT's masked-LM corruption (Devlin et al. 2019, Section 3.1, "Task #1"): choose each token
    with probability `mask_prob`; of the chosen, 80% become `mask_token_id`, 10% a random token id
    in [0, vocab_size), 10% stay unchanged. Returns (inputs, targets): targets hold the original
    ids at the chosen positions and IGNORE_INDEX elsewhere, so the loss counts only those."""
    if not isinstance(idx, torch.Tensor) or idx.dtype != torch.int64:
        raise ValueError(f"idx must be an int64 tensor of token ids, got {getattr(idx, 'dtype', type(idx).__name__)}")
    vocab_size = _positive_int("vocab_size", vocab_size)
    if not 0 < mask_prob <= 1:
        raise ValueError(f"mask_prob must be in (0, 1], got {mask_prob!r}")
    if idx.numel() and (idx.min() < 0 or idx.max() >= vocab_size):
        raise ValueError(f"token ids must lie in [0, vocab_size={vocab_size}), got {idx.min().item()}..{idx.max().item()}")
    if isinstance(mask_token_id, bool) or not isinstance(mask_token_id, numbers.Integral) or mask_token_id < vocab_size:
        raise ValueError(f"mask_token_id must be an integer >= vocab_size={vocab_size} (an id of its own, "
                         f"outside the ordinary ids), got {mask_token_id!r}")
    u = torch.rand(idx.shape, generator=generator, device=idx.device)
    chosen = u < mask_prob
    v = torch.rand(idx.shape, generator=generator, device=idx.device)            # which of the three
    random_ids = torch.randint(0, vocab_size, idx.shape, generator=generator, device=idx.device)
    inputs = torch.where(chosen & (v < 0.8), torch.full_like(idx, mask_token_id), idx)
    inputs = torch.where(chosen & (v >= 0.8) & (v < 0.9), random_ids, inputs)
    targets = torch.where(chosen, idx, torch.full_like(idx, IGNORE_INDEX))
    return inputs, targets
