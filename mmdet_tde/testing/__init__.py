"""Test-data generators for the tests, benchmarks and ``tools/make_minilvis.py`` (as
``mmdet.testing``); ``import mmdet_tde`` does not load them."""
from .minilvis import CATEGORIES, CLASSES, MiniLVISOptions, make_minilvis
from .synthetic_lvis import make_lvis_annotations, make_lvis_detections

__all__ = [
    'CATEGORIES', 'CLASSES', 'MiniLVISOptions', 'make_lvis_annotations', 'make_lvis_detections',
    'make_minilvis'
]
