"""An LVIS annotation file as LVIS evaluation reads it, indexed once for every engine.

The LVIS API evaluates only annotations whose area is in (0, inf) (``LVIS.get_ann_ids``'
default range is open) and has no crowd regions; the matching engines get the annotations
prepared that way, each its own copy made on first use.
"""
import importlib
import json
import os.path as osp
from collections import Counter
from typing import Union

import numpy as np

from .lvis_input_checks import check_lvis_annotations


class LVISGroundTruth:
    """The checked dataset (``dataset``, ``imgs`` and ``cats`` by id) and what evaluation
    asks of it: evaluated instances per category, the categories verified in each image."""

    def __init__(self, dataset: dict):
        check_lvis_annotations(dataset)
        anns = [dict(a, iscrowd=0) for a in dataset['annotations']
                if has_evaluated_area(a['area'])]
        self.dataset = dict(dataset, annotations=anns)
        self.imgs = {img['id']: img for img in dataset['images']}
        self.cats = {cat['id']: cat for cat in dataset['categories']}
        self.cat_ids = np.array(sorted(self.cats), dtype=np.int64)
        self.frequencies = np.array([self.cats[c]['frequency'] for c in self.cat_ids.tolist()])
        self.num_gt = Counter(a['category_id'] for a in anns)
        # (image, category) pairs LVIS evaluates: the annotated and the negative ones.
        pairs = {(a['image_id'], a['category_id']) for a in anns}
        pairs.update((img['id'], c) for img in dataset['images'] for c in img['neg_category_ids'])
        self._verified = np.unique(np.fromiter(
            (self.pair_key(i, c) for i, c in pairs), np.int64, count=len(pairs)))
        self._engines = {}

    def get_cat_ids(self) -> list:
        """Category ids in the file's order (the order of mmdet's labels)."""
        return [cat['id'] for cat in self.dataset['categories']]

    def pair_key(self, img_ids, cat_ids):
        """One integer per (image id, category id), for vectorised membership tests."""
        return np.searchsorted(self.cat_ids, cat_ids) + np.asarray(img_ids, np.int64) * len(
            self.cat_ids)

    def verified(self, img_ids: np.ndarray, cat_ids: np.ndarray) -> np.ndarray:
        """Whether LVIS evaluates detections of ``cat_ids[i]`` in image ``img_ids[i]``; it
        drops the others (the category is neither annotated nor verified absent there)."""
        return np.isin(self.pair_key(img_ids, cat_ids), self._verified)

    def engine(self, name: str):
        """The ground truth as ``name`` ('hotcoco' or 'faster_coco_eval') reads it."""
        if name not in self._engines:
            self._engines[name] = importlib.import_module(name).COCO(self.dataset)
        return self._engines[name]


def has_evaluated_area(area) -> bool:
    """Whether the LVIS API evaluates an annotation or detection of this area: items of area
    0 (empty masks, boxes of zero width or height) are left out, not even counted as misses
    or false positives; both engines would evaluate them. Also for arrays of areas."""
    return np.logical_and(np.greater(area, 0), np.less(area, np.inf))


def load_lvis_annotations(ann_file: Union[str, dict]) -> LVISGroundTruth:
    """Load and check an LVIS (v0.5 or v1.0) annotation file or dict."""
    dataset = ann_file if isinstance(ann_file, dict) else load_json(ann_file, 'annotation file')
    return LVISGroundTruth(dataset)


def load_json(path: str, what: str):
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    with open(path, 'rb') as f:
        data = f.read()
    if data[:1] == b'\x80':
        raise ValueError(f'{what} {path} is a Python pickle, not JSON; evaluate JSON files '
                         '(a test run writes them with outfile_prefix)')
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f'{what} {path} is not valid JSON: {e}') from e
