"""Training instances per class, in the label order of mmdet's LVIS datasets, for logit adjustment.

mmdet's ``LVISV05Dataset`` / ``LVISV1Dataset`` number the categories in the order the LVIS API's
``get_cat_ids()`` returns them, the order of the file's ``categories`` list (LVIS's own files list
them by increasing id): label ``i`` is the ``i``-th category of the training annotation file.
"""
import json
from collections import Counter
from typing import List, Optional, Sequence

COUNT_SOURCES = ('instance_count', 'annotations')


def load_class_counts(ann_file: str, source: str = 'instance_count',
                      classes: Optional[Sequence[str]] = None) -> List[int]:
    """Instances per category of an LVIS-format annotation file, in mmdet's label order.

    Args:
        ann_file: the training annotation file (the counts are the training prior).
        source: ``'instance_count'``, the count LVIS stores in each category, or
            ``'annotations'``, the file's annotations counted per category.
        classes: the model's class names in label order (the dataset's ``metainfo.classes``);
            when given, the file's category names must be the same, in the same order.
    Raises:
        ValueError: an unknown source, a category without annotations (its prior would be 0),
            names that differ from ``classes``.
    """
    if source not in COUNT_SOURCES:
        raise ValueError(f'class count source must be one of {COUNT_SOURCES}, got {source!r}')
    with open(ann_file) as f:
        data = json.load(f)
    categories = data.get('categories') if isinstance(data, dict) else None
    if not categories:
        raise ValueError(f'{ann_file} has no categories: not an LVIS-format annotation file')
    if source == 'instance_count':
        missing = [c['id'] for c in categories if 'instance_count' not in c]
        if missing:
            raise ValueError(f"{ann_file}: {len(missing)} categories (ids {missing[:5]}...) have "
                             "no 'instance_count' (LVIS files have it): count them with "
                             "source='annotations'")
        counts = [int(c['instance_count']) for c in categories]
    else:
        per_id = Counter(a['category_id'] for a in data.get('annotations', ()))
        unknown = set(per_id) - {c['id'] for c in categories}
        if unknown:
            raise ValueError(f'{ann_file}: annotations of category ids {sorted(unknown)[:5]} '
                             'that are not among its categories')
        counts = [per_id[c['id']] for c in categories]
    names = [c.get('name') for c in categories]
    if classes is not None and list(classes) != names:
        differ = [(i, a, b) for i, (a, b) in enumerate(zip(names, classes)) if a != b]
        detail = (f'label {differ[0][0]} is {differ[0][1]!r} in the file and {differ[0][2]!r} '
                  'in the model' if differ else
                  f'{len(names)} categories in the file, {len(classes)} classes in the model')
        raise ValueError(f"{ann_file}: the file's categories are not the model's classes "
                         f'({detail}): the counts would be matched to the wrong classes')
    zero = [f'{name!r} (id {c["id"]})' for name, c, n in zip(names, categories, counts) if n <= 0]
    if zero:
        raise ValueError(f'{ann_file} ({source}): {len(zero)} categories have no training '
                         f'instance: {", ".join(zero[:10])}{", ..." if len(zero) > 10 else ""}; '
                         'logit adjustment needs a prior > 0 for every class (is this the '
                         'training annotation file?)')
    return counts
