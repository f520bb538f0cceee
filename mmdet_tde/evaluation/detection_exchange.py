"""Send each detection to the process that evaluates its category, as compact columns.

Millions of detection dicts pickle slowly; their fields as numpy columns pickle as memory
copies. Only the fields LVIS evaluation reads travel (image, category, score, box, mask).
"""
from typing import List, Optional, Sequence

import numpy as np

_NUMBER_FIELDS = ('image_id', 'category_id', 'score')


def exchange_by_owner(results: Sequence[dict], order: Optional[Sequence[int]],
                      owners: Sequence[int], group) -> List[dict]:
    """Send ``results[i]`` to process ``owners[i]``; return the detections received here.

    ``order`` holds each detection's position in the whole results list; the received
    detections come back sorted by it, so ties in score meet in the order one process sees.
    """
    if order is None:
        raise ValueError('evaluation shared across processes needs each detection\'s position '
                         'in the whole results list (order)')
    order = np.asarray(order, dtype=np.int64)
    owners = np.asarray(owners, dtype=np.int64)
    if not len(order) == len(owners) == len(results):
        raise ValueError(f'order ({len(order)}) and owners ({len(owners)}) need one entry per '
                         f'detection ({len(results)})')
    # This process's own detections stay as they are; only the others travel.
    parts = [None if rank == group.rank else _pack(
        [results[i] for i in np.flatnonzero(owners == rank)], order[owners == rank])
        for rank in range(group.world_size)]
    received = group.all_to_all(parts)
    own = np.flatnonzero(owners == group.rank)
    received[group.rank] = dict(order=order[own])
    dets = [det for rank, part in enumerate(received) for det in (
        [results[i] for i in own] if rank == group.rank else _unpack(part))]
    keys = np.concatenate([part['order'] for part in received])
    return [dets[i] for i in np.argsort(keys, kind='stable')]


def _pack(dets: List[dict], order: np.ndarray) -> dict:
    columns = dict(order=order)
    for key in _NUMBER_FIELDS:
        columns[key] = np.array([d[key] for d in dets])
    if dets and 'bbox' in dets[0]:
        columns['bbox'] = np.array([d['bbox'] for d in dets], dtype=np.float64).reshape(-1, 4)
    if dets and all('segmentation' in d for d in dets):
        columns['segmentation'] = [d['segmentation'] for d in dets]
    return columns


def _unpack(columns: dict) -> List[dict]:
    fields = {key: columns[key].tolist() for key in _NUMBER_FIELDS}
    if 'bbox' in columns:
        fields['bbox'] = columns['bbox'].tolist()
    if 'segmentation' in columns:
        fields['segmentation'] = columns['segmentation']
    return [dict(zip(fields, values)) for values in zip(*fields.values())]


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
