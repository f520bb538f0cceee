"""Dual-phase class split, phase datasets and the phase-I classifier mask."""
import json
import math
import runpy
import sys
from collections import defaultdict
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from mmdet.registry import DATASETS, MODELS

from mmdet_tde.datasets.dual_phase import MEMORY_VERSION
from mmdet_tde.fileio import load_split, make_split, phase2_labels
from mmdet_tde.testing import MiniLVISOptions, make_minilvis

SMALL = MiniLVISOptions(seed=5, num_train=200, num_val=10)
PHASE1_CONFIG = 'configs/minilvis/dual_phase/cascade_phase1_r18_minilvis.py'


def split_tool(repo_root, *argv):
    """tools/dual_phase_split.py run as a script, in this process; its exit status."""
    with mock.patch.object(sys, 'argv', ['dual_phase_split.py', *argv]):
        try:
            runpy.run_path(str(repo_root / 'tools/dual_phase_split.py'), run_name='__main__')
        except SystemExit as exit_info:
            return exit_info.code
    return 0


@pytest.fixture(scope='module')
def data(tmp_path_factory, repo_root):
    root = tmp_path_factory.mktemp('dual_phase')
    make_minilvis(str(root), SMALL, progress=lambda *a: None)
    ann_file = root / 'annotations/minilvis_v1_train.json'
    split_file = root / 'split.json'
    split_tool(repo_root, str(ann_file), '--out', str(split_file))
    return root, json.loads(ann_file.read_text()), str(split_file)


def images_per_category(annotations):
    """The reference: count images per category from the annotations themselves."""
    images = defaultdict(set)
    for ann in annotations['annotations']:
        images[ann['category_id']].add(ann['image_id'])
    return {cat_id: len(ids) for cat_id, ids in images.items()}


def test_split_rules_against_counted_images(data):
    _, annotations, split_file = data
    split = load_split(split_file)
    counts = images_per_category(annotations)
    all_ids = sorted(c['id'] for c in annotations['categories'])
    rare = sorted(i for i in all_ids if 1 <= counts.get(i, 0) <= 10)  # LVIS's rule
    assert split['phase2_category_ids'] == rare and rare
    assert split['phase1_category_ids'] == sorted(set(all_ids) - set(rare))
    assert split['loss_lambda'] == pytest.approx(math.sqrt((len(all_ids) - len(rare)) / len(rare)))
    by_images = make_split(annotations['categories'], min_images=40)
    assert by_images['phase2_category_ids'] == sorted(i for i in all_ids if counts.get(i, 0) < 40)
    assert by_images['digest'] != split['digest']
    assert phase2_labels(split) == [all_ids.index(i) for i in rare]


def test_split_file_edited_by_hand_is_refused(data, tmp_path):
    _, _, split_file = data
    split = json.loads(open(split_file).read())
    split['phase2_category_ids'] = split['phase2_category_ids'][1:]
    path = tmp_path / 'edited.json'
    path.write_text(json.dumps(split))
    with pytest.raises(ValueError, match='edited by hand'):
        load_split(str(path))


def test_split_tool_rejects_bad_input(data, tmp_path, repo_root):
    root, _, _ = data
    val = root / 'annotations/minilvis_v1_val.json'
    missing = split_tool(repo_root, str(tmp_path / 'none.json'), '--out', str(tmp_path / 'o'))
    assert missing.startswith('error: ') and 'annotation file not found' in missing
    everything = split_tool(repo_root, str(val), '--out', str(tmp_path / 'o'),
                            '--min-images', '100000')
    assert everything.startswith('error: ') and 'phase I with 0' in everything
    assert not (tmp_path / 'o').exists()


def dataset(root, split_file, pipeline=(), **kwargs):
    cfg = dict(type='DualPhaseLVISV1Dataset', data_root=str(root) + '/',
               ann_file='annotations/minilvis_v1_train.json', data_prefix=dict(img=''),
               split_file=split_file, filter_cfg=dict(filter_empty_gt=True, min_size=4),
               pipeline=list(pipeline), **kwargs)
    return DATASETS.build(cfg)


@pytest.mark.parametrize('policy', ['ignore', 'drop_images', 'background'])
def test_phase1_policies(data, policy):
    root, annotations, split_file = data
    split = load_split(split_file)
    rare = set(phase2_labels(split))
    ds = dataset(root, split_file, phase=1, phase1_policy=policy)
    rare_images = {a['image_id'] for a in annotations['annotations']
                   if a['category_id'] in split['phase2_category_ids']}
    plain = dataset(root, split_file, phase=1, phase1_policy='ignore')
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    ids = {info['img_id'] for info in infos}
    assert rare_images
    if policy == 'drop_images':
        assert ids == {plain.get_data_info(i)['img_id'] for i in range(len(plain))} - rare_images
    else:
        assert rare_images <= ids
    for info in infos:
        for inst in info['instances']:
            if policy == 'ignore':
                assert inst['ignore_flag'] == (inst['bbox_label'] in rare)
            else:
                assert inst['bbox_label'] not in rare and inst['ignore_flag'] == 0
    if policy == 'ignore':
        flagged = sum(i['ignore_flag'] for info in infos for i in info['instances'])
        assert flagged == sum(1 for a in annotations['annotations']
                              if a['category_id'] in split['phase2_category_ids'])


