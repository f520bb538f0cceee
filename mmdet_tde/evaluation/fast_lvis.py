"""LVIS evaluation (the LVIS API's numbers) on top of faster-coco-eval's C++ matcher.

faster-coco-eval's ``lvis_style`` mode applies LVIS's federated rules (detections of categories
neither present nor negative in an image are dropped; unmatched detections of not-exhaustively
annotated categories are ignored) and keeps r/c/f groups. What it leaves to the caller, and this
module does as ``lvis.LVISResults``/``lvis.LVISEval`` do:

- keep only the 300 top-scoring detections per image (across categories);
- treat no ground truth as crowd (LVIS has no crowd regions; the LVIS API ignores ``iscrowd``);
- leave out ground truth and detections whose area is not in (0, inf), as the LVIS API does;
- summarise AP / AP50 / AP75 / APs / APm / APl / APr / APc / APf / AR@300.

Two variants from later work, both with the same federated rules:

- Fixed AP (Dave et al., "Evaluating Large-Vocabulary Object Detectors: The Devil is in the
  Details", arXiv:2102.01066; :func:`evaluate_lvis_fixed`): the top 10,000 detections of every
  category over the whole dataset and no per-image limit, so a category's AP no longer depends
  on how many detections of other categories share its images.
- Boundary AP (Cheng et al., "Boundary IoU: Improving Object-Centric Image Segmentation
  Evaluation", CVPR 2021, arXiv:2103.16562; ``iou_type='boundary'``): masks matched by
  min(mask IoU, boundary IoU), boundaries of width 2% of the image diagonal, as computed by
  faster-coco-eval's ``iouType='boundary'``.

Inputs are checked first, so bad results fail with a message that names the field.
"""
import json
import os.path as osp
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from faster_coco_eval import COCO, COCOeval_faster
from faster_coco_eval.core import mask as mask_utils
from faster_coco_eval.core.cocoeval import Params

from .detection_exchange import exchange_by_owner
from .lvis_input_checks import check_annotation_values, check_result_values, compress_rle
from .process_group import SingleProcess, least_loaded_owners

IOU_TYPES = ('bbox', 'segm', 'boundary')
METRIC_NAMES = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf', 'AR@300')
# Fixed AP's numbers; its recall uses the top detections per category, not 300 per image.
FIXED_METRIC_NAMES = tuple(f'{n}_fixed' for n in METRIC_NAMES[:-1]) + ('AR_fixed', )
FREQUENCIES = ('r', 'c', 'f')
MAX_DETS_PER_IMAGE = 300
# Fixed AP's K for LVIS (Dave et al. 2021).
MAX_DETS_PER_CATEGORY = 10_000
# Boundary width as a fraction of the image diagonal (Cheng et al. 2021).
BOUNDARY_DILATION_RATIO = 0.02
AREA_RANGES = ('all', 'small', 'medium', 'large')
# Categories evaluated together span at most this many image x category cells.
_CHUNK_CELLS = 50_000


@dataclass
class LVISEvalResult:
    """Summary metrics plus the per-category and per-frequency break-down.

    ``protocol`` is 'standard' (keys ``METRIC_NAMES``) or 'fixed' (``FIXED_METRIC_NAMES``, in
    the summary and in every per-category and per-frequency row), so the two never mix.
    """
    iou_type: str
    summary: Dict[str, float]
    per_category: List[dict] = field(default_factory=list)
    per_frequency: List[dict] = field(default_factory=list)
    protocol: str = 'standard'

    @property
    def metric_names(self) -> tuple:
        return FIXED_METRIC_NAMES if self.protocol == 'fixed' else METRIC_NAMES

    @property
    def name(self) -> str:
        """``iou_type``, with ``_fixed`` for Fixed AP: a label for tables and file names."""
        return self.iou_type + ('_fixed' if self.protocol == 'fixed' else '')


def load_lvis_annotations(ann_file: Union[str, dict]) -> COCO:
    """Load and check an LVIS (v0.5 or v1.0) annotation file or dict."""
    if isinstance(ann_file, dict):
        dataset = ann_file
    else:
        dataset = _load_json(ann_file, 'annotation file')
    check_lvis_annotations(dataset)
    # LVIS has no crowd regions: the LVIS API matches every ground truth as non-crowd. It also
    # evaluates only annotations with an area in (0, inf) (see ``_has_evaluated_area``).
    anns = [dict(a, iscrowd=0) for a in dataset['annotations'] if _has_evaluated_area(a['area'])]
    return COCO(dict(dataset, annotations=anns))


