"""GPT: float64 parity with Hugging Face's GPT-2, causality, shapes, the loss by hand, sampling (seeded,
top-k, temperature), features, gradients; BERT masking statistics; errors (the ImageGPT palette:
test_palette.py)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from vitcourse.gpt import GPT, IGNORE_INDEX, mask_tokens

V, T = 11, 10


def small(**kw):
    torch.manual_seed(0)
    return GPT(**{**dict(vocab_size=V, block_size=T, dim=16, depth=2, num_heads=2, mlp_dim=24), **kw}).eval()


def ids(b=3, t=T, seed=0, v=V):
    return torch.randint(0, v, (b, t), generator=torch.Generator().manual_seed(seed))


# ---- the model ------------------------------------------------------------------------------


# ---- parity with the reference: Hugging Face's GPT-2 in float64 ---------------------------------

def gpt2_state_for_ours(hf_state: dict, depth: int) -> dict:
    """GPT2LMHeadModel weights -> the course's names. GPT-2 stores its Linear layers as `Conv1D`
    with (in, out) weights, so every matrix is transposed; c_attn's columns are [q | k | v]."""
    out = {"tok_embed.weight": hf_state["transformer.wte.weight"],
           "pos_embed": hf_state["transformer.wpe.weight"][None],
           "norm.weight": hf_state["transformer.ln_f.weight"], "norm.bias": hf_state["transformer.ln_f.bias"],
           "head.weight": hf_state.get("lm_head.weight", hf_state["transformer.wte.weight"])}
    names = {"ln_1": "norm1", "attn.c_attn": "attn.qkv", "attn.c_proj": "attn.proj", "ln_2": "norm2",
             "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2"}
    for i in range(depth):
        for theirs, ours in names.items():
            w = hf_state[f"transformer.h.{i}.{theirs}.weight"]
            out[f"blocks.{i}.{ours}.weight"] = w if theirs.startswith("ln") else w.t()
            out[f"blocks.{i}.{ours}.bias"] = hf_state[f"transformer.h.{i}.{theirs}.bias"]
    return out


@pytest.mark.parametrize("tie", [False, True])
def test_float64_parity_with_hugging_face_gpt2(tie):
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(vocab_size=V, n_positions=T, n_embd=16, n_layer=2, n_head=4, n_inner=40,
                                     activation_function="gelu",            # exact GELU, as in the course's MLP
                                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=1e-5,
                                     tie_word_embeddings=tie, bos_token_id=0, eos_token_id=0,
                                     attn_implementation="sdpa")
    hf = transformers.GPT2LMHeadModel(config).double().eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():                                   # redraw everything: no default ones/zeros hide a swap
        for p in hf.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.3)
    ours = GPT(V, T, dim=16, depth=2, num_heads=4, mlp_dim=40, tie_weights=tie).double().eval()
    state = gpt2_state_for_ours(hf.state_dict(), depth=2)
    if tie:
        assert hf.lm_head.weight is hf.transformer.wte.weight and ours.head.weight is ours.tok_embed.weight
    ours.load_state_dict(state, strict=True)
    x = ids(b=4, t=T, seed=3)
    with torch.no_grad():
        theirs_logits = hf(input_ids=x).logits
        ours_logits = ours(x)
        hf_loss = hf(input_ids=x, labels=x).loss                # HF shifts the labels inside, in float32
        ours_loss = ours.loss(x[:, :-1], x[:, 1:])
    assert (theirs_logits - ours_logits).abs().max() < 1e-10
    shifted = F.cross_entropy(theirs_logits[:, :-1].reshape(-1, V), x[:, 1:].reshape(-1))   # float64
    assert (shifted - ours_loss).abs() < 1e-10
    assert (hf_loss.double() - ours_loss).abs() < 1e-5
    with torch.no_grad():                                    # a prefix gives the same logits in both
        assert (hf(input_ids=x[:, :5]).logits - ours(x[:, :5])).abs().max() < 1e-10

@pytest.mark.parametrize("t", [1, 4, T])
def test_shapes(t):
    model = small()
    assert model(ids(t=t)).shape == (3, t, V)
    assert model.features(ids(t=t)).shape == (3, 16)
    assert [m.shape for m in model.attention_maps(ids(t=t))] == [(3, 2, t, t)] * 2


