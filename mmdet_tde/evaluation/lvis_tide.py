"""TIDE's error types per LVIS frequency group: do rare categories fail because their objects
are given another (often a frequent) category, because boxes are off, or because nothing
is found?

Bolya et al., "TIDE: A General Toolbox for Identifying Object Detection Errors", ECCV 2020,
arXiv:2008.08115. hotcoco's ``COCOeval.tide_errors`` gives only totals over all categories,
and it fixes a Cls error as a true positive of the detection's own (wrong) category, which
would credit the frequent category with the rare one's object. The errors are therefore found
here, with TIDE's own types, order and fixes, on the detections LVIS evaluates (what
:mod:`.fast_lvis` keeps), matched at ``pos_thr`` as the LVIS API matches them; only the
averages are per group (a group's ΔAP is the mean of its categories'). The types and fixes:
docs/evaluation.md, "Errors per frequency group (TIDE)". Where LVIS's rules are COCO's, the
counts, AP50 and the ΔAP of Both, Dupe, Bkg and Miss equal hotcoco's.
"""
from functools import partial
from typing import Dict

import numpy as np

from .lvis_input_checks import FREQUENCIES, check_iou_type

ERROR_TYPES = ('Cls', 'Loc', 'Both', 'Dupe', 'Bkg', 'Miss')
_FP_TYPES = ERROR_TYPES[:5]
# Detection kinds: the indices of _FP_TYPES, then true positives and ignored detections.
_CLS, _LOC, _BOTH, _DUPE, _BKG, _TP, _IGNORED = range(len(_FP_TYPES) + 2)
_REC_THRS = np.linspace(0.0, 1.00, 101)
TIDE_IOU_TYPES = ('bbox', 'segm')
check_tide_iou_type = partial(check_iou_type, allowed=TIDE_IOU_TYPES, what='TIDE errors: iou_type')


def tide_by_frequency(gt, dets: dict, iou_type: str, pos_thr: float = 0.5,
                      bg_thr: float = 0.1) -> Dict:
    """Error counts and ΔAP per frequency group ('r', 'c', 'f', and 'all').

    ``dets``: the columns LVIS evaluates (``image_id``, ``category_id``, ``score``, ``order``,
    ``bbox``, ``segmentation`` as :mod:`.fast_lvis` prepares them). Returns ``pos_thr``,
    ``bg_thr``, ``per_frequency`` (rows with ``frequency``, ``num_evaluated`` (categories with
    ground truth), ``AP50``, a count per error type and ``dAP_{type}``) and ``cls_confusion``
    (Cls errors counted by the ground truth's group and the detection's group).
    """
    check_tide_iou_type(iou_type)
    if not 0 < bg_thr <= pos_thr < 1:
        raise ValueError(f'TIDE errors need 0 < bg_thr <= pos_thr < 1, got bg_thr={bg_thr}, '
                         f'pos_thr={pos_thr}')
    cat_ids = gt.cat_ids
    anns = gt.dataset['annotations']
    gt_cat = np.searchsorted(cat_ids, np.fromiter(
        (a['category_id'] for a in anns), np.int64, count=len(anns)))
    det_cat = np.searchsorted(cat_ids, dets['category_id'])
    kind, target, gt_matched = _classify(gt, dets, det_cat, gt_cat, iou_type, pos_thr, bg_thr)
    num_gt = np.bincount(gt_cat, minlength=len(cat_ids))
    missed = ~gt_matched  # and not the target of a Loc or Cls error
    missed[target[target >= 0]] = False
    counts_missed = np.bincount(gt_cat[missed], minlength=len(cat_ids))
    # From here on, detections in the order the LVIS API ranks them within a category: by
    # decreasing score, ties by image id, then results order. Fixes keep that order.
    ranked = np.lexsort((dets['order'], dets['image_id'], -dets['score']))
    kind, target, det_cat = kind[ranked], target[ranked], det_cat[ranked]
    counted = kind != _IGNORED
    base = _ap_per_category(det_cat[counted], kind[counted] == _TP, num_gt, num_gt > 0)
    fixed = {name: _ap_per_category(*_fix(kind, code, target, det_cat, gt_cat, gt_matched),
                                    num_gt, num_gt > 0) for code, name in enumerate(_FP_TYPES)}
    fixed['Miss'] = _ap_per_category(det_cat[counted], kind[counted] == _TP,
                                     num_gt - counts_missed, num_gt > 0)

    freq = gt.frequencies
    counts = {name: np.bincount(det_cat[kind == code], minlength=len(cat_ids))
              for code, name in enumerate(_FP_TYPES)}
    counts['Miss'] = counts_missed
    rows = []
    for group in FREQUENCIES + ('all', ):
        in_group = np.ones(len(cat_ids), bool) if group == 'all' else freq == group
        evaluated = in_group & (num_gt > 0)
        # A group without ground truth has no AP50 (-1, as LVIS reports it) and no ΔAP (None).
        row = dict(frequency=group, num_evaluated=int(evaluated.sum()),
                   AP50=float(base[evaluated].mean()) if evaluated.any() else -1.0)
        row.update((name, int(counts[name][in_group].sum())) for name in ERROR_TYPES)
        row.update((f'dAP_{name}', float(np.mean(fixed[name][evaluated] - base[evaluated]))
                    if evaluated.any() else None) for name in ERROR_TYPES)
        rows.append(row)
    is_cls = kind == _CLS
    confusion = [
        dict(gt_frequency=g, **{p: int(np.sum((freq[gt_cat[target[is_cls]]] == g)
                                              & (freq[det_cat[is_cls]] == p)))
                                for p in FREQUENCIES})
        for g in FREQUENCIES
    ]
    return dict(pos_thr=pos_thr, bg_thr=bg_thr, per_frequency=rows, cls_confusion=confusion)