def write_memory(annotations, split, memory):
    """An exemplar memory of every 25th phase-I annotation; the exemplars' annotation ids."""
    phase1 = set(split['phase1_category_ids'])
    by_class = {}
    for ann in annotations['annotations'][::25]:
        if ann['category_id'] in phase1:
            by_class.setdefault(str(ann['category_id']), []).append(ann['id'])
    memory.write_text(json.dumps(dict(
        version=MEMORY_VERSION, split_digest=split['digest'], prepare_id='run',
        phase1_checkpoint_sha256='0' * 64, exemplars=by_class,
        candidates={str(c): len(by_class.get(str(c), [])) for c in phase1})))
    return [i for ids in by_class.values() for i in ids]


def test_phase2_keeps_exemplar_and_rare_images(data, tmp_path):
    root, annotations, split_file = data
    split = load_split(split_file)
    memory = tmp_path / 'memory.json'
    exemplars = write_memory(annotations, split, memory)
    ds = dataset(root, split_file, phase=2, memory_file=str(memory))
    by_id = {a['id']: a for a in annotations['annotations']}
    keep = {by_id[i]['image_id'] for i in exemplars} | {
        a['image_id'] for a in annotations['annotations']
        if a['category_id'] in split['phase2_category_ids']}
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert {info['img_id'] for info in infos} == keep
    labelled_count = sum(1 - i['ignore_flag'] for info in infos for i in info['instances'])
    rare_count = sum(1 for a in annotations['annotations']
                     if a['category_id'] in split['phase2_category_ids'])
    assert labelled_count == len(exemplars) + rare_count

    memory.write_text(json.dumps(dict(split_digest='other', exemplars={})))
    with pytest.raises(ValueError, match='another dual-phase split'):
        dataset(root, split_file, phase=2, memory_file=str(memory))


def test_phase2_pipeline_packs_the_unlabelled_objects_as_graph_nodes(data, tmp_path, repo_root):
    """Through the shipped training pipeline (flipped here), each phase-II image's graph nodes
    with graph_nodes='labelled_and_ignored' are its exemplars and phase-II objects, then its
    other objects, as boxes of its annotations."""
    from mmdet_tde.models.roi_heads.dual_phase_roi_head import graph_node_boxes
    root, annotations, split_file = data
    split = load_split(split_file)
    memory = tmp_path / 'memory.json'
    labelled_ids = set(write_memory(annotations, split, memory))
    labelled_ids |= {a['id'] for a in annotations['annotations']
                     if a['category_id'] in split['phase2_category_ids']}
    pipeline = Config.fromfile(str(repo_root / PHASE1_CONFIG)).train_pipeline
    for step in pipeline:
        if step['type'] == 'RandomFlip':
            step['prob'] = 1.0
    ds = dataset(root, split_file, phase=2, memory_file=str(memory), pipeline=pipeline)
    by_image = defaultdict(list)
    for ann in annotations['annotations']:
        by_image[ann['image_id']].append(ann)
    width = SMALL.img_size
    ignored_total = 0
    for i in range(len(ds)):
        sample = ds[i]['data_samples']
        anns = by_image[sample.img_id]
        ordered = ([a for a in anns if a['id'] in labelled_ids]
                   + [a for a in anns if a['id'] not in labelled_ids])
        # xywh -> xyxy, flipped horizontally
        expected = torch.tensor([[width - x - w, y, width - x, y + h]
                                 for x, y, w, h in (a['bbox'] for a in ordered)])
        nodes = graph_node_boxes(sample, 'labelled_and_ignored')
        torch.testing.assert_close(nodes, expected.float(), rtol=0, atol=1e-4)
        num_labelled = len(ordered) - len(sample.ignored_instances)
        torch.testing.assert_close(graph_node_boxes(sample, 'labelled'), nodes[:num_labelled])
        ignored_total += len(sample.ignored_instances)
    assert ignored_total > 0


def test_dataset_refuses_split_of_other_categories(data, tmp_path):
    root, annotations, _ = data
    cats = [dict(c, name=c['name'] + '_x') for c in annotations['categories']]
    path = tmp_path / 'other.json'
    path.write_text(json.dumps(make_split(cats)))
    with pytest.raises(ValueError, match='other categories'):
        dataset(root, str(path), phase=1)
    with pytest.raises(ValueError, match="phase1_policy must be one of"):
        dataset(root, str(path), phase=1, phase1_policy='drop')


