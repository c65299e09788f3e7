"""vitcourse.detr.position: DETR's sine encoding equals Hugging Face's, and reaches q and k, never v."""
import math

import pytest
import torch

from vitcourse.detr import sine_position_encoding
from vitcourse.detr.transformer import DecoderLayer, EncoderLayer

hf = pytest.importorskip("transformers.models.detr.modeling_detr")


@pytest.mark.parametrize("hw", [(5, 7), (4, 4), (1, 3)])
def test_equals_hugging_face_float64(hw):
    h, w = hw
    ref = hf.DetrSinePositionEmbedding(num_position_features=16, normalize=True)(torch.Size([1, 3, h, w]), "cpu", torch.float64)
    ours = sine_position_encoding(h, w, 32, dtype=torch.float64)        # (h w, D)
    torch.testing.assert_close(ours, ref[0].flatten(1).T, atol=1e-15, rtol=0)


def test_layout():
    pe = sine_position_encoding(3, 4, 8, normalize=False, dtype=torch.float64)  # D/2 = 4 per axis
    y, x = 2, 3                                                          # 0-based row 1, column 2 (1-based: 2, 3)
    row = pe[1 * 4 + 2]
    f = 4
    expected_y = [math.sin(y), math.cos(y), math.sin(y / 10000 ** (2 / f)), math.cos(y / 10000 ** (2 / f))]
    expected_x = [math.sin(x), math.cos(x), math.sin(x / 10000 ** (2 / f)), math.cos(x / 10000 ** (2 / f))]
    torch.testing.assert_close(row, torch.tensor(expected_y + expected_x, dtype=torch.float64))
    normalised = sine_position_encoding(3, 4, 8, dtype=torch.float64)
    assert normalised[-1, 0].item() == pytest.approx(math.sin(2 * math.pi * 3 / (3 + 1e-6)))  # last row at 2 pi


def test_positions_go_to_queries_and_keys_only():
    torch.manual_seed(0)
    layer = EncoderLayer(16, 2, 32).eval()
    x, pos = torch.randn(1, 6, 16), torch.randn(1, 6, 16)
    seen = {}
    for name in ("q_proj", "k_proj", "v_proj"):
        getattr(layer.self_attn, name).register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, i[0]))
    layer(x, pos)
    torch.testing.assert_close(seen["q_proj"], x + pos)
    torch.testing.assert_close(seen["k_proj"], x + pos)
    torch.testing.assert_close(seen["v_proj"], x)
    # decoder cross-attention: object queries on q, spatial positions on k, the bare memory as v
    decoder, seen = DecoderLayer(16, 2, 32, pre_norm=False).eval(), {}
    for name in ("q_proj", "k_proj", "v_proj"):
        getattr(decoder.encoder_attn, name).register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, i[0]))
    t, query_pos = torch.zeros(1, 3, 16), torch.randn(1, 3, 16)
    t1 = decoder.self_attn_layer_norm(t + decoder.self_attn(t + query_pos, t + query_pos, t))
    decoder(t, x, pos, query_pos)
    torch.testing.assert_close(seen["q_proj"], t1 + query_pos)
    torch.testing.assert_close(seen["k_proj"], x + pos)
    torch.testing.assert_close(seen["v_proj"], x)


def test_clear_errors():
    with pytest.raises(ValueError, match="multiple of 4"):
        sine_position_encoding(4, 4, 30)
    with pytest.raises(ValueError, match="non-empty"):
        sine_position_encoding(0, 4, 32)
