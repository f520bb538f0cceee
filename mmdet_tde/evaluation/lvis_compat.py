"""Run the LVIS API (``lvis`` 0.5.3) under numpy >= 1.24.

``lvis.eval.LVISEval.accumulate`` casts with ``np.float``, an alias numpy removed in 1.24, so the
LVIS API and mmdet's ``LVISMetric`` built on it crash under numpy 2. Instead of putting the alias
back into numpy for every library, ``lvis.eval`` gets its own view of numpy: a module object that
forwards every attribute to numpy and adds only the alias it needs. numpy itself is untouched.
"""
import importlib
import types

import numpy

# Removed numpy aliases the LVIS API uses, with the builtins they stood for.
_REMOVED_ALIASES = dict(float=float)


class _NumpyWithAliases(types.ModuleType):
    """numpy as the LVIS API expects it: numpy plus the aliases it removed."""

    def __init__(self):
        super().__init__(numpy.__name__, numpy.__doc__)
        for name, value in _REMOVED_ALIASES.items():
            if name not in vars(numpy):
                setattr(self, name, value)

    def __getattr__(self, name):
        return getattr(numpy, name)


def patch_lvis_numpy() -> bool:
    """Give ``lvis.eval`` a numpy namespace that still has ``np.float``.

    Returns False when the LVIS API is not installed, True otherwise. Idempotent.
    """
    try:
        lvis_eval = importlib.import_module('lvis.eval')
    except ImportError:
        return False
    if lvis_eval.np is numpy:
        lvis_eval.np = _NumpyWithAliases()
    return True
