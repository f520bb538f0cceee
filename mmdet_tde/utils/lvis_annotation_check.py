"""Refuse an LVIS annotation file of the wrong version before a tool builds its datasets.

mmdet's ``LVISV1Dataset`` derives an image's file from its ``coco_url`` and ``LVISV05Dataset``
reads its ``file_name``; LVIS v1 images carry only the first and v0.5 images the second. Given
the other version, mmdet stops with a bare ``KeyError: 'coco_url'`` after loading the whole file
(or, where an image carries both keys, reads the wrong files). Here the first image record of
each annotation file a config names is read without parsing the rest of the file, and a dataset
whose key it lacks is refused with the config field, the file, and what to use instead.
"""
import json
import mmap
import os.path as osp
import re
from typing import Iterator, Optional, Tuple

from mmengine.config import Config

from mmdet.datasets import LVISV05Dataset, LVISV1Dataset
from mmdet.registry import DATASETS

# The image key each LVIS dataset class reads, and the LVIS version whose images carry it.
_IMAGE_KEYS = ((LVISV1Dataset, 'coco_url', 'v1'), (LVISV05Dataset, 'file_name', 'v0.5'))
_IMAGES_KEY = re.compile(rb'"images"\s*:\s*\[\s*')
_DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def first_image_record(path: str) -> Optional[dict]:
    """The first entry of the file's ``images`` list, or None where it has none or is not an
    LVIS-style JSON object (the dataset then reports the file itself)."""
    with open(path, 'rb') as f:
        if osp.getsize(path) == 0:
            return None
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            match = _IMAGES_KEY.search(data)
            if match is None:
                return None
            # A record is small: decode from a window, widened for an unusually long one.
            window = 1 << 16
            while True:
                text = data[match.end():match.end() + window].decode('utf-8', 'replace')
                try:
                    record, _ = json.JSONDecoder().raw_decode(text)
                except json.JSONDecodeError:
                    if match.end() + window >= len(data):
                        return None
                    window *= 8
                    continue
                return record if isinstance(record, dict) else None


def _lvis_datasets(node, field: str) -> Iterator[Tuple[str, dict]]:
    """Every dataset dict under ``node`` that names an annotation file, wrappers included
    (``ClassBalancedDataset.dataset``, ``ConcatDataset.datasets``), with its config field."""
    if isinstance(node, dict):
        if 'type' in node and 'ann_file' in node:
            yield field, node
        for key, value in node.items():
            yield from _lvis_datasets(value, f'{field}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _lvis_datasets(value, f'{field}[{i}]')


def _required_image_key(dataset_type) -> Optional[Tuple[str, str]]:
    cls = DATASETS.get(dataset_type) if isinstance(dataset_type, str) else dataset_type
    for lvis_cls, key, version in _IMAGE_KEYS:
        if isinstance(cls, type) and issubclass(cls, lvis_cls):
            return key, version
    return None


def check_lvis_annotation_versions(cfg: Config) -> None:
    """Raise ValueError for a dataloader whose LVIS dataset type cannot read its annotation
    file's images. Files that are not on the local disk are left to the dataset."""
    for loader in _DATALOADERS:
        for field, dataset in _lvis_datasets(cfg.get(loader), loader):
            required = _required_image_key(dataset['type'])
            if required is None:
                continue
            path = osp.join(dataset.get('data_root') or '', dataset['ann_file'])
            if not osp.isfile(path):
                continue
            image = first_image_record(path)
            key, version = required
            if image is None or key in image:
                continue
            other = next((v for _, k, v in _IMAGE_KEYS if k in image), None)
            looks = (f'an LVIS {other} annotation file' if other else
                     'not an LVIS annotation file of either version')
            types = ', '.join(f'{c.__name__} (LVIS {v})' for c, _, v in _IMAGE_KEYS)
            raise ValueError(
                f'{field}.ann_file: {path} is {looks}: its images have no {key!r}, which '
                f'{field}.type={dataset["type"]!r} reads (LVIS {version} files). Use an LVIS '
                f'{version} annotation file, or a dataset type for the file\'s version: {types}')