def load_results(result_file: str) -> list:
    """Load a results file in LVIS/COCO results format (a JSON list of detections)."""
    results = _load_json(result_file, 'results file')
    if not isinstance(results, list):
        raise ValueError(f'results file {result_file} must hold a JSON list of detections, '
                         f'got a JSON {type(results).__name__}')
    return results


def check_lvis_annotations(dataset: dict) -> None:
    """Raise ValueError unless ``dataset`` carries the fields LVIS evaluation relies on."""
    check_annotation_values(dataset)
    for key in ('images', 'annotations', 'categories'):
        if not isinstance(dataset.get(key), list):
            raise ValueError(f"LVIS annotations need a list '{key}', got "
                             f'{type(dataset.get(key)).__name__}')
    for idx, cat in enumerate(dataset['categories']):
        if cat.get('frequency') not in FREQUENCIES:
            raise ValueError(
                f"categories[{idx}] (id={cat.get('id')}): field 'frequency' is "
                f"{cat.get('frequency')!r}; allowed: {', '.join(map(repr, FREQUENCIES))}")
    bad = next((i for i, a in enumerate(dataset['annotations'])
                if not _is_number(a.get('area'))), None)
    if bad is not None:
        ann = dataset['annotations'][bad]
        raise ValueError(f"annotations[{bad}] (id={ann.get('id')}): field 'area' is "
                         f"{ann.get('area')!r}; allowed: a number (LVIS evaluation selects "
                         'ground truth by area)')
    for idx, img in enumerate(dataset['images']):
        for key in ('neg_category_ids', 'not_exhaustive_category_ids'):
            if not isinstance(img.get(key), list):
                raise ValueError(
                    f"images[{idx}] (id={img.get('id')}): field '{key}' is missing or not a "
                    'list; LVIS annotations list the negative and not-exhaustive categories of '
                    'every image')


def check_results(results: Sequence[dict], gt: COCO, iou_type: str) -> None:
    """Raise ValueError naming the first detection and field that LVIS cannot evaluate."""
    if iou_type not in IOU_TYPES:
        raise ValueError(f"iou_type is {iou_type!r}; allowed: {', '.join(IOU_TYPES)}")
    if not isinstance(results, (list, tuple)):
        raise ValueError(f'results must be a list of detections, got {type(results).__name__}')
    if len(results) == 0:
        return
    if not all(isinstance(r, dict) for r in results):
        idx = next(i for i, r in enumerate(results) if not isinstance(r, dict))
        raise ValueError(f'results[{idx}] must be a dict, got {type(results[idx]).__name__}')
    # Segmentation results may carry boxes; then both LVIS and COCO APIs take areas from them.
    has_boxes = iou_type == 'bbox' or 'bbox' in results[0]
    shape_keys = ('bbox', ) if iou_type == 'bbox' else ('segmentation', ) + ('bbox', ) * has_boxes
    for key in ('image_id', 'category_id', 'score') + shape_keys:
        missing = [i for i, r in enumerate(results) if key not in r]
        if missing:
            raise ValueError(f"results[{missing[0]}] has no '{key}' field "
                             f'({len(missing)} detections lack it)')

    _check_ids(results, 'image_id', gt.imgs, 'an image id of the annotations')
    _check_ids(results, 'category_id', gt.cats, 'a category id of the annotations')
    scores = _numbers(results, 'score')
    bad = np.flatnonzero(~np.isfinite(scores))
    if bad.size:
        raise ValueError(f"results[{bad[0]}]: field 'score' is {scores[bad[0]]}; allowed: a "
                         f'finite number ({bad.size} detections have NaN or infinite scores)')
    if has_boxes:
        _check_boxes(results)
    elif any('bbox' in r for r in results):
        idx = next(i for i, r in enumerate(results) if 'bbox' in r)
        raise ValueError(f"results[{idx}] has a 'bbox' field but results[0] has none; give "
                         'boxes to all segmentation results or to none')
    check_result_values(results, gt, iou_type)
    if iou_type in ('segm', 'boundary'):
        _check_segmentations(results, gt)


