"""The fast LVIS evaluator against the LVIS API (lvis 0.5.3) on synthetic LVIS data."""
import copy
import json
import subprocess
import sys

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from lvis_eval_helpers import (LVISResults, assert_same_as_lvis_api, drop_categories,
                               lvis_api_eval, top_dicts)

from mmdet_tde.evaluation.fast_lvis import (METRIC_NAMES, check_results, evaluate_lvis,
                                            load_lvis_annotations, load_results)
from mmdet_tde.testing import make_lvis_annotations, make_lvis_detections

TOL = 1e-12


def _with_rle_ground_truth(gt: dict) -> dict:
    """Every third mask as compressed RLE, every fifth as uncompressed RLE; the rest polygons."""
    gt = copy.deepcopy(gt)
    imgs = {img['id']: img for img in gt['images']}
    for idx, ann in enumerate(gt['annotations']):
        img = imgs[ann['image_id']]
        if idx % 3 == 0:
            rle = mask_utils.merge(
                mask_utils.frPyObjects(ann['segmentation'], img['height'], img['width']))
            ann['segmentation'] = dict(size=rle['size'], counts=rle['counts'].decode())
        elif idx % 5 == 0:
            mask = mask_utils.decode(mask_utils.merge(
                mask_utils.frPyObjects(ann['segmentation'], img['height'], img['width'])))
            ann['segmentation'] = _uncompressed_rle(mask)
    return gt


def _uncompressed_rle(mask: np.ndarray) -> dict:
    flat = mask.flatten(order='F')
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0]:
        counts = [0] + counts
    return dict(size=list(mask.shape), counts=counts)


def _case(version, iou_type, score_decimals, det_polygons=False, seed=0):
    gt = make_lvis_annotations(60, 40, version=version, seed=seed)
    dets = make_lvis_detections(gt, iou_type, dets_per_image=220, crowded_ratio=0.25,
                                score_decimals=score_decimals, seed=seed + 1)
    if iou_type == 'segm':
        gt = _with_rle_ground_truth(gt)
        if det_polygons:
            for det in dets[::2]:
                x, y, w, h = det['bbox']
                det['segmentation'] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
    # Categories with ground truth but no detection, and images with ground truth but none.
    annotated = sorted({a['category_id'] for a in gt['annotations']})
    dets = drop_categories(dets, annotated[:3])
    dets = [d for d in dets if d['image_id'] > 5]
    _assert_covers_lvis_rules(gt, dets)
    return gt, dets


def _assert_covers_lvis_rules(gt, dets):
    """The data must exercise every LVIS rule, or equality proves little."""
    cats_with_gt = {a['category_id'] for a in gt['annotations']}
    imgs_with_gt = {a['image_id'] for a in gt['annotations']}
    det_cats = {d['category_id'] for d in dets}
    assert len(imgs_with_gt) < len(gt['images']), 'no image without annotations'
    assert len(cats_with_gt) < len(gt['categories']), 'no category without ground truth'
    assert cats_with_gt - det_cats, 'no annotated category missing from the results'
    assert max(np.bincount([d['image_id'] for d in dets])) > 300, 'no image over 300 dets'
    assert any(img['neg_category_ids'] for img in gt['images'])
    assert any(img['not_exhaustive_category_ids'] for img in gt['images'])
    assert {c['frequency'] for c in gt['categories'] if c['id'] in cats_with_gt} == set('rcf')
    present = {(a['image_id'], a['category_id']) for a in gt['annotations']}
    negative = {(img['id'], c) for img in gt['images'] for c in img['neg_category_ids']}
    assert any((d['image_id'], d['category_id']) not in present | negative for d in dets), \
        'no detection of an unverified category (which LVIS drops)'


@pytest.mark.parametrize('version,iou_type,score_decimals,det_polygons', [
    ('v1', 'bbox', None, False),
    ('v0.5', 'bbox', 2, False),
    ('v1', 'segm', None, False),
    ('v0.5', 'segm', 2, True),
])
def test_matches_lvis_api(version, iou_type, score_decimals, det_polygons, tmp_path):
    gt, dets = _case(version, iou_type, score_decimals, det_polygons)
    ref = lvis_api_eval(gt, dets, iou_type, tmp_path)
    result = evaluate_lvis(load_lvis_annotations(copy.deepcopy(gt)), copy.deepcopy(dets), iou_type)

    ref_summary, ref_cat_ap = assert_same_as_lvis_api(result, ref, TOL)
    assert sum(ap < 0 for ap in ref_cat_ap.values()) > 0  # undefined categories reported as -1
    for row in result.per_frequency:
        assert row['AP'] == pytest.approx(float(ref_summary['AP' + row['frequency']]), abs=TOL)
    num_gt = np.bincount([a['category_id'] for a in gt['annotations']], minlength=41)
    assert [row['num_gt'] for row in result.per_category] == num_gt[1:].tolist()


