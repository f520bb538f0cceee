"""Bad LVIS input as a new user produces it: a message naming the entry and field, never a
traceback or a crash; outputs checked before evaluating and never left half-written."""
import copy
import importlib.util
import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pycocotools.mask as mask_utils
import pytest

from mmdet_tde.evaluation.fast_lvis import evaluate_lvis, load_lvis_annotations
from mmdet_tde.evaluation import lvis_input_checks
from mmdet_tde.evaluation.lvis_input_checks import (_compressed_sums, check_columns,
                                                    check_lvis_annotations, check_results)
from mmdet_tde.testing import make_lvis_annotations, make_lvis_detections
from mmdet_tde.fileio import check_output_path, write_json_atomic

GT = make_lvis_annotations(6, 6, seed=31)
DETS = make_lvis_detections(GT, 'segm', dets_per_image=3, seed=32)
IMAGES = {img['id']: img for img in GT['images']}


def _image(det):
    return IMAGES[det['image_id']]


def _uncompressed(det) -> dict:
    mask = mask_utils.decode(dict(det['segmentation'], counts=det['segmentation']['counts']))
    flat = mask.flatten(order='F')
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(flat)) + 1, [flat.size]])
    counts = np.diff(bounds).tolist()
    return dict(size=list(mask.shape), counts=([0] + counts) if flat[0] else counts)


def _narrower_rle(det) -> dict:
    """A valid compressed RLE of an image one column narrower, labelled with the full size."""
    img = _image(det)
    mask = np.zeros((img['height'], img['width'] - 1), dtype=np.uint8, order='F')
    mask[2:6, 3:9] = 1
    rle = mask_utils.encode(mask)
    return dict(size=[img['height'], img['width']], counts=rle['counts'].decode())


def _square(det, value) -> list:
    x, y, w, h = det['bbox']
    return [[x, y, x + w, y, x + w, y + h, value, y + h]]


def _set(key, value, idx=1):
    def mutate(dets):
        dets[idx][key] = value(dets[idx]) if callable(value) else value
    return mutate


def _set_bbox(pos, value, idx=1):
    def mutate(dets):
        dets[idx]['bbox'] = list(dets[idx]['bbox'])
        dets[idx]['bbox'][pos] = value
    return mutate


def _set_segm(fn, idx=2):
    def mutate(dets):
        dets[idx]['segmentation'] = fn(dets[idx])
    return mutate


def _rle(size=None, counts=None):
    def fn(det):
        rle = dict(det['segmentation'])
        if size is not None:
            rle['size'] = size(det) if callable(size) else size
        if counts is not None:
            rle['counts'] = counts(det) if callable(counts) else counts
        return rle
    return fn


def _list_counts(change):
    def fn(det):
        rle = _uncompressed(det)
        change(rle['counts'])
        return rle
    return fn


