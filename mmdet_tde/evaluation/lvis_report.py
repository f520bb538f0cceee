"""Tables and files for an LVIS evaluation: summary, per frequency group, per category.

Long-tail methods are judged on the rare classes, so next to the summary the report keeps every
category's AP (CSV and JSON) to compare runs class by class.
"""
import csv
import json
import os
import os.path as osp
from typing import Dict, Optional

from terminaltables import AsciiTable

from ..fileio import atomic_open
from .fast_lvis import LVISEvalResult

_CATEGORY_COLUMNS = ('category_id', 'name', 'frequency', 'image_count', 'num_gt', 'num_dets')
_FREQUENCY_COLUMNS = ('frequency', 'num_categories', 'num_evaluated')
_FREQUENCY_NAMES = dict(r='rare', c='common', f='frequent')


def summary_table(result: LVISEvalResult) -> str:
    rows = [['metric', result.name]]
    rows += [[name, _fmt(result.summary[name])] for name in result.metric_names]
    return AsciiTable(rows, title=f'LVIS {result.name}').table


def frequency_table(result: LVISEvalResult) -> str:
    columns = _metric_columns(result.per_frequency, result.metric_names)
    rows = [['group', 'categories', 'with GT'] + list(columns)]
    for row in result.per_frequency:
        rows.append([_FREQUENCY_NAMES[row['frequency']], row['num_categories'],
                     row['num_evaluated']] + [_fmt(row[m]) for m in columns])
    return AsciiTable(rows, title=f'LVIS {result.name} per frequency group').table


def category_table(result: LVISEvalResult) -> str:
    # AP, AP50, AP75 and the recall, under the result's names.
    columns = [result.metric_names[i] for i in (0, 1, 2, -1)]
    rows = [['id', 'category', 'freq', 'GT', 'dets'] + columns]
    for row in result.per_category:
        rows.append([row['category_id'], row['name'], row['frequency'], row['num_gt'],
                     row['num_dets']] + [_fmt(row[m]) for m in columns])
    return AsciiTable(rows, title=f'LVIS {result.name} per category').table


def save_report(result: LVISEvalResult, prefix: str) -> Dict[str, str]:
    """Write ``{prefix}.{name}_report.json`` and the per-category / per-frequency CSVs.

    ``name`` is the IoU type, plus ``_fixed`` for Fixed AP. Undefined numbers (no ground
    truth) are -1, as in the LVIS API. Returns the paths.
    """
    os.makedirs(osp.dirname(osp.abspath(prefix)), exist_ok=True)
    base = f'{prefix}.{result.name}'
    paths = dict(json=f'{base}_report.json', per_category_csv=f'{base}_per_category.csv',
                 per_frequency_csv=f'{base}_per_frequency.csv')
    # Each file complete or absent (never truncated), even if the run is interrupted.
    with atomic_open(paths['json']) as f:
        json.dump(dict(iou_type=result.iou_type, summary=result.summary,
                       per_frequency=result.per_frequency, per_category=result.per_category),
                  f, indent=1)
    names = result.metric_names
    _write_csv(paths['per_category_csv'], result.per_category, _CATEGORY_COLUMNS, names)
    _write_csv(paths['per_frequency_csv'], result.per_frequency, _FREQUENCY_COLUMNS, names)
    return paths


def _metric_columns(rows, names) -> tuple:
    return tuple(m for m in names if m in rows[0]) if rows else ()


def _write_csv(path: str, rows, key_columns, names) -> None:
    columns = list(key_columns) + list(_metric_columns(rows, names))
    with atomic_open(path, newline='') as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction='ignore')
        writer.writeheader()
        writer.writerows(rows)


def _fmt(value: Optional[float]) -> str:
    return 'n/a' if value is None or value < 0 else f'{value:.4f}'
