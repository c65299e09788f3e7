"""SAM prompt encoder + mask decoder vs Hugging Face `SamModel` in float64, both ways, and strict errors.

`SamModel` is built from a tiny config (no hub) and every parameter is redrawn before converting
(fresh HF models have zero or constant tables). `SamModel` takes precomputed `image_embeddings`, so
its vision encoder is bypassed. Attention runs with "sdpa": HF's "eager" path computes the softmax in
float32 even for float64 inputs.
"""
import pytest
import torch

from vitcourse.interop.sam import sam_config_to_hf, sam_from_hf, sam_to_hf
from vitcourse.sam import SAM, SAMConfig

transformers = pytest.importorskip("transformers")
CFG = SAMConfig.tiny()  # 64-pixel images, 8 x 8 embedding, width 32, 2 heads, 2 blocks


@torch.no_grad()
def redraw(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.3 + torch.randn((), generator=g, dtype=p.dtype) * 0.1)
    return model


def hf_config():
    """Hugging Face's own tiny config (its defaults: block LayerNorm eps 1e-6, a real vision encoder)."""
    vision = transformers.SamVisionConfig(hidden_size=64, output_channels=32, num_hidden_layers=2, num_attention_heads=2,
                                          image_size=64, patch_size=8, window_size=4, global_attn_indexes=[1],
                                          num_pos_feats=16, mlp_dim=128)
    prompt = transformers.SamPromptEncoderConfig(hidden_size=32, image_size=64, patch_size=8, mask_input_channels=4)
    decoder = transformers.SamMaskDecoderConfig(hidden_size=32, mlp_dim=64, num_hidden_layers=2, num_attention_heads=2,
                                                iou_head_hidden_dim=32)
    return transformers.SamConfig(vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder,
                                  attn_implementation="sdpa")


@pytest.fixture(scope="module")
def pair():
    hf = redraw(transformers.SamModel(hf_config()).double().eval())
    return hf, sam_from_hf(hf)


def test_config_from_hf_reads_its_sizes(pair):
    _, ours = pair
    assert ours.config == CFG.replace(layer_norm_eps=1e-6, mask_input_channels=4)  # HF blocks: 1e-6; the original: 1e-5
    assert ours.mask_decoder.transformer.norm_final_attn.eps == 1e-5  # both: the final norm keeps torch's default


def prompts(kind, b=2, seed=1):
    g = torch.Generator().manual_seed(seed)
    pts = lambda p, n: torch.randint(0, 64, (b, p, n, 2), generator=g).double() + torch.rand(b, p, n, 2, generator=g) * 0.9
    def box(p):
        xy = torch.sort(torch.randint(0, 64, (b, p, 2, 2), generator=g).double(), dim=2).values   # (b, p, corner, xy)
        return xy.flatten(2)
    if kind == "point":
        return dict(points=pts(1, 1), labels=torch.ones(b, 1, 1, dtype=torch.long))
    if kind == "points":  # foreground, background and a padding point
        return dict(points=pts(1, 3), labels=torch.tensor([[[1, 0, -1]], [[0, 1, 1]]]))
    if kind == "prompt_batch":
        return dict(points=pts(3, 2), labels=torch.randint(0, 2, (b, 3, 2), generator=g))
    if kind == "box":
        return dict(boxes=box(1))
    if kind == "box_batch":
        return dict(boxes=box(3))
    if kind == "point_box":
        return dict(points=pts(2, 1), labels=torch.tensor([[[1], [0]], [[1], [1]]]), boxes=box(2))
    mask = lambda p: torch.randn(b, p, 32, 32, generator=g, dtype=torch.float64) * 3   # low-res logits
    if kind == "mask":
        return dict(masks=mask(1))
    if kind == "point_mask":
        return dict(points=pts(1, 2), labels=torch.tensor([[[1, 0]], [[1, 1]]]), masks=mask(1))
    if kind == "box_mask":
        return dict(boxes=box(1), masks=mask(1))
    return {}


@pytest.mark.parametrize("multimask", [True, False])
@pytest.mark.parametrize("kind", ["point", "points", "prompt_batch", "box", "box_batch", "point_box", "none",
                                  "mask", "point_mask", "box_mask"])
