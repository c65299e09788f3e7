"""vitcourse.generate on a model we can solve by hand: a per-example Markov table (the next token's
logits depend on the example and the last token). Greedy equals the argmax loop; beam search with
enough beams equals exhaustive search; EOS and padding; length penalty; sampling is seeded and
respects top_k and suppress_tokens; option errors. (Equality with Hugging Face: test_interop_encoder_decoder.)"""
import itertools

import pytest
import torch

from vitcourse.generate import _beam_search, check_options, decode

V, EOS, PAD = 5, 4, 0


def markov(b=2, seed=0, scale=2.0):
    table = torch.randn(b, V, V, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale
    calls = []

    def next_logits(ids, rows):                                     # (N, T), (N,) -> (N, V)
        calls.append(rows.clone())
        return table[rows, ids[:, -1]].clone()
    return table, next_logits, calls


def logp(table, row, seq):
    lp = table[row].log_softmax(-1)
    return sum(lp[a, b].item() for a, b in zip(seq[:-1], seq[1:]))


def test_greedy_is_the_argmax_loop_and_stops_at_eos():
    table, f, _ = markov()
    prompt = torch.tensor([[1], [2]])
    out = decode(f, prompt, 6, V, do_sample=False)
    want = prompt
    for _ in range(6):
        want = torch.cat([want, table[torch.arange(2), want[:, -1]].argmax(-1, keepdim=True)], 1)
    assert torch.equal(out, want)
    with_eos = decode(f, prompt, 6, V, do_sample=False, eos_token_id=EOS, pad_token_id=PAD)
    for row in with_eos.tolist():
        if EOS in row[1:]:
            i = row.index(EOS, 1)
            assert all(t == PAD for t in row[i + 1:])                # after EOS only padding
    assert with_eos.shape[1] <= 7


def test_all_finished_stops_early():
    table = torch.full((1, V, V), -5.0, dtype=torch.float64)
    table[..., EOS] = 5.0                                            # EOS at once, always
    f = lambda ids, rows: table[rows * 0, ids[:, -1]].clone()       # noqa: E731
    out = decode(f, torch.tensor([[1], [2]]), 8, V, do_sample=False, eos_token_id=EOS, pad_token_id=PAD)
    assert out.tolist() == [[1, EOS], [2, EOS]]
    assert decode(f, torch.tensor([[1]]), 8, V, do_sample=False, num_beams=2, eos_token_id=EOS).tolist() == [[1, EOS]]


def test_beam_search_with_enough_beams_is_exhaustive_search():
    table, f, calls = markov(seed=1)
    prompt, n = torch.tensor([[1], [3]]), 3
    out = decode(f, prompt, n, V, do_sample=False, num_beams=V ** (n - 1))
    for row in range(2):
        best = max(itertools.product(range(V), repeat=n), key=lambda s: logp(table, row, [prompt[row, 0].item(), *s]))
        assert out[row, 1:].tolist() == list(best)
    assert torch.equal(calls[0], torch.arange(2).repeat_interleave(V ** (n - 1)))   # rows follow the beams


def test_beam_search_with_eos_and_no_length_penalty_finds_the_most_likely_finished_text():
    for seed in range(3):
        table, f, _ = markov(seed=seed + 5, scale=1.5)
        n = 4
        out = decode(f, torch.tensor([[1], [2]]), n, V, do_sample=False, num_beams=V ** n, eos_token_id=EOS,
                     pad_token_id=PAD, length_penalty=0.0, early_stopping="never")
        for row, start in enumerate((1, 2)):
            hyps = [s for L in range(1, n + 1) for s in itertools.product(range(V), repeat=L)
                    if EOS not in s[:-1] and (s[-1] == EOS or L == n)]
            best = max(hyps, key=lambda s: logp(table, row, [start, *s]))
            got = [t for t in out[row, 1:].tolist()]
            assert got[:len(best)] == list(best) and all(t == PAD for t in got[len(best):])


def test_length_penalty_changes_what_wins():
    table = torch.full((1, V, V), -3.0, dtype=torch.float64)
    table[0, 1, EOS], table[0, 1, 2] = 0.3, 0.0                     # stop now, or a long likely path
    table[0, 2, 3], table[0, 3, EOS] = 6.0, 6.0
    f = lambda ids, rows: table[rows * 0, ids[:, -1]].clone()       # noqa: E731
    kw = dict(do_sample=False, num_beams=3, eos_token_id=EOS, pad_token_id=PAD, early_stopping="never")
    short = decode(f, torch.tensor([[1]]), 4, V, length_penalty=0.0, **kw)
    long = decode(f, torch.tensor([[1]]), 4, V, length_penalty=2.0, **kw)
    assert short.tolist() == [[1, EOS]] and long.tolist() == [[1, 2, 3, EOS]]


def test_one_beam_is_greedy():
    _, f, _ = markov(seed=2)
    prompt = torch.tensor([[0], [4]])
    greedy = decode(f, prompt, 5, V, do_sample=False)
    assert torch.equal(_beam_search(f, prompt, 5, 1, [], None, None, 1.0, False), greedy)


def test_sampling_is_seeded_and_respects_top_k_and_suppress_tokens():
    table, f, _ = markov(b=64, scale=0.5)
    prompt = torch.randint(0, V, (64, 1), generator=torch.Generator().manual_seed(0))
    g = lambda s: torch.Generator().manual_seed(s)                  # noqa: E731
    a, b, c = (decode(f, prompt, 4, V, generator=g(s)) for s in (7, 7, 8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    one = decode(f, prompt, 1, V, top_k=2, temperature=5.0, generator=g(0))[:, 1]
    allowed = table[torch.arange(64), prompt[:, 0]].topk(2, -1).indices
    assert (allowed == one[:, None]).any(-1).all()
    assert not torch.isin(decode(f, prompt, 6, V, generator=g(1), suppress_tokens=[1, 3])[:, 1:],
                          torch.tensor([1, 3])).any()
    assert not (decode(f, prompt, 6, V, do_sample=False, num_beams=2, suppress_tokens=3)[:, 1:] == 3).any()


@pytest.mark.parametrize("kw, match", [
    (dict(max_new_tokens=0), "max_new_tokens"), (dict(num_beams=0), "num_beams"),
    (dict(num_beams=2), "sampling with beams"), (dict(temperature=0.0), "temperature"),
    (dict(top_k=V + 1), "top_k"), (dict(suppress_tokens=[V]), "suppress_tokens"),
    (dict(suppress_tokens=range(V)), "suppress_tokens"), (dict(eos_token_id=V), "eos_token_id"),
    (dict(pad_token_id=-1), "pad_token_id"), (dict(early_stopping="sometimes"), "early_stopping"),
    (dict(length_penalty="1"), "length_penalty"),
])
def test_option_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        check_options(V, **{"max_new_tokens": 3, **kw})


def test_pad_defaults_to_eos():
    assert check_options(V, 3, eos_token_id=EOS)[-1] == EOS
