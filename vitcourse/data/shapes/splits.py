"""Compositional splits: hold out colour-shape pairs, keep every colour and shape in training.

The Latin-square rule: number the colours i = 0..C-1 and the shapes j = 0..S-1 and write the
symbol (i + j) mod m in cell (i, j) of the C x S grid. Symbol g's cells are held out. Every row
(colour) then holds out floor(S/m) or ceil(S/m) shapes and every column (shape) floor(C/m) or
ceil(C/m) colours, so with 2 <= m <= min(C, S) each colour and each shape appears both among the
held-out pairs and, with other partners, in training. When C = S = m the grid is a Latin square
and each group is a transversal: one pair per colour and per shape. The m groups partition all
pairs, so group = 0..m-1 are m folds. The default m = min(C, S) holds out one pair per colour for
8 colours x 5 shapes (8 of 40 pairs: each shape loses 1 or 2 colours); for 8 colours x 4 shapes
it holds out 8 of 32, two colours per shape. (The pilot, REFERENCES_5_7.md §3.5, used
(colour + 2 shape) mod 4 on 8 x 6, which holds out a colour's shapes in steps of two.)
"""
from __future__ import annotations

import numbers

from .world import COLOURS, SHAPES, _names


def split_pairs(colours=tuple(COLOURS), shapes=SHAPES, n_groups: int | None = None,
                group: int = 0) -> tuple[list, list]:
    """(train_pairs, held_out_pairs): lists of (colour, shape), colour-major order.

    Pair (i, j) is held out when (i + j) % n_groups == group. n_groups defaults to
    min(len(colours), len(shapes)); group picks one of the n_groups folds.
    """
    colours, shapes = _names("colour", colours, COLOURS), _names("shape", shapes, SHAPES)
    if len(colours) < 2 or len(shapes) < 2:
        raise ValueError(f"a compositional split needs >= 2 colours and >= 2 shapes, got "
                         f"{len(colours)} and {len(shapes)}: with one, holding out a pair removes "
                         f"the other attribute from training")
    m = min(len(colours), len(shapes)) if n_groups is None else n_groups
    if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 2:
        raise ValueError(f"n_groups must be an integer >= 2 (1 would hold out every pair), got {m!r}")
    if isinstance(group, bool) or not isinstance(group, numbers.Integral) or not 0 <= group < m:
        raise ValueError(f"group must be an integer in [0, {m}), got {group!r}")
    train, held = [], []
    for i, c in enumerate(colours):
        for j, s in enumerate(shapes):
            (held if (i + j) % m == group else train).append((c, s))
    if not held:
        raise ValueError(f"group {group} of n_groups={m} holds out no pair of a "
                         f"{len(colours)} x {len(shapes)} grid: use n_groups <= {len(colours) + len(shapes) - 1}")
    return train, held
