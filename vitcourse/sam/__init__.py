"""SAM-style promptable segmentation (Kirillov et al. 2023, "Segment Anything"), small enough for a CPU.

    config.py          SAMConfig (original sizes by default; SAMConfig.tiny() for the course)
    layers.py          LayerNorm2d, FeedForward (the hypernetwork and IoU-head MLPs)
    checks.py          prompt checks with clear errors
    prompt_encoder.py  RandomFourierPositionalEncoding, PromptEncoder (points, boxes, mask prompts, no-mask embedding)
    transformer.py     TwoWayAttentionBlock, TwoWayTransformer
    mask_decoder.py    MaskDecoder (IoU token, 3 + 1 mask tokens, upscaling, hypernetworks, IoU head)
    model.py           SAM (image encoder + neck, embed_image, predict_masks)
    loss.py            focal, dice, mask IoU, sam_loss (20 : 1, min over masks, IoU MSE)
    prompts.py         prompt simulation: points, jittered boxes, corrective clicks
    interactive.py     select_mask (the IoU head's pick), upscale_masks, refine (interactive clicks)
"""
from .config import SAMConfig
from .layers import FeedForward, LayerNorm2d
from .loss import dice_loss, mask_iou, sam_loss, sigmoid_focal_loss
from .mask_decoder import MaskDecoder
from .model import SAM
from .prompt_encoder import PromptEncoder, RandomFourierPositionalEncoding
from .interactive import refine, select_mask, upscale_masks
from .prompts import box_from_mask, corrective_points, sample_boxes, sample_points
from .transformer import TwoWayAttentionBlock, TwoWayTransformer

__all__ = ["SAMConfig", "FeedForward", "LayerNorm2d", "dice_loss", "mask_iou", "sam_loss", "sigmoid_focal_loss",
           "MaskDecoder", "SAM", "PromptEncoder", "RandomFourierPositionalEncoding", "box_from_mask",
           "corrective_points", "sample_points", "sample_boxes", "TwoWayAttentionBlock", "TwoWayTransformer",
           "refine", "select_mask", "upscale_masks"]
