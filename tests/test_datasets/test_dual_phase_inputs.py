"""Bad inputs of the dual-phase tools are refused with an error that names the problem, and no
tool writes over one of its inputs (issue 31)."""
import hashlib
import importlib.util
import json
import math
import sys

import pytest
import torch
from mmengine.config import Config

from mmdet.registry import DATASETS

from mmdet_tde.engine.dual_phase_checks import (OTHER_MODEL, PHASE1_MODEL, PHASE2_INIT,
                                                PHASE2_MODEL, UNKNOWN, check_phase1_checkpoint,
                                                check_phase2_inputs, checkpoint_role, file_sha256,
                                                recorded_config)
from mmdet_tde.datasets.dual_phase import MEMORY_VERSION, read_memory
from mmdet_tde.fileio import load_split, make_split
from mmdet_tde.testing import MiniLVISOptions, make_minilvis

PHASE1_CONFIG = 'configs/minilvis/dual_phase/cascade_phase1_r18_minilvis.py'
CATEGORIES = [dict(id=1, name='a', frequency='f', image_count=50),
              dict(id=2, name='b', frequency='c', image_count=20),
              dict(id=3, name='c', frequency='r', image_count=3)]


def sha(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def load_tool(repo_root, tool):
    spec = importlib.util.spec_from_file_location(f'tool_{tool}', repo_root / 'tools' / tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_main(repo_root, tool, argv, monkeypatch):
    """The tool's ``main`` in this process; returns the message it exits with."""
    module = load_tool(repo_root, tool)
    monkeypatch.setattr(sys, 'argv', [tool] + [str(a) for a in argv])
    with pytest.raises(SystemExit) as exit_info:
        module.run_tool(module.main) if hasattr(module, 'run_tool') else module.main()
    return str(exit_info.value.code)


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('dual_phase_inputs')
    make_minilvis(str(root), MiniLVISOptions(seed=7, num_train=60, num_val=4),
                  progress=lambda *a: None)
    ann_file = root / 'annotations/minilvis_v1_train.json'
    annotations = json.loads(ann_file.read_text())
    split = make_split(annotations['categories'])
    split_file = root / 'split.json'
    split_file.write_text(json.dumps(split))
    return root, ann_file, annotations, split, split_file


# --- the split tool and the split file -----------------------------------------------------

def test_split_tool_refuses_to_overwrite_its_input(data, tmp_path, repo_root, monkeypatch):
    _, ann_file, _, _, _ = data
    copy = tmp_path / 'train.json'
    copy.write_bytes(ann_file.read_bytes())
    link = tmp_path / 'link.json'
    link.symlink_to(copy)
    before = sha(copy)
    for out in (copy, tmp_path / '.' / 'train.json', link):
        message = run_main(repo_root, 'dual_phase_split.py', [copy, '--out', out], monkeypatch)
        assert 'is also an input of this run' in message and 'would be overwritten' in message
    assert sha(copy) == before


@pytest.mark.parametrize('content, message', [
    ('', 'is empty (0 bytes)'),
    ('{not json', 'is not valid JSON'),
    ('[1, 2]', "no 'categories' list"),
    ('{"categories": []}', "'categories' must be a non-empty list"),
    ('{"categories": [{"id": 1, "name": "a", "frequency": "z"}]}',
     "category 1: 'frequency' must be one of ('f', 'c', 'r'), got 'z'"),
])
def test_split_tool_names_bad_annotation_files(content, message, tmp_path, repo_root,
                                               monkeypatch):
    ann = tmp_path / 'ann.json'
    ann.write_text(content)
    out = tmp_path / 'split.json'
    error = run_main(repo_root, 'dual_phase_split.py', [ann, '--out', out], monkeypatch)
    assert message in error and str(ann) in error
    assert not out.exists()


def test_split_tool_checks_out_before_reading(tmp_path, repo_root, monkeypatch):
    ann = tmp_path / 'ann.json'
    ann.write_text(json.dumps(dict(categories=CATEGORIES)))
    (tmp_path / 'file').write_text('')
    assert 'is a directory' in run_main(repo_root, 'dual_phase_split.py',
                                        [ann, '--out', tmp_path], monkeypatch)
    assert 'is a file, not a directory' in run_main(
        repo_root, 'dual_phase_split.py', [ann, '--out', tmp_path / 'file/split.json'],
        monkeypatch)
    assert '--out is an empty path' in run_main(repo_root, 'dual_phase_split.py',
                                                [ann, '--out', ''], monkeypatch)


@pytest.mark.parametrize('change, min_images, message', [
    (dict(frequency='z'), None, "'frequency' must be one of ('f', 'c', 'r'), got 'z'"),
    (dict(frequency='R'), None, "got 'R'"),
    (dict(frequency=None), None, 'got None'),
    (dict(id=1), None, 'category id 1 appears more than once'),
    (dict(id=1.5), None, "'id' must be an integer, got 1.5"),
    (dict(id=True), None, "'id' must be an integer, got True"),
    (dict(name=7), None, "'name' must be a string"),
    (dict(image_count=float('nan')), 20, "'image_count' must be an integer >= 0, got nan"),
    (dict(image_count=-1), 20, 'got -1'),
])
def test_make_split_validates_categories(change, min_images, message):
    categories = [dict(c) for c in CATEGORIES]
    categories[2].update(change)
    with pytest.raises(ValueError) as error:
        make_split(categories, min_images)
    assert message in str(error.value)


@pytest.mark.parametrize('categories', [None, {}, [], ['a']])
def test_make_split_validates_the_shape(categories):
    with pytest.raises(ValueError, match='categories'):
        make_split(categories)


def test_valid_split_still_loads(tmp_path):
    path = tmp_path / 'split.json'
    path.write_text(json.dumps(make_split(CATEGORIES)))
    split = load_split(str(path))
    assert split['phase2_category_ids'] == [3] and split['loss_lambda'] == math.sqrt(2)


@pytest.mark.parametrize('field, value, message', [
    ('loss_lambda', 1000, 'loss_lambda must be sqrt(C1 / C2)'),
    ('loss_lambda', -5, 'got -5'),
    ('loss_lambda', 'abc', "got 'abc'"),
    ('loss_lambda', None, 'got None'),
    ('min_images', 0, 'min_images must be null or an integer >= 1'),
    ('rule', 5, 'rule must be a str'),
    ('phase1_category_ids', [1, 1, 2], 'more than once'),
    ('phase1_category_ids', [1, 2.5], 'list of integer category ids'),
    ('phase2_category_ids', [], 'non-empty list'),
    ('digest', None, 'digest must be a string'),
    ('version', 2, 'split version 2'),
])
def test_load_split_checks_every_field(field, value, message, tmp_path):
    split = make_split(CATEGORIES)
    split[field] = value
    path = tmp_path / 'split.json'
    path.write_text(json.dumps(split))
    with pytest.raises(ValueError) as error:
        load_split(str(path))
    assert message in str(error.value) and str(path) in str(error.value)


@pytest.mark.parametrize('content, message', [('', 'is empty'), ('[]', 'a JSON object'),
                                              ('nan]', 'not valid JSON')])
def test_load_split_names_unreadable_files(content, message, tmp_path):
    path = tmp_path / 'split.json'
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_split(str(path))


# --- the exemplar memory --------------------------------------------------------------------

def valid_memory(annotations, split, per_class=2):
    by_class = {}
    for ann in sorted(annotations['annotations'], key=lambda a: a['id']):
        if ann['category_id'] in split['phase1_category_ids']:
            by_class.setdefault(str(ann['category_id']), []).append(ann['id'])
    return dict(version=MEMORY_VERSION, split_digest=split['digest'], num_exemplars=per_class,
                prepare_id='run1', phase1_checkpoint='epoch_1.pth',
                phase1_checkpoint_sha256='0' * 64,
                exemplars={c: ids[:per_class] for c, ids in by_class.items()},
                candidates={str(c): len(by_class.get(str(c), []))
                            for c in split['phase1_category_ids']})


def write(path, data):
    path.write_text(json.dumps(data))
    return str(path)


def memory_with(memory, **changes):
    memory = json.loads(json.dumps(memory))
    for key, value in changes.items():
        memory[key] = value
    return memory


def test_memory_validation(data, tmp_path):
    _, _, annotations, split, _ = data
    memory = valid_memory(annotations, split)
    assert read_memory(write(tmp_path / 'm.json', memory), split) == memory
    some = next(iter(memory['exemplars']))
    other_class = next(c for c in memory['exemplars'] if c != some)
    bad = {
        'empty exemplars': (memory_with(memory, exemplars={}), 'exemplars must map'),
        'version 1': (memory_with(memory, version=1), 'memory version 1, expected 2'),
        'no run id': (memory_with(memory, prepare_id=None), 'prepare_id must be a string'),
        'phase-II class': (memory_with(memory, exemplars=dict(
            memory['exemplars'], **{str(split['phase2_category_ids'][0]): [1]})),
            'exemplars must map phase-I category ids'),
        'class left out': (memory_with(memory, exemplars={
            c: v for c, v in memory['exemplars'].items() if c != some}),
            'the phase-I categories with candidates are'),
        'repeated id': (memory_with(memory, exemplars=dict(
            memory['exemplars'], **{other_class: memory['exemplars'][some][:1]})),
            'appears twice'),
        'not ids': (memory_with(memory, exemplars=dict(memory['exemplars'], **{some: ['x']})),
                    f'the exemplars of category {some} must be 1 to'),
        'other split': (memory_with(memory, split_digest='x'), 'another dual-phase split'),
    }
    for name, (content, message) in bad.items():
        with pytest.raises(ValueError) as error:
            read_memory(write(tmp_path / 'm.json', content), split)
        assert message in str(error.value), name


def phase2_dataset(root, split_file, memory_file):
    return DATASETS.build(dict(
        type='DualPhaseLVISV1Dataset', data_root=str(root) + '/',
        ann_file='annotations/minilvis_v1_train.json', data_prefix=dict(img=''),
        split_file=str(split_file), phase=2, memory_file=memory_file, pipeline=[]))


def test_memory_ids_must_exist_in_the_annotations(data, tmp_path):
    root, _, annotations, split, split_file = data
    memory = valid_memory(annotations, split)
    assert len(phase2_dataset(root, split_file, write(tmp_path / 'm.json', memory)))
    missing = memory_with(memory)
    some = next(iter(missing['exemplars']))
    missing['exemplars'][some] = [10 ** 9]
    with pytest.raises(ValueError, match=r'1 annotation ids are not in it \(e.g. \[1000000000\]'):
        phase2_dataset(root, split_file, write(tmp_path / 'm.json', missing))
    # two classes' exemplars swapped: the ids exist, under other categories
    swapped = memory_with(memory)
    a, b = list(swapped['exemplars'])[:2]
    swapped['exemplars'][a], swapped['exemplars'][b] = (swapped['exemplars'][b][:1],
                                                        swapped['exemplars'][a][:1])
    with pytest.raises(ValueError, match='are of other categories'):
        phase2_dataset(root, split_file, write(tmp_path / 'm.json', swapped))


# --- checkpoints: roles and phase II's consistency -------------------------------------------

def checkpoint_with_cfg(cfg_text, **meta):
    return dict(meta=dict(cfg=cfg_text, **meta), state_dict={})


PHASE1_TEXT = ("train_dataloader = dict(dataset=dict(type='ClassBalancedDataset', "
               "dataset=dict(type='DualPhaseLVISV1Dataset', phase=1, split_file={!r})))\n"
               "model = dict(type='CascadeRCNN')\n")


def test_checkpoint_roles():
    assert checkpoint_role(dict(meta=dict(dual_phase={}), state_dict={})) == PHASE2_INIT
    assert checkpoint_role(checkpoint_with_cfg(
        "model = dict(type='DualPhaseCascadeRCNN', teacher_checkpoint='x.pth')")) == PHASE2_MODEL
    assert checkpoint_role(checkpoint_with_cfg(PHASE1_TEXT.format('s.json'))) == PHASE1_MODEL
    assert checkpoint_role(checkpoint_with_cfg(
        "train_dataloader = dict(dataset=dict(type='LVISV1Dataset'))")) == OTHER_MODEL
    assert checkpoint_role(dict(state_dict={})) == UNKNOWN


def test_recorded_config_is_read_never_run(tmp_path):
    marker = tmp_path / 'ran'
    text = f"model = __import__('pathlib').Path({str(marker)!r}).touch()\nx = dict(a=[1, 2])\n"
    assert recorded_config(checkpoint_with_cfg(text)) == dict(model=None, x=dict(a=[1, 2]))
    assert not marker.exists()


def test_prepare_refuses_checkpoints_that_are_not_phase1_of_the_split(tmp_path):
    split = make_split(CATEGORIES)
    other = make_split(CATEGORIES, min_images=30)
    other_file = write(tmp_path / 'other.json', other)
    cases = [
        (dict(meta=dict(dual_phase={}), state_dict={}), False, 'phase-II initial checkpoint'),
        (checkpoint_with_cfg("model = dict(teacher_checkpoint='t.pth')"), True, 'phase-II model'),
        (checkpoint_with_cfg(PHASE1_TEXT.format(other_file)), True, 'of another split'),
        (checkpoint_with_cfg("model = dict(type='CascadeRCNN')"), False, 'or --split-file'),
        (dict(state_dict={}), False, 'records no training config'),
    ]
    for checkpoint, split_given, message in cases:
        with pytest.raises(ValueError, match=message):
            check_phase1_checkpoint(checkpoint, 'k.pth', split, split_given)
    own_file = write(tmp_path / 'own.json', split)
    assert check_phase1_checkpoint(checkpoint_with_cfg(PHASE1_TEXT.format(own_file)), 'k.pth',
                                   split, False) == PHASE1_MODEL
    # the joint-training control: a model trained on all classes, split named explicitly
    assert check_phase1_checkpoint(checkpoint_with_cfg("model = dict(type='CascadeRCNN')"),
                                   'k.pth', split, True) == OTHER_MODEL
    assert check_phase1_checkpoint(dict(state_dict={}), 'k.pth', split, True) == UNKNOWN


@pytest.fixture
def phase2_inputs(data, tmp_path):
    _, _, annotations, split, split_file = data
    teacher = tmp_path / 'epoch_1.pth'
    torch.save(checkpoint_with_cfg(PHASE1_TEXT.format(str(split_file))), teacher)
    memory = memory_with(valid_memory(annotations, split), prepare_id='run-a',
                         phase1_checkpoint_sha256=file_sha256(str(teacher)))
    memory_file = write(tmp_path / 'dual_phase_memory.json', memory)
    init = tmp_path / 'dual_phase_phase2_init.pth'
    torch.save(dict(meta=dict(dual_phase=dict(prepare_id='run-a')), state_dict={}), init)
    cfg = Config(dict(
        model=dict(type='DualPhaseCascadeRCNN', teacher_checkpoint=str(teacher)),
        train_dataloader=dict(dataset=dict(type='DualPhaseLVISV1Dataset', phase=2,
                                           split_file=str(split_file), memory_file=memory_file)),
        load_from=str(init)))
    return cfg, tmp_path


def test_phase2_inputs_that_belong_together_pass(phase2_inputs):
    cfg, _ = phase2_inputs
    check_phase2_inputs(cfg)


def test_phase2_refuses_another_teacher(phase2_inputs):
    cfg, tmp_path = phase2_inputs
    baseline = tmp_path / 'baseline.pth'
    torch.save(checkpoint_with_cfg("model = dict(type='CascadeRCNN')"), baseline)
    cfg.model.teacher_checkpoint = str(baseline)
    with pytest.raises(ValueError, match='is not the phase-I checkpoint the memory'):
        check_phase2_inputs(cfg)
    cfg.model.teacher_checkpoint = str(tmp_path / 'none.pth')
    with pytest.raises(FileNotFoundError, match='teacher_checkpoint not found'):
        check_phase2_inputs(cfg)


def test_phase2_refuses_an_init_checkpoint_of_another_prepare_run(phase2_inputs):
    cfg, tmp_path = phase2_inputs
    # what a prepare run killed between its two writes leaves: a new checkpoint, an old memory
    torch.save(dict(meta=dict(dual_phase=dict(prepare_id='run-b')), state_dict={}),
               cfg.load_from)
    with pytest.raises(ValueError, match=r'another run of tools/dual_phase_prepare.py \(id run-b'):
        check_phase2_inputs(cfg)
    torch.save(dict(state_dict={}), cfg.load_from)
    with pytest.raises(ValueError, match='it is not a phase-II initial checkpoint'):
        check_phase2_inputs(cfg)
    cfg.resume = True  # resuming loads the run's own checkpoint instead
    check_phase2_inputs(cfg)


def test_prepare_refuses_its_own_output_as_input(data, tmp_path, repo_root, monkeypatch):
    _, _, _, _, split_file = data
    init = tmp_path / 'dual_phase_phase2_init.pth'
    torch.save(dict(meta=dict(dual_phase={}), state_dict={}), init)
    before = sha(init)
    message = run_main(repo_root, 'dual_phase_prepare.py',
                       [repo_root / PHASE1_CONFIG, init, '--split-file', split_file],
                       monkeypatch)
    assert 'is also an input of this run' in message and sha(init) == before
    # written elsewhere, it is refused for what it is
    message = run_main(repo_root, 'dual_phase_prepare.py',
                       [repo_root / PHASE1_CONFIG, init, '--split-file', split_file, '--out-dir',
                        tmp_path / 'out'], monkeypatch)
    assert 'is a phase-II initial checkpoint' in message
    assert not (tmp_path / 'out').exists()


def test_prepare_checks_out_dir_before_loading_anything(tmp_path, repo_root, monkeypatch):
    (tmp_path / 'file').write_text('')
    message = run_main(repo_root, 'dual_phase_prepare.py',
                       [repo_root / PHASE1_CONFIG, tmp_path / 'missing.pth', '--out-dir',
                        tmp_path / 'file'], monkeypatch)
    assert 'is a file, not a directory' in message


def test_prepare_refuses_a_split_of_other_categories(data, tmp_path):
    from mmdet_tde.engine.dual_phase_memory import phase1_annotations
    _, ann_file, annotations, _, _ = data
    other = make_split([dict(c, name=c['name'] + '_x') for c in annotations['categories']])
    with pytest.raises(ValueError, match='made for other categories than those of'):
        phase1_annotations(str(ann_file), other)


def test_train_tool_checks_phase2_inputs_before_training(phase2_inputs, repo_root, monkeypatch):
    cfg, tmp_path = phase2_inputs
    baseline = tmp_path / 'baseline.pth'
    torch.save(checkpoint_with_cfg("model = dict(type='CascadeRCNN')"), baseline)
    dataset = cfg.train_dataloader.dataset
    monkeypatch.chdir(tmp_path)  # no data here: a run past the check would fail otherwise
    message = run_main(repo_root, 'train.py', [
        repo_root / 'configs/minilvis/dual_phase/cascade_phase2_r18_minilvis.py', '--work-dir',
        tmp_path / 'work', '--cfg-options', f'model.teacher_checkpoint={baseline}',
        f'train_dataloader.dataset.split_file={dataset.split_file}',
        f'train_dataloader.dataset.memory_file={dataset.memory_file}',
        f'load_from={cfg.load_from}'], monkeypatch)
    assert message.startswith('error: ValueError: teacher_checkpoint') and \
        'is not the phase-I checkpoint the memory' in message
