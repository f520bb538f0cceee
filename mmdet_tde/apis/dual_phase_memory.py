"""Between the phases of dual-phase training: the exemplar memory and phase II's start.

The memory holds, per phase-I category, the annotations whose box-head classification features
(the input of ``fc_cls`` in the last box stage, the phase-I model in eval mode) Eq. 2-5 pick
(:func:`~mmdet_tde.models.layers.select_exemplars`). Features are computed one image at a
time, so they do not depend on how images are batched or spread over processes, and candidates
are ordered by annotation id before selection: the memory is the same for any number of
processes.
"""
import json
from typing import Dict, Iterable, List, Tuple

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from torch import nn

from mmdet.registry import DATASETS, MODELS
from mmdet.structures.bbox import bbox2roi

from mmdet_tde.fileio import atomic_path
from mmdet_tde.models.layers import select_exemplars
from mmdet_tde.models.roi_heads.dual_phase_roi_head import box_classifier_features

MEMORY_VERSION = 1


def valid_box(ann: dict) -> bool:
    """The boxes mmdet's LVIS datasets train on (``CocoDataset.parse_data_info``'s rule)."""
    _, _, w, h = ann['bbox']
    return ann.get('area', 0) > 0 and w >= 1 and h >= 1


def phase1_annotations(ann_file: str, split: dict) -> Dict[int, List[dict]]:
    """{image id: its phase-I annotations with a valid box, by annotation id}."""
    with open(ann_file) as f:
        annotations = json.load(f)['annotations']
    phase1 = set(split['phase1_category_ids'])
    per_image: Dict[int, List[dict]] = {}
    for ann in sorted(annotations, key=lambda a: a['id']):
        if ann['category_id'] in phase1 and valid_box(ann):
            per_image.setdefault(ann['image_id'], []).append(ann)
    return per_image


def unwrapped_dataset_cfg(dataset_cfg: dict) -> dict:
    """The dataset inside mmdet's sampling wrappers (repeat-factor sampling, repeats)."""
    while dataset_cfg.get('type') in ('ClassBalancedDataset', 'RepeatDataset'):
        dataset_cfg = dataset_cfg['dataset']
    return dataset_cfg


def feature_dataset(dataset_cfg: dict, pipeline: list):
    """The training images, unfiltered, through the test pipeline (no augmentation)."""
    dataset_cfg = unwrapped_dataset_cfg(dataset_cfg)
    cfg = {k: v for k, v in dataset_cfg.items()
           if k not in ('split_file', 'phase', 'phase1_policy', 'memory_file')}
    cfg.update(type=cfg['type'].replace('DualPhase', ''), pipeline=pipeline, test_mode=True,
               filter_cfg=None)
    return DATASETS.build(cfg)


@torch.no_grad()
def image_features(model: nn.Module, item: dict, anns: List[dict]) -> torch.Tensor:
    """Classification features of ``anns``' boxes in one image, last box stage."""
    data = model.data_preprocessor(pseudo_collate([item]), False)
    scale_w, scale_h = data['data_samples'][0].metainfo['scale_factor']
    boxes = torch.tensor([[x * scale_w, y * scale_h, (x + w) * scale_w, (y + h) * scale_h]
                          for x, y, w, h in (a['bbox'] for a in anns)],
                         dtype=torch.float32, device=data['inputs'].device)
    x = model.extract_feat(data['inputs'])
    roi_head = model.roi_head
    stage = roi_head.num_stages - 1 if hasattr(roi_head, 'num_stages') else None
    return box_classifier_features(roi_head, stage, x, bbox2roi([boxes])).float().cpu()


def collect_features(model: nn.Module, dataset, per_image: Dict[int, List[dict]],
                     indices: Iterable[int], progress=None) -> List[Tuple[int, int, np.ndarray]]:
    """(annotation id, category id, feature) of every phase-I box in the images ``indices``."""
    records = []
    for index in indices:
        img_id = dataset.get_data_info(index)['img_id']
        anns = per_image.get(img_id)
        if anns:
            features = image_features(model, dataset[index], anns).numpy()
            records += [(a['id'], a['category_id'], f) for a, f in zip(anns, features)]
        if progress is not None:
            progress.update()
    return records


def build_memory(records: List[Tuple[int, int, np.ndarray]], num_exemplars: int,
                 split: dict) -> dict:
    """Pick each phase-I category's exemplars from all its records (any order)."""
    by_category: Dict[int, List[Tuple[int, np.ndarray]]] = {}
    for ann_id, cat_id, feature in sorted(records, key=lambda r: r[0]):
        by_category.setdefault(cat_id, []).append((ann_id, feature))
    exemplars, candidates = {}, {}
    for cat_id in split['phase1_category_ids']:
        entries = by_category.get(cat_id, [])
        candidates[str(cat_id)] = len(entries)
        if not entries:
            continue
        features = torch.from_numpy(np.stack([f for _, f in entries]))
        picked = select_exemplars(features, num_exemplars)
        exemplars[str(cat_id)] = [int(entries[i][0]) for i in picked.tolist()]
    return dict(version=MEMORY_VERSION, split_digest=split['digest'],
                num_exemplars=num_exemplars,
                feature='input of fc_cls in the last box stage, phase-I model in eval mode',
                exemplars=exemplars, candidates=candidates)


def fresh_classifier_state(model_cfg: dict, seed: int = 0) -> Dict[str, torch.Tensor]:
    """Newly initialised box classifiers (``fc_cls``) of a config's box heads, by state-dict key.

    Only the box heads are built, so that no backbone weights are fetched.
    """
    heads = model_cfg['roi_head']['bbox_head']
    prefixes = ['roi_head.bbox_head.'] if isinstance(heads, dict) else \
        [f'roi_head.bbox_head.{i}.' for i in range(len(heads))]
    heads = [heads] if isinstance(heads, dict) else heads
    torch.manual_seed(seed)
    state = {}
    for prefix, head_cfg in zip(prefixes, heads):
        head = MODELS.build(head_cfg)
        head.init_weights()
        state.update({f'{prefix}fc_cls.{k}': v for k, v in head.fc_cls.state_dict().items()
                      if k in ('weight', 'bias')})
    return state


def phase2_init_state(state_dict: dict, fresh: Dict[str, torch.Tensor],
                      labels: List[int]) -> dict:
    """The phase-I weights with the phase-II rows of every box classifier taken from ``fresh``.

    Phase I never trained those rows (masked: only weight decay moved them); phase II starts
    them from the classifier's own initialisation.
    """
    state = dict(state_dict)
    for key, value in fresh.items():
        if key not in state or state[key].shape != value.shape:
            raise ValueError(f'the checkpoint has no box classifier {key} of shape '
                             f'{tuple(value.shape)}: is it a checkpoint of this config?')
        state[key] = state[key].clone()
        state[key][labels] = value[labels].to(state[key].dtype)
    return state


def save_checkpoint_atomic(checkpoint: dict, path: str) -> None:
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)
