"""Fixed AP against the LVIS API run as the authors of Fixed AP run it.

Dave et al., "Evaluating Large-Vocabulary Object Detectors: The Devil is in the Details",
arXiv:2102.01066: keep the top 10,000 detections of each category by score over the whole
dataset, then evaluate with the LVIS API without its per-image limit
(``LVISResults(gt, dets, max_dets=-1)``, ``params.max_dets = -1``).
"""
import copy
import json

import numpy as np
import pytest
from lvis_eval_helpers import (LVIS, LVISEval, LVISResults, lvis_api_per_category_ap,
                               top_dicts)
from test_eval_lvis_tool import METRIC_KEYS, _tool_main
from test_fast_lvis import _case
from test_fast_lvis_metric import _run, lvis_case  # noqa: F401 (a fixture)

from mmdet_tde.evaluation import FastLVISMetric
from mmdet_tde.evaluation.fast_lvis import (FIXED_METRIC_NAMES, METRIC_NAMES, evaluate_lvis,
                                            evaluate_lvis_fixed, load_lvis_annotations)
from mmdet_tde.testing import make_lvis_annotations, make_lvis_detections

TOL = 1e-12
# The LVIS API's names for Fixed AP's numbers (its recall key carries max_dets = -1).
LVIS_API_NAMES = dict(zip(FIXED_METRIC_NAMES, METRIC_NAMES[:-1] + ('AR@-1', )))


def top_k_per_category(dets: list, k: int) -> list:
    """The authors' selection, in plain Python: per category, the first k by score."""
    by_cat = {}
    for det in dets:
        by_cat.setdefault(det['category_id'], []).append(det)
    return [det for cat_dets in by_cat.values()
            for det in sorted(cat_dets, key=lambda d: d['score'], reverse=True)[:k]]


def lvis_api_fixed_eval(gt: dict, dets: list, iou_type: str, tmp_path, k=10_000) -> LVISEval:
    ann_file = tmp_path / f'fixed_ref_gt_{id(gt)}.json'
    ann_file.write_text(json.dumps(gt))
    lvis_gt = LVIS(str(ann_file))
    results = LVISResults(lvis_gt, copy.deepcopy(top_k_per_category(dets, k)), max_dets=-1)
    lvis_eval = LVISEval(lvis_gt, results, iou_type)
    lvis_eval.params.max_dets = -1  # no limit per image
    lvis_eval.run()
    return lvis_eval


def assert_matches(result, ref: LVISEval) -> float:
    """Summary and per-category AP equal; returns the largest difference."""
    ref_summary = ref.get_results()
    diffs = [abs(result.summary[name] - float(ref_summary[LVIS_API_NAMES[name]]))
             for name in FIXED_METRIC_NAMES]
    ref_cat_ap = lvis_api_per_category_ap(ref)
    diffs += [abs(row['AP_fixed'] - ref_cat_ap[row['category_id']])
              for row in result.per_category]
    assert max(diffs) < TOL, max(diffs)
    return max(diffs)


def _big_category_case():
    """One category with more than 10,000 detections, all in images where it is annotated or
    verified absent (so exactly 10,000 are evaluated), ties at the cut, more than 300
    detections per image, true positives above and below the cut."""
    gt = make_lvis_annotations(20, 8, anns_per_image=4.0, image_size=(60, 200), seed=51)
    dets = make_lvis_detections(gt, 'bbox', dets_per_image=20, crowded_ratio=0.0, seed=52)
    counts = np.bincount([a['category_id'] for a in gt['annotations']])
    cat_id = int(counts.argmax())
    annotated = {a['image_id'] for a in gt['annotations'] if a['category_id'] == cat_id}
    for img in gt['images']:
        if img['id'] not in annotated and cat_id not in img['neg_category_ids']:
            img['neg_category_ids'] = sorted(img['neg_category_ids'] + [cat_id])
    rng = np.random.default_rng(53)
    for ann in gt['annotations']:
        if ann['category_id'] == cat_id:
            for low in (False, True):
                x, y, w, h = ann['bbox']
                box = [x + rng.normal(0, 0.05 * w), y + rng.normal(0, 0.05 * h), w, h]
                score = rng.uniform(0, 0.02) if low else rng.uniform(0.3, 1)
                dets.append(dict(image_id=ann['image_id'], category_id=cat_id,
                                 bbox=[round(float(v), 2) for v in box], score=round(score, 3)))
    for img_id in rng.integers(1, 21, size=10_400).tolist():
        box = [rng.uniform(0, 140), rng.uniform(0, 40), *rng.uniform(5, 50, size=2)]
        dets.append(dict(image_id=img_id, category_id=cat_id, score=round(rng.random(), 3),
                         bbox=[round(float(v), 2) for v in box]))
    return gt, dets, cat_id


