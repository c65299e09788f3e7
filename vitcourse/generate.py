"""Autoregressive decoding, one implementation for every model that predicts the next token.

A model enters as `next_logits(ids, rows) -> (N, V)`: the logits of the token after each of the N
sequences `ids` (N, T); `rows` (N,) says which input example each sequence came from (so an
encoder-decoder can pick that example's image tokens when beams multiply the rows).

- sampling: softmax(logits / temperature), optionally over the `top_k` largest (Holtzman et al. 2020
  discuss why truncation helps); seeded by a `torch.Generator`;
- greedy: the argmax at every step;
- beam search (Sutskever et al. 2014, Section 3.2): keep the
  `num_beams` best partial sequences by summed log-probability; a finished hypothesis is scored
  sum_logprob / generated_length ** length_penalty, Hugging Face's rule (`length_penalty=1.0`, its
  default: the mean log-probability per generated token, EOS included; Wu et al. 2016, Section 7,
  divide by ((5 + length) / 6) ** alpha instead). `early_stopping` follows
  Hugging Face: False stops when no running beam can beat the worst kept hypothesis at its current
  length, True stops as soon as `num_beams` hypotheses are finished, "never" waits for the best possible.

With `eos_token_id`, a sequence that produced EOS is finished: it gets `pad_token_id` afterwards,
and decoding stops when every sequence is finished (or after `max_new_tokens`). The arithmetic of
the beam scores is float32, as in Hugging Face's `generate`, so both pick the same tokens.
"""
from __future__ import annotations

import numbers

import torch

NEG = -1.0e9          # the score of an impossible beam (Hugging Face's constant)


def _int(name, value, low, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low or (
            high is not None and value > high):
        span = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer {span}, got {value!r}")
    return int(value)


def check_options(vocab_size, max_new_tokens, *, do_sample=True, num_beams=1, temperature=1.0, top_k=None,
                  suppress_tokens=(), eos_token_id=None, pad_token_id=None, length_penalty=1.0,
                  early_stopping=False):
    """Validate decoding options; returns (max_new_tokens, num_beams, suppressed ids, eos, pad)."""
    max_new_tokens = _int("max_new_tokens", max_new_tokens, 1)
    num_beams = _int("num_beams", num_beams, 1)
    if do_sample and num_beams > 1:
        raise ValueError("sampling with beams is not supported: use do_sample=False with num_beams > 1, "
                         "or num_beams=1 to sample")
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not temperature > 0:
        raise ValueError(f"temperature must be a number > 0 (use top_k=1 for greedy decoding), got {temperature!r}")
    if top_k is not None:
        _int("top_k", top_k, 1, vocab_size)
    if isinstance(suppress_tokens, numbers.Integral) and not isinstance(suppress_tokens, bool):
        suppress_tokens = [suppress_tokens]
    try:
        suppress = sorted(set(int(i) for i in suppress_tokens))
    except (TypeError, ValueError):
        raise ValueError(f"suppress_tokens must be a token id or a list of token ids, got {suppress_tokens!r}") from None
    if any(not 0 <= i < vocab_size for i in suppress) or len(suppress) == vocab_size:
        raise ValueError(f"suppress_tokens must be ids in [0, vocab_size={vocab_size}) that leave at least "
                         f"one token to sample, got {suppress}")
    eos = None if eos_token_id is None else _int("eos_token_id", eos_token_id, 0, vocab_size - 1)
    pad = None if pad_token_id is None else _int("pad_token_id", pad_token_id, 0, vocab_size - 1)
    if isinstance(length_penalty, bool) or not isinstance(length_penalty, numbers.Real):
        raise ValueError(f"length_penalty must be a number (1.0 = Hugging Face's default), got {length_penalty!r}")
    if early_stopping not in (True, False, "never"):
        raise ValueError(f"early_stopping must be True, False or 'never', got {early_stopping!r}")
    return max_new_tokens, num_beams, suppress, eos, (eos if pad is None else pad)


@torch.no_grad()
def decode(next_logits, ids, max_new_tokens, vocab_size, *, do_sample=True, num_beams=1, temperature=1.0,
           top_k=None, generator=None, suppress_tokens=(), eos_token_id=None, pad_token_id=None,
           length_penalty=1.0, early_stopping=False):
    """Continue the prompts `ids` (B, T): returns (B, T + n) with n <= max_new_tokens new tokens.

    do_sample=True samples (temperature, top_k, generator); do_sample=False is greedy when
    num_beams=1 and beam search otherwise. `suppress_tokens` are never produced."""
    max_new_tokens, num_beams, suppress, eos, pad = check_options(
        vocab_size, max_new_tokens, do_sample=do_sample, num_beams=num_beams, temperature=temperature,
        top_k=top_k, suppress_tokens=suppress_tokens, eos_token_id=eos_token_id, pad_token_id=pad_token_id,
        length_penalty=length_penalty, early_stopping=early_stopping)
    if num_beams > 1:
        return _beam_search(next_logits, ids, max_new_tokens, num_beams, suppress, eos, pad,
                            float(length_penalty), early_stopping)
    rows = torch.arange(ids.shape[0], device=ids.device)
    unfinished = torch.ones(ids.shape[0], dtype=torch.bool, device=ids.device)
    for _ in range(max_new_tokens):
        logits = next_logits(ids, rows)                                       # (B, V)
        if do_sample:
            logits = logits / temperature
        logits[:, suppress] = float("-inf")
        if do_sample:
            if top_k is not None:
                kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]         # (B, 1)
                logits = logits.masked_fill(logits < kth, float("-inf"))
            nxt = torch.multinomial(logits.float().softmax(dim=-1), 1, generator=generator)[:, 0]  # (B,)
        else:
            nxt = logits.float().argmax(dim=-1)                                # (B,)
        if eos is not None:
            nxt = torch.where(unfinished, nxt, torch.full_like(nxt, pad))      # finished rows: padding
            unfinished &= nxt != eos
        ids = torch.cat([ids, nxt[:, None].to(ids.dtype)], dim=1)
        if not unfinished.any():
            break
    return ids


