"""DETR, end-to-end detection with transformers (Carion et al. 2020), in one concept per module.

- `boxes`: cxcywh <-> xyxy, area, IoU, generalised IoU;
- `matcher`: the Hungarian matcher (`assignment`: the one-to-many and fixed ones of the ablation); `criterion`: the set loss (+ auxiliary losses) and its total;
- `position`: the 2-D sine positional encoding; `transformer`: encoder and decoder layers;
- `model`: `DETR` and its box head; `backbones`: the package's CNN and ViT as feature maps;
- `postprocess`: detections in pixels; `evaluate`: COCO mAP with pycocotools;
- `open_vocab`: a class head that reads class names as text embeddings.
"""
from .assignment import FixedOrderMatcher, OneToManyMatcher
from .backbones import CNNBackbone, ViTBackbone
from .boxes import (box_area, box_cxcywh_to_xyxy, box_iou, box_xyxy_to_cxcywh, check_normalized_cxcywh,
                    check_xyxy, generalized_box_iou)
from .criterion import SetCriterion, total_loss
from .evaluate import coco_evaluate
from .matcher import HungarianMatcher
from .model import DETR, MLPHead
from .open_vocab import OpenVocabularyHead
from .position import sine_position_encoding
from .postprocess import post_process

__all__ = [
    "FixedOrderMatcher", "OneToManyMatcher", "CNNBackbone", "ViTBackbone", "box_area", "box_cxcywh_to_xyxy", "box_iou", "box_xyxy_to_cxcywh",
    "check_normalized_cxcywh", "check_xyxy", "generalized_box_iou", "SetCriterion", "total_loss",
    "coco_evaluate", "HungarianMatcher", "DETR", "MLPHead", "OpenVocabularyHead", "sine_position_encoding",
    "post_process",
]
