"""Matching prepared detections to ground truth: hotcoco for boxes and masks,
faster-coco-eval for Boundary AP (hotcoco has no boundary IoU).

Both engines' ``lvis_style`` applies LVIS's federated rules within an image and category
(unmatched detections of a not-exhaustively annotated category are ignored). Given what
:mod:`.fast_lvis` prepares (detections of unverified categories and everything of area 0
dropped, the caps applied, no crowd), their precision and recall are the LVIS API's
(docs/evaluation.md). Each returns precision [iou, recall, category, area] and recall
[iou, category, area] of ``cat_ids``, -1 where a category has no ground truth.
"""
import numpy as np

# Boundary width as a fraction of the image diagonal (Cheng et al. 2021).
BOUNDARY_DILATION_RATIO = 0.02
# Categories evaluated together by faster-coco-eval span at most this many image x category
# cells.
_CHUNK_CELLS = 50_000


def match(gt, dets: dict, cat_ids, iou_type: str, max_dets: int):
    """``dets``: the columns of :mod:`.detection_exchange` plus ``area``, only of
    ``cat_ids``; every image has at most ``max_dets`` of them."""
    if len(cat_ids) == 0:  # to an engine, no categories would mean all of them
        return merge_categories([], 0)
    if iou_type == 'boundary':
        return merge_categories(_match_boundary(gt, dets, cat_ids, max_dets), len(cat_ids))
    from hotcoco import COCOeval
    coco_gt = gt.engine('hotcoco')
    rows = np.column_stack([dets['image_id'], dets['bbox'], dets['score'], dets['category_id']])
    res = coco_gt.load_res(rows, segmentation=dets['segmentation'])
    # The LVIS API takes a mask's area from its box where it has one, else from the mask.
    res.update_anns(ids=np.arange(1, len(rows) + 1), area=dets['area'])
    coco_eval = COCOeval(coco_gt, res.cap_detections_per_image(None), iou_type, lvis_style=True)
    coco_eval.params.cat_ids = list(cat_ids)
    coco_eval.params.max_dets = [max(max_dets, 1)]
    coco_eval.evaluate()
    coco_eval.accumulate()
    return coco_eval.eval['precision'][..., -1], coco_eval.eval['recall'][..., -1]


def merge_categories(parts, num_cats: int):
    """Precision and recall of ``num_cats`` categories from ``parts``, each (indices of some
    categories, their precision, their recall); -1 for categories in no part."""
    precision, recall = -np.ones((10, 101, num_cats, 4)), -np.ones((10, num_cats, 4))
    for idx, part_precision, part_recall in parts:
        precision[:, :, idx], recall[:, idx] = part_precision, part_recall
    return precision, recall


def _match_boundary(gt, dets: dict, cat_ids, max_dets: int):
    """faster-coco-eval, in chunks of categories, each on only the images that can matter to
    it: evaluating the mostly empty images x categories grid at once dominates its time.
    Yields each chunk's positions in ``cat_ids``, precision and recall."""
    from faster_coco_eval import COCO, COCOeval_faster
    coco_gt = gt.engine('faster_coco_eval')
    cat_pos = {cat_id: pos for pos, cat_id in enumerate(cat_ids)}
    for chunk_cats, chunk_imgs in _category_chunks(gt, cat_ids):
        keep = np.isin(dets['category_id'], chunk_cats)
        res = COCO()
        res.dataset = dict(images=coco_gt.dataset['images'],
                           categories=coco_gt.dataset['categories'],
                           annotations=_as_dicts(dets, np.flatnonzero(keep)))
        res.createIndex()
        coco_eval = COCOeval_faster(coco_gt, res, 'boundary', lvis_style=True,
                                    print_function=lambda *args, **kwargs: None,  # quiet
                                    boundary_dilation_ratio=BOUNDARY_DILATION_RATIO)
        coco_eval.params.catIds = chunk_cats
        coco_eval.params.imgIds = chunk_imgs
        coco_eval.params.maxDets = [max(max_dets, 1)]
        coco_eval.evaluate()
        coco_eval.accumulate()
        yield ([cat_pos[c] for c in coco_eval.params.catIds],
               coco_eval.eval['precision'][..., -1], coco_eval.eval['recall'][..., -1])


def _as_dicts(dets: dict, index) -> list:
    """faster-coco-eval's detection records: one dict each, numbered from 1."""
    return [dict(id=n, image_id=int(dets['image_id'][i]), category_id=int(dets['category_id'][i]),
                 score=float(dets['score'][i]), bbox=dets['bbox'][i].tolist(),
                 area=float(dets['area'][i]), segmentation=dets['segmentation'][i], iscrowd=0)
            for n, i in enumerate(index.tolist(), start=1)]


def _category_chunks(gt, cat_ids):
    """Groups of ``cat_ids`` with ground truth, each with the images where its categories
    have ground truth or are verified absent (LVIS drops their detections elsewhere)."""
    relevant = {cat_id: set() for cat_id in cat_ids if gt.num_gt[cat_id]}
    for img in gt.dataset['images']:
        for cat_id in relevant.keys() & set(img['neg_category_ids']):
            relevant[cat_id].add(img['id'])
    for ann in gt.dataset['annotations']:
        if ann['category_id'] in relevant:
            relevant[ann['category_id']].add(ann['image_id'])
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
