"""LVIS evaluation with the LVIS API's numbers, on hotcoco's Rust matcher.

The engines' ``lvis_style`` (:mod:`.lvis_matching`) applies LVIS's federated rules within an
image and category. What they leave to the caller, and this module does as
``lvis.LVISResults``/``lvis.LVISEval`` do: keep the 300 top-scoring detections per image; drop
detections of a category neither annotated nor verified absent in their image; leave out
ground truth and detections of area 0 (:mod:`.lvis_ground_truth`); summarise AP / AP50 / AP75 /
APs / APm / APl / APr / APc / APf / AR@300.

Two variants with the same federated rules (docs/evaluation.md): Fixed AP (Dave et al.,
"Evaluating Large-Vocabulary Object Detectors: The Devil is in the Details", arXiv:2102.01066;
:func:`evaluate_lvis_fixed`) and Boundary AP (Cheng et al., "Boundary IoU: Improving
Object-Centric Image Segmentation Evaluation", CVPR 2021, arXiv:2103.16562;
``iou_type='boundary'``, faster-coco-eval's). Inputs are checked first
(:mod:`.lvis_input_checks`), so bad results fail with a message that names the field.
"""
from collections import Counter
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from mmdet_tde.utils.process_group import SingleProcess, least_loaded_owners

from .detection_exchange import concat, exchange_by_owner, take
from .lvis_ground_truth import LVISGroundTruth, has_evaluated_area, load_json, load_lvis_annotations
from .lvis_input_checks import FREQUENCIES, IOU_TYPES, check_columns, check_results
from .lvis_matching import match, merge_categories
from .lvis_tide import check_tide_iou_type, tide_by_frequency

__all__ = [
    'AREA_RANGES', 'FIXED_METRIC_NAMES', 'FREQUENCIES', 'IOU_TYPES', 'LVISEvalResult',
    'LVISGroundTruth', 'MAX_DETS_PER_CATEGORY', 'MAX_DETS_PER_IMAGE', 'METRIC_NAMES',
    'check_columns', 'check_results', 'count_categories_below', 'evaluate_lvis',
    'evaluate_lvis_fixed', 'load_lvis_annotations', 'load_results'
]

METRIC_NAMES = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf', 'AR@300')
# Fixed AP's numbers; its recall uses the top detections per category, not 300 per image.
FIXED_METRIC_NAMES = tuple(f'{n}_fixed' for n in METRIC_NAMES[:-1]) + ('AR_fixed', )
MAX_DETS_PER_IMAGE = 300
# Fixed AP's K for LVIS (Dave et al. 2021).
MAX_DETS_PER_CATEGORY = 10_000
AREA_RANGES = ('all', 'small', 'medium', 'large')
IOU_THRS = np.linspace(0.5, 0.95, 10)


@dataclass
class LVISEvalResult:
    """Summary metrics plus the per-category and per-frequency break-down.

    ``protocol`` is 'standard' (keys ``METRIC_NAMES``) or 'fixed' (``FIXED_METRIC_NAMES``, in
    the summary and in every per-category and per-frequency row), so the two never mix.
    ``errors``: TIDE's error types per frequency group (:mod:`.lvis_tide`), when asked for.
    """
    iou_type: str
    summary: Dict[str, float]
    per_category: List[dict] = field(default_factory=list)
    per_frequency: List[dict] = field(default_factory=list)
    protocol: str = 'standard'
    errors: Optional[dict] = None

    @property
    def metric_names(self) -> tuple:
        return FIXED_METRIC_NAMES if self.protocol == 'fixed' else METRIC_NAMES

    @property
    def name(self) -> str:
        """``iou_type``, with ``_fixed`` for Fixed AP: a label for tables and file names."""
        return self.iou_type + ('_fixed' if self.protocol == 'fixed' else '')


def load_results(result_file: str) -> list:
    """Load a results file in LVIS/COCO results format (a JSON list of detections)."""
    results = load_json(result_file, 'results file')
    if not isinstance(results, list):
        raise ValueError(f'results file {result_file} must hold a JSON list of detections, '
                         f'got a JSON {type(results).__name__}')
    return results


