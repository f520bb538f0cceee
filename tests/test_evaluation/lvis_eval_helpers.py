"""Reference numbers from the LVIS API (lvis 0.5.3) for the evaluation tests, and what they
compare with it."""
import copy
import json

import numpy as np

from mmdet_tde.evaluation import patch_lvis_numpy
from mmdet_tde.evaluation.fast_lvis import _top_per_group

patch_lvis_numpy()
from lvis import LVIS, LVISEval, LVISResults  # noqa: E402


def lvis_api_eval(gt: dict, dets: list, iou_type: str, tmp_path) -> LVISEval:
    """Run the LVIS API on copies of ``gt`` / ``dets`` (it annotates its inputs in place)."""
    ann_file = tmp_path / f'lvis_ref_gt_{id(gt)}.json'
    ann_file.write_text(json.dumps(gt))
    lvis_gt = LVIS(str(ann_file))
    lvis_eval = LVISEval(lvis_gt, LVISResults(lvis_gt, copy.deepcopy(dets)), iou_type)
    lvis_eval.run()
    return lvis_eval


def lvis_api_per_category_ap(lvis_eval: LVISEval) -> dict:
    """Category id -> AP over IoUs and recalls (area 'all'), -1 without ground truth."""
    precision = lvis_eval.eval['precision']
    aps = {}
    for idx, cat_id in enumerate(lvis_eval.params.cat_ids):
        values = precision[:, :, idx, 0]
        values = values[values > -1]
        aps[cat_id] = float(np.mean(values)) if values.size else -1.0
    return aps


def drop_categories(dets: list, cat_ids) -> list:
    cat_ids = set(cat_ids)
    return [d for d in dets if d['category_id'] not in cat_ids]


def assert_same_as_lvis_api(result, ref: LVISEval, tol: float = 1e-12):
    """Every summary metric and every category's AP of ``result`` equal the LVIS API's
    ``ref``; returns the API's summary and per-category AP for further checks."""
    from mmdet_tde.evaluation.fast_lvis import METRIC_NAMES
    ref_summary = ref.get_results()
    for name in METRIC_NAMES:
        assert abs(result.summary[name] - float(ref_summary[name])) <= tol, name
    ref_cat_ap = lvis_api_per_category_ap(ref)
    for row in result.per_category:
        assert abs(row['AP'] - ref_cat_ap[row['category_id']]) <= tol, row['category_id']
    return ref_summary, ref_cat_ap


def top_dicts(dets: list, key: str, max_dets: int) -> list:
    """The detections evaluation keeps of each ``key`` (image or category), as dicts."""
    groups = np.array([d[key] for d in dets], dtype=np.int64)
    scores = np.array([d['score'] for d in dets], dtype=np.float64)
    return [dets[i] for i in _top_per_group(groups, scores, max_dets)]
