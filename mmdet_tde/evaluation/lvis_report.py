"""Tables and files for an LVIS evaluation: summary, per frequency group, per category.

Long-tail methods are judged on the rare classes, so next to the summary the report keeps every
category's AP (CSV and JSON) to compare runs class by class, and plots it against the category's
training count; :func:`category_ap_change` compares two reports category by category.
"""
import csv
import json
import logging
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.logging import print_log
from terminaltables import AsciiTable

from ..fileio import atomic_open, atomic_path
from .fast_lvis import FREQUENCIES, LVISEvalResult
from .lvis_tide import ERROR_TYPES

_CATEGORY_COLUMNS = ('category_id', 'name', 'frequency', 'image_count', 'instance_count', 'num_gt',
                     'num_dets')
_FREQUENCY_COLUMNS = ('frequency', 'num_categories', 'num_evaluated')
FREQUENCY_NAMES = dict(r='rare', c='common', f='frequent')
_FREQUENCY_COLOURS = dict(r='tab:red', c='tab:orange', f='tab:blue')
# The columns of :func:`error_cells`.
ERROR_HEADER = [f'{name} dAP (n)' for name in ERROR_TYPES]
# LVIS files carry the train split's counts per category (in the val file too): instances if
# given, else images.
_COUNT_LABELS = dict(instance_count='training instances', image_count='training images')
_CHANGE_COLUMNS = ('category_id', 'name', 'frequency', 'instance_count', 'image_count',
                   'AP_reference', 'AP_best', 'change')


def summary_table(result: LVISEvalResult) -> str:
    rows = [['metric', result.name]]
    rows += [[name, format_metric(result.summary[name])] for name in result.metric_names]
    return AsciiTable(rows, title=f'LVIS {result.name}').table


def frequency_table(result: LVISEvalResult) -> str:
    columns = _metric_columns(result.per_frequency, result.metric_names)
    rows = [['group', 'categories', 'with GT'] + list(columns)]
    rows += [[FREQUENCY_NAMES[row['frequency']], row['num_categories'], row['num_evaluated']]
             + [format_metric(row[m]) for m in columns] for row in result.per_frequency]
    return AsciiTable(rows, title=f'LVIS {result.name} per frequency group').table


def category_table(result: LVISEvalResult) -> str:
    # AP, AP50, AP75 and the recall, under the result's names.
    columns = [result.metric_names[i] for i in (0, 1, 2, -1)]
    rows = [['id', 'category', 'freq', 'GT', 'dets'] + columns]
    rows += [[row[k] for k in ('category_id', 'name', 'frequency', 'num_gt', 'num_dets')]
             + [format_metric(row[m]) for m in columns] for row in result.per_category]
    return AsciiTable(rows, title=f'LVIS {result.name} per category').table


def error_tables(result: LVISEvalResult) -> str:
    """TIDE's errors per frequency group (ΔAP50 and count of each type), and the class
    errors by the ground truth's group and the detection's."""
    errors = result.errors
    rows = [['group', 'with GT', 'AP50'] + ERROR_HEADER]
    rows += [[FREQUENCY_NAMES.get(row['frequency'], row['frequency']), row['num_evaluated'],
              format_metric(row['AP50'])] + error_cells(row) for row in errors['per_frequency']]
    title = (f"LVIS {result.name} errors per frequency group (TIDE, IoU {errors['pos_thr']}, "
             f"background below {errors['bg_thr']})")
    confusion = [['ground truth / detected as'] + [FREQUENCY_NAMES[f] for f in FREQUENCIES]]
    confusion += [[FREQUENCY_NAMES[row['gt_frequency']]] + [row[f] for f in FREQUENCIES]
                  for row in errors['cls_confusion']]
    return '\n'.join([AsciiTable(rows, title=title).table,
                      AsciiTable(confusion, title=f'LVIS {result.name} Cls errors').table])


