from .class_counts import COUNT_SOURCES, load_class_counts
from .dual_phase import DualPhaseLVISV05Dataset, DualPhaseLVISV1Dataset
from .minilvis import CATEGORIES, CLASSES, MiniLVISOptions, make_minilvis

__all__ = [
    'CATEGORIES', 'CLASSES', 'COUNT_SOURCES', 'DualPhaseLVISV05Dataset', 'DualPhaseLVISV1Dataset',
    'MiniLVISOptions', 'load_class_counts', 'make_minilvis'
]
