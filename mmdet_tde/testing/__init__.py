"""Test-data generators for the tests and benchmarks (as ``mmdet.testing``); ``import mmdet_tde``
does not load them."""
from .synthetic_lvis import make_lvis_annotations, make_lvis_detections

__all__ = ['make_lvis_annotations', 'make_lvis_detections']
