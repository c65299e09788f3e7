"""Assignments that are *not* DETR's bipartite matching, for the ablation of why it matters.

DETR's loss needs each object to be predicted by exactly one query (Carion et al. 2020, Sec. 3.1:
"the loss produces an optimal bipartite matching ... removing the need for NMS"; Sec. 4.2 ablates
NMS). Two alternatives with the same call convention as `HungarianMatcher`
(`matcher(outputs, targets)` -> per image (query_indices, target_indices)):

- `OneToManyMatcher`: every query is assigned to its cheapest object (same cost as DETR), so an object
  can be the target of many queries, as anchors are in dense detectors; the model learns to predict
  each object several times, and only non-maximum suppression would remove the duplicates.
- `FixedOrderMatcher`: a one-to-one assignment that ignores the predictions: objects sorted by box
  centre (x, then y) go to queries 0, 1, 2, ... ; the queries cannot specialise by what they see.
"""
from __future__ import annotations

import torch

from .matcher import HungarianMatcher
from .targets import check_outputs, check_targets


class OneToManyMatcher(HungarianMatcher):
    """Each of the Q queries -> its cheapest target (argmin over the DETR cost); no one-to-one constraint."""

    @torch.no_grad()
    def __call__(self, outputs, targets):
        out = []
        for c in self.cost_matrices(outputs, targets):                  # (Q, n)
            if c.shape[1] == 0:                                         # no object: every query is no-object
                empty = torch.zeros(0, dtype=torch.int64)
                out.append((empty, empty.clone()))
            else:
                out.append((torch.arange(c.shape[0]), c.argmin(dim=1)))
        return out


class FixedOrderMatcher:
    """Objects sorted by centre x (then y) -> queries 0..n-1, whatever the model predicts."""

    @torch.no_grad()
    def __call__(self, outputs, targets):
        batch_size, num_queries, num_classes = check_outputs(outputs)
        check_targets(targets, batch_size, num_classes)
        out = []
        for t in targets:
            boxes = t["boxes"]
            if len(boxes) > num_queries:
                raise ValueError(f"an image has {len(boxes)} objects but the model has only {num_queries} queries")
            order = sorted(range(len(boxes)), key=lambda j: (boxes[j, 0].item(), boxes[j, 1].item()))
            out.append((torch.arange(len(boxes)), torch.as_tensor(order, dtype=torch.int64)))
        return out