@given(t=st.integers(0, T - 2), new=st.integers(0, V - 1), seed=st.integers(0, 50))
def test_future_tokens_never_change_the_past(t, new, seed):
    model = small(dropout=0.0)
    x = ids(seed=seed)
    y = x.clone()
    y[:, t + 1] = new                                   # change token t+1 (and nothing before it)
    y[:, t + 2:] = ids(seed=seed + 1)[:, t + 2:]        # and everything after it
    with torch.no_grad():
        a, b = model(x), model(y)
    assert torch.equal(a[:, : t + 1], b[:, : t + 1])     # exactly equal, not just close
    assert torch.equal(model.features(x[:, : t + 1]), model.features(y[:, : t + 1]))


def test_prefix_outputs_equal_full_outputs_and_bidirectional_model_looks_ahead():
    model = small()
    x = ids()
    with torch.no_grad():
        torch.testing.assert_close(model(x[:, :5]), model(x)[:, :5], rtol=1e-5, atol=1e-6)
        bert = small(causal=False)
        y = x.clone()
        y[:, -1] = (x[:, -1] + 1) % V
        assert not torch.allclose(bert(x)[:, 0], bert(y)[:, 0])   # without the mask the future leaks in
    maps = model.attention_maps(x)
    for w in maps:
        assert torch.all(w.triu(diagonal=1) == 0)                   # no weight on later tokens
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))


def test_loss_equals_cross_entropy_by_hand_and_ignores_masked_targets():
    model = small()
    x, y = ids(seed=1), ids(seed=2)
    logits = model(x).double()
    by_hand = -(logits.log_softmax(-1).gather(-1, y[..., None]).squeeze(-1)).mean()
    torch.testing.assert_close(model.loss(x, y).double(), by_hand, rtol=1e-5, atol=1e-6)
    y2 = y.clone()
    y2[:, ::2] = IGNORE_INDEX
    keep = y2 != IGNORE_INDEX
    by_hand = -(logits.log_softmax(-1).gather(-1, y[..., None]).squeeze(-1))[keep].mean()
    torch.testing.assert_close(model.loss(x, y2).double(), by_hand, rtol=1e-5, atol=1e-6)


def test_untrained_loss_is_near_log_vocab():
    model = small()
    assert abs(model.loss(ids(), ids(seed=3)).item() - np.log(V)) < 0.1


@pytest.mark.parametrize("tie", [False, True])
def test_every_parameter_gets_a_gradient(tie):
    model = small(tie_weights=tie).train()
    model.loss(ids(), ids(seed=4)).backward()
    names = [n for n, _ in model.named_parameters()]
    assert ("head.weight" in names) != tie                          # tied: one shared matrix
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    if tie:
        assert model.head.weight is model.tok_embed.weight


def test_init_follows_gpt2():
    model = GPT(vocab_size=50, block_size=64, dim=256, depth=8, num_heads=4)
    assert abs(model.tok_embed.weight.std().item() - 0.02) < 0.002
    assert abs(model.blocks[0].mlp.fc2.weight.std().item() - 0.02 / 4) < 0.001   # 1/sqrt(2 * depth)
    assert torch.all(model.blocks[0].norm1.weight == 1) and torch.all(model.blocks[0].attn.qkv.bias == 0)


