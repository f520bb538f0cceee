"""mini-LVIS: a small, seeded, long-tailed instance-segmentation dataset in LVIS v1 format.

Categories are coloured shapes with a texture. Every rare category is the twin of a frequent one
that differs in a single attribute (texture or colour shade), so a classifier biased towards the
head confuses the two: the situation TDE is meant to fix. Frequencies follow LVIS's rule on the
training split (rare: 1-10 images, common: 11-100, frequent: more than 100).

Masks are the full polygons of the objects. Objects are placed with at most a small overlap
(box IoU <= 0.2), later objects drawn over earlier ones.
"""
import hashlib
import json
import os
import os.path as osp
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

COLOURS = {  # BGR
    'red': (40, 40, 220), 'dark red': (30, 30, 150), 'green': (50, 190, 60),
    'blue': (220, 90, 40), 'yellow': (40, 220, 230), 'purple': (170, 50, 160),
    'orange': (30, 140, 250), 'cyan': (220, 220, 60)
}
SHAPES = ('circle', 'square', 'triangle', 'diamond', 'hexagon', 'star')
TEXTURES = ('solid', 'striped', 'dotted')


@dataclass(frozen=True)
class CategorySpec:
    shape: str
    colour: str
    texture: str
    frequency: str  # 'f', 'c' or 'r'

    @property
    def name(self) -> str:
        return f'{self.texture} {self.colour} {self.shape}'.replace(' ', '_')


# 4 frequent, 8 common, 6 rare; each rare one is a frequent or common one with one attribute
# changed.
CATEGORIES: Tuple[CategorySpec, ...] = (
    CategorySpec('circle', 'red', 'solid', 'f'),
    CategorySpec('square', 'blue', 'solid', 'f'),
    CategorySpec('triangle', 'green', 'solid', 'f'),
    CategorySpec('hexagon', 'yellow', 'solid', 'f'),
    CategorySpec('diamond', 'purple', 'solid', 'c'),
    CategorySpec('star', 'orange', 'solid', 'c'),
    CategorySpec('circle', 'cyan', 'striped', 'c'),
    CategorySpec('square', 'green', 'dotted', 'c'),
    CategorySpec('triangle', 'blue', 'striped', 'c'),
    CategorySpec('hexagon', 'red', 'dotted', 'c'),
    CategorySpec('diamond', 'yellow', 'solid', 'c'),
    CategorySpec('star', 'cyan', 'solid', 'c'),
    CategorySpec('circle', 'red', 'striped', 'r'),     # texture twin of a frequent class
    CategorySpec('square', 'blue', 'dotted', 'r'),
    CategorySpec('triangle', 'green', 'striped', 'r'),
    CategorySpec('hexagon', 'orange', 'solid', 'r'),   # colour-shade twin of a frequent class
    CategorySpec('circle', 'dark red', 'solid', 'r'),
    CategorySpec('diamond', 'purple', 'striped', 'r'),
)
CLASSES = tuple(c.name for c in CATEGORIES)
# Training images per category, drawn uniformly from these LVIS-rule ranges.
IMAGE_COUNT_RANGES = {'f': (110, 200), 'c': (12, 90), 'r': (1, 10)}


@dataclass(frozen=True)
class MiniLVISOptions:
    seed: int = 0
    num_train: int = 500
    num_val: int = 150
    img_size: int = 128
    min_object: int = 18
    max_object: int = 44
    val_objects_per_image: int = 3

    def digest(self) -> str:
        text = json.dumps(dict(asdict(self), categories=CLASSES), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _polygon(shape: str, cx: float, cy: float, r: float, rot: float) -> np.ndarray:
    sides = dict(circle=32, square=4, triangle=3, diamond=4, hexagon=6)
    if shape == 'star':
        angles = rot + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, r, 0.45 * r)
    else:
        n = sides[shape]
        angles = rot + np.arange(n) * 2 * np.pi / n + (np.pi / 4 if shape == 'square' else 0)
        radii = np.where((np.arange(n) % 2 == 0) | (shape != 'diamond'), r, 0.6 * r)
    return np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)


