"""Zero-area ground truth and detections: the fast evaluator against the LVIS API.

The LVIS API leaves out everything of area 0 (empty masks, boxes of zero width or height, an
``area`` of 0 in the annotation file); faster-coco-eval alone would count such ground truth as
misses and such detections as false positives.
"""
import copy

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from lvis_eval_helpers import assert_same_as_lvis_api, lvis_api_eval

from mmdet_tde.evaluation.fast_lvis import evaluate_lvis, load_lvis_annotations
from mmdet_tde.testing import make_lvis_annotations, make_lvis_detections

TOL = 1e-12


def _empty_rle(img: dict) -> dict:
    rle = mask_utils.encode(np.zeros((img['height'], img['width'], 1), np.uint8, order='F'))[0]
    return dict(size=rle['size'], counts=rle['counts'].decode())


def _zero_ground_truth(gt: dict, dets: list, iou_type: str, every: int) -> list:
    """Give every ``every``-th annotation area 0, plus the only instance of its category in an
    image where that category is detected, plus all instances of one category.

    Masks become empty (as the area says) for ``segm``; for ``bbox`` only the ``area`` field is
    0, as the LVIS API selects ground truth by it. Returns the zeroed annotations.
    """
    imgs = {img['id']: img for img in gt['images']}
    anns_of = {}
    for ann in gt['annotations']:
        anns_of.setdefault((ann['image_id'], ann['category_id']), []).append(ann)
    detected = {(d['image_id'], d['category_id']) for d in dets}
    # Then the category is no longer present in that image and its detections there no longer
    # count: the LVIS API drops them, as for any unverified category.
    sole = [anns[0] for key, anns in sorted(anns_of.items()) if len(anns) == 1 and key in detected]
    per_cat = {}
    for ann in gt['annotations']:
        per_cat.setdefault(ann['category_id'], []).append(ann)
    # Without evaluated ground truth the category's AP becomes undefined.
    smallest = min(per_cat.values(), key=len)
    zeroed = {id(a): a for a in gt['annotations'][::every] + sole[:3] + smallest}
    for ann in zeroed.values():
        ann['area'] = 0.0
        if iou_type == 'segm':
            ann['segmentation'] = _empty_rle(imgs[ann['image_id']])
            ann['bbox'] = [0.0, 0.0, 0.0, 0.0]
    assert len(sole) >= 3 and len(smallest) <= 2
    return list(zeroed.values())


def _segm_case(with_boxes: bool):
    """60 small images; 2 in 30 detection masks empty; with boxes, 1 in 37 boxes zero-width."""
    gt = make_lvis_annotations(60, 30, anns_per_image=2.0, image_size=(40, 100), seed=21)
    dets = make_lvis_detections(gt, 'segm', dets_per_image=6, crowded_ratio=0.0, seed=22)
    imgs = {img['id']: img for img in gt['images']}
    zeroed = _zero_ground_truth(gt, dets, 'segm', every=40)
    for det in dets[::15]:
        det['segmentation'] = _empty_rle(imgs[det['image_id']])
    if with_boxes:
        # The area comes from the box then: a zero-width box is left out, an empty mask with a
        # box is not (it is a false positive in both).
        for det in dets[7::37]:
            det['bbox'][2] = 0.0
    else:
        for det in dets:
            del det['bbox']
    return gt, dets, zeroed


def _bbox_case():
    """Boxes of zero width or height (every 37th) and ground truth of area 0 (every 53rd)."""
    gt = make_lvis_annotations(200, 30, anns_per_image=4.0, seed=23)
    dets = make_lvis_detections(gt, 'bbox', dets_per_image=40, crowded_ratio=0.0, seed=24)
    zeroed = _zero_ground_truth(gt, dets, 'bbox', every=53)
    for idx, det in enumerate(dets[::37]):
        det['bbox'][2 + idx % 2] = 0.0
    # A zero-width ground-truth box whose area stays is evaluated by both (IoU 0 with all).
    for ann in gt['annotations'][5::97]:
        ann['bbox'][2] = 0.0
    return gt, dets, zeroed


@pytest.mark.parametrize('case', ['segm without boxes', 'segm with boxes', 'bbox'])
def test_zero_area_matches_lvis_api(case, tmp_path):
    if case == 'bbox':
        iou_type, (gt, dets, zeroed) = 'bbox', _bbox_case()
    else:
        iou_type, (gt, dets, zeroed) = 'segm', _segm_case(case == 'segm with boxes')
    zero_dets = [d for d in dets if ('bbox' in d and d['bbox'][2] * d['bbox'][3] == 0)
                 or ('bbox' not in d and mask_utils.area(d['segmentation']) == 0)]
    assert zeroed and zero_dets
    ref = lvis_api_eval(gt, dets, iou_type, tmp_path)
    result = evaluate_lvis(load_lvis_annotations(copy.deepcopy(gt)), copy.deepcopy(dets),
                           iou_type)

    ref_summary, ref_cat_ap = assert_same_as_lvis_api(result, ref, TOL)
    for row in result.per_frequency:
        assert row['AP'] == pytest.approx(float(ref_summary['AP' + row['frequency']]), abs=TOL)
    # A category whose ground truth all has area 0 is not evaluated (AP -1), as in the LVIS API.
    annotated = {a['category_id'] for a in gt['annotations']}
    assert any(ref_cat_ap[c] == -1 for c in annotated)
    # Reported ground-truth counts are the evaluated instances.
    num_gt = {row['category_id']: row['num_gt'] for row in result.per_category}
    assert sum(num_gt.values()) == len(gt['annotations']) - len(zeroed)


def test_annotation_area_is_required():
    gt = make_lvis_annotations(5, 4, seed=25)
    del gt['annotations'][2]['area']
    with pytest.raises(ValueError, match=r"annotations\[2\] \(id=3\): field 'area' is None"):
        load_lvis_annotations(gt)
