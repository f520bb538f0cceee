"""Phase II of dual-phase training: the teacher stays out of the student, the losses are right."""
import math
from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmcv.ops import roi_align
from mmengine.config import Config
from mmengine.structures import InstanceData

from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi

from mmdet_tde.fileio import make_split
from mmdet_tde.testing import CATEGORIES
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


def batch(model, ignored_boxes=(torch.zeros(0, 4), torch.zeros(0, 4))):
    """Two images with their ignored objects as PackDetInputs packs them (none by default)."""
    data = make_batch(num_images=2, size=128, labels=((0, 12, 3), (17, 5)))
    for sample, boxes in zip(data['data_samples'], ignored_boxes):
        sample.ignored_instances = InstanceData(
            bboxes=boxes, labels=torch.zeros(len(boxes), dtype=torch.long))
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
    model = phase2_model(repo_root, phase_files, graph_temperature=1.0, graph_normalize=False,
                         graph_nodes='labelled')  # the paper's form
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


# ------------------------------------------- same batch-norm statistics, graph variants, control

def _np_cos(a, b):
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-300)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-300)
    return a @ b.T


def np_graph(z_old, z_new, temperature=1.0, normalize=False):
    """Eq. 6-8 in float64 NumPy, mean over the old nodes: a_ji = softmax_j cos / T."""
    z_old, z_new = np.asarray(z_old, np.float64), np.asarray(z_new, np.float64)
    logits = _np_cos(z_old, z_new) / temperature
    a = np.exp(logits - logits.max(1, keepdims=True))
    a /= a.sum(1, keepdims=True)
    if normalize:
        z_old = z_old / np.linalg.norm(z_old, axis=1, keepdims=True)
        z_new = z_new / np.linalg.norm(z_new, axis=1, keepdims=True)
    dist = np.sqrt(((z_old[:, None, :] - z_new[None, :, :]) ** 2).sum(-1))
    return float((a * dist).sum(1).mean())


def np_distill(z_old, z_new):
    """Mean over boxes of 1 - cos(z_i, z_hat_i)."""
    return float(np.mean(1 - np.diag(_np_cos(np.asarray(z_old, np.float64),
                                             np.asarray(z_new, np.float64)))))


@pytest.fixture(scope='module')
def trained_bn_files(phase_files, tmp_path_factory):
    """phase_files with a phase-I checkpoint whose batch-norm running statistics are not the
    initial (0, 1), as after phase I."""
    g = torch.Generator().manual_seed(5)
    state = {k: v.clone() for k, v in phase_files['teacher_state'].items()}
    for key, value in state.items():
        if key.endswith('running_mean'):
            value.copy_(0.3 * torch.randn(value.shape, generator=g))
        elif key.endswith('running_var'):
            value.copy_(0.5 + torch.rand(value.shape, generator=g))
    checkpoint = str(tmp_path_factory.mktemp('trained_bn') / 'phase1.pth')
    torch.save(dict(state_dict=state, meta=dict()), checkpoint)
    return dict(phase_files, checkpoint=checkpoint, teacher_state=state)


def compared_features(model, data, monkeypatch):
    """(z_old, z_new) per stage, as the RoI head hands them to the graph loss."""
    import mmdet_tde.models.roi_heads.dual_phase_roi_head as roi_head_module
    seen = []
    real = roi_head_module.graph_matching_loss

    def record(z_old, z_new, *args):
        seen.append((z_old.detach().clone(), z_new.detach().clone()))
        return real(z_old, z_new, *args)

    monkeypatch.setattr(roi_head_module, 'graph_matching_loss', record)
    torch.manual_seed(1)
    losses = model.loss(data['inputs'], data['data_samples'])
    monkeypatch.setattr(roi_head_module, 'graph_matching_loss', real)
    return seen, losses