def _top_per_group(groups: np.ndarray, scores: np.ndarray, max_dets: int) -> np.ndarray:
    """Indices of the ``max_dets`` top-scoring entries of every value of ``groups``, ascending:
    per image, what ``LVISResults`` keeps; per category, Fixed AP's selection (made, as its
    authors make it, before LVIS drops unverified categories and area 0).

    Ties at the cut keep the earlier entry (a stable sort, like both references'). Kept entries
    stay in input order: matching sorts them by score stably, so tied scores meet in the same
    relative order as in the LVIS API.
    """
    crowded = np.flatnonzero(_group_sizes(groups) > max_dets)  # usually few or none
    if crowded.size == 0:
        return np.arange(len(groups))
    # By group, then decreasing score; stable on ties.
    order = crowded[np.lexsort((-scores[crowded], groups[crowded]))]
    starts = np.flatnonzero(np.diff(groups[order], prepend=groups[order[0]] - 1))
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(starts, append=len(order)))
    keep = np.ones(len(groups), dtype=bool)
    keep[order[rank >= max_dets]] = False
    return np.flatnonzero(keep)


def _group_sizes(ids: np.ndarray) -> np.ndarray:
    """For each entry of ``ids``, how often its value occurs. A bincount where the ids span
    little more than their number (image and category ids do), else a sort."""
    if ids.size and ids.max() - ids.min() <= 4 * ids.size:
        offsets = ids - ids.min()
        return np.bincount(offsets)[offsets]
    _, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    return counts[inverse]


def evaluate_lvis(gt: LVISGroundTruth,
                  results: Union[Sequence[dict], dict],
                  iou_type: str,
                  max_dets: int = MAX_DETS_PER_IMAGE,
                  group=None,
                  order: Optional[Sequence[int]] = None,
                  tide: bool = False) -> Optional[LVISEvalResult]:
    """Evaluate detections over all images of ``gt`` with the LVIS API's rules and numbers.

    ``gt`` is what :func:`load_lvis_annotations` returns. ``results`` are LVIS/COCO-format
    detection dicts (left unchanged) or the same as columns (a dict of arrays, see
    :func:`.lvis_input_checks.check_columns`). ``iou_type`` 'boundary' is Boundary AP (see the
    module docstring). ``tide``: also TIDE's error types per frequency group (``errors`` of the
    result; 'bbox' and 'segm' only), on the detections the metric evaluates.

    Shared across processes (``group``, a :class:`~mmdet_tde.utils.TorchProcessGroup`), every
    process passes its share of the results, all detections of an image in one process, and
    ``order``: each detection's position in the whole results list (ties in score are broken
    by it, as one process breaks them by list order). Each process evaluates a share of the
    categories; rank 0 returns the result, the others None. The numbers equal one process's.
    """
    if tide:
        check_tide_iou_type(iou_type)
    return _evaluate(gt, results, iou_type, max_dets, -1, 'standard', group, order, tide)


def evaluate_lvis_fixed(gt: LVISGroundTruth,
                        results: Union[Sequence[dict], dict],
                        iou_type: str,
                        max_dets_per_cat: int = MAX_DETS_PER_CATEGORY,
                        group=None,
                        order: Optional[Sequence[int]] = None) -> Optional[LVISEvalResult]:
    """Fixed AP: the top ``max_dets_per_cat`` detections per category, no per-image limit.

    The numbers of the LVIS API run as Fixed AP's authors run it (their own top-K selection,
    then ``LVISResults(..., max_dets=-1)``); keys are ``FIXED_METRIC_NAMES``. Detections
    beyond 300 per image count here, so test with settings that keep them (docs/evaluation.md).
    ``group`` and ``order``: as for :func:`evaluate_lvis`.
    """
    return _evaluate(gt, results, iou_type, -1, max_dets_per_cat, 'fixed', group, order)


def count_categories_below(gt: LVISGroundTruth, results,
                           max_dets_per_cat: int = MAX_DETS_PER_CATEGORY, group=None) -> int:
    """Categories with ground truth but fewer than ``max_dets_per_cat`` detections.

    Their Fixed AP can only rise with more detections, so a count far above 0 says the test
    settings cut detections that Fixed AP would use (the authors' tool warns the same way).
    ``results``: dicts or columns, as for :func:`evaluate_lvis`. With ``group``, they are this
    process's share and the count is over all of them.
    """
    cat_ids = results['category_id'] if isinstance(results, dict) else [
        r['category_id'] for r in results]
    counts = sum(
        (group or SingleProcess()).all_gather(Counter(np.asarray(cat_ids).tolist())), Counter())
    return sum(counts[cat_id] < max_dets_per_cat for cat_id in gt.cats if gt.num_gt[cat_id])