RESULT_CASES = {
    'score as string': ('bbox', _set('score', '0.9'),
                        r"results\[1\]: field 'score' is '0.9'; allowed: a number"),
    'score as boolean': ('bbox', _set('score', True),
                         r"results\[1\]: field 'score' is True; allowed: a number"),
    'bbox coordinate as string': ('bbox', _set_bbox(0, '3'),
                                  r"results\[1\]: field 'bbox' is \['3', .*4 numbers"),
    'bbox coordinate as boolean': ('bbox', _set_bbox(2, False),
                                   r"results\[1\]: field 'bbox' is \[.*False.*4 numbers"),
    'category_id as boolean': ('bbox', _set('category_id', True),
                               r"results\[1\]: field 'category_id' is True; allowed: an integer"),
    'category_id as float': ('bbox', _set('category_id', lambda d: float(d['category_id'])),
                             r"results\[1\]: field 'category_id' is \d+\.0; allowed: an integer"),
    'category_id as string': ('bbox', _set('category_id', '1'),
                              r"results\[1\]: field 'category_id' is '1'; allowed: an integer"),
    'image_id as float': ('bbox', _set('image_id', lambda d: float(d['image_id'])),
                          r"results\[1\]: field 'image_id' is \d+\.0; allowed: an integer"),
    'image_id as boolean': ('bbox', _set('image_id', True),
                            r"results\[1\]: field 'image_id' is True; allowed: an integer"),
    'RLE size not a list': ('segm', _set_segm(_rle(size=5)),
                            r"results\[2\]: field 'segmentation' has size 5, but image \d+ is"),
    'RLE size of another image': (
        'segm', _set_segm(_rle(size=lambda d: [_image(d)['width'], _image(d)['height']])),
        r"results\[2\]: field 'segmentation' has size \[\d+, \d+\], but image \d+ is"),
    'RLE size as strings': (
        'segm', _set_segm(_rle(size=lambda d: [str(v) for v in d['segmentation']['size']])),
        r"results\[2\]: field 'segmentation' has size \['\d+', '\d+'\]"),
    'RLE size as floats': (
        'segm', _set_segm(_rle(size=lambda d: [float(v) for v in d['segmentation']['size']])),
        r"results\[2\]: field 'segmentation' has size \[\d+\.0, \d+\.0\]"),
    'RLE without counts': ('segm', _set_segm(lambda d: dict(size=d['segmentation']['size'])),
                           r"results\[2\]: field 'segmentation' is an RLE without 'counts'"),
    'RLE counts of another type': ('segm', _set_segm(_rle(counts=7)),
                                   r"results\[2\]: field 'segmentation' has counts of type int"),
    'list counts negative': ('segm', _set_segm(_list_counts(lambda c: c.__setitem__(1, -4))),
                             r"results\[2\]: .*run length -4 in its counts; allowed: integ"),
    'list counts not integers': (
        'segm', _set_segm(_list_counts(lambda c: c.__setitem__(1, 2.5))),
        r"results\[2\]: field 'segmentation' has a run length 2.5 in its counts"),
    'list counts as strings': ('segm', _set_segm(_list_counts(lambda c: c.__setitem__(0, '4'))),
                               r"results\[2\]: field 'segmentation' has a run length '4'"),
    'list counts short of the image': (
        'segm', _set_segm(_list_counts(lambda c: c.pop())),
        r"results\[2\]: field 'segmentation' has RLE counts that add up to \d+ pixels, not "
        r'height x width = \d+ x \d+ = \d+'),
    'list counts beyond the image': (
        'segm', _set_segm(_list_counts(lambda c: c.append(10))),
        r"results\[2\]: .*RLE counts that add up to \d+ pixels, not height x width"),
    'string counts with bad characters': (
        'segm', _set_segm(_rle(counts='abc~~')),
        r"results\[2\]: field 'segmentation' has counts 'abc~~' that are not a compressed RLE: "
        'it has characters other than'),
    'string counts not ASCII': ('segm', _set_segm(_rle(counts='0é1')),
                                r"results\[2\]: .* not a compressed RLE: it has characters"),
    'string counts truncated': (
        'segm', _set_segm(_rle(counts=lambda d: d['segmentation']['counts'] + 'o')),
        r"results\[2\]: .*not a compressed RLE: it ends in the middle of a run"),
    'string counts negative run': ('segm', _set_segm(_rle(counts='@')),
                                   r'results\[2\]: .*it decodes to a negative run length'),
    'string counts short of the image': (
        'segm', _set_segm(_narrower_rle),
        r"results\[2\]: field 'segmentation' has RLE counts that add up to \d+ pixels, not "
        r'height x width'),
    'polygon with a string': ('segm', _set_segm(lambda d: _square(d, '5')),
                              r"results\[2\]: field 'segmentation' has a polygon coordinate '5'; "
                              'allowed: numbers'),
    'polygon with NaN': ('segm', _set_segm(lambda d: _square(d, math.nan)),
                         r"results\[2\]: .*polygon coordinate nan; allowed: finite numbers"),
    'polygon with infinity': ('segm', _set_segm(lambda d: _square(d, math.inf)),
                              r"results\[2\]: .*polygon coordinate inf; allowed: finite numbers"),
    'polygon far outside the image': (
        'segm', _set_segm(lambda d: _square(d, 1e9)),
        r"results\[2\]: field 'segmentation' has a polygon point \[1000000000.0, .*far outside "
        r'image \d+'),
    'polygon as a flat list': ('segm', _set_segm(lambda d: _square(d, 1)[0]),
                               r"results\[2\]: field 'segmentation' is neither an RLE dict"),
    'polygon of two points': ('segm', _set_segm(lambda d: [[1, 2, 3, 4]]),
                              r"results\[2\]: field 'segmentation' is neither an RLE dict"),
}


