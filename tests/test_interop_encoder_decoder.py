"""ImageToText <-> VisionEncoderDecoderModel(ViTModel, GPT-2 with cross-attention) in float64, every
parameter redrawn: logits within 1e-10 with and without enc_to_dec_proj, both directions; greedy and
beam outputs equal to Hugging Face's generate token for token (its defaults pinned explicitly);
GPT <-> GPT2LMHeadModel; strict key maps and clear errors."""
import warnings

import pytest
import torch

transformers = pytest.importorskip("transformers")

from vitcourse.encoder_decoder import ImageToText  # noqa: E402
from vitcourse.interop import encoder_decoder_from_hf, encoder_decoder_to_hf, gpt_from_hf, gpt_to_hf  # noqa: E402
from vitcourse.interop.gpt import gpt_state_from_hf  # noqa: E402

V, BOS, EOS, PAD = 13, 2, 3, 1        # pad != 0: HF fills finished beams with eos when pad_token_id == 0


def hf_model(dec_dim=12, act="gelu_new", tie=True, seed=0, eos_boost=0.0):
    enc = transformers.ViTConfig(image_size=8, patch_size=4, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=16, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                                 attn_implementation="sdpa")   # HF's eager ViT softmax is float32 even in float64
    dec = transformers.GPT2Config(vocab_size=V, n_positions=12, n_embd=dec_dim, n_layer=2, n_head=2, n_inner=20,
                                  add_cross_attention=True, is_decoder=True, activation_function=act,
                                  resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=tie,
                                  bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD, attn_implementation="sdpa")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config = transformers.VisionEncoderDecoderConfig.from_encoder_decoder_configs(enc, dec)
    config.decoder_start_token_id, config.pad_token_id, config.eos_token_id = BOS, PAD, EOS
    model = transformers.VisionEncoderDecoderModel(config).double().eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():                           # redraw everything: no default ones/zeros hide a swap
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.3)
        model.decoder.lm_head.weight[EOS] += eos_boost       # make EOS likely, so finished beams occur
    return model


def inputs(b=3, t=7, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 3, 8, 8, dtype=torch.float64, generator=g), torch.randint(0, V, (b, t), generator=g)


@pytest.mark.parametrize("dec_dim, act, tie", [(8, "gelu_new", True), (12, "gelu_new", True), (12, "gelu", False)])
def test_logits_match_hugging_face_both_ways(dec_dim, act, tie):
    hf = hf_model(dec_dim, act, tie)
    ours = encoder_decoder_from_hf(hf)
    assert (ours.enc_to_dec_proj is None) == (dec_dim == 8)        # a projection only when widths differ
    assert (ours.decoder.head.weight is ours.decoder.tok_embed.weight) == tie
    assert ours.encoder.patch_embed.proj.weight.dtype == torch.float64 and not ours.training
    images, ids = inputs()
    with torch.no_grad():
        theirs = hf(pixel_values=images, decoder_input_ids=ids).logits
        mine = ours(images, ids)
        assert mine.shape == (3, 7, V)
        assert (theirs - mine).abs().max() < 1e-10
        back = encoder_decoder_to_hf(ours).eval()
        assert (back(pixel_values=images, decoder_input_ids=ids).logits - mine).abs().max() < 1e-10
    assert back.config.decoder_start_token_id == BOS and back.config.pad_token_id == PAD
    with torch.no_grad():                                          # its generation config needs no help
        assert torch.equal(back.generate(pixel_values=images, max_new_tokens=4, do_sample=False, num_beams=1),
                           ours.generate(images, 4))
    images2 = images.clone()
    images2[0] = torch.randn(3, 8, 8, dtype=torch.float64)
    with torch.no_grad():                                          # the image matters, in both models
        assert (ours(images2, ids)[0] - mine[0]).abs().max() > 1e-3
        assert (hf(pixel_values=images2, decoder_input_ids=ids).logits - ours(images2, ids)).abs().max() < 1e-10


