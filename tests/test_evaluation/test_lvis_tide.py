"""TIDE's error types per frequency group on detections with errors made on purpose.

Counts are derived by hand; every ΔAP50 is checked against the LVIS API run on the detections
(or ground truth) with the errors of that type fixed by hand, and the totals over all
categories against hotcoco's own ``tide_errors`` where LVIS's rules reduce to COCO's.
"""
import copy

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from lvis_eval_helpers import lvis_api_eval
from test_fast_lvis import _uncompressed_rle

from mmdet_tde.evaluation.fast_lvis import evaluate_lvis, load_lvis_annotations
from mmdet_tde.evaluation.lvis_tide import ERROR_TYPES, tide_by_frequency
from mmdet_tde.testing import make_lvis_annotations, make_lvis_detections

SIZE = 100
CATEGORIES = [(1, 'bulldog', 'r'), (2, 'dog', 'f'), (3, 'cat', 'c'), (4, 'chair', 'f')]
# name: (image, category, box)
GROUND_TRUTH = dict(A=(1, 1, [10, 10, 20, 20]), B=(1, 2, [50, 50, 20, 20]),
                    C=(2, 3, [10, 10, 40, 40]), D=(2, 4, [60, 60, 20, 20]),
                    E=(3, 4, [10, 10, 30, 30]), F=(3, 3, [60, 60, 20, 20]),
                    G=(4, 2, [10, 10, 20, 20]), H=(4, 2, [60, 60, 20, 20]))
# Image 3 is verified free of dogs, and its cats are not exhaustively annotated.
NEGATIVE = {3: [2]}
NOT_EXHAUSTIVE = {3: [3]}
# name: (image, category, box, score). D, E and H are missed.
DETECTIONS = dict(
    cls=(1, 2, GROUND_TRUTH['A'][2], 0.9),  # the rare bulldog A detected as its frequent twin
    tp_b=(1, 2, GROUND_TRUTH['B'][2], 0.8),
    bkg=(1, 2, [80, 0, 10, 10], 0.75),  # overlaps nothing
    dupe=(1, 2, [52, 50, 20, 20], 0.7),  # IoU 9/11 with B, matched before
    loc=(2, 3, [25, 10, 40, 40], 0.85),  # IoU 5/11 with C, its own category
    both=(3, 2, [25, 10, 30, 30], 0.6),  # IoU 1/3 with E, another category
    ignored=(3, 3, [0, 90, 5, 5], 0.5),  # unmatched cat of a not-exhaustive image
    tp_f=(3, 3, GROUND_TRUTH['F'][2], 0.95),
    unverified=(2, 1, GROUND_TRUTH['C'][2], 0.99),  # no bulldog in image 2 is known: dropped
    tp_g=(4, 2, GROUND_TRUTH['G'][2], 0.65))
# Each type fixed by hand: detections changed or removed, or missed ground truth removed.
FIXES = dict(Cls=dict(cls=(1, 1, GROUND_TRUTH['A'][2], 0.9)),
             Loc=dict(loc=(2, 3, GROUND_TRUTH['C'][2], 0.85)),
             Dupe=dict(dupe=None), Bkg=dict(bkg=None), Both=dict(both=None))
MISSED = ('D', 'E', 'H')


def _polygon(box):
    x, y, w, h = box
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def _ground_truth(left_out=()):
    cats = [dict(id=i, name=n, frequency=f, image_count=1, instance_count=1)
            for i, n, f in CATEGORIES]
    imgs = [dict(id=i, height=SIZE, width=SIZE, neg_category_ids=NEGATIVE.get(i, []),
                 not_exhaustive_category_ids=NOT_EXHAUSTIVE.get(i, [])) for i in range(1, 5)]
    anns = [dict(id=k, image_id=img, category_id=cat, bbox=box, area=box[2] * box[3],
                 segmentation=_polygon(box))
            for k, (name, (img, cat, box)) in enumerate(GROUND_TRUTH.items(), start=1)
            if name not in left_out]
    return dict(images=imgs, annotations=anns, categories=cats)


def _detections(changes=None):
    dets = []
    for name, value in dict(DETECTIONS, **(changes or {})).items():
        if value is None:
            continue
        img, cat, box, score = value
        rle = mask_utils.merge(mask_utils.frPyObjects(_polygon(box), SIZE, SIZE))
        dets.append(dict(image_id=img, category_id=cat, bbox=list(map(float, box)), score=score,
                         segmentation=dict(size=rle['size'], counts=rle['counts'].decode())))
    return dets


