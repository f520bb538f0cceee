"""The dual-phase workflow of docs/dual_phase.md through the tools, on a reduced mini-LVIS, 2 CPU
processes: split, phase I, prepare (1 and 2 processes), phase II, test."""
import json
import os
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from helpers.ports import free_port
from mmdet_tde.fileio import load_split
from mmdet_tde.testing import MiniLVISOptions, make_minilvis
from mmdet_tde.utils import load_checkpoint_file

PHASE1 = 'configs/minilvis/dual_phase/cascade_phase1_r18_minilvis.py'
PHASE2 = 'configs/minilvis/dual_phase/cascade_phase2_r18_minilvis.py'
pytestmark = pytest.mark.slow


def run(cmd, cwd):
    env = dict(os.environ, OMP_NUM_THREADS='1', PORT=str(free_port()), PYTHON=sys.executable)
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def write_config(repo_root, base, path, data_root, split_file, **updates):
    cfg = Config.fromfile(str(repo_root / base))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
        cfg[loader].persistent_workers = False
        cfg[loader].num_workers = 0
    cfg.val_evaluator.ann_file = cfg.test_evaluator.ann_file = \
        data_root + 'annotations/minilvis_v1_val.json'
    cfg.train_dataloader.dataset.split_file = split_file
    cfg.train_cfg.max_epochs = 1
    cfg.merge_from_dict(updates)
    cfg.dump(str(path))
    return str(path)


@pytest.fixture(scope='module')
def workflow(tmp_path_factory, repo_root):
    root = tmp_path_factory.mktemp('dual_phase_e2e')
    data_root = str(root / 'data') + '/'
    make_minilvis(data_root, MiniLVISOptions(seed=3, num_train=60, num_val=12),
                  progress=lambda *a: None)
    split_file = str(root / 'split.json')
    run([sys.executable, 'tools/dual_phase_split.py',
         data_root + 'annotations/minilvis_v1_train.json', '--out', split_file], repo_root)
    phase1 = write_config(repo_root, PHASE1, root / 'phase1.py', data_root, split_file)
    cfg = Config.fromfile(phase1)
    for head in cfg.model.roi_head.bbox_head:
        head.cls_predictor_cfg.split_file = split_file
    cfg.dump(phase1)
    work1 = root / 'phase1'
    run(['bash', 'tools/dist_train.sh', phase1, '2', '--work-dir', str(work1)], repo_root)
    checkpoint = str(work1 / 'epoch_1.pth')
    one, two, joint = root / 'prepare1', root / 'prepare2', root / 'prepare_joint'
    run([sys.executable, 'tools/dual_phase_prepare.py', phase1, checkpoint, '--num-exemplars', '3',
         '--out-dir', str(one)], repo_root)
    run(['bash', 'tools/dist_dual_phase_prepare.sh', phase1, checkpoint, '2', '--num-exemplars',
         '3', '--out-dir', str(two)], repo_root)
    # A checkpoint without a recorded config, named with --split-file: taken as a model trained
    # on all classes (the joint-training control).
    weights_only = str(root / 'weights_only.pth')
    torch.save(dict(state_dict=load_checkpoint_file(checkpoint)['state_dict']), weights_only)
    run([sys.executable, 'tools/dual_phase_prepare.py', phase1, weights_only, '--num-exemplars',
         '3', '--split-file', split_file, '--out-dir', str(joint)], repo_root)
    phase2 = write_config(
        repo_root, PHASE2, root / 'phase2.py', data_root, split_file,
        load_from=str(two / 'dual_phase_phase2_init.pth'),
        model=dict(teacher_config=phase1, teacher_checkpoint=checkpoint,
                   roi_head=dict(split_file=split_file)))
    cfg = Config.fromfile(phase2)
    cfg.train_dataloader.dataset.memory_file = str(two / 'dual_phase_memory.json')
    cfg.dump(phase2)
    work2 = root / 'phase2'
    train2 = run(['bash', 'tools/dist_train.sh', phase2, '2', '--work-dir', str(work2)], repo_root)
    test = run(['bash', 'tools/dist_test.sh', phase2, str(work2 / 'epoch_1.pth'), '2',
                '--work-dir', str(root / 'test')], repo_root)
    return dict(root=root, split=load_split(split_file), one=one, two=two, joint=joint,
                checkpoint=checkpoint,
                train2=train2.stdout + train2.stderr, test=test.stdout + test.stderr,
                data_root=data_root)


def test_memory_is_the_same_for_one_and_two_processes(workflow):
    one = json.loads((workflow['one'] / 'dual_phase_memory.json').read_text())
    two = json.loads((workflow['two'] / 'dual_phase_memory.json').read_text())
    assert one.pop('prepare_id') != two.pop('prepare_id')  # one id per run
    assert one == two
    split = workflow['split']
    assert one['split_digest'] == split['digest']
    assert set(one['exemplars']) == {str(i) for i in split['phase1_category_ids']}
    annotations = json.loads(open(workflow['data_root'] +
                                  'annotations/minilvis_v1_train.json').read())['annotations']
    category = {a['id']: a['category_id'] for a in annotations}
    for cat_id, ids in one['exemplars'].items():
        assert len(ids) == min(3, one['candidates'][cat_id]) == len(set(ids))
        assert all(category[i] == int(cat_id) for i in ids)
    a = load_checkpoint_file(str(workflow['one'] / 'dual_phase_phase2_init.pth'))
    b = load_checkpoint_file(str(workflow['two'] / 'dual_phase_phase2_init.pth'))
    assert a['state_dict'].keys() == b['state_dict'].keys()
    assert all(torch.equal(a['state_dict'][k], b['state_dict'][k]) for k in a['state_dict'])


def test_phase2_init_reinitialises_only_phase2_rows(workflow):
    from mmdet_tde.fileio import phase2_labels
    phase1 = load_checkpoint_file(workflow['checkpoint'])['state_dict']
    init = load_checkpoint_file(str(workflow['two'] / 'dual_phase_phase2_init.pth'))
    assert init['meta']['dual_phase']['split_digest'] == workflow['split']['digest']
    assert init['meta']['dual_phase']['phase2_rows'] == 'fresh'
    memory = json.loads((workflow['two'] / 'dual_phase_memory.json').read_text())
    assert init['meta']['dual_phase']['prepare_id'] == memory['prepare_id']
    rows = phase2_labels(workflow['split'])
    keep = [r for r in range(19) if r not in rows]
    for key, value in init['state_dict'].items():
        if key.endswith(('fc_cls.weight', 'fc_cls.bias')):
            assert torch.equal(value[keep], phase1[key][keep])
            if key.endswith('weight'):  # biases start at 0 and phase I never moved them
                assert not torch.equal(value[rows], phase1[key][rows])
        else:
            assert torch.equal(value, phase1[key]), key


def test_prepare_keeps_the_rows_a_model_trained_on_all_classes_learned(workflow):
    given = load_checkpoint_file(workflow['checkpoint'])['state_dict']
    init = load_checkpoint_file(str(workflow['joint'] / 'dual_phase_phase2_init.pth'))
    assert init['meta']['dual_phase']['phase2_rows'] == 'trained'
    assert init['state_dict'].keys() == given.keys()
    assert all(torch.equal(init['state_dict'][k], given[k]) for k in given)


def test_phase2_trains_with_the_extra_losses_and_tests(workflow):
    for name in ('s0.loss_graph', 's2.loss_graph', 's0.loss_intra'):
        assert name in workflow['train2']
    assert 'segm_APr' in workflow['test'] and 'bbox_AP' in workflow['test']