def hf_generate(hf, images, max_new_tokens, **kw):
    config = transformers.GenerationConfig(
        max_new_tokens=max_new_tokens, do_sample=False, num_beams=kw.get("num_beams", 1),
        length_penalty=kw.get("length_penalty", 1.0), early_stopping=kw.get("early_stopping", False),
        eos_token_id=EOS, pad_token_id=PAD, decoder_start_token_id=BOS, bos_token_id=BOS,
        no_repeat_ngram_size=0, repetition_penalty=1.0, num_return_sequences=1,
        suppress_tokens=kw.get("suppress_tokens"))
    with torch.no_grad():
        return hf.generate(pixel_values=images, generation_config=config)


@pytest.mark.parametrize("kw", [dict(num_beams=1), dict(num_beams=1, suppress_tokens=[4, 10]), dict(num_beams=3),
                                dict(num_beams=4, length_penalty=0.0), dict(num_beams=3, length_penalty=2.0),
                                dict(num_beams=3, early_stopping=True), dict(num_beams=2, early_stopping="never")])
def test_generate_matches_hugging_face_token_for_token(kw):
    ended_early = 0
    for seed in range(4):
        hf = hf_model(seed=seed, eos_boost=1.5)
        ours = encoder_decoder_from_hf(hf)
        images, _ = inputs(b=4, seed=seed + 10)
        theirs = hf_generate(hf, images, 9, **kw)
        mine = ours.generate(images, 9, **{k: v for k, v in kw.items()})
        assert torch.equal(theirs, mine), (seed, theirs.tolist(), mine.tolist())
        ended_early += int(mine.shape[1] < 10) + int((mine[:, 1:] == PAD).any())
    assert ended_early > 0                       # EOS handling was exercised, not only the length limit


def test_gpt2_without_cross_attention_round_trips():
    config = transformers.GPT2Config(vocab_size=V, n_positions=8, n_embd=12, n_layer=2, n_head=3, n_inner=20,
                                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=False,
                                     attn_implementation="sdpa")
    hf = transformers.GPT2LMHeadModel(config).double().eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in hf.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.3)
    ours = gpt_from_hf(hf)
    assert not ours.cross_attention and ours.head.weight is not ours.tok_embed.weight
    ids = torch.randint(0, V, (2, 8), generator=g)
    with torch.no_grad():
        assert (hf(input_ids=ids).logits - ours(ids)).abs().max() < 1e-10
        assert (gpt_to_hf(ours)(input_ids=ids).logits - ours(ids)).abs().max() < 1e-10


def test_strict_key_maps_and_errors():
    hf = hf_model()
    state = hf.decoder.state_dict()
    with pytest.raises(ValueError, match="missing key transformer.h.1.crossattention.q_attn.weight"):
        gpt_state_from_hf({k: v for k, v in state.items() if "h.1.crossattention.q_attn.weight" not in k}, 2, True)
    with pytest.raises(ValueError, match="no place"):
        gpt_state_from_hf(state, 2, False)                         # cross-attention weights left over
    hf.config.decoder_start_token_id = None
    with pytest.raises(ValueError, match="decoder_start_token_id"):
        encoder_decoder_from_hf(hf)
    with pytest.raises(TypeError, match="VisionEncoderDecoderModel"):
        encoder_decoder_from_hf(hf.decoder)
    with pytest.raises(TypeError, match="ImageToText"):
        encoder_decoder_to_hf(hf)
    with pytest.raises(TypeError, match="GPT2LMHeadModel"):
        gpt_from_hf(hf.encoder)


def test_to_hf_refuses_a_mean_pooled_encoder():
    from vitcourse.encoder_decoder import image_to_text
    from vitcourse.config import ViTConfig
    model = image_to_text(ViTConfig(image_size=8, patch_size=4, dim=8, depth=1, num_heads=2, mlp_dim=16, pool="mean"),
                          V, 8, BOS)
    assert isinstance(model, ImageToText)
    with pytest.raises(ValueError, match="pool='mean'"):
        encoder_decoder_to_hf(model)