def test_first_phase2_step_compares_equal_features(repo_root, trained_bn_files, monkeypatch):
    """Student initialised from the teacher, the shipped config (norm_eval=True in phase II):
    the features the graph loss compares are equal in every stage, and the normalised graph
    term with a small temperature is at its floor (0 as the temperature goes to 0)."""
    model = phase2_model(repo_root, trained_bn_files, graph_normalize=True,
                         graph_temperature=1e-3, graph_loss_weight=1.0)
    model.train()
    assert model.backbone.norm_eval
    data = batch(model)
    seen, losses = compared_features(model, data, monkeypatch)
    assert len(seen) == 3
    weights = model.roi_head.stage_loss_weights
    for stage, (z_old, z_new) in enumerate(seen):
        assert z_old.shape[0] == 5 and torch.equal(z_old, z_new), stage
        floor = np_graph(z_old.double().numpy(), z_old.double().numpy(), 1e-3, True)
        assert float(losses[f's{stage}.loss_graph']) == pytest.approx(weights[stage] * floor,
                                                                      rel=1e-3, abs=1e-7)
        assert floor < 1e-3 * np_graph(z_old.double().numpy(), z_old.double().numpy(), 1.0, True)


def test_batch_norm_in_train_mode_is_refused(repo_root, trained_bn_files, monkeypatch):
    """The mismatch the check prevents: with the student's BN on batch statistics the same
    weights give other features at the first phase-II step."""
    cfg = Config.fromfile(str(repo_root / PHASE2))
    cfg.model.backbone.norm_eval = False
    cfg.model.update(teacher_config=trained_bn_files['config'],
                     teacher_checkpoint=trained_bn_files['checkpoint'])
    cfg.model.roi_head.split_file = trained_bn_files['split_file']
    model = MODELS.build(cfg.model)
    model.load_state_dict(trained_bn_files['teacher_state'], strict=True)
    model.train()
    data = batch(model)
    with pytest.raises(RuntimeError, match=r'backbone\.norm_eval=True'):
        model.loss(data['inputs'], data['data_samples'])
    monkeypatch.setattr(type(model), '_check_shared_norm_statistics', lambda self: None)
    seen, _ = compared_features(model, data, monkeypatch)
    assert not any(torch.allclose(z_old, z_new, atol=1e-3) for z_old, z_new in seen)


@pytest.mark.parametrize('roi_head', [
    dict(graph_loss_form='distill'),
    dict(graph_temperature=0.1, graph_normalize=True),
    dict(graph_temperature=0.05, graph_normalize=False),
    dict(graph_temperature=1.0, graph_normalize=False),  # the paper's form
])
def test_graph_variants_and_control_per_stage_match_references(repo_root, phase_files, roi_head):
    model = phase2_model(repo_root, phase_files, **roi_head)
    model.train()
    lam = math.sqrt(12 / 6)
    data = batch(model)
    with torch.no_grad():
        for p in model.roi_head.bbox_head.parameters():
            p.add_(0.05 * torch.randn_like(p))
    torch.manual_seed(1)
    losses = model.loss(data['inputs'], data['data_samples'])
    gt_rois = bbox2roi([s.gt_instances.bboxes for s in data['data_samples']])
    with torch.no_grad():
        x_new = model.extract_feat(data['inputs'])
        x_old = model.teacher.extract_feat(data['inputs'])
        for stage in range(3):
            z_new = shared_fc_features(model, x_new, gt_rois, stage).double().numpy()
            z_old = shared_fc_features(model.teacher, x_old, gt_rois, stage).double().numpy()
            if roi_head.get('graph_loss_form') == 'distill':
                ref = np_distill(z_old, z_new)
            else:
                ref = np_graph(z_old, z_new, model.roi_head.graph_temperature,
                               model.roi_head.graph_normalize)
            expected = lam * model.roi_head.stage_loss_weights[stage] * ref
            assert float(losses[f's{stage}.loss_graph']) == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize('roi_head,match', [
    (dict(graph_loss_form='cosine'), r"graph_loss_form must be one of \('graph', 'distill'\)"),
    (dict(graph_temperature=0.0), 'graph_temperature must be a finite real number > 0'),
    (dict(graph_temperature='low'), 'graph_temperature must be a finite real number > 0'),
    (dict(graph_normalize='yes'), 'graph_normalize must be True or False'),
])
def test_bad_graph_options_name_the_field(repo_root, phase_files, roi_head, match):
    with pytest.raises(ValueError, match=match):
        phase2_model(repo_root, phase_files, **roi_head)


