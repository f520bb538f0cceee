"""TIDE's error types along a sweep: read from each value's LVIS report, lined up per group."""
import csv
import json

import pytest
from mmengine.config import Config

from mmdet_tde.engine import LOGIT_ADJUSTMENT_TAU, TDE_ALPHA, enable_tide, sweep_errors
from mmdet_tde.engine.alpha_sweep import _evaluator_cfg_for
from mmdet_tde.engine.sweep_errors import _tables
from mmdet_tde.evaluation.lvis_tide import ERROR_TYPES

GROUPS = ('r', 'c', 'f', 'all')


def _errors(value, iou_type):
    """Distinct numbers per value, group, type and IoU type, so that any mix-up shows; the rare
    group has no ground truth (AP50 -1, no ΔAP) at value 0."""
    shift = 0.5 if iou_type == 'segm' else 0.0
    rows = []
    for g, group in enumerate(GROUPS):
        empty = group == 'r' and value == 0
        row = dict(frequency=group, num_evaluated=0 if empty else 3 + g,
                   AP50=-1 if empty else round(0.1 * g + value / 10 + shift, 6))
        for t, name in enumerate(ERROR_TYPES):
            row[name] = int(100 * value) + 10 * g + t
            row[f'dAP_{name}'] = None if empty else round(0.01 * t - 0.001 * g + value / 100 +
                                                          shift, 6)
        rows.append(row)
    return dict(pos_thr=0.5, bg_thr=0.1, per_frequency=rows, cls_confusion=[])


def _write_reports(work_dir, values, iou_types=('bbox', 'segm'), setting=None, tide=True):
    for value in values:
        kwargs = {} if setting is None else dict(setting=setting)
        prefix = _evaluator_cfg_for(dict(type='FastLVISMetric'), value, str(work_dir),
                                    **kwargs)['outfile_prefix']
        for iou_type in iou_types:
            report = dict(iou_type=iou_type, summary={}, per_category=[])
            if tide:
                report['errors'] = _errors(value, iou_type)
            path = work_dir / f'{prefix}.{iou_type}_report.json'
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report))


def test_masks_rows_per_value_and_group_equal_the_reports(tmp_path):
    values = [1.5, 0.0, 3.0]
    _write_reports(tmp_path, values)
    out = sweep_errors(str(tmp_path), values)
    assert out['iou_type'] == 'segm'
    assert out['files'] == dict(csv=str(tmp_path / 'alpha_sweep_errors.csv'),
                                png=str(tmp_path / 'alpha_sweep_errors.png'))
    expected = [dict(value=v, **row) for v in sorted(values)
                for row in _errors(v, 'segm')['per_frequency']]
    assert out['rows'] == expected
    with open(out['files']['csv'], newline='') as f:
        written = list(csv.DictReader(f))
    assert len(written) == len(expected)
    as_text = {k: '' if v is None else str(v) for k, v in expected[0].items()}
    assert written[0] == as_text  # the rare group without ground truth: empty cells
    for got, want in zip(written[1:], expected[1:]):
        assert {k: float(v) if k != 'frequency' else v for k, v in got.items()} == \
            {k: float(v) if k != 'frequency' else v for k, v in want.items()}
    assert (tmp_path / 'alpha_sweep_errors.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    # The log's tables: one per group, a row per value; the rare group at 0 has no numbers.
    logged = _tables(out['rows'], 'segm', TDE_ALPHA)
    assert [t.splitlines()[0].split('errors of ')[1][:4] for t in logged] == \
        ['rare', 'comm', 'freq', 'all ']
    assert '| 0     | n/a    | n/a (0)' in logged[0]
    assert '| 1.5   | 0.6500 | +0.5150 (150)' in logged[0]


def test_boxes_without_masks_and_the_tau_sweep_files(tmp_path):
    _write_reports(tmp_path, [0.0, 1.0], iou_types=('bbox', ), setting=LOGIT_ADJUSTMENT_TAU)
    out = sweep_errors(str(tmp_path), [0.0, 1.0], LOGIT_ADJUSTMENT_TAU)
    assert out['iou_type'] == 'bbox'
    assert out['rows'][-1] == dict(value=1.0, **_errors(1.0, 'bbox')['per_frequency'][-1])
    assert (tmp_path / 'logit_adjust_sweep_errors.csv').is_file()


def test_reports_without_errors_name_the_value_and_the_option(tmp_path):
    _write_reports(tmp_path, [0.0, 2.0], tide=False)
    with pytest.raises(ValueError, match=r'at 0 holds no TIDE errors .*tide=True'):
        sweep_errors(str(tmp_path), [0.0, 2.0])
    assert not list(tmp_path.glob('alpha_sweep_errors*'))


def test_without_reports_nothing_is_written(tmp_path):
    _write_reports(tmp_path, [0.0])
    assert sweep_errors(str(tmp_path), [0.0, 1.0]) is None
    assert not list(tmp_path.glob('alpha_sweep_errors*'))


def test_enable_tide_sets_every_fast_metric_and_refuses_others():
    cfg = Config(dict(test_evaluator=[dict(type='FastLVISMetric', metric=['bbox']),
                                      dict(type='CocoMetric')]))
    enable_tide(cfg.test_evaluator)
    assert cfg.test_evaluator[0].tide is True and 'tide' not in cfg.test_evaluator[1]
    single = Config(dict(test_evaluator=dict(type='LVISMetric')))
    with pytest.raises(ValueError, match=r"test_evaluator type 'FastLVISMetric'.*'LVISMetric'"):
        enable_tide(single.test_evaluator)