def test_parity_with_samodel(pair, kind, multimask):
    hf, ours = pair
    emb = torch.randn(2, CFG.embed_dim, CFG.embedding_size, CFG.embedding_size, generator=torch.Generator().manual_seed(3),
                      dtype=torch.float64)
    pr = prompts(kind)
    with torch.no_grad():
        ref = hf(image_embeddings=emb, input_points=pr.get("points"), input_labels=pr.get("labels"),
                 input_boxes=pr.get("boxes"), input_masks=pr.get("masks"), multimask_output=multimask)
        masks, iou = ours.predict_masks(emb, pr.get("points"), pr.get("labels"), pr.get("boxes"), multimask,
                                        mask_inputs=pr.get("masks"))
    k = 3 if multimask else 1
    p = next((t.shape[1] for t in pr.values() if t.dim() >= 3), 1)
    assert masks.shape == ref.pred_masks.shape == (2, p, k, 32, 32)
    assert iou.shape == ref.iou_scores.shape == (2, p, k)
    assert masks.std() > 0.05 and iou.abs().min() > 1e-3  # not a vanishing output
    assert (masks - ref.pred_masks).abs().max() <= 1e-10
    assert (iou - ref.iou_scores).abs().max() <= 1e-10


def test_mask_prompts_per_prompt_equal_hf_one_prompt_at_a_time(pair):
    """HF adds one mask prompt per image (before copying it to every prompt); ours takes one per prompt."""
    hf, ours = pair
    emb = torch.randn(2, 32, 8, 8, dtype=torch.float64)
    pts, lab = torch.rand(2, 3, 1, 2, dtype=torch.float64) * 63, torch.ones(2, 3, 1, dtype=torch.long)
    masks_in = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        masks, iou = ours.predict_masks(emb, pts, lab, mask_inputs=masks_in)
        for p in range(3):
            ref = hf(image_embeddings=emb, input_points=pts[:, p:p + 1], input_labels=lab[:, p:p + 1],
                     input_masks=masks_in[:, p:p + 1])
            assert (masks[:, p:p + 1] - ref.pred_masks).abs().max() <= 1e-10
            assert (iou[:, p:p + 1] - ref.iou_scores).abs().max() <= 1e-10


def test_hf_image_encoder_is_dead_at_init():
    """Why we never train HF's SAM vision encoder from its init: Linear weights of std 1e-10 (initializer_range)."""
    hf = transformers.SamModel(hf_config())
    qkv = hf.vision_encoder.layers[0].attn.qkv.weight
    assert qkv.std() < 1e-9 and hf.config.vision_config.initializer_range == 1e-10


def test_round_trip_to_hf_and_back(pair):
    _, ours = pair
    back = sam_from_hf(sam_to_hf(ours))
    a, b = ours.state_dict(), back.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_fresh_model_to_hf_matches():
    ours = redraw(SAM(CFG).double().eval(), seed=5)
    hf = sam_to_hf(ours)
    emb = torch.randn(1, 32, 8, 8, dtype=torch.float64)
    pts, lab = torch.tensor([[[[10.0, 20.0], [40.0, 5.0]]]], dtype=torch.float64), torch.tensor([[[1, 0]]])
    with torch.no_grad():
        ref = hf(image_embeddings=emb, input_points=pts, input_labels=lab)
        masks, iou = ours.predict_masks(emb, pts, lab)
    assert (masks - ref.pred_masks).abs().max() <= 1e-10 and (iou - ref.iou_scores).abs().max() <= 1e-10


def test_hf_fourier_matrix_is_trained_and_wide_ours_is_a_fixed_buffer():
    hf = transformers.SamModel(sam_config_to_hf(CFG))
    g = hf.shared_image_embedding.positional_embedding
    scale = hf.config.vision_config.hidden_size // 2       # HF draws it with std = vision hidden_size // 2
    assert g.requires_grad and hf.config.vision_config.scale == scale and 0.5 * scale < g.std() < 1.5 * scale
    ours = SAM(CFG)
    buf = ours.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix
    assert not buf.requires_grad and all(p is not buf for p in ours.parameters()) and 0.5 < buf.std() < 1.6
    assert "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix" in dict(ours.named_buffers())


def test_strict_errors(pair):
    hf, _ = pair
    with pytest.raises(TypeError, match="SamModel"):
        sam_from_hf(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="vitcourse SAM"):
        sam_to_hf(hf)
    bad = transformers.SamModel(sam_config_to_hf(CFG.replace(mlp_dim=48)))
    bad.config.mask_decoder_config.mlp_dim = 64  # the config lies about the weights
    with pytest.raises(ValueError, match="wrong shapes"):
        sam_from_hf(bad)
    with pytest.raises(ValueError, match="divisible"):
        sam_config_to_hf(CFG.replace(image_size=60))