# ------------------------------------------------------------------ L_intra on the head's scores

def np_head_scores(x, w, b=None, num_heads=None, gamma=None, norm='deconfound'):
    """Linear: x w^T + b. Causal-norm: (1/K) sum_k w^k.x^k / N(x^k, w^k), Eq. 7 without tau."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    if num_heads is None:
        return x @ w.T + np.asarray(b, np.float64)
    d = x.shape[1] // num_heads
    out = np.zeros((x.shape[0], w.shape[0]))
    for k in range(num_heads):
        xk, wk = x[:, k * d:(k + 1) * d], w[:, k * d:(k + 1) * d]
        nx = np.linalg.norm(xk, axis=1)[:, None]
        nw = np.linalg.norm(wk, axis=1)[None, :]
        denom = {'deconfound': nx * (nw + gamma), 'cosine': nx * nw,
                 'capsule': (nx + 1) * nw}[norm]
        out += (xk @ wk.T) / denom
    return out / num_heads


@pytest.mark.parametrize('norm', ['deconfound', 'cosine'])
def test_head_scores_of_a_causal_norm_classifier(norm):
    from mmdet_tde.models.roi_heads.dual_phase_roi_head import head_class_scores
    clf = MODELS.build(dict(type='CausalNormPredictor', in_features=8, out_features=6,
                            num_heads=2, tau=16.0, gamma=1 / 32, norm=norm)).double()
    x = torch.randn(7, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    scores = head_class_scores(x, clf, 5)
    ref = np_head_scores(x.numpy(), clf.weight.detach().numpy()[:5], num_heads=2,
                         gamma=1 / 32, norm=norm)
    np.testing.assert_allclose(scores.detach().numpy(), ref, rtol=1e-12)
    assert np.abs(ref).max() <= 1  # the scale the margin 0.5 is meant for


def test_head_scores_of_a_linear_classifier_keep_the_bias():
    from mmdet_tde.models.roi_heads.dual_phase_roi_head import head_class_scores
    clf = torch.nn.Linear(8, 6).double()
    torch.nn.init.normal_(clf.bias, std=1.0)
    x = torch.randn(7, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    scores = head_class_scores(x, clf, 5)
    ref = np_head_scores(x.numpy(), clf.weight.detach().numpy()[:5], clf.bias.detach().numpy()[:5])
    np.testing.assert_allclose(scores.detach().numpy(), ref, rtol=1e-12)
    with pytest.raises(TypeError, match="intra_scores='head' supports"):
        head_class_scores(x, torch.nn.Identity(), 5)


@pytest.mark.parametrize('intra_scores', ['head', 'cosine'])
def test_intra_loss_ranks_the_configured_scores(repo_root, phase_files, monkeypatch, intra_scores):
    """In the detector: 'head' gives L_intra the rows of the stage's own class logits (those of
    its foreground RoIs, background column left out); 'cosine' the feature-row cosines."""
    import mmdet_tde.models.roi_heads.dual_phase_roi_head as roi_head_module
    model = phase2_model(repo_root, phase_files, intra_scores=intra_scores)
    model.train()
    data = batch(model)
    fc_cls = model.roi_head.bbox_head[0].fc_cls
    calls = []
    handle = fc_cls.register_forward_hook(lambda m, args, out: calls.append((args[0], out)))
    ranked = []
    real = roi_head_module.intra_margin_loss
    monkeypatch.setattr(roi_head_module, 'intra_margin_loss',
                        lambda scores, *a: ranked.append(scores.detach()) or real(scores, *a))
    torch.manual_seed(1)
    model.loss(data['inputs'], data['data_samples'])
    handle.remove()
    features, logits = calls[0]  # stage 0's loss forward on its sampled RoIs
    scores = ranked[0]
    assert 0 < scores.shape[0] < logits.shape[0] and scores.shape[1] == fc_cls.out_features - 1
    if intra_scores == 'head':
        candidates = logits.detach()[:, :-1]
    else:
        candidates = F.normalize(features.detach(), dim=1) @ F.normalize(
            fc_cls.weight.detach()[:-1], dim=1).t()
    # every ranked row is the score row of one of the stage's RoIs
    dist = torch.cdist(scores.double(), candidates.double())
    assert float(dist.min(dim=1).values.max()) < 1e-5


def test_bad_intra_scores_names_the_field(repo_root, phase_files):
    with pytest.raises(ValueError, match=r"intra_scores must be one of \('head', 'cosine'\)"):
        phase2_model(repo_root, phase_files, intra_scores='logits')


# ------------------------------------------------ ignored phase-I boxes as nodes (graph_nodes)

# Image 0 holds two ignored objects (phase-I objects outside the memory), on two FPN levels;
# image 1 none. Node order: image 0's labelled boxes, its ignored ones, image 1's labelled ones.
IGNORED_BOXES = torch.tensor([[10., 20., 70., 90.], [4., 6., 124., 122.]])


def batch_with_ignored(model):
    return batch(model, (IGNORED_BOXES, torch.zeros(0, 4)))


def roi_aligned_fc_features(model, x, boxes, stage):
    """The input of stage ``stage``'s fc_cls for boxes of image 0, RoI-aligned here: each box on
    the FPN level of its scale (FPN's rule, level floor(log2(sqrt(wh) / 56)), clamped), then the
    shared FCs."""
    extractor = model.roi_head.bbox_roi_extractor[stage]
    head = model.roi_head.bbox_head[stage]
    feats = []
    for box in boxes.double():
        scale = torch.sqrt((box[2] - box[0]) * (box[3] - box[1]))
        level = int(min(max(math.floor(math.log2(float(scale) / 56)), 0), len(x) - 1))
        layer = extractor.roi_layers[level]
        roi = torch.cat([box.new_zeros(1), box]).float()[None]
        feats.append(roi_align(x[level], roi, layer.output_size, 1 / (4 * 2 ** level),
                               layer.sampling_ratio, 'avg', layer.aligned))
    feats = torch.cat(feats).flatten(1)
    for fc in head.shared_fcs:
        feats = F.relu(fc(feats))
    return feats


def retention_inputs(model, data, monkeypatch):
    """(z_old, z_new) per stage as the RoI head hands them to its retention term (either form),
    and the losses."""
    import mmdet_tde.models.roi_heads.dual_phase_roi_head as roi_head_module
    seen = []
    for name in ('graph_matching_loss', 'feature_distillation_loss'):
        real = getattr(roi_head_module, name)

        def record(z_old, z_new, *args, real=real):
            seen.append((z_old.detach().clone(), z_new.detach().clone()))
            return real(z_old, z_new, *args)

        monkeypatch.setattr(roi_head_module, name, record)
    torch.manual_seed(1)
    losses = model.loss(data['inputs'], data['data_samples'])
    monkeypatch.undo()
    return seen, losses


@pytest.mark.parametrize('options', [
    dict(graph_loss_form='graph', graph_temperature=0.1, graph_normalize=True),
    dict(graph_loss_form='graph', graph_temperature=1.0, graph_normalize=False),
    dict(graph_loss_form='distill'),
])
def test_ignored_boxes_join_the_graph_as_nodes(repo_root, phase_files, monkeypatch, options):
    """graph_nodes='labelled_and_ignored': the ignored boxes' features (the teacher's and the
    student's, RoI-aligned here) are extra nodes, and the loss is the float64 re-derivation on
    all nodes; with the default it is the re-derivation on the labelled ones."""
    models = {}
    for nodes in ('labelled', 'labelled_and_ignored'):
        models[nodes] = phase2_model(repo_root, phase_files, graph_nodes=nodes,
                                     graph_loss_weight=1.0, **options)
        models[nodes].train()
    torch.manual_seed(0)
    with torch.no_grad():  # the student differs from the teacher, the same way in both
        for p in models['labelled'].roi_head.bbox_head.parameters():
            p.add_(0.05 * torch.randn_like(p))
    models['labelled_and_ignored'].load_state_dict(models['labelled'].state_dict())
    data = batch_with_ignored(models['labelled'])
    ref = np_distill if options['graph_loss_form'] == 'distill' else partial(
        np_graph, temperature=options['graph_temperature'], normalize=options['graph_normalize'])
    seen, losses = {}, {}
    for nodes, model in models.items():
        seen[nodes], losses[nodes] = retention_inputs(model, data, monkeypatch)
        assert len(seen[nodes]) == 3
    model = models['labelled']
    with torch.no_grad():
        x_new = model.extract_feat(data['inputs'])
        x_old = model.teacher.extract_feat(data['inputs'])
    for stage in range(3):
        labelled = seen['labelled'][stage]
        z_old, z_new = seen['labelled_and_ignored'][stage]
        assert labelled[0].shape[0] == 5 and z_old.shape[0] == z_new.shape[0] == 7
        with torch.no_grad():
            ignored_new = roi_aligned_fc_features(model, x_new, IGNORED_BOXES, stage)
            ignored_old = roi_aligned_fc_features(model.teacher, x_old, IGNORED_BOXES, stage)
        torch.testing.assert_close(z_new[3:5], ignored_new, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(z_old[3:5], ignored_old, rtol=1e-4, atol=1e-5)
        assert not torch.allclose(ignored_new, ignored_old, atol=1e-3)  # two graphs
        for z_all, z_labelled in ((z_old, labelled[0]), (z_new, labelled[1])):
            torch.testing.assert_close(torch.cat([z_all[:3], z_all[5:]]), z_labelled,
                                       rtol=1e-5, atol=1e-6)
        # the float64 references, on the independently computed ignored features
        old_all = torch.cat([labelled[0][:3], ignored_old, labelled[0][3:]]).double().numpy()
        new_all = torch.cat([labelled[1][:3], ignored_new, labelled[1][3:]]).double().numpy()
        with_ignored = ref(old_all, new_all)
        without = ref(labelled[0].double().numpy(), labelled[1].double().numpy())
        weight = model.roi_head.stage_loss_weights[stage]
        key = f's{stage}.loss_graph'
        got_with, got_without = (float(losses[n][key]) for n in ('labelled_and_ignored',
                                                                  'labelled'))
        assert got_without == pytest.approx(weight * without, rel=1e-4)
        assert got_with == pytest.approx(weight * with_ignored, rel=1e-4)
        assert got_with != pytest.approx(weight * without, rel=1e-4)  # the nodes count
        assert got_with - got_without == pytest.approx(weight * (with_ignored - without),
                                                       rel=1e-2, abs=1e-6)
        if options['graph_loss_form'] == 'distill':  # per box: the sums differ by the extras
            extra = np_distill(ignored_old.double().numpy(), ignored_new.double().numpy())
            assert 7 * got_with - 5 * got_without == pytest.approx(weight * 2 * extra, rel=1e-3)


def test_ignored_nodes_need_the_ignored_instances(repo_root, phase_files):
    model = phase2_model(repo_root, phase_files, graph_nodes='labelled_and_ignored')
    model.train()
    data = model.data_preprocessor(  # no ignored_instances
        make_batch(num_images=2, size=128, labels=((0, 12, 3), (17, 5))), True)
    with pytest.raises(ValueError, match=r"graph_nodes='labelled_and_ignored' needs each "
                       r"image's ignored instances"):
        model.loss(data['inputs'], data['data_samples'])


def test_shipped_phase2_configs_take_the_compared_graph_variant(repo_root, phase_files):
    """The variant the long-tail comparison chose: unit features, temperature 0.05, the
    ignored boxes as nodes; the head direction updated."""
    model = phase2_model(repo_root, phase_files)
    assert model.roi_head.graph_temperature == 0.05
    assert model.roi_head.graph_normalize is True
    assert model.roi_head.graph_nodes == 'labelled_and_ignored'
    assert model.roi_head.head_direction == 'update'


@pytest.mark.parametrize('roi_head,match', [
    (dict(graph_nodes='ignored'),
     r"graph_nodes must be one of \('labelled', 'labelled_and_ignored'\), got 'ignored'"),
    (dict(head_direction='frozen'),
     r"head_direction must be one of \('update', 'keep_phase1'\), got 'frozen'"),
    (dict(head_direction='keep_phase1'),
     r"head_direction='keep_phase1' needs TDE box heads .*\['Linear'\]"),
])
def test_bad_node_and_direction_options_name_the_field(repo_root, phase_files, roi_head, match):
    with pytest.raises(ValueError, match=match):
        phase2_model(repo_root, phase_files, **roi_head)


# ----------------------------------------- the TDE heads' head direction through phase II

TDE_PHASE1 = 'configs/minilvis/dual_phase/cascade_tde_phase1_r18_minilvis.py'
TDE_PHASE2 = 'configs/minilvis/dual_phase/cascade_tde_phase2_r18_minilvis.py'


@pytest.fixture(scope='module')
def tde_phase_files(tmp_path_factory, repo_root, phase_files):
    """A TDE phase-I config on phase_files' split and a checkpoint whose head directions are
    non-zero, as after phase I."""
    root = tmp_path_factory.mktemp('dual_phase_tde_model')
    phase1 = Config.fromfile(str(repo_root / TDE_PHASE1))
    for head in phase1.model.roi_head.bbox_head:
        head.cls_predictor_cfg.split_file = phase_files['split_file']
    config = str(root / 'phase1.py')
    phase1.dump(config)
    torch.manual_seed(0)
    teacher = MODELS.build(phase1.model)
    teacher.init_weights()
    state = teacher.state_dict()
    g = torch.Generator().manual_seed(6)
    directions = [k for k in state if k.endswith('head_direction')]
    assert len(directions) == 3
    for key in directions:
        state[key] = torch.rand(state[key].shape, generator=g) + 0.5
    checkpoint = str(root / 'phase1.pth')
    torch.save(dict(state_dict=state, meta=dict()), checkpoint)
    return dict(phase_files, config=config, checkpoint=checkpoint, teacher_state=state,
                directions=directions)


def train_tde_phase2(repo_root, files, steps=2, **roi_head):
    cfg = Config.fromfile(str(repo_root / TDE_PHASE2))
    cfg.model.update(teacher_config=files['config'], teacher_checkpoint=files['checkpoint'])
    cfg.model.roi_head.update(split_file=files['split_file'], **roi_head)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.load_state_dict(files['teacher_state'], strict=True)
    model.train()
    data = batch(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02)
    torch.manual_seed(3)
    for _ in range(steps):
        optimizer.zero_grad()
        total, _ = model.parse_losses(model.loss(data['inputs'], data['data_samples']))
        total.backward()
        optimizer.step()
    return model


def test_keep_phase1_head_direction_through_phase2(repo_root, tde_phase_files):
    """head_direction='keep_phase1': after phase-II steps every stage's head direction is
    bit-identical to the teacher's (phase I's); with the default ('update') each moves. The
    option changes no weight: the head direction is used at inference only."""
    models = {option: train_tde_phase2(repo_root, tde_phase_files, head_direction=option)
              for option in ('update', 'keep_phase1')}
    teacher = models['keep_phase1'].teacher.state_dict()
    for key in tde_phase_files['directions']:
        phase1 = tde_phase_files['teacher_state'][key]
        assert torch.equal(teacher[key], phase1)
        assert torch.equal(models['keep_phase1'].state_dict()[key], phase1), key
        assert not torch.allclose(models['update'].state_dict()[key], phase1, rtol=1e-3), key
    kept, updated = (models[o].state_dict() for o in ('keep_phase1', 'update'))
    key = 'roi_head.bbox_head.0.fc_cls.weight'
    assert not torch.equal(kept[key], tde_phase_files['teacher_state'][key])  # it trained
    for name, value in kept.items():
        if not name.endswith('head_direction'):
            torch.testing.assert_close(value, updated[name], rtol=1e-5, atol=1e-6, msg=name)
