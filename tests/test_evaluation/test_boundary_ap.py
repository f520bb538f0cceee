"""Boundary AP against a numpy Boundary IoU and the LVIS API's matching.

Boundary IoU (Cheng et al., "Boundary IoU: Improving Object-Centric Image Segmentation
Evaluation", CVPR 2021, arXiv:2103.16562): a mask's boundary region is the mask minus its
erosion by d pixels, d = round(0.02 * image diagonal), at least 1; pixels within d of the image
border count as boundary, so a mask cut by the border has a boundary there. Boundary AP
matches by min(mask IoU, boundary IoU), as the authors' LVIS evaluation and faster-coco-eval's
``iouType='boundary'`` do. Written here from that definition, independently of both.
"""
import copy
import json

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from faster_coco_eval import COCO, COCOeval_faster
from lvis_eval_helpers import LVIS, LVISEval, LVISResults, assert_same_as_lvis_api
from test_zero_area import _segm_case

from mmdet_tde.evaluation.fast_lvis import (FIXED_METRIC_NAMES, METRIC_NAMES, evaluate_lvis,
                                            evaluate_lvis_fixed, load_lvis_annotations)
from mmdet_tde.testing import make_lvis_annotations, make_lvis_detections

TOL = 1e-12


def boundary_width(height: int, width: int) -> int:
    return max(1, int(round(0.02 * np.hypot(height, width))))


