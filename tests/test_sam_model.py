"""SAM's mask decoder and the SAM wrapper (Kirillov et al. 2023, Sec. 3): output layout (B, P, K, 4h, 4w),
prompts and images independent, a package ViT as image encoder, gradients, a short training run
that fits, and clear errors."""
import pytest
import torch

from vitcourse import ViT, ViTConfig
from vitcourse.sam import SAM, MaskDecoder, SAMConfig, sam_loss, sample_boxes, sample_points

CFG = SAMConfig.tiny()
EMB = (CFG.embed_dim, CFG.embedding_size, CFG.embedding_size)


def vit(pool="mean", dim=24, image_size=64):
    return ViT(ViTConfig(image_size=image_size, patch_size=8, in_channels=3, num_classes=0, dim=dim, depth=1, num_heads=2,
                         mlp_dim=48, pool=pool))


def sam64(**kw):
    m = SAM(CFG, **kw).double()
    with torch.no_grad():
        for p in m.mask_decoder.parameters():
            p.normal_(0, 0.3)
    return m.eval()


def test_mask_decoder_layout_multimask_and_single():
    dec = MaskDecoder(CFG)
    emb, pe = torch.randn(2, *EMB), torch.randn(1, *EMB)
    sparse, dense = torch.randn(2, 3, 4, 32), torch.randn(2, *EMB)
    m3, i3 = dec(emb, pe, sparse, dense, multimask_output=True)
    m1, i1 = dec(emb, pe, sparse, dense, multimask_output=False)
    assert m3.shape == (2, 3, 3, 32, 32) and i3.shape == (2, 3, 3)       # 4x the 8 x 8 embedding grid
    assert m1.shape == (2, 3, 1, 32, 32) and i1.shape == (2, 3, 1)
    assert dec.mask_tokens.weight.shape == (4, 32)                        # 3 + 1 mask tokens
    full, _ = dec(emb, pe, sparse, dense, multimask_output=True)
    assert not torch.allclose(m1, full[:, :, :1])                         # token 0 is its own mask


def test_prompts_and_images_are_independent():
    sam = sam64()
    emb = torch.randn(2, *EMB, dtype=torch.float64)
    pts = torch.randint(0, 64, (2, 2, 2, 2)).double()
    lab = torch.randint(0, 2, (2, 2, 2))
    masks, iou = sam.predict_masks(emb, pts, lab)
    for b in range(2):
        for p in range(2):
            m, i = sam.predict_masks(emb[b:b + 1], pts[b:b + 1, p:p + 1], lab[b:b + 1, p:p + 1])
            torch.testing.assert_close(m[0, 0], masks[b, p], rtol=0, atol=1e-12)
            torch.testing.assert_close(i[0, 0], iou[b, p], rtol=0, atol=1e-12)


@pytest.mark.parametrize("pool", ["mean", "cls"])
def test_a_package_vit_is_the_image_encoder(pool):
    sam = SAM(CFG, image_encoder=vit(pool))
    images = torch.randn(2, 3, 64, 64)
    emb = sam.embed_image(images)
    assert emb.shape == (2, *EMB)
    masks, iou = sam(images, boxes=torch.tensor([[[4.0, 4.0, 40.0, 50.0]]] * 2))
    assert masks.shape == (2, 1, 3, 32, 32) and iou.shape == (2, 1, 3)


def test_any_encoder_returning_a_grid_works_with_encoder_dim():
    conv = torch.nn.Conv2d(3, 12, kernel_size=8, stride=8)
    sam = SAM(CFG, image_encoder=conv, encoder_dim=12)
    assert sam.embed_image(torch.randn(1, 3, 64, 64)).shape == (1, *EMB)


def test_every_parameter_gets_a_gradient_and_the_fourier_matrix_is_not_one():
    sam = SAM(CFG, image_encoder=vit())
    images = torch.randn(2, 3, 64, 64)
    pts, lab = torch.rand(2, 1, 2, 2) * 63, torch.tensor([[[1, 0]], [[1, 1]]])
    boxes = torch.tensor([[[4.0, 4.0, 40.0, 50.0]], [[1.0, 2.0, 3.0, 4.0]]])
    m3, i3 = sam(images, pts, lab, boxes, multimask_output=True)
    m1, i1 = sam(images, pts, lab, multimask_output=False, mask_inputs=torch.randn(2, 1, 32, 32))
    (m3.sum() + i3.sum() + m1.sum() + i1.sum()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in sam.parameters())
    names = [n for n, _ in sam.named_parameters()]
    assert not any("gaussian" in n for n in names)
    assert len(sam.decoder_parameters()) == len([n for n in names if n.startswith(("prompt_encoder", "mask_decoder"))])


def test_a_short_training_run_fits_squares():
    """Frozen random encoder, decoder trained with the paper's loss on one point or a box per square."""
    torch.manual_seed(0)
    sam = SAM(CFG.replace(image_size=32, embedding_size=4), image_encoder=vit(dim=32, image_size=32))
    for p in sam.image_encoder.parameters():
        p.requires_grad_(False)
    masks = torch.zeros(8, 1, 32, 32, dtype=torch.bool)
    for i in range(8):
        x, y, s = 2 + 3 * i, 4 + 2 * i, 6 + i
        masks[i, 0, y:y + s, x:x + s] = True
    images = masks.float().expand(-1, 3, -1, -1) + 0.1 * torch.randn(8, 3, 32, 32)
    params = sam.decoder_parameters() + list(sam.neck.parameters())
    opt = torch.optim.AdamW(params, lr=3e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for step in range(16):
        if step % 2:
            pts, lab = sample_points(masks, generator=g)
            out = sam_loss(*sam(images, pts, lab), masks.float())   # 16 x 16 logits upsampled to the 32 x 32 masks
        else:
            out = sam_loss(*sam(images, boxes=sample_boxes(masks, generator=g)), masks.float())
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    assert sum(losses[-4:]) < 0.5 * sum(losses[:4])


def test_clear_errors():
    with pytest.raises(ValueError, match="embedding_size=16"):
        SAM(CFG.replace(embedding_size=16), image_encoder=vit())
    with pytest.raises(ValueError, match="encoder_dim"):
        SAM(CFG, image_encoder=torch.nn.Identity())
    with pytest.raises(ValueError, match="no image encoder"):
        SAM(CFG).embed_image(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match="64x64"):
        SAM(CFG, image_encoder=vit()).embed_image(torch.randn(1, 3, 32, 32))
    sam = SAM(CFG)
    with pytest.raises(ValueError, match=r"image_embeddings must be \(B, 32, 8, 8\)"):
        sam.predict_masks(torch.randn(1, 32, 4, 4))
    with pytest.raises(ValueError, match="for 2 images but the image embeddings hold 1"):
        sam.predict_masks(torch.randn(1, *EMB), torch.ones(2, 1, 1, 2), torch.ones(2, 1, 1))
    with pytest.raises(ValueError, match="multiple of 16"):
        SAMConfig(embed_dim=40)