def test_phase_masked_linear_masks_phase2_columns(data):
    _, annotations, split_file = data
    split = load_split(split_file)
    masked = phase2_labels(split)
    num_classes = len(annotations['categories'])
    layer = MODELS.build(dict(type='PhaseMaskedLinear', in_features=16,
                              out_features=num_classes + 1, split_file=split_file))
    torch.manual_seed(0)
    x = torch.randn(64, 16)
    with torch.no_grad():
        layer.weight[masked] *= 1000  # even huge masked rows must not win
    logits = layer(x)
    kept = [c for c in range(num_classes + 1) if c not in masked]
    assert not set(logits.argmax(1).tolist()) & set(masked)
    labels = torch.tensor(kept * 10)[:64]
    loss = F.cross_entropy(logits, labels)
    # reference: float64 cross-entropy over the unmasked columns only
    ref_logits = (x.double() @ layer.weight.double().t() + layer.bias.double())[:, kept]
    ref_labels = torch.tensor([kept.index(int(label)) for label in labels])
    reference = F.cross_entropy(ref_logits, ref_labels)
    assert loss.item() == pytest.approx(reference.item(), rel=1e-5)
    loss.backward()
    assert torch.all(layer.weight.grad[masked] == 0)
    half = layer.half()(x.half())
    assert torch.isfinite(half).all()
    assert torch.all(half[:, masked].max(1).values < half[:, kept].min(1).values - 5000)
    with pytest.raises(ValueError, match='out_features'):
        MODELS.build(dict(type='PhaseMaskedLinear', in_features=16, out_features=num_classes,
                          split_file=split_file))


def test_ignore_policy_reaches_every_assigner(data, repo_root):
    """A proposal on an ignored (phase-II) box is ignored, not background, in RPN and R-CNN."""
    from mmengine.structures import InstanceData
    from mmdet.registry import TASK_UTILS
    _, _, split_file = data
    cfg = Config.fromfile(str(repo_root / PHASE1_CONFIG))
    assigners = [cfg.model.train_cfg.rpn.assigner] + [s.assigner for s in
                                                      cfg.model.train_cfg.rcnn]
    assert len(assigners) == 4
    gt = InstanceData(bboxes=torch.tensor([[0., 0., 20., 20.]]), labels=torch.tensor([0]))
    ignored = InstanceData(bboxes=torch.tensor([[50., 50., 80., 80.]]),
                           labels=torch.tensor([1]))
    proposals = InstanceData(priors=torch.tensor([[52., 52., 78., 78.], [100., 100., 120., 120.],
                                                  [0., 0., 20., 20.]]))
    for assigner_cfg in assigners:
        result = TASK_UTILS.build(assigner_cfg).assign(proposals, gt, ignored)
        assert result.gt_inds.tolist() == [-1, 0, 1]  # ignored, background, matched
    dataset_cfg = cfg.train_dataloader.dataset
    assert dataset_cfg.type == 'DualPhaseLVISV1Dataset' and dataset_cfg.phase1_policy == 'ignore'
    for head in cfg.model.roi_head.bbox_head:
        assert head.cls_predictor_cfg.type == 'PhaseMaskedLinear'


def test_phase_masked_tde_predictor_masks_training_and_inference(data):
    """Training logits, TDE inference and the sweep's recombination all mask phase II."""
    _, annotations, split_file = data
    masked = phase2_labels(load_split(split_file))
    num_classes = len(annotations['categories'])
    predictor = MODELS.build(dict(type='PhaseMaskedCausalNormPredictor', in_features=16,
                                  out_features=num_classes + 1, split_file=split_file))
    plain = MODELS.build(dict(type='CausalNormPredictor', in_features=16,
                              out_features=num_classes + 1))
    plain.load_state_dict(predictor.state_dict())
    torch.manual_seed(0)
    x = torch.randn(32, 16) + 2.0
    predictor.train()
    plain.train()
    masked_logits, logits = predictor(x), plain(x)
    kept = [c for c in range(num_classes + 1) if c not in masked]
    assert torch.equal(masked_logits[:, kept], logits[:, kept])
    assert torch.all(masked_logits[:, masked] == logits[:, masked] - 1e4)
    predictor.update_head_direction_from_targets(torch.zeros(32, dtype=torch.long))
    plain.update_head_direction_from_targets(torch.zeros(32, dtype=torch.long))
    predictor.eval()
    plain.eval()
    probs = torch.softmax(predictor(x), dim=1)
    expected = torch.softmax(plain(x), dim=1)
    assert torch.all(probs[:, masked] == 0)
    # the unmasked distribution is the plain one renormalised over the kept columns
    expected = expected[:, kept] / expected[:, kept].sum(1, keepdim=True)
    assert torch.allclose(probs[:, kept], expected, atol=1e-6)
    terms = predictor.inference_terms(x)
    assert torch.all(torch.softmax(predictor.scores_from_terms(*terms, 0.5), 1)[:, masked] == 0)