def _draw(img: np.ndarray, poly: np.ndarray, spec: CategorySpec, rng: np.random.Generator):
    mask = np.zeros(img.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
    colour = np.array(COLOURS[spec.colour], np.float32) + rng.normal(0, 8, 3)
    layer = np.empty_like(img, dtype=np.float32)
    layer[:] = colour
    h, w = mask.shape
    yy, xx = np.mgrid[0:h, 0:w]
    if spec.texture == 'striped':
        period = rng.integers(4, 7)
        layer[((xx + yy) // (period // 2 + 1)) % 2 == 0] *= 0.45
    elif spec.texture == 'dotted':
        period = rng.integers(5, 8)
        layer[(xx % period < 2) & (yy % period < 2)] = 245
    sel = mask.astype(bool)
    img[sel] = np.clip(layer[sel], 0, 255).astype(np.uint8)


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    base = rng.integers(90, 160)
    img = np.full((size, size, 3), base, np.float32)
    img += rng.normal(0, 10, (size, size, 3))
    for _ in range(rng.integers(2, 6)):  # low-contrast clutter
        c = rng.integers(0, size, 2)
        cv2.circle(img, (int(c[0]), int(c[1])), int(rng.integers(5, 25)),
                   tuple(float(v) for v in rng.integers(80, 170, 3)), -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def _box_iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _place(opts: MiniLVISOptions, taken: List[list], rng: np.random.Generator,
           shape: str) -> Optional[np.ndarray]:
    for _ in range(50):
        r = rng.uniform(opts.min_object, opts.max_object) / 2
        cx, cy = rng.uniform(r + 1, opts.img_size - r - 1, 2)
        poly = _polygon(shape, cx, cy, r, rng.uniform(0, 2 * np.pi))
        poly = np.clip(poly, 0, opts.img_size - 1)
        box = [*poly.min(0), *poly.max(0)]
        if all(_box_iou(box, t) <= 0.2 for t in taken):
            taken.append(box)
            return poly
    return None


def _image_categories_train(opts: MiniLVISOptions, rng: np.random.Generator) -> List[List[int]]:
    """Which categories appear in each training image, with exact long-tailed image counts."""
    per_image: List[List[int]] = [[] for _ in range(opts.num_train)]
    for cat_idx, spec in enumerate(CATEGORIES):
        # A small num_train clips the ranges; frequencies are then re-derived from the counts.
        lo, hi = (min(v, opts.num_train) for v in IMAGE_COUNT_RANGES[spec.frequency])
        count = int(rng.integers(lo, hi + 1))
        for img_idx in rng.choice(opts.num_train, size=count, replace=False):
            per_image[img_idx].append(cat_idx)
    return per_image


def _image_categories_val(opts: MiniLVISOptions, rng: np.random.Generator) -> List[List[int]]:
    """Balanced: image i takes the next k categories of a shuffled cycle over all of them."""
    k = min(opts.val_objects_per_image, len(CATEGORIES))
    order = rng.permutation(len(CATEGORIES))
    return [sorted(order[(i * k + np.arange(k)) % len(order)].tolist())
            for i in range(opts.num_val)]


def _render_split(split: str, cats_per_image: List[List[int]], opts: MiniLVISOptions,
                  rng: np.random.Generator, out_dir: str, first_img_id: int,
                  first_ann_id: int) -> Tuple[list, list]:
    images, anns = [], []
    os.makedirs(osp.join(out_dir, split), exist_ok=True)
    ann_id = first_ann_id
    for offset, cat_idxs in enumerate(cats_per_image):
        if not cat_idxs:
            continue
        img_id = first_img_id + offset
        img = _background(opts.img_size, rng)
        taken: List[list] = []
        present, not_exhaustive = set(), set()
        for cat_idx in rng.permutation(cat_idxs).tolist():
            spec = CATEGORIES[cat_idx]
            # Some images hold two instances of a category; in 10% of the images one instance is
            # drawn but left unannotated, and the category is marked not exhaustive (as in LVIS).
            n_inst = 2 if rng.random() < 0.2 else 1
            unannotated = split == 'val' and rng.random() < 0.1
            for inst in range(n_inst + int(unannotated)):
                poly = _place(opts, taken, rng, spec.shape)
                if poly is None:
                    continue
                _draw(img, poly, spec, rng)
                if inst == n_inst:
                    not_exhaustive.add(cat_idx + 1)
                    continue
                x0, y0 = poly.min(0)
                x1, y1 = poly.max(0)
                anns.append(dict(
                    id=ann_id, image_id=img_id, category_id=cat_idx + 1,
                    segmentation=[np.round(poly, 2).flatten().tolist()],
                    bbox=[round(float(x0), 2), round(float(y0), 2),
                          round(float(x1 - x0), 2), round(float(y1 - y0), 2)],
                    area=round(float(cv2.contourArea(poly.astype(np.float32))), 2)))
                present.add(cat_idx + 1)
                ann_id += 1
        if not present:
            continue
        absent = [c for c in range(1, len(CATEGORIES) + 1) if c not in present]
        negatives = sorted(rng.choice(absent, size=min(3, len(absent)), replace=False).tolist())
        file_name = f'{split}/{img_id:012d}.png'
        cv2.imwrite(osp.join(out_dir, file_name), img)
        images.append(dict(
            id=img_id, width=opts.img_size, height=opts.img_size, file_name=file_name,
            # mmdet's LVISV1Dataset derives the file name from coco_url, as in LVIS v1
            coco_url=f'http://images.cocodataset.org/{file_name}', date_captured='',
            flickr_url='', license=1, neg_category_ids=negatives,
            not_exhaustive_category_ids=sorted(not_exhaustive & present)))
    return images, anns


def _categories(train_anns: list) -> List[dict]:
    cats = []
    for idx, spec in enumerate(CATEGORIES):
        cat_id = idx + 1
        img_ids = {a['image_id'] for a in train_anns if a['category_id'] == cat_id}
        image_count = len(img_ids)
        frequency = 'r' if image_count <= 10 else 'c' if image_count <= 100 else 'f'
        cats.append({
            'id': cat_id, 'name': spec.name, 'synset': f'{spec.name}.n.01',
            'synonyms': [spec.name], 'def': f'a {spec.texture} {spec.colour} {spec.shape}',
            'frequency': frequency, 'image_count': image_count,
            'instance_count': sum(a['category_id'] == cat_id for a in train_anns)})
    return cats


def make_minilvis(out_dir: str, options: MiniLVISOptions = MiniLVISOptions(),
                  force: bool = False, progress=print) -> Dict[str, str]:
    """Generate mini-LVIS under ``out_dir``; skipped when the same options already exist there.

    Returns the paths of ``annotations/minilvis_v1_{train,val}.json``.
    """
    paths = {s: osp.join(out_dir, 'annotations', f'minilvis_v1_{s}.json') for s in ('train', 'val')}
    meta_path = osp.join(out_dir, 'meta.json')
    if not force and osp.isfile(meta_path) and all(map(osp.isfile, paths.values())):
        with open(meta_path) as f:
            if json.load(f).get('digest') == options.digest():
                progress(f'mini-LVIS already generated in {out_dir} (same options)')
                return paths
    rng = np.random.default_rng(options.seed)
    os.makedirs(osp.dirname(paths['train']), exist_ok=True)
    splits = {}
    train_cats = _image_categories_train(options, rng)
    val_cats = _image_categories_val(options, rng)
    next_img, next_ann = 1, 1
    for split, per_image in (('train', train_cats), ('val', val_cats)):
        progress(f'rendering {len(per_image)} {split} images ...')
        images, anns = _render_split(split, per_image, options, rng, out_dir, next_img, next_ann)
        splits[split] = (images, anns)
        next_img += len(per_image)
        next_ann += len(anns)
    categories = _categories(splits['train'][1])
    info = dict(description='mini-LVIS, generated by mmdet_tde', version='1.0', year=2026)
    for split, (images, anns) in splits.items():
        with open(paths[split], 'w') as f:
            json.dump(dict(info=info, licenses=[dict(id=1, name='generated')], images=images,
                           annotations=anns, categories=categories), f)
    groups = {g: sum(c['frequency'] == g for c in categories) for g in 'rcf'}
    with open(meta_path, 'w') as f:
        json.dump(dict(options=asdict(options), digest=options.digest(), groups=groups), f,
                  indent=2)
    progress(f'mini-LVIS in {out_dir}: {len(splits["train"][0])} train / {len(splits["val"][0])} '
             f'val images, categories rare/common/frequent = '
             f'{groups["r"]}/{groups["c"]}/{groups["f"]}')
    return paths
