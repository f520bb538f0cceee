from .dual_phase import DualPhaseLVISV05Dataset, DualPhaseLVISV1Dataset
from .minilvis import CATEGORIES, CLASSES, MiniLVISOptions, make_minilvis

__all__ = [
    'CATEGORIES', 'CLASSES', 'DualPhaseLVISV05Dataset', 'DualPhaseLVISV1Dataset',
    'MiniLVISOptions', 'make_minilvis'
]
