"""LVIS evaluation: the fast ``FastLVISMetric`` and a numpy-2 fix for the LVIS API.

Importing this package lets the LVIS API, and with it mmdet's own ``LVISMetric``, run under
numpy 2 (see :mod:`.lvis_compat`).
"""
from .fast_lvis import LVISEvalResult, evaluate_lvis, load_lvis_annotations, load_results
from .lvis_compat import patch_lvis_numpy
from .metrics import FastLVISMetric

patch_lvis_numpy()

__all__ = [
    'FastLVISMetric', 'LVISEvalResult', 'evaluate_lvis', 'load_lvis_annotations', 'load_results',
    'patch_lvis_numpy'
]
