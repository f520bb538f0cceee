"""mmdet_tde: de-confounded training and TDE inference for MMDetection 3.x.

Importing the package (``custom_imports=dict(imports=['mmdet_tde'])``) registers its models,
metrics and datasets in mmdet's registries.
"""
from . import datasets, evaluation, models  # noqa: F401
from .version import __version__

__all__ = ['__version__']
