"""The procedural scenes world of classes 5-7: coloured shapes with exact ground truth.

One generator feeds CLIP (captions, compositional splits; notebook 10), VQA (question-answer
pairs; 11), promptable segmentation (visible masks, nested objects with several valid masks per
point; 12) and detection (tight boxes, classes; 13). numpy only (torch for the batch API),
deterministic from a seed.

    world = ShapesWorld(image_size=32, pairs=split_pairs()[0])   # training pairs only
    scene = world.sample(0)            # Scene: image (3, 32, 32), objects, caption, masks_at(x, y)
    batch = world.batch(256, seed=1)   # images (256, 3, 32, 32), captions, boxes, masks, labels
    loader = DataLoader(ShapesDataset(world, 10_000), batch_size=128, collate_fn=collate_scenes)

Speed: RATE_NOTE (measured with OMP_NUM_THREADS=1 on a loaded shared 2-core machine).
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