def test_limit_dets_per_image_keeps_what_lvis_api_keeps():
    gt = make_lvis_annotations(20, 10, seed=3)
    dets = make_lvis_detections(gt, dets_per_image=250, crowded_ratio=0.5, score_decimals=1,
                                seed=4)
    for uid, det in enumerate(dets):
        det['uid'] = uid
    ours = top_dicts(dets, 'image_id', 300)
    ref = LVISResults.limit_dets_per_image(None, dets, 300)
    assert sorted(d['uid'] for d in ours) == sorted(d['uid'] for d in ref)
    assert len(ours) < len(dets)
    assert [d['uid'] for d in ours] == sorted(d['uid'] for d in ours)  # input order kept


def test_empty_results_give_zeros(tmp_path):
    gt = make_lvis_annotations(30, 20, seed=5)
    result = evaluate_lvis(load_lvis_annotations(gt), [], 'bbox')
    # The LVIS API cannot take an empty list; one detection of an unverified category,
    # which it drops, is the same evaluation.
    img = gt['images'][0]
    present = {a['category_id'] for a in gt['annotations'] if a['image_id'] == img['id']}
    unverified = next(c['id'] for c in gt['categories']
                      if c['id'] not in present and c['id'] not in img['neg_category_ids'])
    ref = lvis_api_eval(gt, [dict(image_id=img['id'], category_id=unverified,
                                  bbox=[1, 1, 5, 5], score=0.5)], 'bbox', tmp_path)
    assert result.summary == pytest.approx({k: float(v) for k, v in ref.get_results().items()
                                            if k in METRIC_NAMES}, abs=TOL)
    assert result.summary['AP'] == 0
    assert set(result.summary.values()) <= {0.0, -1.0}


def test_lvis_api_patch_is_local_to_lvis():
    import lvis.eval
    assert lvis.eval.np.float is float
    assert not hasattr(np, 'float')  # numpy itself is untouched
    assert lvis.eval.np.cumsum is np.cumsum


@pytest.mark.slow
def test_lvis_api_crashes_under_numpy2_without_the_patch(tmp_path):
    gt = make_lvis_annotations(5, 4, seed=6)
    (tmp_path / 'gt.json').write_text(json.dumps(gt))
    (tmp_path / 'dt.json').write_text(json.dumps(make_lvis_detections(gt, dets_per_image=5)))
    code = ('from lvis import LVISEval; '
            f"LVISEval('{tmp_path / 'gt.json'}', '{tmp_path / 'dt.json'}', 'bbox').run()")
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    if np.lib.NumpyVersion(np.__version__) < '1.24.0':
        pytest.skip('numpy still has np.float')
    assert proc.returncode != 0
    assert "has no attribute 'float'" in proc.stderr


@pytest.fixture(scope='module')
def small_gt():
    gt = make_lvis_annotations(10, 8, seed=7)
    return gt, load_lvis_annotations(copy.deepcopy(gt)), make_lvis_detections(
        gt, 'segm', dets_per_image=4, seed=8)


def _set(idx, key, value):
    def mutate(dets):
        dets[idx][key] = value
    return mutate


def _delete(idx, key):
    def mutate(dets):
        del dets[idx][key]
    return mutate


@pytest.mark.parametrize('iou_type,mutate,error', [
    ('bbox', _set(3, 'image_id', 10**6),
     r"results\[3\]: field 'image_id' is 1000000, which is not an image id"),
    ('bbox', _set(2, 'image_id', '1'), r"results\[2\]: field 'image_id' is '1'"),
    ('bbox', _set(1, 'category_id', 999),
     r"results\[1\]: field 'category_id' is 999, which is not a category id"),
    ('bbox', _set(4, 'bbox', [1, 2, 3]),
     r"results\[4\]: field 'bbox' is \[1, 2, 3\]; allowed: \[x, y, width, height\]"),
    ('bbox', _set(4, 'bbox', [1, 2, 3, 4, 5]), r"results\[4\]: field 'bbox' .*4 numbers"),
    ('bbox', _set(5, 'bbox', [1, 2, -3, 4]),
     r"results\[5\]: field 'bbox' is \[1.0, 2.0, -3.0, 4.0\]; width and height must be >= 0"),
    ('bbox', _set(5, 'bbox', [1, 2, 3, -0.5]), r'width and height must be >= 0'),
    ('bbox', _set(6, 'bbox', [1, 2, float('inf'), 4]), r"results\[6\].*allowed: finite numbers"),
    ('bbox', _set(0, 'score', float('nan')),
     r"results\[0\]: field 'score' is nan; allowed: a finite number"),
    ('bbox', _set(7, 'score', float('-inf')), r"results\[7\]: field 'score' is -inf"),
    ('bbox', _set(7, 'score', 'high'), r"results\[7\]: field 'score' is 'high'; allowed: a number"),
    ('bbox', _delete(2, 'score'), r"results\[2\] has no 'score' field"),
    ('bbox', _delete(2, 'bbox'), r"results\[2\] has no 'bbox' field"),
    ('segm', _delete(3, 'segmentation'), r"results\[3\] has no 'segmentation' field"),
    ('segm', _set(3, 'segmentation', dict(size=[5, 5], counts='0')),
     r"results\[3\]: field 'segmentation' has size \[5, 5\], but image \d+ is"),
    ('segm', _set(3, 'segmentation', [[1, 2, 3]]),
     r"results\[3\]: field 'segmentation' is neither"),
    ('segm', _delete(3, 'bbox'), r"results\[3\] has no 'bbox' field"),
])
def test_bad_results_are_named(small_gt, iou_type, mutate, error):
    _, coco_gt, dets = small_gt
    dets = copy.deepcopy(dets)
    mutate(dets)
    with pytest.raises(ValueError, match=error):
        evaluate_lvis(coco_gt, dets, iou_type)


