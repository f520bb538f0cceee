"""Per-category AP change between two reports: values, order, undefined AP, CSV and PNG."""
import csv

import pytest

from mmdet_tde.evaluation import lvis_report
from mmdet_tde.evaluation.lvis_report import category_ap_change, largest_moves, save_ap_change

# id: (name, frequency, instance_count, image_count, AP reference, AP best)
CATEGORIES = {
    1: ('rare_up', 'r', 3, 2, 0.10, 0.40),
    2: ('rare_down', 'r', 8, 5, 0.30, 0.20),
    3: ('rare_flat', 'r', 1, 1, 0.25, 0.25),
    4: ('common_up', 'c', 40, 30, 0.25, 0.50),
    5: ('frequent_down', 'f', 900, 400, 0.50, 0.30),
    6: ('frequent_up', 'f', 600, 300, 0.40, 0.45),
    7: ('frequent_down_less', 'f', 2000, 800, 0.60, 0.55),
    8: ('no_gt', 'c', 20, 15, -1.0, -1.0),
    9: ('undefined_at_best', 'f', 500, 200, 0.30, -1.0),
    10: ('undefined_at_reference', 'r', 2, 2, -1.0, 0.50),
    11: ('rare_up_too', 'r', 5, 4, 0.00, 0.25),
}


def _report(column, counts=True):
    rows = []
    for cat_id, (name, freq, instances, images, *aps) in CATEGORIES.items():
        row = dict(category_id=cat_id, name=name, frequency=freq, num_gt=3, num_dets=7,
                   AP=aps[column], AP50=0.9)
        if counts:
            row.update(instance_count=instances, image_count=images)
        rows.append(row)
    return dict(iou_type='segm', summary=dict(AP=0.3), per_frequency=[],
                per_category=rows[::-1])  # the order of the input does not matter


def _expected():
    """Change per category id, computed here: None where either AP is -1."""
    return {cat_id: (best - ref if ref >= 0 and best >= 0 else None)
            for cat_id, (*_, ref, best) in CATEGORIES.items()}


def test_change_values_and_order():
    rows = category_ap_change(_report(0), _report(1))
    expected = _expected()
    assert {r['category_id']: r['change'] for r in rows} == pytest.approx(expected)
    for row in rows:
        name, freq, instances, images, ref, best = CATEGORIES[row['category_id']]
        assert (row['name'], row['frequency'], row['instance_count'], row['image_count'],
                row['AP_reference'], row['AP_best']) == (name, freq, instances, images, ref, best)
    # Largest gain first; ties (0.25: ids 4 and 11) by id; undefined last, by id.
    assert [r['category_id'] for r in rows] == [1, 4, 11, 6, 3, 7, 2, 5, 8, 9, 10]


def test_reports_of_other_categories_are_refused():
    other = _report(1)
    other['per_category'] = other['per_category'][1:]
    with pytest.raises(ValueError, match='different categories'):
        category_ap_change(_report(0), other)


def test_largest_moves_are_real_gains_of_rare_and_losses_of_frequent():
    rows = category_ap_change(_report(0), _report(1))
    moves = largest_moves(rows)
    assert [r['name'] for r in moves['rare_gains']] == ['rare_up', 'rare_up_too']
    assert [r['name'] for r in moves['frequent_losses']] == ['frequent_down', 'frequent_down_less']
    assert [r['name'] for r in largest_moves(rows, 1)['rare_gains']] == ['rare_up']


@pytest.fixture
def drawn(monkeypatch):
    """What the plots draw: per frequency group, the (count, value) points."""
    drawn = []
    scatter_plot = lvis_report._scatter_by_frequency

    def scatter(*args, **kwargs):
        drawn.append(scatter_plot(*args, **kwargs))
        return drawn[-1]

    monkeypatch.setattr(lvis_report, '_scatter_by_frequency', scatter)
    return drawn


def _points(drawn):
    return {freq: sorted(map(tuple, p.tolist())) for freq, p in drawn.items()}


def test_csv_and_png(tmp_path, drawn):
    rows = category_ap_change(_report(0), _report(1))
    paths = save_ap_change(rows, str(tmp_path / 'change'), 'segm AP change')
    assert paths == dict(csv=str(tmp_path / 'change.csv'), png=str(tmp_path / 'change.png'))
    with open(paths['csv'], newline='') as f:
        read = list(csv.DictReader(f))
    assert list(read[0]) == ['category_id', 'name', 'frequency', 'instance_count', 'image_count',
                             'AP_reference', 'AP_best', 'change']
    expected = _expected()
    assert [int(r['category_id']) for r in read] == [r['category_id'] for r in rows]
    for row in read:
        cat_id = int(row['category_id'])
        name, freq, instances, images, ref, best = CATEGORIES[cat_id]
        assert (row['name'], row['frequency'], int(row['instance_count']),
                int(row['image_count'])) == (name, freq, instances, images)
        assert (float(row['AP_reference']), float(row['AP_best'])) == (ref, best)
        change = expected[cat_id]
        assert row['change'] == ('' if change is None else str(change))  # exact, or empty
    assert (tmp_path / 'change.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    # Plotted: every category with a change, at its instance count.
    want = {}
    for cat_id, change in expected.items():
        if change is not None:
            _, freq, instances, *_ = CATEGORIES[cat_id]
            want.setdefault(freq, []).append((instances, change))
    assert _points(drawn[0]) == {freq: sorted(p) for freq, p in want.items()}


def test_png_leaves_out_a_training_count_of_zero(tmp_path, drawn):
    rows = category_ap_change(_report(0), _report(1))
    zero = next(r for r in rows if r['frequency'] == 'f')
    zero['instance_count'] = 0
    save_ap_change(rows, str(tmp_path / 'change'), 'segm AP change')
    shown = [(r['frequency'], (r['instance_count'], r['change'])) for r in rows
             if r['change'] is not None and r is not zero]
    assert sum(map(len, _points(drawn[0]).values())) == len(shown)
    assert _points(drawn[0])['f'] == sorted(p for freq, p in shown if freq == 'f')


def test_without_training_counts_only_the_csv(tmp_path):
    rows = category_ap_change(_report(0, counts=False), _report(1, counts=False))
    assert all(r['instance_count'] is None and r['image_count'] is None for r in rows)
    paths = save_ap_change(rows, str(tmp_path / 'change'), 'segm AP change')
    assert list(paths) == ['csv'] and not (tmp_path / 'change.png').exists()