def test_fixed_ap_cuts_at_10000_per_category(tmp_path):
    gt, dets, cat_id = _big_category_case()
    assert sum(d['category_id'] == cat_id for d in dets) > 10_000
    assert max(np.bincount([d['image_id'] for d in dets])) > 300
    ref = lvis_api_fixed_eval(gt, dets, 'bbox', tmp_path)
    result = evaluate_lvis_fixed(load_lvis_annotations(copy.deepcopy(gt)), copy.deepcopy(dets),
                                 'bbox')
    assert_matches(result, ref)
    row = next(r for r in result.per_category if r['category_id'] == cat_id)
    assert row['num_dets'] == 10_000
    assert sum(len(v) for (_, c), v in ref._dts.items() if c == cat_id) == 10_000
    # The cut and the missing per-image limit both change the numbers.
    uncut = evaluate_lvis_fixed(load_lvis_annotations(copy.deepcopy(gt)), copy.deepcopy(dets),
                                'bbox', max_dets_per_cat=20_000)
    standard = evaluate_lvis(load_lvis_annotations(copy.deepcopy(gt)), copy.deepcopy(dets), 'bbox')
    uncut_row = next(r for r in uncut.per_category if r['category_id'] == cat_id)
    assert row['AP_fixed'] < uncut_row['AP_fixed'] - 1e-4
    assert abs(result.summary['AP_fixed'] - standard.summary['AP']) > 1e-4


@pytest.mark.parametrize('iou_type,k', [('bbox', 200), ('segm', 30)])
def test_fixed_ap_matches_lvis_api(iou_type, k, tmp_path):
    """A small K, so that the cut binds for most categories; tied scores at the cut (two
    decimals); detections of area 0 take places in the top K but are not evaluated."""
    gt, dets = _case('v1', iou_type, score_decimals=2)
    for det in dets[::41]:
        det['bbox'][2] = 0.0
    ref = lvis_api_fixed_eval(gt, dets, iou_type, tmp_path, k=k)
    result = evaluate_lvis_fixed(load_lvis_annotations(copy.deepcopy(gt)), copy.deepcopy(dets),
                                 iou_type, max_dets_per_cat=k)
    assert_matches(result, ref)
    assert sum(np.bincount([d['category_id'] for d in dets]) > k) > 5


def test_limit_dets_per_category_keeps_what_the_authors_keep():
    gt = make_lvis_annotations(20, 10, seed=62)
    dets = make_lvis_detections(gt, dets_per_image=50, score_decimals=1, seed=63)
    for uid, det in enumerate(dets):
        det['uid'] = uid
    ours = top_dicts(dets, 'category_id', 40)
    assert sorted(d['uid'] for d in ours) == sorted(d['uid'] for d in top_k_per_category(dets, 40))
    assert [d['uid'] for d in ours] == sorted(d['uid'] for d in ours)  # input order kept
    assert len(ours) < len(dets)