def _classify(gt, dets, det_cat, gt_cat, iou_type, pos_thr, bg_thr):
    """Per detection its kind (an index of ``_FP_TYPES``, ``_TP`` or ``_IGNORED``) and the
    ground truth a Loc or Cls error aims at (an index of the annotations, else -1); per
    ground truth whether it is matched."""
    anns = gt.dataset['annotations']
    kind = np.full(len(det_cat), _IGNORED, np.int8)
    target = np.full(len(det_cat), -1, np.int64)
    gt_matched = np.zeros(len(anns), bool)
    gt_img = np.fromiter((a['image_id'] for a in anns), np.int64, count=len(anns))
    gt_order = np.argsort(gt_img, kind='stable')  # annotation order within an image
    gt_img_sorted = gt_img[gt_order]
    # Within an image by decreasing score, ties in results order (the LVIS API's stable sort).
    det_order = np.lexsort((dets['order'], -dets['score'], dets['image_id']))
    img_of = dets['image_id'][det_order]
    starts = np.flatnonzero(np.r_[True, img_of[1:] != img_of[:-1]])
    for d_start, d_stop in zip(starts, np.r_[starts[1:], len(img_of)]):
        img_id = int(img_of[d_start])
        d = det_order[d_start:d_stop]
        g = gt_order[np.searchsorted(gt_img_sorted, img_id):
                     np.searchsorted(gt_img_sorted, img_id, 'right')]
        ious = _ious(gt, dets, d, g, iou_type)
        same = det_cat[d][:, None] == gt_cat[g][None, :]
        match = _match(ious, same, pos_thr)
        kind[d[match >= 0]] = _TP
        gt_matched[g[match[match >= 0]]] = True
        not_exhaustive = np.isin(gt.cat_ids[det_cat[d]],
                                 gt.imgs[img_id]['not_exhaustive_category_ids'])
        fp = (match < 0) & ~not_exhaustive
        s_iou = np.where(same, ious, -1.0)
        o_iou = np.where(same, -1.0, ious)
        s_max, o_max = s_iou.max(1, initial=0.0), o_iou.max(1, initial=0.0)
        # A false positive's type is the first that applies, in TIDE's order; else Both.
        fp_kind = np.where(fp, np.select(
            [(s_max >= bg_thr) & (s_max < pos_thr), o_max >= pos_thr, s_max >= pos_thr,
             ious.max(1, initial=0.0) < bg_thr], [_LOC, _CLS, _DUPE, _BKG], _BOTH), -1)
        kind[d[fp]] = fp_kind[fp]
        if g.size:
            aim = np.where(fp_kind == _LOC, s_iou.argmax(1),
                           np.where(fp_kind == _CLS, o_iou.argmax(1), -1))
            target[d[aim >= 0]] = g[aim[aim >= 0]]
    return kind, target, gt_matched