def _ap50_by_group(gt, dets, iou_type, tmp_path, evaluated):
    """Mean AP50 per group (and 'all') over the categories ``evaluated``, by the LVIS API.

    A category whose ground truth was all taken out has AP 0 (lvis_tide's convention)."""
    lvis_eval = lvis_api_eval(gt, dets, iou_type, tmp_path)
    precision = lvis_eval.eval['precision'][0, :, :, 0]  # IoU 0.5, area 'all'
    ap = {cat_id: max(float(precision[:, k].mean()), 0.0)
          for k, cat_id in enumerate(lvis_eval.params.cat_ids)}
    groups = dict(r=[], c=[], f=[], all=[])
    for cat_id, _, freq in CATEGORIES:
        if cat_id in evaluated:
            groups[freq].append(ap[cat_id])
            groups['all'].append(ap[cat_id])
    return {g: np.mean(v) for g, v in groups.items()}


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_each_error_type_counted_and_its_dap_from_the_lvis_api(iou_type, tmp_path):
    result = evaluate_lvis(load_lvis_annotations(_ground_truth()), _detections(), iou_type,
                           tide=True)
    errors = result.errors
    rows = {row['frequency']: row for row in errors['per_frequency']}
    counts = dict(r=dict.fromkeys(ERROR_TYPES, 0), c=dict(dict.fromkeys(ERROR_TYPES, 0), Loc=1),
                  f=dict(Cls=1, Loc=0, Both=1, Dupe=1, Bkg=1, Miss=3))
    counts['all'] = {t: sum(counts[g][t] for g in 'rcf') for t in ERROR_TYPES}
    for group, expected in counts.items():
        assert {t: rows[group][t] for t in ERROR_TYPES} == expected, group
    # The bulldog confused with the dog, not the dropped bulldog detection on a cat.
    assert errors['cls_confusion'] == [dict(gt_frequency='r', r=0, c=0, f=1),
                                       dict(gt_frequency='c', r=0, c=0, f=0),
                                       dict(gt_frequency='f', r=0, c=0, f=0)]
    assert [rows[g]['num_evaluated'] for g in ('r', 'c', 'f', 'all')] == [1, 1, 2, 4]

    evaluated = {cat_id for cat_id, _, _ in CATEGORIES}
    base = _ap50_by_group(_ground_truth(), _detections(), iou_type, tmp_path, evaluated)
    for group, row in rows.items():
        assert row['AP50'] == pytest.approx(base[group], abs=1e-12)
        # AP50 is the metric's own (its per-frequency AP50 averages the same categories).
    summary = {row['frequency']: row['AP50'] for row in result.per_frequency}
    assert rows['r']['AP50'] == summary['r'] == 0.0
    for error_type, change in FIXES.items():
        fixed = _ap50_by_group(_ground_truth(), _detections(change), iou_type, tmp_path,
                               evaluated)
        for group, row in rows.items():
            assert row[f'dAP_{error_type}'] == pytest.approx(fixed[group] - base[group],
                                                             abs=1e-12), (error_type, group)
    fixed = _ap50_by_group(_ground_truth(MISSED), _detections(), iou_type, tmp_path, evaluated)
    for group, row in rows.items():
        assert row['dAP_Miss'] == pytest.approx(fixed[group] - base[group], abs=1e-12), group
    # By hand: the bulldog goes from no true positive to its only one; the cat from a true
    # positive then a false one (precision 1 up to recall 0.5) to two true positives.
    assert rows['r']['dAP_Cls'] == pytest.approx(1.0, abs=1e-12)
    assert rows['c']['dAP_Loc'] == pytest.approx(50 / 101, abs=1e-12)
    assert rows['f']['dAP_Dupe'] > 0 and rows['f']['dAP_Both'] == pytest.approx(0, abs=1e-12)


def test_polygon_and_uncompressed_masks_give_the_errors_of_their_rles():
    """Mask results in any form the metric takes are compared as the same masks."""
    rles = _detections()
    polygons = [dict(d, segmentation=_polygon(d['bbox'])) for d in rles]
    uncompressed = [dict(d, segmentation=_uncompressed_rle(mask_utils.decode(d['segmentation'])))
                    for d in rles]
    expected = evaluate_lvis(load_lvis_annotations(_ground_truth()), rles, 'segm', tide=True)
    for dets in (polygons, uncompressed):
        result = evaluate_lvis(load_lvis_annotations(_ground_truth()), dets, 'segm', tide=True)
        assert result.errors == expected.errors
        assert result.summary == expected.summary


def test_groups_without_ground_truth_have_no_dap():
    gt = _ground_truth(left_out=('A', ))
    errors = evaluate_lvis(load_lvis_annotations(gt), _detections(), 'bbox', tide=True).errors
    rare = errors['per_frequency'][0]
    assert rare['frequency'] == 'r' and rare['num_evaluated'] == 0 and rare['AP50'] == -1
    assert all(rare[f'dAP_{t}'] is None for t in ERROR_TYPES)