@pytest.mark.parametrize('case', list(RESULT_CASES))
def test_bad_results_name_entry_and_field(case):
    iou_type, mutate, error = RESULT_CASES[case]
    dets = copy.deepcopy(DETS)
    mutate(dets)
    with pytest.raises(ValueError, match=error):
        evaluate_lvis(load_lvis_annotations(copy.deepcopy(GT)), dets, iou_type)


def _columns(dets=DETS):
    return dict(image_id=np.array([d['image_id'] for d in dets]),
                category_id=np.array([d['category_id'] for d in dets]),
                score=np.array([d['score'] for d in dets]),
                bbox=np.array([d['bbox'] for d in dets]),
                segmentation=[d['segmentation'] for d in dets])


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_columns_are_checked_into_what_dicts_give(iou_type):
    gt = load_lvis_annotations(copy.deepcopy(GT))
    from_dicts = check_results(copy.deepcopy(DETS), gt, iou_type)
    from_columns = check_columns(_columns(copy.deepcopy(DETS)), gt, iou_type)
    assert from_columns.keys() == from_dicts.keys()
    for key, value in from_dicts.items():
        if isinstance(value, np.ndarray):
            assert from_columns[key].dtype == value.dtype
            np.testing.assert_array_equal(from_columns[key], value)
        else:
            assert from_columns[key] == value


def _column(key, idx, value):
    def mutate(columns):
        columns[key] = np.array(columns[key], dtype=float if key == 'score' else None)
        columns[key][idx] = value
    return mutate


@pytest.mark.parametrize('iou_type,mutate,error', [
    ('bbox', _column('category_id', 2, 999),
     r"detections\[2\]: field 'category_id' is 999, which is not a category id"),
    ('bbox', _column('image_id', 1, 999),
     r"detections\[1\]: field 'image_id' is 999, which is not an image id"),
    ('bbox', _column('score', 3, np.nan),
     r"detections\[3\]: field 'score' is nan; allowed: a finite number"),
    ('bbox', _column('bbox', 4, [1, 2, -3, 4]),
     r"detections\[4\]: field 'bbox' is \[1.0, 2.0, -3.0, 4.0\]; width and height must be >= 0"),
    ('bbox', lambda c: c.update(bbox=c['bbox'][:, :3]),
     r"detection column 'bbox' must be \(18, 4\)"),
    ('bbox', lambda c: c.update(image_id=c['image_id'].astype(float)),
     r"detection column 'image_id' must hold 18 integers"),
    ('bbox', lambda c: c.update(score=None), r"detection columns lack 'score'"),
    ('segm', lambda c: c['segmentation'].__setitem__(5, dict(size=[5, 5], counts='0')),
     r"detections\[5\]: field 'segmentation' has size \[5, 5\], but image \d+ is"),
])
def test_bad_columns_name_entry_and_field(iou_type, mutate, error):
    columns = _columns(copy.deepcopy(DETS))
    mutate(columns)
    with pytest.raises(ValueError, match=error):
        check_columns(columns, load_lvis_annotations(copy.deepcopy(GT)), iou_type)


def _ann(idx, key, value):
    def mutate(gt):
        gt['annotations'][idx][key] = value
    return mutate


def _drop(part, idx, key):
    def mutate(gt):
        del gt[part][idx][key]
    return mutate


def _img(idx, key, value):
    def mutate(gt):
        gt['images'][idx][key] = value(gt) if callable(value) else value
    return mutate