def _ious(gt, dets, d, g, iou_type) -> np.ndarray:
    """IoU of detections ``d`` with ground truth ``g`` (annotation indices) of one image."""
    if g.size == 0:
        return np.zeros((len(d), 0))
    anns = gt.dataset['annotations']
    if iou_type == 'bbox':
        return _box_iou(dets['bbox'][d], np.array([anns[i]['bbox'] for i in g.tolist()],
                                                  np.float64))
    from hotcoco import mask as mask_utils
    engine = gt.engine('hotcoco')
    dt_rles = [dets['segmentation'][i] for i in d.tolist()]  # compressed by fast_lvis
    gt_rles = [engine.annToRLE(anns[i]) for i in g.tolist()]
    return np.asarray(mask_utils.iou(dt_rles, gt_rles, np.zeros(len(g), np.uint8)))


def _box_iou(dt: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU of ``[x, y, w, h]`` boxes (D, G), in the operations and order of the COCO API's
    ``bbIou`` (no crowd), so that IoUs at a threshold compare alike; a numpy call per image
    instead of one into hotcoco per image (a third of the time at LVIS scale)."""
    w = (np.minimum(dt[:, None, 0] + dt[:, None, 2], gt[None, :, 0] + gt[None, :, 2])
         - np.maximum(dt[:, None, 0], gt[None, :, 0]))
    h = (np.minimum(dt[:, None, 1] + dt[:, None, 3], gt[None, :, 1] + gt[None, :, 3])
         - np.maximum(dt[:, None, 1], gt[None, :, 1]))
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    union = (dt[:, 2] * dt[:, 3])[:, None] + (gt[:, 2] * gt[:, 3])[None, :] - inter
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(inter > 0, inter / union, 0.0)


def _match(ious: np.ndarray, same: np.ndarray, pos_thr: float) -> np.ndarray:
    """The LVIS API's greedy matching of one image (detections in score order): each
    detection's ground truth (column) or -1. Of equal IoUs the later ground truth wins, as
    there."""
    match = np.full(ious.shape[0], -1, np.int64)
    candidates = same & (ious >= pos_thr)
    free = np.ones(ious.shape[1], bool)
    for k in np.flatnonzero(candidates.any(1)).tolist():
        ok = candidates[k] & free
        if ok.any():
            values = np.where(ok, ious[k], -1.0)
            m = len(values) - 1 - int(np.argmax(values[::-1]))
            match[k], free[m] = m, False
    return match


def _fix(kind, code, target, det_cat, gt_cat, gt_matched):
    """Ranked detections with the errors of type ``code`` fixed: the categories and true
    positive flags of those that stay (ignored ones never count)."""
    cats, is_tp = det_cat.copy(), kind == _TP
    keep = (kind != _IGNORED) & (kind != code)
    errors = np.flatnonzero((kind == code) & (target >= 0))
    errors = errors[~gt_matched[target[errors]]]
    if errors.size:
        # The top-ranked error aimed at a ground truth takes it; the others are removed.
        _, first = np.unique(target[errors], return_index=True)
        fixed = errors[first]
        cats[fixed], is_tp[fixed], keep[fixed] = gt_cat[target[fixed]], True, True
    return cats[keep], is_tp[keep]


def _ap_per_category(cats, is_tp, num_gt, evaluated) -> np.ndarray:
    """AP at one IoU per category of ranked detections as the LVIS API accumulates it (101
    recall points); -1 outside ``evaluated``, 0 where every ground truth was taken out of the
    denominator (no true positive is left to rank)."""
    order = np.argsort(cats, kind='stable')  # by category, ranked within
    cats, is_tp = cats[order], is_tp[order]
    bounds = np.searchsorted(cats, np.arange(len(num_gt) + 1))
    ap = np.where(evaluated, 0.0, -1.0)
    for c in np.flatnonzero((num_gt > 0) & (bounds[1:] > bounds[:-1])).tolist():
        tp = is_tp[bounds[c]:bounds[c + 1]]
        tps = np.cumsum(tp, dtype=np.float64)
        fps = np.cumsum(~tp, dtype=np.float64)
        recall = tps / num_gt[c]
        precision = np.maximum.accumulate((tps / (fps + tps + np.spacing(1)))[::-1])[::-1]
        idx = np.searchsorted(recall, _REC_THRS, side='left')
        ap[c] = np.where(idx < len(tp), precision[np.minimum(idx, len(tp) - 1)], 0.0).mean()
    return ap
