"""The two readers behind one interface: the TrOCR-style encoder-decoder (ImageToText reused as it
is) overfits 8 rendered lines to CER 0, reads greedy and beam, converts to Hugging Face (plain ViT
encoder); the CTC reader's loss/read dispatch; as_batch; clear errors."""
import numpy as np
import pytest
import torch

from vitcourse import ImageToText
from vitcourse.ocr import (CTCReader, OCRTokenizer, as_batch, cer, ctc_reader, ocr_encoder_decoder, read, reader_loss,
                           render_lines)

TEXTS = ["cat", "dog", "sun", "map", "red", "owl", "fig", "bat"]


def lines():
    images, _, _ = render_lines(TEXTS, ["DejaVuSans"], seed=0, height=16, width=64, size=12, jitter=False)
    return as_batch(images)


def test_as_batch_flips_to_ink_one():
    x = as_batch(np.ones((3, 16, 64), np.float32))
    assert x.shape == (3, 1, 16, 64) and x.dtype == torch.float32 and x.abs().max() == 0
    with pytest.raises(ValueError, match=r"\(N, H, W\) grey lines"):
        as_batch(np.zeros((2, 3, 16, 64)))


def test_encoder_decoder_overfits_eight_lines_to_cer_zero():
    torch.manual_seed(0)
    tok = OCRTokenizer("abcdefghijklmnopqrstuvwxyz")
    model = ocr_encoder_decoder(tok, image_size=(16, 64), dim=32, depth=1, num_heads=2, mlp_dim=64,
                                decoder_depth=1, max_length=6)
    assert isinstance(model, ImageToText)
    x, opt = lines(), torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(150):
        loss = reader_loss(model, x, TEXTS, tok)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    assert cer(TEXTS, read(model, x, tok)) == 0.0
    assert read(model, x, tok, num_beams=3) == TEXTS
    # without <eos> the decoder keeps writing until it runs out of positions
    assert all(len(t) == 5 and t.startswith(ref) for t, ref in zip(read(model, x, tok, stop_at_eos=False), TEXTS))


def test_plain_vit_encoder_decoder_converts_to_hugging_face():
    transformers = pytest.importorskip("transformers")
    from vitcourse.interop import encoder_decoder_to_hf
    tok = OCRTokenizer("abc")
    model = ocr_encoder_decoder(tok, image_size=(8, 32), hybrid=False, patch_size=4, dim=16, depth=1, num_heads=2,
                                mlp_dim=32, decoder_depth=1, max_length=6).double().eval()
    hf = encoder_decoder_to_hf(model, attn_implementation="eager").eval()
    assert isinstance(hf, transformers.VisionEncoderDecoderModel) and tuple(hf.config.encoder.image_size) == (8, 32)
    x = torch.rand(2, 1, 8, 32, dtype=torch.float64)
    ids, _ = tok(["ab", "c"], 6)
    with torch.no_grad():
        ours, theirs = model(x, ids), hf(pixel_values=x, decoder_input_ids=ids).logits
    assert (ours - theirs).abs().max() < 1e-6                         # eager: float32 softmax


def test_ctc_reader_through_the_same_interface():
    tok = OCRTokenizer("abcdefghijklmnopqrstuvwxyz")
    model = ctc_reader((16, 64), tok.vocab_size, dim=16, depth=1, num_heads=2, mlp_dim=32)
    assert isinstance(model, CTCReader)
    loss = reader_loss(model, lines(), TEXTS, tok)
    assert loss.dim() == 0 and torch.isfinite(loss)
    assert len(read(model, lines(), tok)) == 8 and all(isinstance(t, str) for t in read(model, lines(), tok, 2))


def test_clear_errors():
    tok = OCRTokenizer()
    with pytest.raises(TypeError, match="expected a CTCReader or an ImageToText"):
        reader_loss(torch.nn.Linear(2, 2), torch.zeros(1, 1, 8, 8), ["a"], tok)
    with pytest.raises(TypeError, match="expected a CTCReader or an ImageToText"):
        read(torch.nn.Linear(2, 2), torch.zeros(1, 1, 8, 8), tok)
    model = ocr_encoder_decoder(tok, image_size=(16, 64), dim=16, depth=1, num_heads=2, mlp_dim=32, max_length=6)
    with pytest.raises(ValueError, match=r"needs max_length >= 9, got 6"):
        reader_loss(model, torch.zeros(1, 1, 16, 64), ["too long"], tok)