ANNOTATION_CASES = {
    'annotation file is a list': (lambda gt: gt['annotations'],
                                  r"LVIS annotations must be a JSON object with 'images', "
                                  r"'annotations' and 'categories', got a JSON list \(is it a "
                                  r'results file\?\)'),
    'annotation not a dict': (lambda gt: gt['annotations'].__setitem__(2, [1, 2]),
                              r'annotations\[2\] must be a JSON object \(dict\), got list'),
    'bbox missing': (_drop('annotations', 3, 'bbox'),
                     r"annotations\[3\] \(id=4\) has no 'bbox' field"),
    'bbox coordinate as string': (lambda gt: gt['annotations'][3]['bbox'].__setitem__(1, '5'),
                                  r"annotations\[3\] \(id=4\): field 'bbox' is \[.*'5'.*4 numb"),
    'bbox of 3 numbers': (_ann(3, 'bbox', [1, 2, 3]),
                          r"annotations\[3\] \(id=4\): field 'bbox' is \[1, 2, 3\]"),
    'bbox with NaN': (_ann(3, 'bbox', [1, 2, math.nan, 4]),
                      r"annotations\[3\] \(id=4\): field 'bbox' .*allowed: finite numbers"),
    'bbox of negative width': (_ann(3, 'bbox', [1, 2, -3, 4]),
                               r"annotations\[3\] \(id=4\): .*width and height must be >= 0"),
    'area as boolean': (_ann(3, 'area', True), r"annotations\[3\] \(id=4\): field 'area' is True"),
    'area as string': (_ann(3, 'area', '12'), r"annotations\[3\] \(id=4\): field 'area' is '12'"),
    'category_id as string': (_ann(3, 'category_id', '1'),
                              r"annotations\[3\] \(id=4\): field 'category_id' is '1'; allowed: "
                              'an integer'),
    'unknown category': (_ann(3, 'category_id', 999),
                         r"annotations\[3\] \(id=4\): field 'category_id' is 999, which is not a "
                         r'category id of the annotations \(6 known\)'),
    'unknown image': (_ann(3, 'image_id', 999),
                      r"annotations\[3\] \(id=4\): field 'image_id' is 999, which is not an "
                      'image id'),
    'image_id as boolean': (_ann(3, 'image_id', True),
                            r"annotations\[3\] \(id=4\): field 'image_id' is True; allowed: an "
                            'integer'),
    'annotation id missing': (_drop('annotations', 3, 'id'), r"annotations\[3\] has no 'id'"),
    'duplicate annotation ids': (_ann(3, 'id', 1),
                                 r"annotations\[3\]: field 'id' is 1, the id of annotations\[0\] "
                                 'too; ids must be unique'),
    'height missing': (_drop('images', 2, 'height'), r"images\[2\] \(id=3\) has no 'height'"),
    'width as string': (_img(2, 'width', '640'),
                        r"images\[2\] \(id=3\): field 'width' is '640'; allowed: an integer > 0"),
    'height of 0': (_img(2, 'height', 0), r"images\[2\] \(id=3\): field 'height' is 0"),
    'duplicate image ids': (_img(4, 'id', 2),
                            r"images\[4\]: field 'id' is 2, the id of images\[1\] too"),
    'image id as string': (_img(0, 'id', '1'), r"images\[0\] \(id='1'\): field 'id' is '1'"),
    'unknown negative category': (_img(1, 'neg_category_ids', [999]),
                                  r"images\[1\] \(id=2\): field 'neg_category_ids' lists 999, "
                                  'which is not a category id'),
    'negative categories as strings': (
        _img(1, 'not_exhaustive_category_ids', ['1']),
        r"images\[1\] \(id=2\): field 'not_exhaustive_category_ids' is \['1'\]; allowed: a list "
        'of integers'),
    'duplicate category ids': (lambda gt: gt['categories'][3].__setitem__('id', 1),
                               r"categories\[3\]: field 'id' is 1, the id of categories\[0\]"),
    'mask of another size': (
        lambda gt: gt['annotations'].__setitem__(0, dict(
            gt['annotations'][0], segmentation=dict(size=[3, 3], counts='9'))),
        r"annotations\[0\] \(id=1\): field 'segmentation' has size \[3, 3\], but image"),
    'polygon with infinity': (
        lambda gt: gt['annotations'][0]['segmentation'][0].__setitem__(2, math.inf),
        r"annotations\[0\] \(id=1\): field 'segmentation' has a polygon coordinate inf"),
}