def _evaluate(gt: LVISGroundTruth, results: Union[Sequence[dict], dict], iou_type: str,
              max_dets: int, max_dets_per_cat: int, protocol: str, group=None,
              order: Optional[Sequence[int]] = None,
              tide: bool = False) -> Optional[LVISEvalResult]:
    """LVIS evaluation with at most ``max_dets`` per image and ``max_dets_per_cat`` per
    category (-1: no limit), the limits applied in the order of the LVIS API's later versions.
    """
    group = group or SingleProcess()
    check = check_columns if isinstance(results, dict) else check_results
    dets = _check_in_every_process(group, lambda: check(results, gt, iou_type))
    if group.world_size > 1 and order is None:
        raise ValueError("evaluation shared across processes needs each detection's position "
                         'in the whole results list (order)')
    dets['order'] = np.arange(len(dets['score'])) if order is None else np.asarray(
        order, dtype=np.int64)
    if len(dets['order']) != len(dets['score']):
        raise ValueError(f"order ({len(dets['order'])}) needs one entry per detection "
                         f"({len(dets['score'])})")
    if max_dets >= 0:
        dets = take(dets, _top_per_group(dets['image_id'], dets['score'], max_dets))
    if max_dets_per_cat < 0 and group.world_size > 1:
        # Without a per-category cap, detections LVIS drops (see below) need not travel.
        dets = take(dets, gt.verified(dets['image_id'], dets['category_id']))
    cat_ids = gt.cat_ids
    owner = _category_owners(dets, gt, group)
    if group.world_size > 1:
        dets = exchange_by_owner(
            dets, owner[np.searchsorted(cat_ids, dets['category_id'])], group)
    if max_dets_per_cat >= 0:
        dets = take(dets, _top_per_group(dets['category_id'], dets['score'], max_dets_per_cat))
    # LVIS drops a detection in an image where its category is neither annotated nor verified
    # absent, and one of area 0 (which still took its place among the 300 of its image or
    # the top K of its category).
    dets = take(dets, gt.verified(dets['image_id'], dets['category_id']))
    _compress_masks(dets, gt)
    dets['area'] = _detection_areas(dets)
    dets = take(dets, has_evaluated_area(dets['area']))
    errors = None
    if tide:  # TIDE compares categories within an image: all detections in one process
        shares = group.gather(dets)
        if shares is not None:
            errors = tide_by_frequency(gt, concat(shares), iou_type)

    own = np.flatnonzero(owner == group.rank)
    # The engines cap detections per image again: without a per-image limit, cap at the
    # most any image has, which keeps all.
    cap = max_dets if max_dets >= 0 else int(_group_sizes(dets['image_id']).max(initial=1))
    precision, recall = match(gt, dets, cat_ids[own].tolist(), iou_type, cap)
    num_dets = np.bincount(np.searchsorted(cat_ids, dets['category_id']), minlength=len(cat_ids))
    if group.world_size > 1:  # each process holds the detections of its own categories
        shares = group.gather((own, precision, recall, num_dets))
        if shares is None:
            return None
        precision, recall = merge_categories([share[:3] for share in shares], len(cat_ids))
        num_dets = sum(share[3] for share in shares)
    result = _collect(gt, precision, recall, iou_type, num_dets.tolist(), protocol)
    result.errors = errors
    return result


def _check_in_every_process(group, check):
    """Run ``check``; if it fails in any process, raise its error in all of them (a process
    that went on alone would wait for the others forever)."""
    try:
        value, error = check(), None
    except ValueError as e:
        value, error = None, f'{e}' if group.world_size == 1 else (
            f'process {group.rank} (indices within its share of the results): {e}')
    errors = [e for e in group.all_gather(error) if e is not None]
    if errors:
        raise ValueError(errors[0])
    return value


def _category_owners(dets: dict, gt: LVISGroundTruth, group) -> np.ndarray:
    """The process that evaluates each category (by index), the same in every process.

    The categories with the most work (detections over all processes plus ground truth) go
    first, each to the least loaded process.
    """
    if group.world_size == 1:
        return np.zeros(len(gt.cat_ids), dtype=np.int64)
    local = np.bincount(np.searchsorted(gt.cat_ids, dets['category_id']),
                        minlength=len(gt.cat_ids))
    costs = np.sum(group.all_gather(local), axis=0)
    costs += np.array([gt.num_gt[cat_id] for cat_id in gt.cat_ids.tolist()], dtype=np.int64)
    return least_loaded_owners(costs, group.world_size)


