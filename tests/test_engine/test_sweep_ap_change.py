"""The sweep's per-category AP change: which reports, which reference and which best alpha."""
import csv
import json

from mmdet_tde.engine.alpha_sweep import _evaluator_cfg_for, sweep_ap_change

# Per alpha: summary AP of (bbox, segm) and every category's (bbox, segm) AP, categories 1-3.
SWEEP = {
    0.0: dict(AP=(0.30, 0.20), cats={1: (0.1, 0.0), 2: (0.5, 0.4), 3: (0.3, 0.3)}),
    0.5: dict(AP=(0.40, 0.25), cats={1: (0.2, 0.2), 2: (0.5, 0.3), 3: (0.4, 0.3)}),
    1.0: dict(AP=(0.45, 0.10), cats={1: (0.4, 0.0), 2: (0.3, 0.0), 3: (0.5, 0.0)}),
    1.5: dict(AP=(0.35, 0.30), cats={1: (0.3, 0.5), 2: (0.4, 0.1), 3: (0.2, 0.3)}),
    3.0: dict(AP=(0.20, 0.30), cats={1: (0.1, 0.4), 2: (0.1, 0.0), 3: (0.1, 0.3)}),
}
FREQUENCY = {1: 'r', 2: 'f', 3: 'c'}


def _write_reports(work_dir, iou_types=('bbox', 'segm'), alphas=SWEEP):
    for alpha in alphas:
        # Where the sweep's evaluator config sends each alpha's LVIS report.
        prefix = _evaluator_cfg_for(dict(type='FastLVISMetric'), alpha, str(work_dir))
        for column, iou_type in enumerate(('bbox', 'segm')):
            if iou_type not in iou_types:
                continue
            rows = [dict(category_id=c, name=f'cat{c}', frequency=FREQUENCY[c],
                         instance_count=10 ** c, image_count=c, AP=aps[column])
                    for c, aps in SWEEP[alpha]['cats'].items()]
            path = work_dir / f'{prefix["outfile_prefix"]}.{iou_type}_report.json'
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(dict(iou_type=iou_type, per_category=rows,
                                            summary=dict(AP=SWEEP[alpha]['AP'][column]))))


def _changes(work_dir):
    with open(work_dir / 'alpha_sweep_ap_change.csv', newline='') as f:
        return {int(r['category_id']): float(r['change']) for r in csv.DictReader(f)}


def test_masks_decide_the_best_alpha_ties_go_to_the_smaller(tmp_path):
    _write_reports(tmp_path)
    out = sweep_ap_change(str(tmp_path), [3.0, 0.5, 1.0, 0.0, 1.5])
    # segm AP ties at 1.5 and 3 (box AP would pick 1).
    assert (out['iou_type'], out['chosen_by'], out['reference_alpha'], out['best_alpha']) == \
        ('segm', 'mask AP', 0.0, 1.5)
    assert out['files'] == dict(csv=str(tmp_path / 'alpha_sweep_ap_change.csv'),
                                png=str(tmp_path / 'alpha_sweep_ap_change.png'))
    assert _changes(tmp_path) == {1: 0.5 - 0.0, 3: 0.3 - 0.3, 2: 0.1 - 0.4}
    assert [r['name'] for r in out['rare_gains']] == ['cat1']
    assert [r['name'] for r in out['frequent_losses']] == ['cat2']
    assert (tmp_path / 'alpha_sweep_ap_change.png').read_bytes()[:4] == b'\x89PNG'


def test_boxes_without_masks_and_the_smallest_alpha_without_zero(tmp_path):
    _write_reports(tmp_path, iou_types=('bbox', ))
    out = sweep_ap_change(str(tmp_path), [1.0, 0.5, 3.0])
    assert (out['iou_type'], out['chosen_by'], out['reference_alpha'], out['best_alpha']) == \
        ('bbox', 'box AP', 0.5, 1.0)
    assert _changes(tmp_path) == {1: 0.4 - 0.2, 2: 0.3 - 0.5, 3: 0.5 - 0.4}


def test_without_reports_nothing_is_written(tmp_path):
    _write_reports(tmp_path, alphas=(0.0, 0.5))
    assert sweep_ap_change(str(tmp_path), [0.0, 0.5, 1.5]) is None  # none at alpha 1.5
    assert not list(tmp_path.glob('alpha_sweep_ap_change*'))
