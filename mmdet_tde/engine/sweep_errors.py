"""How TIDE's error types move along a sweep, per LVIS frequency group.

TDE (and logit adjustment) move score from frequent to rare categories. Whether that turns
rare objects given a frequent category (Cls errors) into true positives, or buys rare AP with
new background and duplicate errors, is read off the error types at each swept value: each
value's LVIS report holds them when the metric ran with ``tide=True`` (:mod:`mmdet_tde.
evaluation.lvis_tide`), and this module lines them up.
"""
import csv
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.logging import print_log
from terminaltables import AsciiTable

from mmdet_tde.evaluation.lvis_report import (ERROR_HEADER, FREQUENCY_NAMES, error_cells,
                                              format_metric)
from mmdet_tde.evaluation.lvis_tide import ERROR_TYPES
from mmdet_tde.fileio import atomic_open, atomic_path
from .alpha_sweep import TDE_ALPHA, SweptSetting, read_sweep_reports, value_label

_GROUP_NAMES = dict(FREQUENCY_NAMES, all='all')
_KEY_COLUMNS = ('frequency', 'num_evaluated', 'AP50')


def enable_tide(evaluator_cfg) -> None:
    """Ask every FastLVISMetric of a test evaluator config for TIDE's errors
    (``tide=True``); refuse an evaluator without one, which cannot give them."""
    metrics = evaluator_cfg if isinstance(evaluator_cfg, list) else [evaluator_cfg]
    fast = [m for m in metrics if m.get('type') in ('FastLVISMetric', 'mmdet_tde.FastLVISMetric')]
    if not fast:
        types = ', '.join(repr(m.get('type')) for m in metrics)
        raise ValueError(f"TIDE errors need test_evaluator type 'FastLVISMetric', the config "
                         f'has {types}')
    for metric in fast:
        metric['tide'] = True


def error_rows(reports: Dict[float, dict]) -> List[dict]:
    """Rows ``value, frequency, num_evaluated, AP50`` and each type's count and ``dAP_{type}``,
    per swept value (ascending) and group, from LVIS reports that hold ``errors``."""
    rows = []
    for value in sorted(reports):
        errors = reports[value].get('errors')
        if errors is None:
            raise ValueError(f'the LVIS report at {value_label(value)} holds no TIDE errors '
                             '(was the metric run with tide=True?)')
        rows += [dict(value=value, **{k: row[k] for k in _KEY_COLUMNS},
                      **{name: row[name] for name in ERROR_TYPES},
                      **{f'dAP_{name}': row[f'dAP_{name}'] for name in ERROR_TYPES})
                 for row in errors['per_frequency']]
    return rows


def sweep_errors(work_dir: str, values: Sequence[float],
                 setting: SweptSetting = TDE_ALPHA) -> Optional[dict]:
    """TIDE's errors at each swept value: a table per group in the log,
    ``work_dir/{stem}_errors.csv`` and ``.png`` (ΔAP50 of each type against the value, a panel
    per group). Masks are read where they were evaluated, else boxes. Returns ``iou_type``,
    ``files`` and the :func:`error_rows`; None, with a warning, without the reports."""
    reports = read_sweep_reports(work_dir, values, setting)
    if reports is None:
        print_log(f'no error types along the {setting.name} sweep: it wrote no LVIS report at '
                  f'some {setting.name}', logger='current', level=logging.WARNING)
        return None
    iou_type, by_value = reports
    rows = error_rows(by_value)
    prefix = osp.join(work_dir, f'{setting.stem}_errors')
    files = dict(csv=f'{prefix}.csv', png=f'{prefix}.png')
    columns = ['value', *_KEY_COLUMNS, *ERROR_TYPES, *(f'dAP_{name}' for name in ERROR_TYPES)]
    with atomic_open(files['csv'], newline='') as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    _plot(rows, iou_type, setting, files['png'])
    print_log('\n'.join(_tables(rows, iou_type, setting)), logger='current')
    return dict(iou_type=iou_type, files=files, rows=rows)


def _groups(rows: Sequence[dict]) -> List[str]:
    return list(dict.fromkeys(row['frequency'] for row in rows))


def _tables(rows: Sequence[dict], iou_type: str, setting: SweptSetting) -> List[str]:
    tables = []
    for group in _groups(rows):
        table = [[setting.name, 'AP50'] + ERROR_HEADER]
        table += [[value_label(row['value']), format_metric(row['AP50'])] + error_cells(row)
                  for row in rows if row['frequency'] == group]
        title = f'{iou_type} errors of {_GROUP_NAMES.get(group, group)} categories (TIDE)'
        tables.append(AsciiTable(table, title=title).table)
    return tables


def _plot(rows: Sequence[dict], iou_type: str, setting: SweptSetting, path: str) -> None:
    from matplotlib.figure import Figure  # imported here: only the picture needs matplotlib
    groups = _groups(rows)
    fig = Figure(figsize=(4 * len(groups), 3.6))
    axes = fig.subplots(1, len(groups), squeeze=False, sharey=True)[0]
    for ax, group in zip(axes, groups):
        mine = [row for row in rows if row['frequency'] == group]
        for name in ERROR_TYPES:
            delta = [row[f'dAP_{name}'] for row in mine]
            ax.plot([row['value'] for row in mine], [np.nan if d is None else d for d in delta],
                    marker='o', label=name)
        ax.set_title(f'{iou_type}, {_GROUP_NAMES.get(group, group)}', fontsize=10)
        ax.set_xlabel(setting.name)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel('dAP50 if fixed (TIDE)')
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:  # renamed when complete: never half a PNG
        fig.savefig(tmp, dpi=120)