def test_bad_arguments(small_gt):
    _, coco_gt, dets = small_gt
    with pytest.raises(ValueError, match="iou_type is 'keypoints'; allowed: bbox, segm"):
        check_results(dets, coco_gt, 'keypoints')
    with pytest.raises(ValueError, match='results must be a list of detections, got dict'):
        check_results(dets[0], coco_gt, 'bbox')
    with pytest.raises(ValueError, match=r'results\[1\] must be a dict, got int'):
        check_results([dets[0], 5], coco_gt, 'bbox')


@pytest.mark.parametrize('mutate,error', [
    (lambda gt: gt['categories'][0].pop('frequency'),
     r"categories\[0\] \(id=1\): field 'frequency' is None; allowed: 'r', 'c', 'f'"),
    (lambda gt: gt['categories'][2].update(frequency='x'), r"field 'frequency' is 'x'"),
    (lambda gt: gt['images'][1].pop('neg_category_ids'),
     r"images\[1\] \(id=2\): field 'neg_category_ids' is missing or not a list"),
    (lambda gt: gt['images'][0].pop('not_exhaustive_category_ids'),
     r"field 'not_exhaustive_category_ids' is missing"),
    (lambda gt: gt.pop('categories'), r"LVIS annotations need a list 'categories'"),
])
def test_bad_annotations_are_named(small_gt, mutate, error):
    gt = copy.deepcopy(small_gt[0])
    mutate(gt)
    with pytest.raises(ValueError, match=error):
        load_lvis_annotations(gt)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='annotation file not found: .*nope.json'):
        load_lvis_annotations(str(tmp_path / 'nope.json'))
    with pytest.raises(FileNotFoundError, match='results file not found'):
        load_results(str(tmp_path / 'nope.json'))
    (tmp_path / 'broken.json').write_text('[{"image_id": 1,')
    with pytest.raises(ValueError, match='results file .*broken.json is not valid JSON'):
        load_results(str(tmp_path / 'broken.json'))
    (tmp_path / 'dict.json').write_text('{"image_id": 1}')
    with pytest.raises(ValueError, match='must hold a JSON list of detections, got a JSON dict'):
        load_results(str(tmp_path / 'dict.json'))


def test_masks_of_unverified_categories_only(tmp_path):
    """An image with no ground truth, verified absent for one category, detected only as another
    (regression: faster-coco-eval failed on masks when it dropped all of an image's detections)."""
    gt = make_lvis_annotations(30, 20, seed=7)
    dets = make_lvis_detections(gt, 'segm', dets_per_image=20, seed=8)
    img = gt['images'][0]
    gt['annotations'] = [a for a in gt['annotations'] if a['image_id'] != img['id']]
    annotated = sorted({a['category_id'] for a in gt['annotations']})
    img['neg_category_ids'] = annotated[:1]
    img['not_exhaustive_category_ids'] = []
    donor = next(d for d in dets if d['image_id'] == img['id'])
    dets = [d for d in dets if d['image_id'] != img['id']]
    dets.append(dict(donor, category_id=annotated[1]))
    ref = lvis_api_eval(gt, dets, 'segm', tmp_path)
    result = evaluate_lvis(load_lvis_annotations(copy.deepcopy(gt)), copy.deepcopy(dets), 'segm')
    ref_summary = ref.get_results()
    for name in METRIC_NAMES:
        assert result.summary[name] == pytest.approx(float(ref_summary[name]), abs=TOL), name
