"""Synthetic LVIS-style annotations and detections for the evaluation tests and benchmarks.

The data exercise every rule of LVIS evaluation: rare/common/frequent categories in LVIS v1's
proportions, negative and not-exhaustive category lists, images without annotations, categories
without ground truth or without detections, detections of unverified categories (which LVIS
drops), and crowded images with more detections than the 300 LVIS keeps.
"""
import numpy as np
import pycocotools.mask as mask_utils

# Categories per frequency group in LVIS v1.0 (337 rare, 461 common, 405 frequent of 1203).
LVIS_V1_FREQUENCY_COUNTS = dict(r=337, c=461, f=405)
# How much more often a category of each group appears in an image.
_FREQUENCY_WEIGHT = dict(r=0.3, c=2.0, f=10.0)


def make_lvis_annotations(num_images: int,
                          num_categories: int = 1203,
                          version: str = 'v1',
                          anns_per_image: float = 8.0,
                          empty_image_ratio: float = 0.05,
                          unannotated_category_ratio: float = 0.02,
                          image_size: tuple = (240, 640),
                          seed: int = 0) -> dict:
    """An LVIS annotation dict (v0.5 or v1 flavour) with polygon masks."""
    rng = np.random.default_rng(seed)
    categories = _make_categories(num_categories, version, rng)
    cat_ids = np.array([c['id'] for c in categories])
    weights = np.array([_FREQUENCY_WEIGHT[c['frequency']] for c in categories])
    # A few categories never get an instance: their AP is undefined (-1).
    weights[rng.random(num_categories) < unannotated_category_ratio] = 0
    weights /= weights.sum()

    images, annotations = [], []
    for img_id in range(1, num_images + 1):
        height, width = (int(v) for v in rng.integers(*image_size, size=2))
        num_anns = 0 if rng.random() < empty_image_ratio else rng.poisson(anns_per_image)
        # Instances of an image come from a handful of categories, so categories repeat.
        img_cats = rng.choice(cat_ids, size=int(rng.integers(1, 5)), p=weights)
        labels = rng.choice(img_cats, size=num_anns)
        for cat_id, box in zip(labels.tolist(), _random_boxes(rng, num_anns, height, width)):
            polygon = _octagon(box)
            rle = mask_utils.frPyObjects([polygon], height, width)
            annotations.append(
                dict(id=len(annotations) + 1, image_id=img_id, category_id=cat_id, bbox=box,
                     area=float(mask_utils.area(rle)[0]), segmentation=[polygon]))
        present = sorted(set(labels.tolist()))
        absent = np.setdiff1d(cat_ids, present)
        negatives = rng.choice(absent, size=min(len(absent), int(rng.integers(0, 8))),
                               replace=False)
        not_exhaustive = [c for c in present if rng.random() < 0.2]
        image = dict(id=img_id, height=height, width=width,
                     neg_category_ids=sorted(negatives.tolist()),
                     not_exhaustive_category_ids=not_exhaustive)
        if version == 'v1':
            image['coco_url'] = f'http://images.cocodataset.org/val2017/{img_id:012d}.jpg'
        else:
            image['file_name'] = f'{img_id:012d}.jpg'
        images.append(image)
    return dict(images=images, annotations=annotations, categories=categories,
                info=dict(description=f'synthetic LVIS {version}'))


