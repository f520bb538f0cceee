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
import numbers
import os
from typing import Optional, Sequence

from .atomic import read_json

SPLIT_VERSION = 1
FREQUENCIES = ('f', 'c', 'r')  # LVIS's frequent / common / rare groups
# Fields that only describe how the split was made; every other one is checked by load_split.
_DESCRIPTIVE = dict(rule=str, annotations=str)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_categories(categories, key: Optional[str] = None) -> None:
    """Refuse categories a split cannot be made from: not a list of dicts, ids that are not
    unique integers, names that are not strings, and (``key``) a ``frequency`` outside LVIS's
    letters or an ``image_count`` that is not a finite integer >= 0."""
    if not isinstance(categories, list) or not categories:
        raise ValueError("'categories' must be a non-empty list of category dicts, got "
                         f'{type(categories).__name__} {categories!r:.80}')
    seen = set()
    for index, cat in enumerate(categories):
        if not isinstance(cat, dict):
            raise ValueError(f'categories[{index}] must be a dict, got {cat!r:.80}')
        cat_id = cat.get('id')
        if not _is_int(cat_id):
            raise ValueError(f"categories[{index}]: 'id' must be an integer, got {cat_id!r}")
        if cat_id in seen:
            raise ValueError(f'category id {cat_id} appears more than once: ids must be unique')
        seen.add(cat_id)
        if not isinstance(cat.get('name'), str):
            raise ValueError(f"category {cat_id}: 'name' must be a string, got "
                             f"{cat.get('name')!r}")
        if key is None:
            continue
        if key not in cat:
            raise ValueError(f"category {cat_id} has no '{key}' field: the split needs LVIS "
                             'training annotations')
        value = cat[key]
        if key == 'frequency' and value not in FREQUENCIES:
            raise ValueError(f"category {cat_id}: 'frequency' must be one of {FREQUENCIES}, got "
                             f'{value!r}')
        if key == 'image_count' and not (_is_int(value) and value >= 0):
            raise ValueError(f"category {cat_id}: 'image_count' must be an integer >= 0, got "
                             f'{value!r}')


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
    check_categories(categories, 'frequency' if min_images is None else 'image_count')
    if min_images is None:
        phase2 = [c for c in categories if c['frequency'] == 'r']
        rule = "LVIS frequency groups: phase I = 'f' + 'c', phase II = 'r'"
    else:
        if not _is_int(min_images) or min_images < 1:
            raise ValueError(f'min_images must be an integer >= 1, got {min_images!r}')
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


def _check_ids(path: str, split: dict, key: str) -> list:
    ids = split[key]
    if not (isinstance(ids, list) and ids and all(map(_is_int, ids))):
        raise ValueError(f'{path}: {key} must be a non-empty list of integer category ids, got '
                         f'{ids!r:.80}')
    if len(set(ids)) != len(ids):
        raise ValueError(f'{path}: {key} holds a category id more than once')
    return ids


def check_split(split, path: str = 'the split') -> dict:
    """Check every field of a split (see the module docstring); return it.

    The digest covers the category ids; ``loss_lambda`` must be the sqrt(C1 / C2) of those ids
    (a weight of another value belongs in the RoI head's ``graph_loss_weight``); the other
    fields are checked for type.
    """
    if not isinstance(split, dict):
        raise ValueError(f'{path} is not a dual-phase split file: a JSON object is expected, got '
                         f'{type(split).__name__}')
    missing = {'version', 'categories_digest', 'phase1_category_ids', 'phase2_category_ids',
               'loss_lambda', 'digest', 'min_images'} - set(split)
    if missing:
        raise ValueError(f'{path} is not a dual-phase split file: missing {sorted(missing)}')
    if split['version'] != SPLIT_VERSION:
        raise ValueError(f"{path}: split version {split['version']!r}, expected {SPLIT_VERSION}")
    for key in ('categories_digest', 'digest'):
        if not isinstance(split[key], str):
            raise ValueError(f'{path}: {key} must be a string, got {split[key]!r}')
    for key, kind in _DESCRIPTIVE.items():
        if key in split and not isinstance(split[key], kind):
            raise ValueError(f'{path}: {key} must be a {kind.__name__}, got {split[key]!r}')
    min_images = split['min_images']
    if min_images is not None and not (_is_int(min_images) and min_images >= 1):
        raise ValueError(f'{path}: min_images must be null or an integer >= 1, got '
                         f'{min_images!r}')
    phase1 = _check_ids(path, split, 'phase1_category_ids')
    phase2 = _check_ids(path, split, 'phase2_category_ids')
    if set(phase1) & set(phase2):
        raise ValueError(f'{path}: categories {sorted(set(phase1) & set(phase2))} are in both '
                         'phases')
    if _split_digest(split['categories_digest'], phase1, phase2) != split['digest']:
        raise ValueError(f'{path}: the category ids do not match the digest; the file was '
                         'edited by hand: make it again with tools/dual_phase_split.py')
    expected = math.sqrt(len(phase1) / len(phase2))
    value = split['loss_lambda']
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isclose(value, expected, rel_tol=1e-9)):
        raise ValueError(f'{path}: loss_lambda must be sqrt(C1 / C2) = {expected!r} for its '
                         f'{len(phase1)} and {len(phase2)} categories, got {value!r}; the file '
                         "was edited by hand: set another weight with the RoI head's "
                         'graph_loss_weight instead')
    return split


def load_split(path: str) -> dict:
    """Read a split file and check that it is whole and unchanged (:func:`check_split`)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'dual-phase split file not found: {path} (make it with '
                                'tools/dual_phase_split.py)')
    return check_split(read_json(path, 'dual-phase split file'), path)


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