def test_totals_equal_hotcocos_tide_where_lvis_is_coco():
    """Every category verified in every image and none not exhaustive: LVIS's rules are then
    COCO's, and the totals over all categories must be hotcoco's ``tide_errors``: the counts,
    AP50 and the ΔAP of the fixes both define alike. hotcoco fixes Cls and Loc errors
    differently (a true positive in the detection's own category, also where the ground truth
    is matched already), so their ΔAP are checked against the LVIS API above instead."""
    from hotcoco import COCO, COCOeval
    gt = make_lvis_annotations(40, 30, seed=3)
    annotated = {}
    for ann in gt['annotations']:
        annotated.setdefault(ann['image_id'], set()).add(ann['category_id'])
    cat_ids = [c['id'] for c in gt['categories']]
    for img in gt['images']:
        img['neg_category_ids'] = [c for c in cat_ids if c not in annotated.get(img['id'], ())]
        img['not_exhaustive_category_ids'] = []
    dets = make_lvis_detections(gt, 'bbox', dets_per_image=40, seed=4)
    errors = evaluate_lvis(load_lvis_annotations(copy.deepcopy(gt)), dets, 'bbox',
                           tide=True).errors
    total = errors['per_frequency'][-1]
    coco_gt = COCO(copy.deepcopy(gt))
    coco_eval = COCOeval(coco_gt, coco_gt.load_res(copy.deepcopy(dets)), 'bbox')
    coco_eval.params.max_dets = [300]
    coco_eval.evaluate()
    ref = coco_eval.tide_errors(pos_thr=0.5, bg_thr=0.1)
    assert total['AP50'] == pytest.approx(ref['ap_base'], abs=1e-12)
    assert {t: total[t] for t in ERROR_TYPES} == ref['counts']
    for error_type in ('Both', 'Dupe', 'Bkg', 'Miss'):
        assert total[f'dAP_{error_type}'] == pytest.approx(ref['delta_ap'][error_type],
                                                           abs=1e-12), error_type


def test_bad_tide_arguments():
    gt = load_lvis_annotations(_ground_truth())
    with pytest.raises(ValueError, match="iou_type is 'boundary'; allowed: bbox, segm"):
        evaluate_lvis(gt, _detections(), 'boundary', tide=True)
    with pytest.raises(ValueError, match='need 0 < bg_thr <= pos_thr < 1, got bg_thr=0.6'):
        tide_by_frequency(gt, {}, 'bbox', pos_thr=0.5, bg_thr=0.6)


def test_tool_prints_and_saves_the_errors(repo_root, tmp_path, capsys):
    """tools/eval_lvis.py --tide: the tables, and the report JSON's ``errors`` equal to
    evaluate_lvis's (run in process, as the tool's other in-process tests)."""
    import importlib.util
    import json
    spec = importlib.util.spec_from_file_location('eval_lvis', repo_root / 'tools' / 'eval_lvis.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    (tmp_path / 'gt.json').write_text(json.dumps(_ground_truth()))
    (tmp_path / 'results.json').write_text(json.dumps(_detections()))
    args = [str(tmp_path / 'results.json'), str(tmp_path / 'gt.json'), '--iou-type', 'segm']
    assert tool.main(args + ['--tide', '--report', str(tmp_path / 'lvis')]) == 0
    out = capsys.readouterr().out
    assert 'errors per frequency group (TIDE, IoU 0.5' in out and 'Cls errors' in out
    assert '+1.0000 (0)' in out  # the bulldog's ΔAP of its one Cls error (counted at the dog)
    report = json.loads((tmp_path / 'lvis.segm_report.json').read_text())
    expected = evaluate_lvis(load_lvis_annotations(_ground_truth()), _detections(), 'segm',
                             tide=True).errors
    assert report['errors'] == json.loads(json.dumps(expected))
    assert tool.main(args + ['--report', str(tmp_path / 'plain')]) == 0
    assert 'errors' not in json.loads((tmp_path / 'plain.segm_report.json').read_text())
    with pytest.raises(SystemExit) as exit_info:
        tool.parse_args(args[:2] + ['--iou-type', 'boundary', '--tide'])
    assert exit_info.value.code == 2
    assert "--tide works with --iou-type 'bbox' or 'segm', not 'boundary'" in \
        capsys.readouterr().err


def test_metric_logs_and_saves_the_errors(tmp_path):
    import json

    import torch
    from mmengine.evaluator import Evaluator

    from mmdet.registry import METRICS
    (tmp_path / 'gt.json').write_text(json.dumps(_ground_truth()))
    samples = []
    for img_id in range(1, 5):
        dets = [d for d in _detections() if d['image_id'] == img_id]
        xywh = torch.tensor([d['bbox'] for d in dets]).reshape(-1, 4)
        samples.append(dict(img_id=img_id, ori_shape=(SIZE, SIZE), pred_instances=dict(
            bboxes=torch.cat([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], dim=1),
            scores=torch.tensor([d['score'] for d in dets]),
            labels=torch.tensor([d['category_id'] - 1 for d in dets], dtype=torch.long))))
    metric = METRICS.build(dict(type='FastLVISMetric', ann_file=str(tmp_path / 'gt.json'),
                                outfile_prefix=str(tmp_path / 'out'), tide=True))
    evaluator = Evaluator(metric)
    evaluator.process(data_samples=samples)
    evaluator.evaluate(len(samples))
    report = json.loads((tmp_path / 'out.bbox_report.json').read_text())
    expected = evaluate_lvis(load_lvis_annotations(_ground_truth()), _detections(), 'bbox',
                             tide=True).errors
    assert report['errors'] == json.loads(json.dumps(expected))
    with pytest.raises(ValueError, match="tide=True needs metric 'bbox' or 'segm'"):
        METRICS.build(dict(type='FastLVISMetric', ann_file=str(tmp_path / 'gt.json'),
                           metric='boundary', tide=True))
