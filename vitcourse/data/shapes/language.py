"""Captions and question-answer pairs, generated from a scene's records (so they are exact).

Caption grammar (top-level objects listed left to right by centre; a nested child is said with
its parent: "a red square inside a big blue ring", "a red cross on a big blue square"):
- "label":      "a red circle"            | "a red circle and a blue square"
- "attributes": "a small red circle"      | "a small red circle and a big blue square"
- "full":       "a small red circle on the left"
                | "a small red circle left of a big blue square above a small green cross"
  where each relation compares consecutive objects A, B (B's centre not left of A's): "left of"
  when dx >= |dy|, else "above" (A higher) or "below".
Label-only captions repeat often within a batch (40 distinct ones), the "full" grammar rarely:
the repeats are CLIP's false negatives (notebook 10).

Questions (one of each kind that the scene allows; answers are single words):
existence "is there a red circle?" (yes/no, half of each when possible), colour "what colour is
the circle?" (only for a shape present exactly once), counting "how many circles are there?"
(a number word), relation "is the red circle left of the blue square?" (yes/no; both unique in
the scene and their centres at least RELATION_MARGIN pixels apart in x).
"""
from __future__ import annotations

NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
RELATION_MARGIN = 2.0


def number(n: int) -> str:
    return NUMBERS[n] if n < len(NUMBERS) else str(n)


def plural(shape: str) -> str:
    return shape + "es" if shape.endswith(("s", "x")) else shape + "s"


def article(word: str) -> str:
    """ "an orange ...", "a red ..." """
    return "an" if word[0] in "aeiou" else "a"


def _noun(o, sized: bool) -> str:
    words = f"{o.size} {o.colour} {o.shape}" if sized else f"{o.colour} {o.shape}"
    return f"{article(words)} {words}"


def _phrase(scene, k: int, sized: bool) -> str:
    parent = scene.objects[k]
    text = _noun(parent, sized)
    for child in (o for o in scene.objects if o.parent == k):
        link = "inside" if parent.shape == "ring" else "on"
        text = f"{_noun(child, False)} {link} {text}"
    return text


def _relation(a, b) -> str:
    dx, dy = b.centre[0] - a.centre[0], b.centre[1] - a.centre[1]
    return "left of" if dx >= abs(dy) else ("above" if dy > 0 else "below")


def caption(scene, style: str = "full") -> str:
    """The scene's caption in `style` ("label", "attributes" or "full")."""
    if style not in ("label", "attributes", "full"):
        raise ValueError(f"caption style must be 'label', 'attributes' or 'full', got {style!r}")
    roots = sorted((k for k, o in enumerate(scene.objects) if o.parent is None),
                   key=lambda k: scene.objects[k].centre[0])
    sized = style != "label"
    phrases = [_phrase(scene, k, sized) for k in roots]
    if style != "full":
        return " and ".join(phrases)
    if len(roots) == 1:
        return f"{phrases[0]} on the {scene.objects[roots[0]].position}"
    text = phrases[0]
    for prev, k, p in zip(roots, roots[1:], phrases[1:]):
        text += f" {_relation(scene.objects[prev], scene.objects[k])} {p}"
    return text


def qa_pairs(scene, rng) -> list:
    """[(kind, question, answer)] for the scene: existence, colour, count, relation (when asked)."""
    objs, world = scene.objects, scene.world
    present = {(o.colour, o.shape) for o in objs}
    out = []
    absent = [p for p in world.pairs if p not in present]
    ask_yes = bool(rng.random() < 0.5) or not absent
    c, s = sorted(present)[rng.integers(len(present))] if ask_yes else absent[rng.integers(len(absent))]
    out.append(("existence", f"is there {article(c)} {c} {s}?", "yes" if ask_yes else "no"))
    counts = {s: sum(o.shape == s for o in objs) for s in world.shapes}
    single = [o for o in objs if counts[o.shape] == 1]
    if single:
        o = single[rng.integers(len(single))]
        out.append(("colour", f"what colour is the {o.shape}?", o.colour))
    s = world.shapes[rng.integers(len(world.shapes))]
    out.append(("count", f"how many {plural(s)} are there?", number(counts[s])))
    unique = [o for o in objs if sum((p.colour, p.shape) == (o.colour, o.shape) for p in objs) == 1]
    pairs = [(a, b) for a in unique for b in unique
             if a is not b and abs(a.centre[0] - b.centre[0]) >= RELATION_MARGIN]
    if pairs:
        a, b = pairs[rng.integers(len(pairs))]
        out.append(("relation", f"is the {a.colour} {a.shape} left of the {b.colour} {b.shape}?",
                    "yes" if a.centre[0] < b.centre[0] else "no"))
    return out


def vocabulary(world) -> list:
    """Every word a caption or question of `world` can use, sorted (for a word tokenizer); a
    question's "?" is a word of its own: `question.replace("?", " ?").split()`."""
    words = {"a", "an", "and", "on", "the", "inside", "left", "of", "above", "below", "is", "there",
             "what", "colour", "how", "many", "are", "yes", "no", "?"}
    words |= set(world.colours) | set(world.shapes) | {plural(s) for s in world.shapes}
    words |= {s for s, _ in world.sizes} | {"small"} | {"left", "right", "top", "bottom"}
    words |= {number(n) for n in range(world.max_objects * 2 + 1)}
    return sorted(words)
