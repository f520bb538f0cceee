"""Each swept value gets its own report folder, named so that distinct values never share one,
and a value given twice is refused (issue 31)."""
import pytest

from mmdet_tde.engine.alpha_sweep import (LOGIT_ADJUSTMENT_TAU, TDE_ALPHA, _outfile_prefix,
                                          check_distinct, value_label)


@pytest.mark.parametrize('value, label', [(0.0, '0'), (-0.0, '0'), (1, '1'), (1.5, '1.5'),
                                          (3.0000001, '3.0000001'), (3.0000004, '3.0000004'),
                                          (1e-7, '1e-07'), (0.1 + 0.2, '0.30000000000000004')])
def test_labels_name_the_value_exactly(value, label):
    assert value_label(value) == label and float(label) == value


def test_distinct_values_never_share_a_folder():
    values = [3.0000001, 3.0000004, 3, 0.1 + 0.2, 0.3, 1e-7]
    folders = {_outfile_prefix('work', v) for v in values}
    assert len(folders) == len(values)
    assert _outfile_prefix('work', 3.0000004) == 'work/alpha_3.0000004/lvis'
    assert _outfile_prefix('work', 1.5, LOGIT_ADJUSTMENT_TAU) == 'work/tau_1.5/lvis'
    assert _outfile_prefix('work', 3.0, TDE_ALPHA) == 'work/alpha_3/lvis'  # as before


def test_a_value_given_twice_is_refused():
    with pytest.raises(ValueError, match='alphas must be distinct, got 1 more than once'):
        check_distinct('alphas', [1, 1.0, 1])
    with pytest.raises(ValueError, match='got 0, 2 more than once'):
        check_distinct('alphas', [2, 0.0, -0.0, 2.0, 3])
    check_distinct('alphas', [3.0000001, 3.0000004, 3])