def _compress_masks(dets: dict, gt: LVISGroundTruth) -> None:
    """Every mask as a compressed RLE, as the LVIS API's ``ann_to_rle`` makes it (uncompressed
    RLEs compressed, polygons rasterised and merged): what the engines' area, box and IoU
    functions and the TIDE pass read. Nothing to do in the usual case (RLEs with string or
    bytes counts), which two C-speed type scans detect."""
    segms = dets['segmentation']
    if segms is None or (set(map(type, segms)) <= {dict} and list not in set(
            map(type, map(itemgetter('counts'), segms)))):
        return
    engine = gt.engine('hotcoco')
    dets['segmentation'] = [
        engine.annToRLE(dict(image_id=img_id, segmentation=segm))
        if not isinstance(segm, dict) or isinstance(segm['counts'], list) else segm
        for segm, img_id in zip(segms, dets['image_id'].tolist())]


def _detection_areas(dets: dict) -> np.ndarray:
    """Each detection's area as the LVIS API takes it: ``w * h`` of its box, else its mask's
    area (masks without boxes then get the mask's box, which the engines read)."""
    if dets['bbox'] is not None:
        return dets['bbox'][:, 2] * dets['bbox'][:, 3]
    from hotcoco import mask as mask_utils
    dets['bbox'] = np.asarray(mask_utils.toBbox(dets['segmentation']),
                              dtype=np.float64).reshape(-1, 4)
    return np.asarray(mask_utils.area(dets['segmentation']), dtype=np.float64)


def _collect(gt, precision, recall, iou_type, num_dets, protocol) -> LVISEvalResult:
    """Summary, per-category and per-frequency numbers from the accumulated arrays."""
    groups = {f: np.flatnonzero(gt.frequencies == f) for f in FREQUENCIES}
    names = dict(zip(METRIC_NAMES, FIXED_METRIC_NAMES if protocol == 'fixed' else METRIC_NAMES))
    sums, counts = _sums_and_counts(precision, recall)
    by_group = {freq: _means(sums, counts, idx) for freq, idx in groups.items()}
    summary = _means(sums, counts, slice(None))
    summary.update((f'AP{freq}', metrics['AP']) for freq, metrics in by_group.items())
    summary = {names[name]: summary[name] for name in METRIC_NAMES}

    cat_metrics = {names[k]: np.where(n > 0, sums[k] / np.maximum(n, 1), -1.0).tolist()
                   for k, n in counts.items()}
    per_category = []
    for idx, cat_id in enumerate(gt.cat_ids.tolist()):
        cat = gt.cats[cat_id]
        per_category.append(dict(
            category_id=cat_id, name=cat.get('name', str(cat_id)), frequency=cat['frequency'],
            image_count=cat.get('image_count'), instance_count=cat.get('instance_count'),
            num_gt=gt.num_gt[cat_id], num_dets=num_dets[idx],
            **{name: values[idx] for name, values in cat_metrics.items()}))
    per_frequency = [dict(frequency=freq, num_categories=len(idx),
                          num_evaluated=int((counts['AP'][idx] > 0).sum()),
                          **{names[k]: v for k, v in by_group[freq].items()})
                     for freq, idx in groups.items()]
    return LVISEvalResult(iou_type, summary, per_category, per_frequency, protocol)


def _sums_and_counts(precision, recall):
    """For each of LVIS's summary numbers (LVISEval._summarize), every category's sum and
    number of defined (> -1) entries: one pass over the arrays, after which the mean over any
    set of categories is a ratio of sums (equal to the LVIS API's mean up to float
    rounding)."""
    iou50, iou75 = (np.flatnonzero(IOU_THRS == thr) for thr in (0.5, 0.75))
    arrays = dict(AP=precision[:, :, :, 0], AP50=precision[iou50][:, :, :, 0],
                  AP75=precision[iou75][:, :, :, 0])
    for area_idx, area in enumerate(AREA_RANGES[1:], start=1):
        arrays[f'AP{area[0]}'] = precision[:, :, :, area_idx]
    arrays['AR@300'] = recall[:, :, 0]
    sums, counts = {}, {}
    for name, values in arrays.items():  # categories on the last axis
        values = values.reshape(-1, values.shape[-1])
        valid = values > -1
        counts[name] = valid.sum(0)
        sums[name] = np.where(valid, values, 0.0).sum(0)
    return sums, counts


def _means(sums, counts, cats) -> Dict[str, float]:
    """Each summary number over the categories ``cats`` (indices or a slice): the mean of
    their defined entries, -1 when there are none, as the LVIS API reports."""
    means = {}
    for name in sums:
        count = int(counts[name][cats].sum())
        means[name] = float(sums[name][cats].sum() / count) if count else -1.0
    return means