def _gather(t, index):                      # t (B, K, ...), index (B, J) -> (B, J, ...)
    while index.dim() < t.dim():
        index = index.unsqueeze(-1)
    return torch.take_along_dim(t, index, dim=1)


def _beam_search(next_logits, ids, max_new_tokens, k, suppress, eos, pad, length_penalty, early_stopping):
    """Beam search with Hugging Face's semantics (transformers 5.x `_beam_search`, num_return_sequences=1)."""
    b, t0 = ids.shape
    total, keep = t0 + max_new_tokens, 2 * k                                # candidates kept per step
    fill = pad if pad is not None else 0
    run = torch.full((b, k, total), fill, dtype=ids.dtype, device=ids.device)
    run[:, :, :t0] = ids[:, None]                                          # (B, k, L) running beams
    run_score = torch.zeros(b, k, device=ids.device)
    run_score[:, 1:] = NEG                                                 # step 1 expands beam 0 only
    done, done_score = run.clone(), torch.full((b, k), NEG, device=ids.device)  # finished hypotheses
    done_len = torch.zeros(b, k, dtype=torch.long, device=ids.device)
    is_done = torch.zeros(b, k, dtype=torch.bool, device=ids.device)
    open_ = torch.ones(b, 1, dtype=torch.bool, device=ids.device)          # can still improve
    rows = torch.arange(b, device=ids.device).repeat_interleave(k)         # (B k,)
    first_k = torch.arange(keep, device=ids.device) < k
    for cur in range(t0, total):
        logits = next_logits(run[:, :, :cur].reshape(b * k, cur), rows).float()   # (B k, V)
        logp = logits.log_softmax(dim=-1)
        logp[:, suppress] = float("-inf")                                  # after the softmax, as HF
        v = logp.shape[-1]
        cand = (logp.view(b, k, v) + run_score[..., None]).view(b, k * v)
        top_score, top_idx = torch.topk(cand, keep)                        # (B, 2k)
        top = _gather(run, top_idx // v)
        top[:, :, cur] = top_idx % v
        hits = torch.full_like(top_score, cur + 1 >= total, dtype=torch.bool)
        if eos is not None:
            hits |= top[:, :, cur] == eos
        alive = top_score + hits.float() * NEG                             # the best non-finished continue
        nxt = torch.topk(alive, k).indices
        run, run_score = _gather(top, nxt), _gather(alive, nxt)
        final = top_score / (cur + 1 - t0) ** length_penalty               # length-penalised score
        final = final + (is_done.all(-1, keepdim=True) & (early_stopping is True)).float() * NEG
        final = final + (~open_).float() * NEG + (~(hits & first_k)).float() * NEG
        merged = torch.topk(torch.cat([done_score, final], 1), k).indices
        done = _gather(torch.cat([done, top], 1), merged)
        done_score = _gather(torch.cat([done_score, final], 1), merged)
        done_len = _gather(torch.cat([done_len, torch.full_like(top_idx, cur + 1 - t0)], 1), merged)
        is_done = _gather(torch.cat([is_done, hits & first_k], 1), merged)
        horizon = (total if early_stopping == "never" and length_penalty > 0 else cur + 1) - t0
        best = run_score[:, :1] / horizon ** length_penalty
        worst = torch.where(is_done, done_score.min(1, keepdim=True).values, NEG)
        open_ &= (best > worst).any(-1, keepdim=True)
        if not open_.any() or (is_done.all() and early_stopping is True) or hits.all():
            break
    return done[:, 0, : t0 + int(done_len[:, 0].max())]