def save_report(result: LVISEvalResult, prefix: str) -> Dict[str, str]:
    """Write ``{prefix}.{name}_report.json`` (with TIDE's ``errors`` where the result has them),
    the per-category / per-frequency CSVs and ``{prefix}.{name}_per_category.png`` (see
    :func:`plot_per_category`). Undefined numbers (no ground truth) are -1, as in the LVIS
    API. Returns the paths (the PNG's only when written)."""
    os.makedirs(osp.dirname(osp.abspath(prefix)), exist_ok=True)
    base = f'{prefix}.{result.name}'
    paths = dict(json=f'{base}_report.json', per_category_csv=f'{base}_per_category.csv',
                 per_frequency_csv=f'{base}_per_frequency.csv')
    # Each file complete or absent (never truncated), even if the run is interrupted.
    report = dict(iou_type=result.iou_type, summary=result.summary,
                  per_frequency=result.per_frequency, per_category=result.per_category)
    if result.errors is not None:
        report['errors'] = result.errors
    with atomic_open(paths['json']) as f:
        json.dump(report, f, indent=1)
    names = result.metric_names
    _write_csv(paths['per_category_csv'], result.per_category, _CATEGORY_COLUMNS, names)
    _write_csv(paths['per_frequency_csv'], result.per_frequency, _FREQUENCY_COLUMNS, names)
    png = f'{base}_per_category.png'
    if plot_per_category(result, png) is not None:
        paths['per_category_png'] = png
    return paths


def plot_per_category(result: LVISEvalResult, path: str) -> Optional[Dict[str, np.ndarray]]:
    """Plot every category's AP against its training count (log scale), coloured by r / c / f,
    leaving out categories without ground truth (AP -1). Returns the (count, AP) points drawn
    per frequency group; None (no PNG) where the categories have no training counts."""
    ap = result.metric_names[0]
    rows = result.per_category
    return _scatter_by_frequency(rows, [row for row in rows if row[ap] >= 0], ap, path,
                                 f'LVIS {result.name}: {ap} per category', 'without ground truth',
                                 ylabel=f'{result.name} {ap}')


def category_ap_change(reference: dict, best: dict, metric: str = 'AP') -> List[dict]:
    """Per category, ``metric`` in two reports and its change from ``reference`` to ``best``.

    The reports are ``{prefix}.{name}_report.json`` contents of the same annotation file (e.g.
    TDE off and the best alpha). Rows hold ``category_id, name, frequency, instance_count,
    image_count`` (from ``reference``; a count None where the file has none), ``AP_reference``,
    ``AP_best`` and ``change``, largest gain first (ties by category id). A category whose
    ``metric`` is -1 (no ground truth) in either report has no change (None) and comes last.
    """
    ref_rows = {row['category_id']: row for row in reference['per_category']}
    best_rows = {row['category_id']: row for row in best['per_category']}
    if set(ref_rows) != set(best_rows):
        raise ValueError(f'the reports have different categories ({len(ref_rows)} and '
                         f'{len(best_rows)}, {len(set(ref_rows) ^ set(best_rows))} in only one): '
                         'were they evaluated on the same annotation file?')
    rows = []
    for cat_id, row in ref_rows.items():
        before, after = row[metric], best_rows[cat_id][metric]
        rows.append(dict(
            category_id=cat_id, name=row['name'], frequency=row['frequency'],
            instance_count=row.get('instance_count'), image_count=row.get('image_count'),
            AP_reference=before, AP_best=after,
            change=after - before if before >= 0 and after >= 0 else None))
    return sorted(rows, key=lambda r: (r['change'] is None, -(r['change'] or 0),
                                       r['category_id']))


def largest_moves(rows: Sequence[dict], num: int = 10) -> Dict[str, List[dict]]:
    """From :func:`category_ap_change` rows: the ``num`` rare categories that gained most and
    the ``num`` frequent ones that lost most (only real gains and losses, largest first)."""
    gains = [r for r in rows if r['frequency'] == 'r' and (r['change'] or 0) > 0]
    losses = [r for r in rows if r['frequency'] == 'f' and (r['change'] or 0) < 0]
    return dict(rare_gains=gains[:num], frequent_losses=losses[::-1][:num])