def _top_per_group(results: Sequence[dict], key: str, max_dets: int) -> np.ndarray:
    """Indices of the ``max_dets`` top-scoring results of every value of ``key``, ascending.

    Ties at the cut keep the earlier result (a stable sort). Kept results stay in input order.
    """
    if len(results) == 0:
        return np.zeros(0, dtype=np.int64)
    groups = np.array([r[key] for r in results])
    scores = np.array([r['score'] for r in results], dtype=np.float64)
    order = np.lexsort((-scores, groups))  # by group, then decreasing score; stable on ties
    _, starts, counts = np.unique(groups[order], return_index=True, return_counts=True)
    if counts.max() <= max_dets:
        return np.arange(len(results))
    rank = np.arange(len(order)) - np.repeat(starts, counts)
    keep = np.zeros(len(results), dtype=bool)
    keep[order[rank < max_dets]] = True
    return np.flatnonzero(keep)


def limit_dets_per_image(results: Sequence[dict], max_dets: int = MAX_DETS_PER_IMAGE) -> list:
    """Keep the ``max_dets`` top-scoring detections of every image, as ``LVISResults`` does.

    Ties at the cut keep the earlier detection (a stable sort, like the LVIS API's). Kept
    detections stay in input order: matching sorts them by score stably, so tied scores meet
    in the same relative order as in the LVIS API.
    """
    return [results[i] for i in _top_per_group(results, 'image_id', max_dets)]


def limit_dets_per_category(results: Sequence[dict],
                            max_dets: int = MAX_DETS_PER_CATEGORY) -> list:
    """Keep the ``max_dets`` top-scoring detections of every category over all images.

    Fixed AP's selection, made on the raw results as its authors make it: detections that LVIS
    later drops (unverified categories, area 0) still take their places. Ties at the cut keep
    the earlier detection, as their stable ``sorted(..., reverse=True)`` does.
    """
    return [results[i] for i in _top_per_group(results, 'category_id', max_dets)]


def evaluate_lvis(gt: COCO,
                  results: Sequence[dict],
                  iou_type: str,
                  max_dets: int = MAX_DETS_PER_IMAGE,
                  group=None,
                  order: Optional[Sequence[int]] = None) -> Optional[LVISEvalResult]:
    """Evaluate detections over all images of ``gt`` with the LVIS API's rules and numbers.

    ``gt`` is what :func:`load_lvis_annotations` returns (it does part of LVIS's preparation).
    ``results`` are LVIS/COCO-format detection dicts; they are annotated in place (area, id,
    iscrowd and, for masks without one, bbox), as with the COCO and LVIS APIs: evaluate copies
    (``[dict(r) for r in results]``) to evaluate the same results twice. ``iou_type``
    'boundary' is Boundary AP (see the module docstring).

    Shared across processes (``group``, a :class:`.process_group.TorchProcessGroup`), every
    process passes its share of the results, all detections of an image in one process, and
    ``order``: each detection's position in the whole results list (ties in score are broken
    by it, as one process breaks them by list order). Each process evaluates a share of the
    categories; rank 0 returns the result, the others None. The numbers equal one process's.
    """
    return _evaluate(gt, results, iou_type, max_dets, -1, 'standard', group, order)


