"""The procedural scenes world of classes 5-7: coloured shapes with exact ground truth.

One generator feeds CLIP (captions, compositional splits; notebook 10), VQA (question-answer
pairs; 11), promptable segmentation (visible masks, nested objects with several valid masks per
point; 12) and detection (tight boxes, classes; 13). numpy only (torch for the batch API),
deterministic from a seed.

    world = ShapesWorld(image_size=32, pairs=split_pairs()[0])   # training pairs only
    scene = world.sample(0)            # Scene: image (3, 32, 32), objects, caption, masks_at(x, y)
    batch = world.batch(256, seed=1)   # images (256, 3, 32, 32), captions, boxes, masks, labels
    loader = DataLoader(ShapesDataset(world, 10_000), batch_size=128, collate_fn=collate_scenes)

Speed, one core (OMP_NUM_THREADS=1), in scenes per CPU-second (process time, best/median of 7
runs of 1000, measured on a shared 2-core machine under load ~10, so an idle one does better):
`sample_scene` 9,400/8,400 for one-object 32-px scenes, 5,600/5,200 for 1-3 objects at 32 px,
2,900/2,700 for 1-3 objects with nesting at 64 px; `make_batch` (tensors included) 6,700/5,800,
4,400/4,000 and 2,500/2,000. Wall-clock rates on the loaded machine were up to 2x lower.

Learnability (the pilot in REFERENCES_5_7.md §3.5 failed on shapes): a ViT of dim 64, depth 2,
patch 8, mean pool, trained on 6,000 one-object 32-px scenes (batch 128, AdamW 2e-3, cosine) to
name the shape, scores 0.84 and 0.86 (two seeds) after 1,000 steps and 0.93 after 2,000 steps
on 1,000 fresh scenes (chance 0.2); circle-square and cross-circle are the last confusions.
2,000 steps took 204 s on the loaded machine (single thread). Patch 4 (64 tokens) is slower
per step and per second: 0.70 after 600 steps in 286 s (patch 8: about 0.78 after 600 steps).
"""
from .batch import ShapesDataset, collate_scenes, make_batch, scene_to_item
from .language import caption, qa_pairs, vocabulary
from .render import sample_scene, shape_mask
from .scene import Scene, ShapeObject, tight_box
from .splits import split_pairs
from .world import CAPTION_STYLES, COLOURS, POSITIONS, SHAPES, SIZES, ShapesWorld

__all__ = ["ShapesWorld", "Scene", "ShapeObject", "sample_scene", "make_batch", "ShapesDataset",
           "collate_scenes", "scene_to_item", "split_pairs", "caption", "qa_pairs", "vocabulary",
           "shape_mask", "tight_box", "COLOURS", "SHAPES", "SIZES", "POSITIONS", "CAPTION_STYLES"]
