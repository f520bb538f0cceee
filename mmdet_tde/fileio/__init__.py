"""The package's files, read and written with the standard library alone: the lowest layer,
which every other one (models included) may import.

Atomic outputs and checked inputs (:mod:`.atomic`), the dual-phase split file
(:mod:`.dual_phase_split`) and the class counts of an LVIS annotation file (:mod:`.class_counts`).
"""
from .atomic import (atomic_open, atomic_path, check_not_input, check_output_path, read_json,
                     remove_stale_temporaries, same_file, write_json_atomic)
from .class_counts import COUNT_SOURCES, load_class_counts
from .dual_phase_split import (categories_digest, check_split_categories, load_split, make_split,
                               phase2_labels)

__all__ = [
    'COUNT_SOURCES', 'atomic_open', 'atomic_path', 'categories_digest', 'check_not_input',
    'check_output_path', 'check_split_categories', 'load_class_counts', 'load_split',
    'make_split', 'phase2_labels', 'read_json', 'remove_stale_temporaries', 'same_file',
    'write_json_atomic'
]
