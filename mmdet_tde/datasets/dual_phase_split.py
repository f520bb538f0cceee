"""The class split of dual-phase training: which categories phase I learns, which phase II adds.

"Asynchronous Modeling: a dual-phase perspective for long-tailed recognition" (ICLR 2021
submission, OpenReview u846Bqhry_) trains the data-rich classes first (phase I) and adds the
data-poor ones in phase II. On LVIS the natural split is LVIS's own frequency groups: phase I
the frequent and common categories, phase II the rare ones; the paper's rule (appendix A: the
many- and medium-shot classes, i.e. at least 20 training images) is available as ``min_images``.

The split file records both phases' category ids, the paper's lambda = sqrt(C1 / C2) (appendix
A) and two digests: one of the categories it was made from, which a dataset compares with its
own annotation file, and one of the split itself, which the memory and checkpoints carry.
"""
import hashlib
import json
import math
import os
from typing import Optional, Sequence

SPLIT_VERSION = 1


def categories_digest(categories: Sequence[dict]) -> str:
    """A digest of (id, name) of all categories, in id order."""
    pairs = sorted((int(c['id']), str(c['name'])) for c in categories)
    return hashlib.sha256(json.dumps(pairs).encode()).hexdigest()[:16]


def _split_digest(cat_digest: str, phase1_ids: Sequence[int], phase2_ids: Sequence[int]) -> str:
    payload = json.dumps([cat_digest, sorted(phase1_ids), sorted(phase2_ids)])
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def make_split(categories: Sequence[dict], min_images: Optional[int] = None,
               annotations: str = '') -> dict:
    """Split LVIS-format categories into phase I and phase II.

    Default: phase II = the rare categories (``frequency == 'r'``). With ``min_images``, phase II
    = categories in fewer than ``min_images`` training images (``image_count``).
    """
    if not categories:
        raise ValueError('the annotation file has no categories')
    key = 'frequency' if min_images is None else 'image_count'
    for cat in categories:
        if key not in cat:
            raise ValueError(f"category {cat.get('id')} has no '{key}' field: the split needs "
                             'LVIS training annotations')
    if min_images is None:
        phase2 = [c for c in categories if c['frequency'] == 'r']
        rule = "LVIS frequency groups: phase I = 'f' + 'c', phase II = 'r'"
    else:
        if min_images < 1:
            raise ValueError(f'min_images must be >= 1, got {min_images}')
        phase2 = [c for c in categories if c['image_count'] < min_images]
        rule = f'phase II = categories in fewer than {min_images} training images'
    phase2_ids = sorted(int(c['id']) for c in phase2)
    phase1_ids = sorted(int(c['id']) for c in categories if int(c['id']) not in set(phase2_ids))
    if not phase1_ids or not phase2_ids:
        raise ValueError(f'the rule ({rule}) leaves phase I with {len(phase1_ids)} and phase II '
                         f'with {len(phase2_ids)} categories; both need at least one')
    cat_digest = categories_digest(categories)
    return dict(version=SPLIT_VERSION, rule=rule, min_images=min_images, annotations=annotations,
                categories_digest=cat_digest, phase1_category_ids=phase1_ids,
                phase2_category_ids=phase2_ids,
                loss_lambda=math.sqrt(len(phase1_ids) / len(phase2_ids)),
                digest=_split_digest(cat_digest, phase1_ids, phase2_ids))


def load_split(path: str) -> dict:
    """Read a split file and check that it is whole and unchanged."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'dual-phase split file not found: {path} (make it with '
                                'tools/dual_phase_split.py)')
    with open(path) as f:
        split = json.load(f)
    missing = {'version', 'categories_digest', 'phase1_category_ids', 'phase2_category_ids',
               'loss_lambda', 'digest'} - set(split)
    if missing:
        raise ValueError(f'{path} is not a dual-phase split file: missing {sorted(missing)}')
    if split['version'] != SPLIT_VERSION:
        raise ValueError(f"{path}: split version {split['version']}, expected {SPLIT_VERSION}")
    digest = _split_digest(split['categories_digest'], split['phase1_category_ids'],
                           split['phase2_category_ids'])
    if digest != split['digest']:
        raise ValueError(f'{path}: the category ids do not match the digest; the file was '
                         'edited by hand: make it again with tools/dual_phase_split.py')
    return split


def check_split_categories(split: dict, categories: Sequence[dict], source: str) -> None:
    """Refuse a split made from other categories than those of ``source``."""
    if categories_digest(categories) != split['categories_digest']:
        raise ValueError(f'the dual-phase split was made for other categories than those of '
                         f'{source}: make the split from the training annotations of this dataset')


def phase2_labels(split: dict) -> list:
    """Label indices of the phase-II categories, in mmdet's LVIS order (sorted category ids)."""
    all_ids = sorted(split['phase1_category_ids'] + split['phase2_category_ids'])
    phase2 = set(split['phase2_category_ids'])
    return [label for label, cat_id in enumerate(all_ids) if cat_id in phase2]

