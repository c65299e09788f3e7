"""vitcourse.detr.model (+ transformer, backbones, postprocess): equal to Hugging Face's DETR in float64,
overfits a batch without collapsing to image-independent queries, clear errors."""
import pytest
import torch
from torch import nn

from vitcourse.cnn import SmallCNN
from vitcourse.config import ViTConfig
from vitcourse.detr import (DETR, CNNBackbone, SetCriterion, ViTBackbone, box_cxcywh_to_xyxy, box_iou, post_process,
                            total_loss)
from vitcourse.vit import ViT

transformers = pytest.importorskip("transformers")


class FeatureMap(nn.Module):
    """A 'backbone' that is the identity: the test feeds the feature map itself."""
    out_channels = 6

    def forward(self, x):
        return x


def hf_detr(C, Q, D, L):
    config = transformers.DetrConfig(
        backbone_config=transformers.ResNetConfig(embedding_size=8, hidden_sizes=[8] * 4, depths=[1] * 4,
                                                  out_features=["stage4"]),
        num_labels=C, num_queries=Q, d_model=D, encoder_layers=2, decoder_layers=L, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=24, decoder_ffn_dim=24, dropout=0.0, attention_dropout=0.0,
        activation_dropout=0.0, auxiliary_loss=False, attn_implementation="eager")
    return transformers.DetrForObjectDetection(config).double().eval()


def to_hf(state_dict):
    """Our names -> Hugging Face's: `model.` prefix for the transformer and queries, out_proj -> o_proj."""
    out = {}
    for k, v in state_dict.items():
        if k.startswith(("backbone", "input_projection")):
            continue                                                     # the test feeds projected features
        k = k.replace("out_proj", "o_proj")
        out["model." + k if k.startswith(("encoder", "decoder", "query_position")) else k] = v
    return out


def test_equals_hugging_face_detr_float64():
    C, Q, D, L = 3, 5, 16, 3
    ours = DETR(FeatureMap(), C, dim=D, num_heads=2, num_encoder_layers=2, num_decoder_layers=L, ffn_dim=24,
                num_queries=Q).double().eval()
    torch.manual_seed(0)
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(0, 0.3)                                            # every parameter redrawn
    ref = hf_detr(C, Q, D, L)
    missing, unexpected = ref.load_state_dict(to_hf(ours.state_dict()), strict=False)
    assert not unexpected and all(k.startswith(("model.backbone", "model.input_projection")) for k in missing)
    fmap = torch.randn(2, 6, 4, 4, dtype=torch.float64)
    out = ours(fmap)
    embeds = ours.input_projection(fmap).flatten(2).transpose(1, 2)      # (B, hw, D)
    r = ref(pixel_values=None, inputs_embeds=embeds, output_hidden_states=True)
    torch.testing.assert_close(out["logits"], r.logits, atol=1e-12, rtol=0)
    torch.testing.assert_close(out["pred_boxes"], r.pred_boxes, atol=1e-12, rtol=0)
    # auxiliary heads read each layer's output through the shared final LayerNorm (original DETR's
    # TransformerDecoder). HF 5.23 with auxiliary_loss=True instead feeds the normed states to the
    # next layer, so its aux outputs are rebuilt here from its un-normed decoder hidden states.
    assert len(out["auxiliary_outputs"]) == L - 1
    for aux, h in zip(out["auxiliary_outputs"], r.decoder_hidden_states[1:-1]):
        h = ref.model.decoder.layernorm(h)
        torch.testing.assert_close(aux["logits"], ref.class_labels_classifier(h), atol=1e-12, rtol=0)
        torch.testing.assert_close(aux["pred_boxes"], ref.bbox_predictor(h).sigmoid(), atol=1e-12, rtol=0)


def tiny(backbone=None, **kw):
    backbone = backbone or CNNBackbone(SmallCNN(3, 3, width=8, image_size=32))
    return DETR(backbone, num_classes=3, dim=32, num_queries=6, **kw)


@pytest.mark.parametrize("pre_norm", [False, True])
def test_shapes_gradients_and_backbones(pre_norm):
    model = tiny(pre_norm=pre_norm)
    out = model(torch.randn(2, 3, 32, 32), return_attention=True)
    assert out["logits"].shape == (2, 6, 4) and out["pred_boxes"].shape == (2, 6, 4)
    assert ((out["pred_boxes"] > 0) & (out["pred_boxes"] < 1)).all()
    assert len(out["auxiliary_outputs"]) == 1                            # 2 decoder layers: one auxiliary
    assert out["cross_attention"].shape == (2, 4, 6, 8, 8)               # (B, heads, Q, h, w)
    torch.testing.assert_close(out["cross_attention"].sum((-1, -2)), torch.ones(2, 4, 6))
    targets = [{"class_labels": torch.tensor([1]), "boxes": torch.tensor([[0.5, 0.5, 0.2, 0.3]])}] * 2
    total_loss(SetCriterion(3)(out, targets)).backward()
    silent = {n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0}
    # the decoder's input content is zeros (DETR Sec. 3.2): layer 0's self-attention values are
    # v_proj(0) = its bias, and a pre-norm LayerNorm of zeros is its bias, so those weights never learn
    expected = {"decoder.layers.0.self_attn.v_proj.weight"} | ({"decoder.layers.0.self_attn_layer_norm.weight"}
                                                               if pre_norm else set())
    assert silent == expected, silent
    vit = ViT(ViTConfig(image_size=32, patch_size=8, in_channels=3, num_classes=0, dim=32, depth=1, num_heads=2, mlp_dim=64))
    assert tiny(ViTBackbone(vit))(torch.randn(1, 3, 32, 32))["logits"].shape == (1, 6, 4)
    assert not tiny(aux_loss=False)(torch.randn(1, 3, 32, 32)).get("auxiliary_outputs")