def boundary_region(mask: np.ndarray) -> np.ndarray:
    """Mask pixels with a non-mask pixel (outside the image counts) within d in both axes.

    That is the mask minus its erosion by a (2d+1) x (2d+1) square, i.e. by the 3 x 3 square
    applied d times, the paper's erosion.
    """
    mask = mask.astype(bool)
    height, width = mask.shape
    d = boundary_width(height, width)
    padded = np.zeros((height + 2 * d, width + 2 * d), dtype=bool)
    padded[d:d + height, d:d + width] = mask
    eroded = np.ones_like(mask)
    for dy in range(2 * d + 1):
        for dx in range(2 * d + 1):
            eroded &= padded[dy:dy + height, dx:dx + width]
    return mask & ~eroded


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two binary masks; 0 when both are empty, as pycocotools and faster-coco-eval."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def boundary_ap_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """min(mask IoU, boundary IoU): the IoU Boundary AP matches with."""
    return min(iou(pred, gt), iou(boundary_region(pred), boundary_region(gt)))


def _decode(rle: dict) -> np.ndarray:
    counts = rle['counts']
    return mask_utils.decode(dict(size=rle['size'], counts=counts.encode()
                                  if isinstance(counts, str) else counts)).astype(bool)


class BoundaryLVISEval(LVISEval):
    """The LVIS API (lvis 0.5.3) with its mask IoU replaced by the numpy Boundary AP IoU.

    What the Boundary IoU authors did to the LVIS API for their LVIS evaluation; the rest of
    LVIS evaluation (federated rules, area ranges, accumulation) stays the LVIS API's.
    """

    def compute_iou(self, img_id, cat_id):
        gt, dt = self._get_gt_dt(img_id, cat_id)
        if not gt or not dt:
            return []
        order = np.argsort([-d['score'] for d in dt], kind='mergesort')
        gt_masks = [_decode(g['segmentation']) for g in gt]
        return np.array([[boundary_ap_iou(_decode(dt[i]['segmentation']), g) for g in gt_masks]
                         for i in order])


def boundary_reference(gt: dict, dets: list, tmp_path, max_dets=300) -> BoundaryLVISEval:
    ann_file = tmp_path / f'boundary_ref_gt_{id(gt)}.json'
    ann_file.write_text(json.dumps(gt))
    lvis_gt = LVIS(str(ann_file))
    lvis_eval = BoundaryLVISEval(lvis_gt, LVISResults(lvis_gt, copy.deepcopy(dets), max_dets),
                                 'segm')
    lvis_eval.params.max_dets = max_dets
    lvis_eval.run()
    return lvis_eval


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=rle['size'], counts=rle['counts'].decode())


def _mask_pairs():
    """(image size, prediction, ground truth) pairs: d = 1 (clamped up from 0.28), 1, 2 (from
    1.72), 3 (from 2.97); masks at the image border, with holes, thin, shifted, identical."""
    rng = np.random.default_rng(31)
    pairs = []
    for height, width in [(9, 11), (30, 40), (50, 70), (100, 110)]:
        for _ in range(4):
            gt = np.zeros((height, width), bool)
            y0, x0 = rng.integers(0, height // 2), rng.integers(0, width // 2)
            gt[y0:y0 + rng.integers(2, height), x0:x0 + rng.integers(2, width)] = True
            pred = np.roll(gt, tuple(rng.integers(-3, 4, size=2)), axis=(0, 1))
            pred ^= rng.random((height, width)) < 0.05  # ragged edge and holes
            pairs.append(((height, width), pred, gt))
        pairs.append(((height, width), gt.copy(), gt))  # identical: IoU 1
        thin = np.zeros((height, width), bool)
        thin[:, width // 3] = True  # all boundary
        pairs.append(((height, width), thin, gt))
    return pairs


def test_faster_coco_eval_boundary_ious_match_numpy():
    """faster-coco-eval's IoU matrix for iouType='boundary' is min(mask IoU, boundary IoU)
    with boundary width round(0.02 * diagonal), at least 1."""
    pairs = _mask_pairs()
    images = [dict(id=i + 1, height=s[0], width=s[1]) for i, (s, _, _) in enumerate(pairs)]
    gt = COCO(dict(images=images, categories=[dict(id=1, name='a')], annotations=[
        dict(id=i + 1, image_id=i + 1, category_id=1, iscrowd=0, segmentation=_rle(g),
             area=float(g.sum()), bbox=mask_utils.toBbox(_rle(g)).tolist())
        for i, (_, _, g) in enumerate(pairs)]))
    dets = [dict(image_id=i + 1, category_id=1, score=0.5, segmentation=_rle(p))
            for i, (_, p, _) in enumerate(pairs)]
    coco_eval = COCOeval_faster(gt, gt.loadRes(dets), 'boundary', print_function=lambda *a: 0)
    coco_eval.evaluate()

    diffs, mask_ious, boundary_ious = [], [], []
    for img_id, (_, pred, g) in enumerate(pairs, start=1):
        value = float(np.asarray(coco_eval.ious[img_id, 1])[0, 0])
        diffs.append(abs(value - boundary_ap_iou(pred, g)))
        mask_ious.append(iou(pred, g))
        boundary_ious.append(iou(boundary_region(pred), boundary_region(g)))
    assert max(diffs) < TOL, max(diffs)
    # Both terms of the min decide somewhere, at d = 1, 2 and 3.
    assert any(b < m for b, m in zip(boundary_ious, mask_ious))
    assert any(b > m for b, m in zip(boundary_ious, mask_ious))
    assert {boundary_width(*s) for s, _, _ in pairs} == {1, 2, 3}
    assert boundary_width(9, 11) == 1 and round(0.02 * np.hypot(9, 11)) == 0


def test_boundary_region_of_a_square():
    """A hand-checked case: 6 x 6 square in a 50 x 50 image (d = 1) has a 20-pixel ring; at
    the image corner, the border sides count as boundary."""
    mask = np.zeros((50, 50), bool)
    mask[10:16, 10:16] = True
    assert boundary_width(50, 50) == 1
    assert boundary_region(mask).sum() == 36 - 16
    corner = np.zeros((50, 50), bool)
    corner[:6, :6] = True
    assert boundary_region(corner).sum() == 36 - 16


def _tiny_case():
    """Small images (d from 1 to 4): near copies of the ground truth (shifted by up to a pixel,
    ragged edges), so that AP spans the IoU thresholds, plus synthetic detections."""
    gt = make_lvis_annotations(16, 12, anns_per_image=3.0, image_size=(20, 130), seed=41)
    dets = make_lvis_detections(gt, 'segm', dets_per_image=30, crowded_ratio=0.0, seed=42)
    imgs = {i['id']: i for i in gt['images']}
    rng = np.random.default_rng(43)
    for ann in gt['annotations']:
        img = imgs[ann['image_id']]
        rle = mask_utils.merge(mask_utils.frPyObjects(ann['segmentation'], img['height'],
                                                      img['width']))
        mask = np.roll(_decode(rle), tuple(rng.integers(-1, 2, size=2)), axis=(0, 1))
        if rng.random() < 0.5:
            mask ^= rng.random(mask.shape) < 0.02
        dets.append(dict(image_id=ann['image_id'], category_id=ann['category_id'],
                         score=float(rng.random()), segmentation=_rle(mask)))
        dets[-1]['bbox'] = mask_utils.toBbox(dets[-1]['segmentation']).tolist()
    return gt, dets


@pytest.mark.parametrize('case', ['tiny', 'zero area without boxes', 'zero area with boxes'])
def test_boundary_ap_matches_reference(case, tmp_path):
    if case == 'tiny':
        gt, dets = _tiny_case()
    else:  # the zero-area cases of test_zero_area.py, evaluated as Boundary AP
        gt, dets, _ = _segm_case(case.endswith('with boxes'))
    ref = boundary_reference(gt, dets, tmp_path)
    result = evaluate_lvis(load_lvis_annotations(copy.deepcopy(gt)), copy.deepcopy(dets),
                           'boundary')
    assert_same_as_lvis_api(result, ref, TOL)
    # Boundary AP is stricter than mask AP on these masks.
    segm = evaluate_lvis(load_lvis_annotations(copy.deepcopy(gt)), copy.deepcopy(dets), 'segm')
    assert result.summary['AP'] < segm.summary['AP'] - 1e-3


def test_boundary_ap_fixed_matches_reference(tmp_path):
    """Boundary AP under Fixed AP's selection (small K so that it binds)."""
    gt, dets = _tiny_case()
    k = 25
    top_k = []
    for cat_id in sorted({d['category_id'] for d in dets}):
        cat_dets = [d for d in dets if d['category_id'] == cat_id]
        top_k += sorted(cat_dets, key=lambda d: d['score'], reverse=True)[:k]
    assert len(top_k) < len(dets)
    ref = boundary_reference(gt, top_k, tmp_path, max_dets=-1).get_results()
    result = evaluate_lvis_fixed(load_lvis_annotations(copy.deepcopy(gt)), copy.deepcopy(dets),
                                 'boundary', max_dets_per_cat=k)
    for name, fixed in zip(METRIC_NAMES[:-1] + ('AR@-1', ), FIXED_METRIC_NAMES):
        assert result.summary[fixed] == pytest.approx(float(ref[name]), abs=TOL), name
