"""mmdet_tde: de-confounded training and TDE inference for MMDetection 3.x.

Importing the package (``custom_imports=dict(imports=['mmdet_tde'])``) registers its models,
metrics and datasets in mmdet's registries. Without mmdet only the pure-PyTorch layers load
(``mmdet_tde.models.layers``), so that they serve any classifier.
"""
from .version import __version__

try:
    import mmdet  # noqa: F401
except ImportError:
    pass
else:
    # Outside the try: a broken module of the plugin must raise, not look like a missing mmdet.
    from . import datasets, evaluation, models  # noqa: F401

__all__ = ['__version__']