def evaluate_lvis_fixed(gt: COCO,
                        results: Sequence[dict],
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


def count_categories_below(gt: COCO, results: Sequence[dict],
                           max_dets_per_cat: int = MAX_DETS_PER_CATEGORY, group=None) -> int:
    """Categories with ground truth but fewer than ``max_dets_per_cat`` detections.

    Their Fixed AP can only rise with more detections, so a count far above 0 says the test
    settings cut detections that Fixed AP would use (the authors' tool warns the same way).
    With ``group``, ``results`` are this process's share and the count is over all of them.
    """
    counts = sum(
        (group or SingleProcess()).all_gather(Counter(r['category_id'] for r in results)),
        Counter())
    return sum(counts[cat_id] < max_dets_per_cat for cat_id in gt.cats if gt.catToImgs[cat_id])


def _evaluate(gt: COCO, results: Sequence[dict], iou_type: str, max_dets: int,
              max_dets_per_cat: int, protocol: str, group=None,
              order: Optional[Sequence[int]] = None) -> Optional[LVISEvalResult]:
    """LVIS evaluation with at most ``max_dets`` per image and ``max_dets_per_cat`` per
    category (-1: no limit), the limits applied in the order of the LVIS API's later versions.
    """
    group = group or SingleProcess()
    _check_in_every_process(group, lambda: check_results(results, gt, iou_type))
    verified = _verified_categories(gt)
    if max_dets >= 0:
        results, order = _subset(results, order, _top_per_group(results, 'image_id', max_dets))
    if max_dets_per_cat < 0 and group.world_size > 1:
        # Without a per-category cap, detections LVIS ignores (see below) need not travel.
        results, order = _subset(results, order, [
            i for i, det in enumerate(results) if det['category_id'] in verified[det['image_id']]])
    cat_ids = sorted(gt.cats)
    cat_index = {cat_id: idx for idx, cat_id in enumerate(cat_ids)}
    owner = _category_owners(results, cat_index, gt, group)
    if group.world_size > 1:
        results = exchange_by_owner(results, order, owner[[cat_index[r['category_id']]
                                                           for r in results]], group)
    if max_dets_per_cat >= 0:
        results = limit_dets_per_category(results, max_dets_per_cat)
    dets_by_cat = [[] for _ in cat_ids]
    for det in results:
        # LVIS ignores a detection in an image where its category is neither annotated nor
        # verified absent. Dropping it here changes no number, and faster-coco-eval fails on
        # masks when it has to drop every detection of an image itself.
        if det['category_id'] not in verified[det['image_id']]:
            continue
        det['area'] = _detection_area(det)
        # The LVIS API drops a detection of zero area (it still took its place among the 300
        # of its image or the top K of its category); faster-coco-eval would count it as a
        # false positive.
        if _has_evaluated_area(det['area']):
            dets_by_cat[cat_index[det['category_id']]].append(det)

    params = Params(iou_type)
    assert tuple(params.areaRngLbl) == AREA_RANGES
    own = np.flatnonzero(owner == group.rank)
    # -1 marks categories without ground truth, as in the LVIS API.
    num_thrs, num_areas = len(params.iouThrs), len(params.areaRng)
    precision = -np.ones((num_thrs, len(params.recThrs), len(own), num_areas))
    recall = -np.ones((num_thrs, len(own), num_areas))
    own_pos = {cat_ids[idx]: pos for pos, idx in enumerate(own)}
    for chunk_cats, chunk_imgs in _category_chunks(gt, verified, own_pos.keys()):
        chunk_dets = [det for cat_id in chunk_cats for det in dets_by_cat[cat_index[cat_id]]]
        # faster-coco-eval caps detections per image and category: without a per-image
        # limit, cap at the most any image has, which keeps all.
        max_dets_cap = max_dets if max_dets >= 0 else max(
            Counter(det['image_id'] for det in chunk_dets).values(), default=1)
        coco_eval = COCOeval_faster(
            gt, _results_api(gt, chunk_dets), iou_type, lvis_style=True,
            print_function=_quiet, boundary_dilation_ratio=BOUNDARY_DILATION_RATIO)
        coco_eval.params.catIds = chunk_cats
        coco_eval.params.imgIds = chunk_imgs
        coco_eval.params.maxDets = [max_dets_cap]
        coco_eval.evaluate()
        coco_eval.accumulate()
        # precision: [iou, recall, category, area, max_dets]; recall: [iou, category, area, ...]
        idx = [own_pos[cat_id] for cat_id in coco_eval.params.catIds]
        precision[:, :, idx] = coco_eval.eval['precision'][..., -1]
        recall[:, idx] = coco_eval.eval['recall'][..., -1]
    shares = group.gather((own, precision, recall, [len(dets_by_cat[i]) for i in own]))
    if shares is None:
        return None
    precision = -np.ones(precision.shape[:2] + (len(cat_ids), num_areas))
    recall = -np.ones((num_thrs, len(cat_ids), num_areas))
    num_dets = np.zeros(len(cat_ids), dtype=np.int64)
    for idx, share_precision, share_recall, share_num_dets in shares:
        precision[:, :, idx], recall[:, idx], num_dets[idx] = (share_precision, share_recall,
                                                               share_num_dets)
    return _collect(gt, cat_ids, precision, recall, params.iouThrs, iou_type,
                    num_dets=num_dets.tolist(), protocol=protocol)


def _subset(results: Sequence[dict], order: Optional[Sequence[int]], kept: Sequence[int]):
    """``results`` and ``order`` at the indices ``kept`` (ascending)."""
    if len(kept) == len(results):
        return results, order
    return [results[i] for i in kept], None if order is None else np.asarray(order)[kept]


def _check_in_every_process(group, check) -> None:
    """Run ``check``; if it fails in any process, raise its error in all of them (a process
    that went on alone would wait for the others forever)."""
    try:
        check()
        error = None
    except ValueError as e:
        error = f'{e}' if group.world_size == 1 else (
            f'process {group.rank} (indices within its share of the results): {e}')
    errors = [e for e in group.all_gather(error) if e is not None]
    if errors:
        raise ValueError(errors[0])


def _category_owners(results: Sequence[dict], cat_index: dict, gt: COCO,
                     group) -> np.ndarray:
    """The process that evaluates each category (by index), the same in every process.

    The categories with the most work (detections over all processes plus ground truth) go
    first, each to the least loaded process.
    """
    if group.world_size == 1:
        return np.zeros(len(cat_index), dtype=np.int64)
    local = np.bincount([cat_index[r['category_id']] for r in results],
                        minlength=len(cat_index))
    costs = np.sum(group.all_gather(local), axis=0)
    for cat_id, idx in cat_index.items():
        costs[idx] += len(gt.catToImgs[cat_id])
    return least_loaded_owners(costs, group.world_size)


def _has_evaluated_area(area) -> bool:
    """Whether the LVIS API evaluates an annotation or detection of this area.

    ``LVISEval`` selects both through ``LVIS.get_ann_ids``, whose default area range (0, inf)
    is open: items of area 0 (empty masks, boxes of zero width or height, an ``area`` of 0 in
    the annotation file) are left out, not even counted as misses or false positives.
    faster-coco-eval keeps them, and its range 'all' ([0, 1e10], closed) evaluates area 0.
    """
    return 0 < area < float('inf')


def _detection_area(det: dict) -> float:
    """A detection's area as both APIs take it: ``w * h`` of its box, else its mask's area."""
    if 'bbox' in det:
        return det['bbox'][2] * det['bbox'][3]
    # An uncompressed RLE (list counts) without a box: area and box read compressed RLE.
    det['segmentation'] = compress_rle(det['segmentation'])
    return float(mask_utils.area(det['segmentation']))


def _results_api(gt: COCO, dets: List[dict]) -> COCO:
    """What ``gt.loadRes(dets)`` builds, minus what evaluation never reads.

    ``loadRes`` also draws a polygon for every box and deep-copies the categories, which
    dominates for millions of detections. ``dets`` carry their area already.
    """
    for det_id, det in enumerate(dets, start=1):
        if 'bbox' not in det:
            det['bbox'] = mask_utils.toBbox(det['segmentation']).tolist()
        det['id'] = det_id
        det['iscrowd'] = 0
    res = COCO()
    res.dataset = dict(images=gt.dataset['images'], categories=gt.dataset['categories'],
                       annotations=dets)
    res.createIndex()
    return res


def _verified_categories(gt: COCO) -> dict:
    """Per image id, the categories LVIS evaluates there: the annotated and the negative ones."""
    return {img_id: set(img['neg_category_ids']) |
            {ann['category_id'] for ann in gt.imgToAnns[img_id]}
            for img_id, img in gt.imgs.items()}


def _category_chunks(gt: COCO, verified: dict, cat_ids):
    """Split categories into groups evaluated on only the images that can matter to them.

    A category's AP depends only on images where it has ground truth or is verified absent
    (LVIS drops its detections elsewhere), and categories without ground truth have no AP.
    Evaluating each group on its images skips the mostly empty images x categories grid
    that dominates LVIS evaluation time, without changing any number. ``verified`` is
    :func:`_verified_categories` of ``gt``; only ``cat_ids`` are chunked.
    """
    relevant = {cat_id: set() for cat_id in cat_ids if gt.catToImgs[cat_id]}
    for img_id, cat_ids in verified.items():
        for cat_id in cat_ids & relevant.keys():
            relevant[cat_id].add(img_id)
    chunk, imgs = [], set()
    for cat_id in sorted(relevant, key=lambda c: (len(relevant[c]), c)):
        extra = relevant[cat_id] - imgs
        if chunk and (len(chunk) + 1) * (len(imgs) + len(extra)) > _CHUNK_CELLS:
            yield chunk, sorted(imgs)
            chunk, imgs, extra = [], set(), relevant[cat_id]
        chunk.append(cat_id)
        imgs |= extra
    if chunk:
        yield chunk, sorted(imgs)


def _collect(gt, cat_ids, precision, recall, iou_thrs, iou_type, num_dets,
             protocol='standard') -> LVISEvalResult:
    """Summary, per-category and per-frequency numbers from the accumulated arrays."""
    groups = {f: [] for f in FREQUENCIES}
    for idx, cat_id in enumerate(cat_ids):
        groups[gt.cats[cat_id]['frequency']].append(idx)

    summary = _summarize(precision, recall, iou_thrs, slice(None))
    for freq in FREQUENCIES:
        summary[f'AP{freq}'] = _mean_valid(precision[:, :, groups[freq], 0])
    names = dict(zip(METRIC_NAMES, FIXED_METRIC_NAMES if protocol == 'fixed' else METRIC_NAMES))
    summary = {names[name]: summary[name] for name in METRIC_NAMES}

    num_gt = [len(gt.catToImgs[cat_id]) for cat_id in cat_ids]
    per_category = [
        dict(category_id=cat_id, name=gt.cats[cat_id].get('name', str(cat_id)),
             frequency=gt.cats[cat_id]['frequency'],
             image_count=gt.cats[cat_id].get('image_count'),
             instance_count=gt.cats[cat_id].get('instance_count'), num_gt=num_gt[idx],
             num_dets=num_dets[idx]) for idx, cat_id in enumerate(cat_ids)
    ]
    cat_metrics = _per_category(precision, recall, iou_thrs)
    for name, values in cat_metrics.items():
        for row, value in zip(per_category, values.tolist()):
            row[names[name]] = value
    per_frequency = []
    for freq in FREQUENCIES:
        row = dict(frequency=freq, num_categories=len(groups[freq]),
                   num_evaluated=int((cat_metrics['AP'][groups[freq]] >= 0).sum()))
        row.update((names[k], v) for k, v in
                   _summarize(precision, recall, iou_thrs, groups[freq]).items())
        per_frequency.append(row)
    return LVISEvalResult(iou_type, summary, per_category, per_frequency, protocol)


def _quiet(*args, **kwargs) -> None:
    """Silence faster-coco-eval's per-step prints."""


def _summarize(precision, recall, iou_thrs, cats) -> Dict[str, float]:
    """LVIS's summary numbers over the categories ``cats`` (LVISEval._summarize)."""
    iou50, iou75 = (np.flatnonzero(iou_thrs == thr) for thr in (0.5, 0.75))
    metrics = dict(
        AP=_mean_valid(precision[:, :, cats, 0]),
        AP50=_mean_valid(precision[iou50][:, :, cats, 0]),
        AP75=_mean_valid(precision[iou75][:, :, cats, 0]))
    for area_idx, area in enumerate(AREA_RANGES[1:], start=1):
        metrics[f'AP{area[0]}'] = _mean_valid(precision[:, :, cats, area_idx])
    metrics['AR@300'] = _mean_valid(recall[:, cats, 0])
    return metrics


def _per_category(precision, recall, iou_thrs) -> Dict[str, np.ndarray]:
    """``_summarize`` for every category at once (same numbers up to float rounding)."""
    iou50, iou75 = (np.flatnonzero(iou_thrs == thr) for thr in (0.5, 0.75))
    metrics = dict(
        AP=_masked_mean(precision[:, :, :, 0], (0, 1)),
        AP50=_masked_mean(precision[iou50][:, :, :, 0], (0, 1)),
        AP75=_masked_mean(precision[iou75][:, :, :, 0], (0, 1)))
    for area_idx, area in enumerate(AREA_RANGES[1:], start=1):
        metrics[f'AP{area[0]}'] = _masked_mean(precision[:, :, :, area_idx], (0, 1))
    metrics['AR@300'] = _masked_mean(recall[:, :, 0], 0)
    return metrics


def _masked_mean(values: np.ndarray, axis) -> np.ndarray:
    valid = values > -1
    count = valid.sum(axis)
    total = np.where(valid, values, 0).sum(axis)
    return np.where(count > 0, total / np.maximum(count, 1), -1.0)


def _mean_valid(values: np.ndarray) -> float:
    """Mean of the defined (> -1) entries, -1 when there are none, as the LVIS API reports."""
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else -1.0


def _load_json(path: str, what: str):
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{what} {path} is not valid JSON: {e}') from e


def _check_ids(results, key: str, known: dict, allowed: str) -> None:
    ids = [r[key] for r in results]
    unknown = [i for i, v in enumerate(ids) if v not in known]
    if unknown:
        idx = unknown[0]
        raise ValueError(
            f"results[{idx}]: field '{key}' is {ids[idx]!r}, which is not {allowed} "
            f'({len(known)} known; {len(unknown)} detections affected)')


def _numbers(results, key: str) -> np.ndarray:
    try:
        return np.array([r[key] for r in results], dtype=np.float64)
    except (TypeError, ValueError):
        idx = next(i for i, r in enumerate(results) if not _is_number(r[key]))
        raise ValueError(f"results[{idx}]: field '{key}' is {results[idx][key]!r}; "
                         'allowed: a number') from None


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


def _check_boxes(results) -> None:
    boxes = [r['bbox'] for r in results]
    bad_len = [i for i, b in enumerate(boxes) if not isinstance(b, (list, tuple)) or len(b) != 4]
    if bad_len:
        idx = bad_len[0]
        raise ValueError(f"results[{idx}]: field 'bbox' is {boxes[idx]!r}; allowed: "
                         '[x, y, width, height], 4 numbers')
    try:
        boxes = np.array(boxes, dtype=np.float64)
    except (TypeError, ValueError):
        idx = next(i for i, b in enumerate(boxes) if not all(map(_is_number, b)))
        raise ValueError(f"results[{idx}]: field 'bbox' is {boxes[idx]!r}; allowed: "
                         '[x, y, width, height], 4 numbers') from None
    bad = np.flatnonzero(~np.isfinite(boxes).all(axis=1))
    if bad.size:
        raise ValueError(f"results[{bad[0]}]: field 'bbox' is {boxes[bad[0]].tolist()}; "
                         'allowed: finite numbers')
    bad = np.flatnonzero((boxes[:, 2:] < 0).any(axis=1))
    if bad.size:
        raise ValueError(f"results[{bad[0]}]: field 'bbox' is {boxes[bad[0]].tolist()}; width "
                         f'and height must be >= 0 ({bad.size} detections have negative ones)')


def _check_segmentations(results, gt: COCO) -> None:
    for idx, r in enumerate(results):
        segm = r['segmentation']
        if isinstance(segm, dict):
            img = gt.imgs[r['image_id']]
            if 'counts' not in segm or 'size' not in segm:
                raise ValueError(f"results[{idx}]: field 'segmentation' is an RLE without "
                                 "'counts' and 'size'; allowed: {'size': [h, w], 'counts': ...}")
            if list(segm['size']) != [img['height'], img['width']]:
                raise ValueError(
                    f"results[{idx}]: field 'segmentation' has size {list(segm['size'])}, but "
                    f"image {r['image_id']} is [{img['height']}, {img['width']}] ([height, width])")
        elif not (isinstance(segm, list) and segm and all(
                isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 for p in segm)):
            raise ValueError(f"results[{idx}]: field 'segmentation' is neither an RLE dict nor a "
                             'list of polygons [[x1, y1, x2, y2, x3, y3, ...], ...]')
        elif 'bbox' not in r:
            raise ValueError(f"results[{idx}]: polygon 'segmentation' needs a 'bbox' field too "
                             '(the LVIS API takes the area of such results from the box)')