def test_batch_independent_in_eval():
    model = tiny().eval()
    x = torch.randn(3, 3, 32, 32)
    torch.testing.assert_close(model(x)["logits"][1:2], model(x[1:2])["logits"], atol=1e-5, rtol=1e-5)


S, COLOURS = 32, torch.eye(3)                                             # class = colour (red, green, blue)


def scene(objects):
    image, boxes, labels = torch.zeros(3, S, S), [], []
    for x0, y0, x1, y1, c in objects:
        image[:, y0:y1, x0:x1] = COLOURS[c][:, None, None]
        boxes.append([(x0 + x1) / 2 / S, (y0 + y1) / 2 / S, (x1 - x0) / S, (y1 - y0) / S])
        labels.append(c)
    return image, {"class_labels": torch.tensor(labels), "boxes": torch.tensor(boxes)}


def test_overfits_a_batch_without_collapsing():
    torch.manual_seed(0)
    data = [scene([(2, 3, 12, 14, 0), (18, 16, 30, 28, 2)]), scene([(10, 4, 26, 14, 1)]),
            scene([(4, 18, 14, 30, 2), (20, 2, 28, 10, 0)])]
    images, targets = torch.stack([d[0] for d in data]), [d[1] for d in data]
    model, criterion = tiny(), SetCriterion(3)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    for _ in range(150):
        loss = total_loss(criterion(model(images), targets))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.1)                 # DETR's gradient clipping
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(images)
    # a collapsed DETR predicts the same boxes for every image
    assert (out["pred_boxes"][0] - out["pred_boxes"][1]).abs().max() > 0.1
    for det, t in zip(post_process(out, [(S, S)] * 3, threshold=0.5), targets):
        assert len(det["labels"]) == len(t["class_labels"])              # one detection per object, no duplicates
        iou = box_iou(box_cxcywh_to_xyxy(t["boxes"]) * S, det["boxes"])  # (objects, detections)
        best = iou.argmax(1)
        assert (iou.max(1).values > 0.7).all() and torch.equal(det["labels"][best], t["class_labels"])


def test_post_process_pixels_and_threshold():
    logits = torch.tensor([[[4.0, 0.0, 0.0], [0.0, 0.0, 5.0]]])          # query 0: class 0; query 1: no object
    boxes = torch.tensor([[[0.5, 0.5, 0.5, 0.25], [0.2, 0.2, 0.1, 0.1]]])
    every = post_process({"logits": logits, "pred_boxes": boxes}, [(40, 80)])[0]
    assert every["scores"].shape == (2,)                                  # no NMS, every query kept
    torch.testing.assert_close(every["boxes"][0], torch.tensor([20.0, 15.0, 60.0, 25.0]))
    assert every["labels"][0] == 0 and every["scores"][0] == pytest.approx(logits[0, 0].softmax(-1)[0].item())
    kept = post_process({"logits": logits, "pred_boxes": boxes}, torch.tensor([[40, 80]]), threshold=0.5)[0]
    assert kept["labels"].tolist() == [0]
    with pytest.raises(ValueError, match=r"\(height, width\) pairs"):
        post_process({"logits": logits, "pred_boxes": boxes}, [(40, 80), (40, 80)])


def test_clear_errors():
    with pytest.raises(ValueError, match="backbone_channels"):
        DETR(nn.Identity(), num_classes=3)
    with pytest.raises(ValueError, match="num_classes"):
        DETR(FeatureMap(), num_classes=0)
    with pytest.raises(ValueError, match=r"\(B, C, h, w\)"):
        DETR(FeatureMap(), num_classes=2, dim=16)(torch.randn(2, 6, 9))
    with pytest.raises(TypeError, match="SmallCNN"):
        CNNBackbone(nn.Conv2d(3, 8, 3))


def test_backbones_keep_the_grid_and_share_weights():
    torch.manual_seed(0)
    vit = ViT(ViTConfig(image_size=32, patch_size=8, in_channels=3, num_classes=0, dim=16, depth=1, num_heads=2, mlp_dim=32))
    x = torch.randn(2, 3, 32, 32)
    fmap, tokens = ViTBackbone(vit)(x), vit.forward_features(x)           # (B, D, 4, 4), (B, 1 + 16, D)
    assert fmap.shape == (2, 16, 4, 4)
    torch.testing.assert_close(fmap[:, :, 1, 2], tokens[:, 1 + 1 * 4 + 2])  # row 1, column 2 in raster order
    cnn = SmallCNN(3, 3, width=8, image_size=32)
    backbone = CNNBackbone(cnn)
    assert backbone.features is cnn.features and backbone(x).shape == (2, 32, 8, 8)
    with pytest.raises(ValueError, match="expects 32x32"):
        backbone(torch.randn(1, 3, 16, 16))