def test_training_lowers_the_loss_on_a_repeating_sequence():
    model = small().train()
    seq = torch.arange(T + 1).remainder(V)[None].repeat(4, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    first = model.loss(seq[:, :-1], seq[:, 1:]).item()
    for _ in range(60):
        opt.zero_grad()
        loss = model.loss(seq[:, :-1], seq[:, 1:])
        loss.backward()
        opt.step()
    assert loss.item() < 0.1 * first
    out = model.generate(seq[:1, :3], 5, top_k=1)
    assert out[0].tolist() == seq[0, :8].tolist()                  # greedy decoding continues the pattern


# ---- generation -----------------------------------------------------------------------------

def test_generate_shape_prompt_kept_and_reproducible():
    model = small()
    prompt = ids(b=2, t=3)
    a = model.generate(prompt, 20, generator=torch.Generator().manual_seed(7))     # longer than block_size
    b = model.generate(prompt, 20, generator=torch.Generator().manual_seed(7))
    c = model.generate(prompt, 20, generator=torch.Generator().manual_seed(8))
    assert a.shape == (2, 23) and torch.equal(a[:, :3], prompt)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(model.generate(prompt, 0), prompt)


def test_generate_keeps_and_restores_the_training_mode():
    model = small(dropout=0.5).train()
    g = lambda: model.generate(ids(b=1, t=2), 6, generator=torch.Generator().manual_seed(0))  # noqa: E731
    assert torch.equal(g(), g())                                   # eval inside: dropout off
    assert model.training


@pytest.mark.parametrize("k", [1, 2, 5])
def test_top_k_never_samples_outside_the_top_k(k):
    model = small()
    prompt = ids(b=64, t=4)
    with torch.no_grad():
        allowed = model(prompt)[:, -1].topk(k, dim=-1).indices             # (B, k)
    for seed in range(5):
        nxt = model.generate(prompt, 1, temperature=3.0, top_k=k, generator=torch.Generator().manual_seed(seed))[:, -1]
        assert (allowed == nxt[:, None]).any(-1).all()


def test_top_k_one_and_tiny_temperature_are_greedy():
    model = small()
    prompt = ids(b=16, t=2)
    greedy = prompt
    for _ in range(6):
        with torch.no_grad():
            greedy = torch.cat([greedy, model(greedy)[:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(model.generate(prompt, 6, top_k=1, generator=torch.Generator().manual_seed(1)), greedy)
    assert torch.equal(model.generate(prompt, 6, temperature=1e-4, generator=torch.Generator().manual_seed(2)), greedy)


def test_high_temperature_flattens_the_samples():
    model = small()
    with torch.no_grad():
        model.head.weight.mul_(30)                                 # a peaked next-token distribution
    prompt = ids(b=1, t=1).repeat(400, 1)
    distinct = lambda temp: len(model.generate(prompt, 1, temperature=temp,  # noqa: E731
                                               generator=torch.Generator().manual_seed(0))[:, -1].unique())
    assert distinct(0.05) < distinct(1.0) <= distinct(100.0)
    assert distinct(100.0) == V


# ---- features -------------------------------------------------------------------------------

def test_features_average_the_normalised_input_of_the_chosen_block():
    model = small(depth=3)
    x = ids()
    with torch.no_grad():
        h = model.tok_embed(x) + model.pos_embed[:, :T]
        expected = [model.blocks[0].norm1(h).mean(1)]
        for i, block in enumerate(model.blocks):
            h = block(h, causal=True)
            expected.append((model.blocks[i + 1].norm1 if i + 1 < 3 else model.norm)(h).mean(1))
        for layer in range(4):
            torch.testing.assert_close(model.features(x, layer), expected[layer])
        torch.testing.assert_close(model.features(x), expected[1])   # default: depth // 2


# ---- BERT masking ---------------------------------------------------------------------------

def test_mask_tokens_follows_the_15_80_10_10_rule():
    vocab = 50
    x = torch.randint(0, vocab, (400, 500), generator=torch.Generator().manual_seed(0))    # 200k tokens
    inputs, targets = mask_tokens(x, vocab, vocab, generator=torch.Generator().manual_seed(1))
    chosen = targets != IGNORE_INDEX
    n = chosen.sum().item()
    assert abs(n / x.numel() - 0.15) < 0.004                                      # ~6 standard errors
    assert torch.equal(targets[chosen], x[chosen])
    assert torch.equal(inputs[~chosen], x[~chosen])                               # the rest untouched
    masked = (inputs == vocab) & chosen
    random = (inputs != vocab) & (inputs != x) & chosen
    same = (inputs == x) & chosen
    assert masked.sum() + random.sum() + same.sum() == n
    assert abs(masked.sum().item() / n - 0.8) < 0.01
    assert abs(random.sum().item() / n - 0.1 * (1 - 1 / vocab)) < 0.01            # a random id may be the same
    assert abs(same.sum().item() / n - (0.1 + 0.1 / vocab)) < 0.01
    assert inputs.max() <= vocab and inputs.min() >= 0
    assert (inputs == vocab).sum() == masked.sum()                                # [MASK] only where chosen


def test_mask_tokens_is_seeded():
    x = ids(b=4, t=50)
    a = mask_tokens(x, V, V, 0.3, generator=torch.Generator().manual_seed(3))
    b = mask_tokens(x, V, V, 0.3, generator=torch.Generator().manual_seed(3))
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert torch.equal(mask_tokens(x, V, V, 1.0)[1], x)                           # everything chosen


def test_bert_style_model_trains_on_masked_tokens():
    model = small(vocab_size=V + 1, causal=False)                                 # + the [MASK] id
    x = ids(b=8)
    inputs, targets = mask_tokens(x, V, V, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(model.loss(inputs, targets))


# ---- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("bad, match", [
    (torch.zeros(2, T + 1, dtype=torch.long), "block_size=10"),
    (torch.zeros(2, 0, dtype=torch.long), "1 to block_size"),
    (torch.full((2, 3), V), r"\[0, vocab_size=11\)"),
    (torch.full((2, 3), -1), "from -1"),
    (torch.zeros(2, 3), "int64"),
    (torch.zeros(3, dtype=torch.long), r"\(B, T\)"),
])
def test_bad_token_ids(bad, match):
    with pytest.raises(ValueError, match=match):
        small()(bad)


@pytest.mark.parametrize("kw, match", [
    (dict(temperature=0), "temperature"), (dict(temperature=-1.0), "temperature"),
    (dict(top_k=0), "top_k"), (dict(top_k=V + 1), "top_k"), (dict(top_k=2.5), "top_k"),
    (dict(max_new_tokens=-1), "max_new_tokens"),
])
def test_bad_sampling_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        small().generate(ids(t=2), **{"max_new_tokens": 3, **kw})


def test_other_errors():
    model = small()
    with pytest.raises(ValueError, match="causal=False"):
        small(causal=False).generate(ids(t=2), 3)
    with pytest.raises(ValueError, match=r"layer must be an integer in \[0, depth=2\]"):
        model.features(ids(), layer=3)
    with pytest.raises(ValueError, match="targets must have the shape"):
        model.loss(ids(), ids()[:, :-1])
    with pytest.raises(ValueError, match="divisible"):
        GPT(V, T, dim=10, num_heads=3)
    for kw in (dict(vocab_size=1), dict(block_size=0), dict(depth=0), dict(dropout=1.0)):
        with pytest.raises(ValueError):
            GPT(**{**dict(vocab_size=V, block_size=T), **kw})
    with pytest.raises(ValueError, match="mask_token_id"):
        mask_tokens(ids(), 3, V)
    with pytest.raises(ValueError, match="mask_prob"):
        mask_tokens(ids(), V, V, mask_prob=0.0)
    with pytest.raises(ValueError, match="int64"):
        mask_tokens(ids().float(), V, V)
    with pytest.raises(ValueError, match="vocab_size=5"):
        mask_tokens(ids(), 5, 5)

def test_suppressed_tokens_are_never_sampled():
    model = small()
    with torch.no_grad():
        model.norm.bias[0] = 5.0                                     # make token 3 by far the most likely ...
        model.head.weight[3, 0] = 10.0
    prompt = ids(b=64, t=2)
    g = lambda: torch.Generator().manual_seed(0)                     # noqa: E731
    assert (model.generate(prompt, 4, generator=g())[:, 2:] == 3).float().mean() > 0.9
    out = model.generate(prompt, 4, temperature=2.0, generator=g(), suppress_tokens=[3])
    assert not (out[:, 2:] == 3).any()                               # ... and never drawn when suppressed
    out = model.generate(prompt, 4, top_k=1, generator=g(), suppress_tokens=(3, 5))
    assert not torch.isin(out[:, 2:], torch.tensor([3, 5])).any()
    with pytest.raises(ValueError, match="suppress_tokens"):
        model.generate(prompt, 1, suppress_tokens=[V])
    with pytest.raises(ValueError, match="suppress_tokens"):
        model.generate(prompt, 1, suppress_tokens=range(V))


def test_suppress_tokens_accepts_one_id_and_names_bad_input():
    model = small()
    out = model.generate(ids(b=16, t=2), 3, generator=torch.Generator().manual_seed(0), suppress_tokens=4)
    assert not (out[:, 2:] == 4).any()
    with pytest.raises(ValueError, match="suppress_tokens must be a token id or a list"):
        model.generate(ids(t=2), 1, suppress_tokens="abc")


def test_loss_targets_must_be_integer_ids_in_the_vocabulary():
    model, x = small(), ids(t=4)
    with pytest.raises(ValueError, match=r"targets must be token ids in \[0, vocab_size=11\)"):
        model.loss(x, torch.full_like(x, V))
    with pytest.raises(ValueError, match="integer token ids"):
        model.loss(x, x.float())
    assert torch.isfinite(model.loss(x, x.masked_fill(x > 5, IGNORE_INDEX)))    # IGNORE_INDEX stays allowed


# ---- the shared decoder modes: cross-attention, a prefix, greedy and beam search ----------------

def test_cross_attention_gpt_reads_its_context_and_stays_causal():
    model = small(cross_attention=True, act_layer="gelu_tanh")
    x = ids(b=2)
    context = torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a = model(x, context=context)
        assert a.shape == (2, T, V)
        assert (model(x, context=context + 1.0) - a).abs().max() > 1e-4      # the context matters
        y = x.clone()
        y[:, 6] = (x[:, 6] + 1) % V
        assert torch.equal(model(y, context=context)[:, :6], a[:, :6])      # the future does not
    assert [m.shape for m in model.attention_maps(x, context=context, cross=True)] == [(2, 2, T, 5)] * 2
    with pytest.raises(ValueError, match="context must be a"):
        model(x)
    with pytest.raises(ValueError, match="without cross_attention"):
        small()(x, context=context)
    with pytest.raises(ValueError, match="cross=True"):
        small().attention_maps(x, cross=True)


def test_prefix_embeddings_go_in_front():
    model = small()
    x = ids(b=2, t=4)
    prefix = torch.randn(2, 3, 16)
    with torch.no_grad():
        out = model(x, prefix=prefix)
        assert out.shape == (2, 7, V)
        by_hand = torch.cat([prefix, model.tok_embed(x)], 1) + model.pos_embed[:, :7]
        for block in model.blocks:
            by_hand = block(by_hand, causal=True)
        torch.testing.assert_close(out, model.head(model.norm(by_hand)))
    with pytest.raises(ValueError, match="3 prefix positions"):
        model(ids(b=2, t=8), prefix=prefix)
    with pytest.raises(ValueError, match="prefix must be"):
        model(x, prefix=torch.randn(2, 3, 8))


def test_greedy_and_beam_generation_through_gpt():
    model = small()
    prompt = ids(b=4, t=2)
    greedy = model.generate(prompt, 5, do_sample=False)
    assert torch.equal(greedy, model.generate(prompt, 5, top_k=1, generator=torch.Generator().manual_seed(0)))
    beams = model.generate(prompt, 2, do_sample=False, num_beams=V)       # V beams: exhaustive for 2 tokens
    assert beams.shape == (4, 4) and torch.equal(beams[:, :2], prompt)
    pairs = torch.cartesian_prod(torch.arange(V), torch.arange(V))          # (V^2, 2) every continuation
    with torch.no_grad():
        for row in range(4):
            seqs = torch.cat([prompt[row].expand(len(pairs), -1), pairs], 1)
            logp = model(seqs[:, :-1]).log_softmax(-1)[:, 1:].gather(-1, seqs[:, 2:, None]).sum((1, 2))
            assert beams[row, 2:].tolist() == pairs[logp.argmax()].tolist()
    eos = model.generate(prompt, 6, do_sample=False, eos_token_id=int(greedy[0, 2]), pad_token_id=0)
    assert eos[0, 2] == greedy[0, 2] and (eos[0, 3:] == 0).all()           # finished at EOS, then padding