@pytest.mark.parametrize('case', list(ANNOTATION_CASES))
def test_bad_annotations_name_entry_and_field(case):
    mutate, error = ANNOTATION_CASES[case]
    gt = copy.deepcopy(GT)
    replaced = mutate(gt)
    with pytest.raises(ValueError, match=error):
        if replaced is None:
            load_lvis_annotations(gt)
        else:  # a list, which load_lvis_annotations would take for a file name
            check_lvis_annotations(replaced)


def test_uncompressed_rle_without_bbox_is_evaluated():
    """Uncompressed RLE results without boxes get the area and box of their mask."""
    dets = [{k: v for k, v in d.items() if k != 'bbox'} for d in DETS]
    plain = [dict(d, segmentation=_uncompressed(d)) for d in dets]
    ref = evaluate_lvis(load_lvis_annotations(copy.deepcopy(GT)), copy.deepcopy(dets), 'segm')
    result = evaluate_lvis(load_lvis_annotations(copy.deepcopy(GT)), plain, 'segm')
    assert result.summary == ref.summary
    assert result.summary['AP'] > 0


def test_compressed_counts_decode_as_pycocotools():
    rng = np.random.default_rng(3)
    masks = [(rng.random((17, 23)) < p).astype(np.uint8) for p in (0, 0.02, 0.5, 0.97, 1)]
    masks.append(np.zeros((300, 400), np.uint8))
    masks[-1][10:290, 5:395] = 1  # runs that need several characters
    texts = [mask_utils.encode(np.asfortranarray(m))['counts'].decode() for m in masks]
    sums, bad, _ = _compressed_sums(texts + [''])
    assert bad is None
    assert sums.tolist() == [m.size for m in masks] + [0]


def test_batch_of_empty_counts_only(monkeypatch):
    """A batch may hold only empty strings (0 pixels each), and a bad string after them is
    still found."""
    monkeypatch.setattr(lvis_input_checks, '_RLE_CHARS_PER_BATCH', 1)
    assert _compressed_sums(['', ''])[0].tolist() == [0, 0]
    sums, bad, reason = _compressed_sums(['', '', '1', 'P'])
    assert sums[:3].tolist() == [0, 0, 1] and bad == 3 and 'middle of a run' in reason


def test_compressed_counts_across_batches(monkeypatch):
    """Strings are decoded in batches of characters; sums and the index of a bad string do
    not depend on where the batches end."""
    rng = np.random.default_rng(4)
    masks = [(rng.random((31, 29)) < p).astype(np.uint8) for p in rng.random(40)]
    texts = [mask_utils.encode(np.asfortranarray(m))['counts'].decode() for m in masks]
    texts[33] = texts[33][:-1] + '\x7f'  # not a compressed RLE character
    for batch_chars in (1, 64, 1000, 1 << 18):
        monkeypatch.setattr(lvis_input_checks, '_RLE_CHARS_PER_BATCH', batch_chars)
        sums, bad, _ = _compressed_sums(texts[:33])
        assert bad is None and sums.tolist() == [m.size for m in masks[:33]]
        assert _compressed_sums(texts)[1] == 33


def _tool(repo_root, *args):
    return subprocess.run([sys.executable, str(repo_root / 'tools' / 'eval_lvis.py'), *args],
                          capture_output=True, text=True, cwd=repo_root)


def _write_inputs(tmp_path, dets=DETS, gt=GT):
    (tmp_path / 'results.json').write_text(json.dumps(dets))
    (tmp_path / 'gt.json').write_text(json.dumps(gt))
    return str(tmp_path / 'results.json'), str(tmp_path / 'gt.json')


@pytest.mark.slow
def test_tool_swapped_arguments(repo_root, tmp_path):
    results, gt = _write_inputs(tmp_path)
    proc = _tool(repo_root, gt, results)
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr
    assert 'got a JSON list (is it a results file?)' in proc.stderr