def save_ap_change(rows: Sequence[dict], prefix: str, title: str) -> Dict[str, str]:
    """Write :func:`category_ap_change` rows to ``{prefix}.csv`` and plot their change against
    the training count to ``{prefix}.png`` (see :func:`_scatter_by_frequency`). Returns the
    paths written (no PNG where the categories carry no training counts)."""
    paths = dict(csv=f'{prefix}.csv', png=f'{prefix}.png')
    _write_csv(paths['csv'], rows, _CHANGE_COLUMNS)
    with_change = [r for r in rows if r['change'] is not None]
    if _scatter_by_frequency(rows, with_change, 'change', paths['png'], title,
                             'without AP in both', ylabel='AP change', zero_line=True) is None:
        del paths['png']
    return paths


def _scatter_by_frequency(rows, with_value, y_key: str, path: str, title: str, no_value: str,
                          ylabel: str, zero_line: bool = False) -> Optional[Dict[str, np.ndarray]]:
    """Scatter ``y_key`` of the ``with_value`` rows against their training count (log scale),
    one colour per frequency group; returns the points drawn per group. The title counts the
    rows left out: the others of ``rows`` (``no_value`` says why) and any with a count below 1
    (a log axis has no 0). Without training counts nothing is drawn (None, and a warning).
    A bare Figure renders with Agg without switching pyplot's backend."""
    # One count for all categories, so that they compare: instances if all have them, else images.
    field = next((key for key in _COUNT_LABELS
                  if rows and all(row.get(key) is not None for row in rows)), None)
    if field is None:
        print_log(f'{title}: no plot, the categories have neither instance_count nor '
                  'image_count', logger='current', level=logging.WARNING)
        return None
    shown = [row for row in with_value if row[field] >= 1]
    left_out = [f'{len(rows) - len(with_value)} {no_value}']
    if len(shown) < len(with_value):
        left_out.append(f'{len(with_value) - len(shown)} with {field} 0')
    from matplotlib.figure import Figure  # imported here: only the pictures need matplotlib
    fig = Figure(figsize=(8, 5))
    ax = fig.subplots()
    drawn = {}
    for freq in FREQUENCIES:
        group = [row for row in shown if row['frequency'] == freq]
        if group:
            points = ax.scatter([row[field] for row in group], [row[y_key] for row in group],
                                s=16, alpha=0.7, color=_FREQUENCY_COLOURS[freq],
                                label=f'{FREQUENCY_NAMES[freq]} ({len(group)})')
            drawn[freq] = np.asarray(points.get_offsets(), dtype=np.float64)
    if zero_line:
        ax.axhline(0, color='grey', linewidth=0.8)
    ax.set_xscale('log')
    ax.set_xlabel(f'{_COUNT_LABELS[field]} ({field}, log scale)')
    ax.set_ylabel(ylabel)
    ax.set_title(f'{title} ({", ".join(left_out)} left out)', fontsize=10)
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend()
    fig.tight_layout()
    # Written beside ``path`` and renamed: an interrupted run never leaves half a PNG.
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    return drawn


def _metric_columns(rows, names) -> tuple:
    return tuple(m for m in names if m in rows[0]) if rows else ()


def _write_csv(path: str, rows, key_columns, metric_names=()) -> None:
    columns = list(key_columns) + list(_metric_columns(rows, metric_names))
    with atomic_open(path, newline='') as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction='ignore')
        writer.writeheader()
        writer.writerows(rows)


def format_metric(value: Optional[float]) -> str:
    """A metric for a table: 'n/a' where undefined (None, or -1: no ground truth)."""
    return 'n/a' if value is None or value < 0 else f'{value:.4f}'


def format_delta(value: Optional[float]) -> str:
    """A signed change for a table: 'n/a' where undefined (None)."""
    return 'n/a' if value is None else f'{value:+.4f}'


def error_cells(row: dict) -> List[str]:
    """A TIDE row's cells under :data:`ERROR_HEADER`: each type's ΔAP50 and count."""
    return [f"{format_delta(row[f'dAP_{name}'])} ({row[name]})" for name in ERROR_TYPES]
