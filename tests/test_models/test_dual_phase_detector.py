"""Phase II of dual-phase training: the teacher stays out of the student, the losses are right."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi

from mmdet_tde.datasets import CATEGORIES
from mmdet_tde.datasets.dual_phase_split import make_split
from helpers.models import make_batch
from helpers.reference import ref_graph
from mmdet_tde.fileio import write_json_atomic

PHASE1 = 'configs/minilvis/dual_phase/cascade_phase1_r18_minilvis.py'
PHASE2 = 'configs/minilvis/dual_phase/cascade_phase2_r18_minilvis.py'


@pytest.fixture(scope='module')
def phase_files(tmp_path_factory, repo_root):
    """A split of mini-LVIS's categories, a phase-I config using it and a phase-I checkpoint."""
    root = tmp_path_factory.mktemp('dual_phase_model')
    split = make_split([dict(id=i + 1, name=c.name, frequency=c.frequency)
                        for i, c in enumerate(CATEGORIES)])
    split_file = str(root / 'split.json')
    write_json_atomic(split, split_file)
    phase1 = Config.fromfile(str(repo_root / PHASE1))
    for head in phase1.model.roi_head.bbox_head:
        head.cls_predictor_cfg.split_file = split_file
    phase1_config = str(root / 'phase1.py')
    phase1.dump(phase1_config)
    torch.manual_seed(0)
    teacher = MODELS.build(phase1.model)
    teacher.init_weights()
    checkpoint = str(root / 'phase1.pth')
    torch.save(dict(state_dict=teacher.state_dict(), meta=dict()), checkpoint)
    return dict(split=split, split_file=split_file, config=phase1_config, checkpoint=checkpoint,
                teacher_state=teacher.state_dict())


def phase2_model(repo_root, files, **roi_head):
    cfg = Config.fromfile(str(repo_root / PHASE2))
    cfg.model.update(teacher_config=files['config'], teacher_checkpoint=files['checkpoint'])
    cfg.model.roi_head.update(split_file=files['split_file'], **roi_head)
    model = MODELS.build(cfg.model)
    model.init_weights()
    # phase II starts from the phase-I weights: same keys, no surgery
    model.load_state_dict(files['teacher_state'], strict=True)
    return model


def batch(model):
    data = make_batch(num_images=2, size=128, labels=((0, 12, 3), (17, 5)))
    return model.data_preprocessor(data, True)


def shared_fc_features(model, x, rois, stage):
    """The input of fc_cls in a Shared2FC head, recomputed layer by layer."""
    head = model.roi_head.bbox_head[stage]
    extractor = model.roi_head.bbox_roi_extractor[stage]
    feats = extractor(x[:extractor.num_inputs], rois).flatten(1)
    for fc in head.shared_fcs:
        feats = F.relu(fc(feats))
    return feats


def test_teacher_is_isolated_and_frozen(repo_root, phase_files):
    model = phase2_model(repo_root, phase_files)
    teacher = model.teacher
    assert not any(k.startswith('teacher') or '_teacher' in k for k in model.state_dict())
    student_params = {id(p) for p in model.parameters()}
    assert not student_params & {id(p) for p in teacher.parameters()}
    assert all(not p.requires_grad for p in teacher.parameters())
    model.train()
    assert not teacher.training and model.training

    data = batch(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = model.loss(data['inputs'], data['data_samples'])
    total, _ = model.parse_losses(losses)
    total.backward()
    optimizer.step()
    assert all(p.grad is None for p in teacher.parameters())
    for key, value in teacher.state_dict().items():
        assert torch.equal(value, phase_files['teacher_state'][key]), key
    key = 'roi_head.bbox_head.0.fc_cls.weight'
    assert not torch.equal(model.state_dict()[key], phase_files['teacher_state'][key])


def test_phase2_losses_per_stage_match_the_equations(repo_root, phase_files):
    model = phase2_model(repo_root, phase_files)
    model.train()
    lam = math.sqrt(12 / 6)
    assert model.roi_head.graph_loss_weight == pytest.approx(lam)
    data = batch(model)
    # make the student differ from the teacher so the graph loss sees two graphs
    with torch.no_grad():
        for p in model.roi_head.bbox_head.parameters():
            p.add_(0.05 * torch.randn_like(p))
    torch.manual_seed(1)
    losses = model.loss(data['inputs'], data['data_samples'])
    for stage in range(3):
        for name in ('loss_graph', 'loss_intra'):
            assert torch.isfinite(losses[f's{stage}.{name}'])

    gt_rois = bbox2roi([s.gt_instances.bboxes for s in data['data_samples']])
    with torch.no_grad():
        x_new = model.extract_feat(data['inputs'])
        x_old = model.teacher.extract_feat(data['inputs'])
        weights = model.roi_head.stage_loss_weights
        for stage in range(3):
            z_new = shared_fc_features(model, x_new, gt_rois, stage)
            z_old = shared_fc_features(model.teacher, x_old, gt_rois, stage)
            expected = lam * weights[stage] * ref_graph(z_old.double().tolist(),
                                                         z_new.double().tolist(), 'mean')
            assert float(losses[f's{stage}.loss_graph']) == pytest.approx(float(expected),
                                                                          rel=1e-4)


def test_graph_loss_sum_and_weight_options(repo_root, phase_files):
    data = None
    values = {}
    for reduction in ('mean', 'sum'):
        model = phase2_model(repo_root, phase_files, graph_reduction=reduction,
                             graph_loss_weight=1.0)
        model.train()
        data = data or batch(model)
        torch.manual_seed(1)
        values[reduction] = float(model.loss(data['inputs'], data['data_samples'])['s0.loss_graph'])
    num_boxes = sum(len(s.gt_instances) for s in data['data_samples'])
    assert values['sum'] == pytest.approx(num_boxes * values['mean'], rel=1e-5)


def test_roi_head_outside_the_detector_is_refused(repo_root, phase_files):
    model = phase2_model(repo_root, phase_files)
    model.train()
    data = batch(model)
    x = model.extract_feat(data['inputs'])
    proposals = model.rpn_head.predict(x, data['data_samples'], rescale=False)
    with pytest.raises(RuntimeError, match='inside a dual-phase detector'):
        model.roi_head.loss(x, proposals, data['data_samples'])


def test_missing_teacher_checkpoint_is_named(repo_root, phase_files, tmp_path):
    cfg = Config.fromfile(str(repo_root / PHASE2))
    cfg.model.update(teacher_config=phase_files['config'],
                     teacher_checkpoint=str(tmp_path / 'absent.pth'))
    cfg.model.roi_head.split_file = phase_files['split_file']
    model = MODELS.build(cfg.model)
    data = batch(model)
    with pytest.raises(FileNotFoundError, match='absent.pth'):
        model.loss(data['inputs'], data['data_samples'])
