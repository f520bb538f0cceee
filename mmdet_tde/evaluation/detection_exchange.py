"""Detections as columns, and sending each to the process that evaluates its category.

Evaluation reads detections as numpy columns (``image_id``, ``category_id``, ``score``,
``bbox``, ``order``: each detection's position in the whole results list) plus a list of masks
(``segmentation``); a column may be None (no boxes, no masks). Columns pickle as memory copies,
where millions of detection dicts pickle slowly.
"""
from typing import List, Sequence

import numpy as np


def take(dets: dict, index) -> dict:
    """The detections at ``index`` (integer positions or a boolean mask); ``dets`` itself
    where that keeps all of them in order (as often: copying millions is not free)."""
    index = np.asarray(index)
    if index.dtype == bool:
        if index.all():
            return dets
        index = np.flatnonzero(index)
    elif len(index) == len(dets['score']) and np.array_equal(index, np.arange(len(index))):
        return dets
    out = dict(dets)  # missing columns (None) stay missing
    for key, column in dets.items():
        if isinstance(column, np.ndarray):
            out[key] = column[index]
        elif column is not None:
            out[key] = [column[i] for i in index.tolist()]
    return out


def concat(parts: List[dict]) -> dict:
    out = dict(parts[0])  # missing columns (None) stay missing
    for key, column in parts[0].items():
        if isinstance(column, np.ndarray):
            out[key] = np.concatenate([part[key] for part in parts])
        elif column is not None:
            out[key] = [value for part in parts for value in part[key]]
    return out


def exchange_by_owner(dets: dict, owners: Sequence[int], group) -> dict:
    """Send detection ``i`` to process ``owners[i]``; return the detections received here,
    sorted by ``order``, so that ties in score meet in the order one process sees."""
    owners = np.asarray(owners, dtype=np.int64)
    # This process's own detections stay as they are; only the others travel.
    parts = [None if rank == group.rank else take(dets, owners == rank)
             for rank in range(group.world_size)]
    received = group.all_to_all(parts)
    received[group.rank] = take(dets, owners == group.rank)
    merged = concat(received)
    return take(merged, np.argsort(merged['order'], kind='stable'))


def shard_by_image(results: Sequence[dict], world_size: int, rank: int):
    """Process ``rank``'s share of a whole results list, for shared evaluation.

    Images go to processes round robin in order of first appearance, so each image's
    detections stay together (the 300 per image cap needs them all). Returns the share and
    each of its detections' positions in ``results`` (the ``order`` of shared evaluation).
    """
    first_seen = {}
    for det in results:
        first_seen.setdefault(det['image_id'], len(first_seen))
    positions = [i for i, det in enumerate(results)
                 if first_seen[det['image_id']] % world_size == rank]
    return [results[i] for i in positions], positions