@pytest.mark.slow
def test_tool_infinite_polygon_coordinate(repo_root, tmp_path):
    """Used to grow past 1 GB and die with std::bad_alloc."""
    dets = copy.deepcopy(DETS)
    dets[4]['segmentation'] = _square(dets[4], math.inf)
    results, gt = _write_inputs(tmp_path, dets)
    proc = _tool(repo_root, results, gt, '--iou-type', 'segm')
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr
    assert "results[4]: field 'segmentation' has a polygon coordinate inf" in proc.stderr


@pytest.mark.slow
def test_tool_string_numbers(repo_root, tmp_path):
    dets = copy.deepcopy(DETS)
    dets[5]['bbox'] = [str(v) for v in dets[5]['bbox']]
    results, gt = _write_inputs(tmp_path, dets)
    proc = _tool(repo_root, results, gt, '--out', str(tmp_path / 'metrics.json'))
    assert proc.returncode == 1
    assert "error: results[5]: field 'bbox' is ['" in proc.stderr
    assert not (tmp_path / 'metrics.json').exists()


def _tool_main(repo_root):
    spec = importlib.util.spec_from_file_location('eval_lvis', repo_root / 'tools' / 'eval_lvis.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


OUTPUT_CASES = {
    '--out is a directory': (lambda p: ['--out', str(p)], r'--out .* is a directory'),
    '--out under a file': (lambda p: ['--out', str(p / 'gt.json' / 'm.json')],
                           r'--out .*m.json: .*gt.json is a file, not a directory'),
    '--out is the results file': (lambda p: ['--out', str(p / 'results.json')],
                                  r'--out .*results.json is an input file'),
    '--report under a file': (lambda p: ['--report', str(p / 'results.json' / 'x')],
                              r'--report .*results.json is a file, not a directory'),
}


@pytest.mark.parametrize('case', list(OUTPUT_CASES))
def test_tool_checks_outputs_before_evaluating(case, repo_root, tmp_path, capsys, monkeypatch):
    main = _tool_main(repo_root)
    results, gt = _write_inputs(tmp_path)
    monkeypatch.setattr('mmdet_tde.evaluation.fast_lvis.load_lvis_annotations',
                        lambda *a: pytest.fail('evaluated before checking the outputs'))
    args, error = OUTPUT_CASES[case]
    assert main([results, gt] + args(tmp_path)) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: --')
    assert re.search(error, err), err


@pytest.mark.skipif(os.geteuid() == 0, reason='root may write anywhere')
def test_unwritable_directory_is_refused(tmp_path):
    (tmp_path / 'ro').mkdir(mode=0o500)
    with pytest.raises(ValueError, match='is not writable'):
        check_output_path(str(tmp_path / 'ro' / 'm.json'), '--out')


def _interrupt_json_dump(monkeypatch):
    def dump(obj, f, **kwargs):
        f.write('{"AP": 0.')  # half a file, then Ctrl-C
        raise KeyboardInterrupt
    monkeypatch.setattr(json, 'dump', dump)


def test_interrupted_json_write_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / 'metrics.json'
    write_json_atomic(dict(AP=0.25), str(path))
    _interrupt_json_dump(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        write_json_atomic(dict(AP=0.5), str(path))
    monkeypatch.undo()
    assert json.loads(path.read_text()) == dict(AP=0.25)
    assert os.listdir(tmp_path) == ['metrics.json']  # no temporary file left
    with pytest.raises(KeyboardInterrupt):
        _interrupt_json_dump(monkeypatch)
        write_json_atomic(dict(AP=0.5), str(tmp_path / 'new.json'))
    assert os.listdir(tmp_path) == ['metrics.json']  # none rather than a truncated one


def test_interrupted_tool_keeps_previous_outputs(repo_root, tmp_path, monkeypatch):
    main = _tool_main(repo_root)
    results, gt = _write_inputs(tmp_path)
    out, prefix = tmp_path / 'out' / 'metrics.json', tmp_path / 'out' / 'lvis'
    args = [results, gt, '--out', str(out), '--report', str(prefix)]
    assert main(args) == 0
    before = {p: p.read_bytes() for p in (tmp_path / 'out').iterdir()}
    assert len(before) == 5  # metrics, report JSON, two CSVs, per-category PNG
    _interrupt_json_dump(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        main(args)
    assert {p: p.read_bytes() for p in (tmp_path / 'out').iterdir()} == before
