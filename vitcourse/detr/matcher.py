"""DETR's bipartite matching (Carion et al. 2020, Sec. 3.1, Eq. 1 and Appendix A.1).

Each image's n ground-truth objects are assigned to n of the Q predictions by the permutation that
minimises the total matching cost (the Hungarian algorithm, here scipy's `linear_sum_assignment`):

    cost(query i, object j) = class_cost * (-p_i(c_j)) + bbox_cost * ||b_i - b_j||_1
                              + giou_cost * (-GIoU(b_i, b_j))

The other Q - n predictions are matched to "no object". DETR's weights are 1 / 5 / 2. The outputs
and targets follow Hugging Face's conventions (see `targets.py`) and so do the returned indices:
one (query_indices, target_indices) pair of int64 tensors per image, sorted by query index.
"""
from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment

from .boxes import box_cxcywh_to_xyxy, generalized_box_iou
from .targets import check_outputs, check_targets


class HungarianMatcher:
    """Optimal one-to-one assignment of predictions to targets, per image (no gradients)."""

    def __init__(self, class_cost: float = 1.0, bbox_cost: float = 5.0, giou_cost: float = 2.0):
        for name, c in (("class_cost", class_cost), ("bbox_cost", bbox_cost), ("giou_cost", giou_cost)):
            if c < 0:
                raise ValueError(f"{name} must be >= 0, got {c}")
        if class_cost == bbox_cost == giou_cost == 0:
            raise ValueError("at least one of class_cost, bbox_cost, giou_cost must be positive")
        self.class_cost, self.bbox_cost, self.giou_cost = class_cost, bbox_cost, giou_cost

    def __repr__(self):
        return (f"HungarianMatcher(class_cost={self.class_cost}, bbox_cost={self.bbox_cost}, "
                f"giou_cost={self.giou_cost})")

    @torch.no_grad()
    def cost_matrices(self, outputs, targets) -> list[torch.Tensor]:
        """One (Q, n_i) cost matrix per image (on the CPU); NaN/inf replaced by the dtype's max.
        As in DETR's reference code, the costs of the whole batch are one (B Q, sum n_i) matrix,
        computed at once and cut into the images' blocks (the off-diagonal blocks are never used)."""
        batch_size, num_queries, num_classes = check_outputs(outputs)
        check_targets(targets, batch_size, num_classes)
        sizes = [len(t["class_labels"]) for t in targets]
        if sum(sizes) == 0:
            return [torch.zeros(num_queries, 0, dtype=outputs["pred_boxes"].dtype) for _ in targets]
        prob = outputs["logits"].flatten(0, 1).softmax(-1)              # (B Q, C+1)
        pred = outputs["pred_boxes"].flatten(0, 1)                      # (B Q, 4) cxcywh
        labels = torch.cat([t["class_labels"] for t in targets]).to(prob.device)            # (T,)
        boxes = torch.cat([t["boxes"] for t in targets]).to(pred)                          # (T, 4)
        c_class = -prob[:, labels]                                      # (B Q, T)
        c_bbox = torch.cdist(pred, boxes, p=1)                          # (B Q, T)
        c_giou = -generalized_box_iou(box_cxcywh_to_xyxy(pred), box_cxcywh_to_xyxy(boxes))
        c = self.bbox_cost * c_bbox + self.class_cost * c_class + self.giou_cost * c_giou
        big = torch.finfo(c.dtype).max
        c = torch.nan_to_num(c, nan=big, posinf=big, neginf=big).view(batch_size, num_queries, -1).cpu()
        return [block[b] for b, block in enumerate(c.split(sizes, dim=-1))]

    @torch.no_grad()
    def __call__(self, outputs, targets) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """-> per image (query_indices, target_indices), each (min(Q, n_i),) int64."""
        out = []
        for c in self.cost_matrices(outputs, targets):
            rows, cols = linear_sum_assignment(c.numpy())
            out.append((torch.as_tensor(rows, dtype=torch.int64), torch.as_tensor(cols, dtype=torch.int64)))
        return out