def make_lvis_detections(gt: dict,
                         iou_type: str = 'bbox',
                         dets_per_image: int = 300,
                         crowded_ratio: float = 0.1,
                         score_decimals: int = None,
                         seed: int = 1) -> list:
    """Detections in LVIS results format for the images of ``gt``.

    Each image gets ``dets_per_image`` detections (crowded images 1.5 times as many): jittered
    copies of its instances, mostly with the right label, then random boxes of present,
    negative and unverified categories. ``score_decimals`` rounds scores to create ties.
    """
    rng = np.random.default_rng(seed)
    cat_ids = np.array([c['id'] for c in gt['categories']])
    anns_by_img = {}
    for ann in gt['annotations']:
        anns_by_img.setdefault(ann['image_id'], []).append(ann)
    results = []
    for image in gt['images']:
        img_id, height, width = image['id'], image['height'], image['width']
        num_dets = dets_per_image
        if rng.random() < crowded_ratio:
            num_dets = int(dets_per_image * 1.5)
        anns = anns_by_img.get(img_id, [])
        hits = [a for a in anns if rng.random() < 0.8][:num_dets]
        boxes = [_jitter(rng, a['bbox'], height, width) for a in hits]
        labels = [a['category_id'] if rng.random() < 0.85 else int(rng.choice(cat_ids))
                  for a in hits]
        scores = (0.3 + 0.7 * rng.random(len(hits))).tolist()
        num_random = num_dets - len(hits)
        candidates = [a['category_id'] for a in anns] + image['neg_category_ids']
        pool = np.concatenate([candidates, rng.choice(cat_ids, size=4)]).astype(int)
        boxes += _random_boxes(rng, num_random, height, width)
        labels += rng.choice(pool, size=num_random).tolist()
        scores += (0.6 * rng.random(num_random)).tolist()
        if score_decimals is not None:
            scores = np.round(scores, score_decimals).tolist()
        for box, label, score in zip(boxes, labels, scores):
            det = dict(image_id=img_id, category_id=int(label), bbox=box, score=float(score))
            if iou_type == 'segm':
                rle = mask_utils.frPyObjects([_octagon(box)], height, width)[0]
                rle['counts'] = rle['counts'].decode()
                det['segmentation'] = rle
            results.append(det)
    return results


def _make_categories(num_categories: int, version: str, rng) -> list:
    total = sum(LVIS_V1_FREQUENCY_COUNTS.values())
    counts = {f: round(n * num_categories / total) for f, n in LVIS_V1_FREQUENCY_COUNTS.items()}
    counts['f'] = num_categories - counts['r'] - counts['c']
    frequencies = [f for f, n in counts.items() for _ in range(n)]
    rng.shuffle(frequencies)
    image_count_range = dict(r=(1, 10), c=(10, 100), f=(100, 1000))
    categories = []
    for idx, frequency in enumerate(frequencies):
        cat = dict(id=idx + 1, name=f'category_{idx + 1:04d}', frequency=frequency,
                   synset=f'category_{idx + 1:04d}.n.01', synonyms=[f'category_{idx + 1:04d}'],
                   image_count=int(rng.integers(*image_count_range[frequency])))
        if version == 'v1':
            cat['instance_count'] = cat['image_count'] * 2
        categories.append(cat)
    return categories


def _random_boxes(rng, num: int, height: int, width: int) -> list:
    """Boxes [x, y, w, h] whose sizes span LVIS's small, medium and large ranges."""
    if num == 0:
        return []
    w = np.minimum(np.exp(rng.uniform(np.log(4), np.log(width), size=num)), width - 1.0)
    h = np.minimum(w * np.exp(rng.normal(0, 0.4, size=num)), height - 1.0)
    x = rng.uniform(0, width - w)
    y = rng.uniform(0, height - h)
    return np.round(np.stack([x, y, w, h], axis=1), 2).tolist()


def _jitter(rng, box: list, height: int, width: int) -> list:
    x, y, w, h = box
    dx, dy, dw, dh = rng.normal(0, 0.1, size=4) * [w, h, w, h]
    x = min(max(x + dx, 0.0), width - 1.0)
    y = min(max(y + dy, 0.0), height - 1.0)
    w = min(max(w + dw, 1.0), width - x)
    h = min(max(h + dh, 1.0), height - y)
    return [round(v, 2) for v in (x, y, w, h)]


def _octagon(box: list) -> list:
    """A polygon inside the box that cuts its corners, so mask and box IoU differ."""
    x, y, w, h = box
    cx, cy = 0.25 * w, 0.25 * h
    points = [(x + cx, y), (x + w - cx, y), (x + w, y + cy), (x + w, y + h - cy),
              (x + w - cx, y + h), (x + cx, y + h), (x, y + h - cy), (x, y + cy)]
    return [round(float(v), 2) for point in points for v in point]