def test_metric_ap_fixed(lvis_case, tmp_path):  # noqa: F811
    """Standard and Fixed AP side by side, the fixed numbers without the 300 per image cap;
    Boundary AP through the metric; report files of each."""
    gt, ann_file, samples, ref_dets = lvis_case
    prefix = tmp_path / 'out' / 'results'
    metric = FastLVISMetric(ann_file=ann_file, metric=['bbox', 'segm', 'boundary'],
                            ap_fixed=True, outfile_prefix=str(prefix))
    metrics = _run(metric, samples)

    assert set(metrics) == {f'lvis/{t}_{n}' for t in ('bbox', 'segm', 'boundary')
                            for n in METRIC_NAMES + FIXED_METRIC_NAMES}
    ref = lvis_api_fixed_eval(gt, ref_dets['bbox'], 'bbox', tmp_path).get_results()
    for name in FIXED_METRIC_NAMES:
        assert metrics[f'lvis/bbox_{name}'] == pytest.approx(
            float(ref[LVIS_API_NAMES[name]]), abs=TOL), name
    # Some images have more than 300 detections: the cap changes standard AP, not Fixed AP.
    assert abs(metrics['lvis/bbox_AP_fixed'] - metrics['lvis/bbox_AP']) > 1e-6
    for iou_type in ('segm', 'boundary'):  # segm first: its masks must not leak into boundary
        for evaluate in (evaluate_lvis, evaluate_lvis_fixed):
            expected = evaluate(load_lvis_annotations(copy.deepcopy(gt)),
                                copy.deepcopy(ref_dets['segm']), iou_type).summary
            for name, value in expected.items():
                assert metrics[f'lvis/{iou_type}_{name}'] == pytest.approx(value, abs=TOL)
    assert metrics['lvis/boundary_AP'] < metrics['lvis/segm_AP']
    for name in ('bbox_report.json', 'bbox_fixed_report.json', 'boundary_per_category.csv',
                 'boundary_fixed_per_frequency.csv', 'segm.json'):
        assert (tmp_path / 'out' / f'results.{name}').is_file(), name
    report = json.loads((tmp_path / 'out' / 'results.bbox_fixed_report.json').read_text())
    assert set(report['summary']) == set(FIXED_METRIC_NAMES)
    assert {'AP_fixed', 'AR_fixed'} <= set(report['per_frequency'][0])


def test_metric_items_with_ap_fixed(lvis_case):  # noqa: F811
    _, ann_file, samples, _ = lvis_case
    metric = FastLVISMetric(ann_file=ann_file, metric='bbox', ap_fixed=True,
                            metric_items=['APr', 'APr_fixed'])
    assert set(_run(metric, samples[:4])) == {'lvis/bbox_APr', 'lvis/bbox_APr_fixed'}
    with pytest.raises(KeyError, match="metric item 'AP_fixed' is not supported"):
        FastLVISMetric(ann_file=ann_file, metric_items=['AP_fixed'])


def test_eval_lvis_tool_ap_fixed_and_boundary(repo_root, tmp_path, capsys):
    main = _tool_main(repo_root)
    gt = make_lvis_annotations(12, 10, image_size=(40, 120), seed=64)
    dets = make_lvis_detections(gt, 'segm', dets_per_image=330, crowded_ratio=0.0,
                                score_decimals=3, seed=65)
    (tmp_path / 'gt.json').write_text(json.dumps(gt))
    (tmp_path / 'results.json').write_text(json.dumps(dets))
    args = [str(tmp_path / 'results.json'), str(tmp_path / 'gt.json'), '--ap-fixed']

    assert main(args + ['--out', str(tmp_path / 'bbox.json'),
                        '--report', str(tmp_path / 'rep')]) == 0
    metrics = json.loads((tmp_path / 'bbox.json').read_text())
    assert list(metrics) == METRIC_KEYS + list(FIXED_METRIC_NAMES)
    ref = lvis_api_fixed_eval(gt, dets, 'bbox', tmp_path).get_results()
    for name in FIXED_METRIC_NAMES:
        assert metrics[name] == pytest.approx(float(ref[LVIS_API_NAMES[name]]), abs=TOL), name
    assert (tmp_path / 'rep.bbox_fixed_per_category.csv').is_file()
    out = capsys.readouterr().out
    num_cats = len({a['category_id'] for a in gt['annotations']})
    assert 'LVIS bbox_fixed' in out
    assert f'Fixed AP: {num_cats} categories with ground truth have fewer than 10000' in out

    assert main(args + ['--iou-type', 'boundary', '--out', str(tmp_path / 'b.json')]) == 0
    metrics = json.loads((tmp_path / 'b.json').read_text())
    for evaluate in (evaluate_lvis, evaluate_lvis_fixed):
        expected = evaluate(load_lvis_annotations(gt), copy.deepcopy(dets), 'boundary')
        for name, value in expected.summary.items():
            assert metrics[name] == pytest.approx(value, abs=TOL), name
