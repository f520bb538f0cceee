"""tools/eval_lvis.py run as a user runs it, against the LVIS API."""
import importlib.util
import json
import os
import pickle
import subprocess
import sys

import pytest
from lvis_eval_helpers import lvis_api_eval

from mmdet_tde.testing import make_lvis_annotations, make_lvis_detections

METRIC_KEYS = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf', 'AR@300']


def _tool(repo_root, *args):
    return subprocess.run([sys.executable, str(repo_root / 'tools' / 'eval_lvis.py'), *args],
                          capture_output=True, text=True, cwd=repo_root)


@pytest.mark.slow
def test_eval_lvis_writes_lvis_api_metrics(repo_root, tmp_path):
    gt = make_lvis_annotations(30, 25, version='v0.5', seed=21)
    dets = make_lvis_detections(gt, 'segm', dets_per_image=60, seed=22)
    (tmp_path / 'gt.json').write_text(json.dumps(gt))
    (tmp_path / 'results.json').write_text(json.dumps(dets))
    proc = _tool(repo_root, str(tmp_path / 'results.json'), str(tmp_path / 'gt.json'),
                 '--iou-type', 'segm', '--out', str(tmp_path / 'metrics.json'),
                 '--report', str(tmp_path / 'report' / 'lvis'))
    assert proc.returncode == 0, proc.stderr
    assert 'APr' in proc.stdout and 'frequent' in proc.stdout  # the tables

    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    assert list(metrics) == METRIC_KEYS
    ref = lvis_api_eval(gt, dets, 'segm', tmp_path).get_results()
    for key in METRIC_KEYS:
        assert metrics[key] == -1 or 0 <= metrics[key] <= 1
        assert metrics[key] == pytest.approx(float(ref[key]), abs=1e-12), key
    assert (tmp_path / 'report' / 'lvis.segm_per_category.csv').is_file()


def _tool_main(repo_root):
    spec = importlib.util.spec_from_file_location('eval_lvis', repo_root / 'tools' / 'eval_lvis.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_eval_lvis_reports_bad_input(repo_root, tmp_path, capsys):
    """In process, to keep the suite fast; the subprocess path is covered above."""
    main = _tool_main(repo_root)
    gt = make_lvis_annotations(5, 6, seed=23)
    (tmp_path / 'gt.json').write_text(json.dumps(gt))
    dets = make_lvis_detections(gt, dets_per_image=3, seed=24)
    dets[2]['category_id'] = 77
    (tmp_path / 'results.json').write_text(json.dumps(dets))
    assert main([str(tmp_path / 'results.json'), str(tmp_path / 'gt.json'),
                 '--out', str(tmp_path / 'metrics.json')]) == 1
    assert "results[2]: field 'category_id' is 77, which is not a category id" in \
        capsys.readouterr().err
    assert not (tmp_path / 'metrics.json').exists()

    assert main([str(tmp_path / 'missing.json'), str(tmp_path / 'gt.json')]) == 1
    assert 'results file not found' in capsys.readouterr().err
    assert main([str(tmp_path / 'results.json'), str(tmp_path / 'gt2.json')]) == 1
    assert 'annotation file not found' in capsys.readouterr().err


def _tool_module(repo_root):
    spec = importlib.util.spec_from_file_location('eval_lvis', repo_root / 'tools' / 'eval_lvis.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_case(tmp_path, iou_type='bbox', seed=25):
    gt = make_lvis_annotations(12, 10, seed=seed)
    dets = make_lvis_detections(gt, iou_type, dets_per_image=20, seed=seed + 1)
    (tmp_path / 'gt.json').write_text(json.dumps(gt))
    (tmp_path / 'results.json').write_text(json.dumps(dets))
    return gt, dets


@pytest.mark.slow
def test_eval_lvis_imports_no_model_stack(repo_root, tmp_path):
    """Run as a command, the tool evaluates without torch, mmdet or mmcv (seconds of imports)
    and still gives the LVIS API's numbers."""
    gt, dets = _write_case(tmp_path, 'segm')
    args = [str(tmp_path / 'results.json'), str(tmp_path / 'gt.json'), '--iou-type', 'segm',
            '--out', str(tmp_path / 'metrics.json')]
    code = ('import runpy, sys\n'
            f'sys.argv = {["eval_lvis.py"] + args!r}\n'
            'try:\n'
            f"    runpy.run_path({str(repo_root / 'tools' / 'eval_lvis.py')!r}, "
            "run_name='__main__')\n"
            'except SystemExit as e:\n'
            '    assert not e.code, e.code\n'
            "print('LOADED', sorted(m for m in ('torch', 'mmdet', 'mmcv') "
            'if m in sys.modules))\n')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          cwd=repo_root)
    assert proc.returncode == 0, proc.stderr
    assert 'LOADED []' in proc.stdout
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    ref = lvis_api_eval(gt, dets, 'segm', tmp_path).get_results()
    for key in METRIC_KEYS:
        assert metrics[key] == pytest.approx(float(ref[key]), abs=1e-12), key


@pytest.mark.parametrize('option', ['--out', '--report'])
def test_empty_output_name_is_an_error(repo_root, tmp_path, capsys, option):
    _write_case(tmp_path)
    main = _tool_module(repo_root).main
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / 'results.json'), str(tmp_path / 'gt.json'), option, ''])
    assert exit_info.value.code == 2
    assert f'{option} is empty; give a file name' in capsys.readouterr().err


@pytest.mark.skipif(not os.path.isdir('/proc/self'), reason='needs Linux /proc')
def test_unwritable_output_fails_before_evaluating(repo_root, tmp_path, capsys):
    """/proc takes no new files, not even from root, although its permission bits (and
    os.access, for root) say it is writable."""
    _write_case(tmp_path)
    module = _tool_module(repo_root)
    module.load_lvis_annotations = lambda *a: pytest.fail('evaluated before checking --out')
    assert module.main([str(tmp_path / 'results.json'), str(tmp_path / 'gt.json'),
                        '--out', '/proc/eval_lvis_test/metrics.json']) == 1
    assert 'error: --out /proc/eval_lvis_test/metrics.json: cannot write in /proc' in \
        capsys.readouterr().err


def test_pickle_results_are_named(repo_root, tmp_path, capsys):
    """A .pkl from tools/test.py --out instead of the JSON results file."""
    _, dets = _write_case(tmp_path)
    (tmp_path / 'results.pkl').write_bytes(pickle.dumps(dets))
    main = _tool_module(repo_root).main
    assert main([str(tmp_path / 'results.pkl'), str(tmp_path / 'gt.json')]) == 1
    err = capsys.readouterr().err
    assert 'results.pkl is a Python pickle, not JSON' in err
    (tmp_path / 'binary.json').write_bytes(b'\xff\xfe\x00garbage')
    assert main([str(tmp_path / 'binary.json'), str(tmp_path / 'gt.json')]) == 1
    assert 'binary.json is not valid JSON' in capsys.readouterr().err
