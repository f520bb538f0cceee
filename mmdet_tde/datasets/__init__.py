from .minilvis import CATEGORIES, CLASSES, MiniLVISOptions, make_minilvis

__all__ = ['CATEGORIES', 'CLASSES', 'MiniLVISOptions', 'make_minilvis']
