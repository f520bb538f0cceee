"""Between the phases of dual-phase training: the exemplar memory and phase II's start.

The memory holds, per phase-I category, the annotations whose box-head classification features
(the input of ``fc_cls`` in the last box stage, the phase-I model in eval mode) Eq. 2-5 pick
(:func:`~mmdet_tde.models.layers.select_exemplars`). Features are computed one image at a
time, so they do not depend on how images are batched or spread over processes, and candidates
are ordered by annotation id before selection: the memory is the same for any number of
processes. Across processes, each category's features go to one process, which picks its
exemplars (:func:`build_memory`).
"""
import json
from collections import Counter
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from torch import nn

from mmdet.registry import DATASETS, MODELS
from mmdet.structures.bbox import bbox2roi

from mmdet_tde.datasets.dual_phase import MEMORY_VERSION
from mmdet_tde.fileio import atomic_path, check_split_categories
from mmdet_tde.models.layers import select_exemplars
from mmdet_tde.models.roi_heads.dual_phase_roi_head import box_classifier_features
from mmdet_tde.utils import SingleProcess, least_loaded_owners


def valid_box(ann: dict, image: dict) -> bool:
    """Whether mmdet's LVIS datasets train on the box (``CocoDataset.parse_data_info``'s rule:
    part of it inside the image, a positive area, at least 1 pixel wide and high)."""
    x, y, w, h = ann['bbox']
    inside_w = min(x + w, image['width']) - max(x, 0)
    inside_h = min(y + h, image['height']) - max(y, 0)
    return inside_w > 0 and inside_h > 0 and ann.get('area', 0) > 0 and w >= 1 and h >= 1


def phase1_annotations(ann_file: str, split: dict) -> Dict[int, List[dict]]:
    """{image id: its phase-I annotations with a valid box, by annotation id}.

    Only each annotation's id, category and box are kept: the annotation file (its masks
    above all; about 1 GB of JSON for LVIS v1) is freed before the features are computed.
    """
    with open(ann_file) as f:
        dataset = json.load(f)
    check_split_categories(split, dataset['categories'], ann_file)
    images = {image['id']: image for image in dataset['images']}
    phase1 = set(split['phase1_category_ids'])
    per_image: Dict[int, List[dict]] = {}
    for ann in sorted(dataset['annotations'], key=lambda a: a['id']):
        if ann['category_id'] in phase1 and valid_box(ann, images[ann['image_id']]):
            per_image.setdefault(ann['image_id'], []).append(
                dict(id=ann['id'], category_id=ann['category_id'], bbox=ann['bbox']))
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


class BoxFeatures(NamedTuple):
    """Classification features of ground-truth boxes: row i is annotation ``ann_ids[i]``, of
    category ``cat_ids[i]``."""
    ann_ids: np.ndarray  # int64, (N,)
    cat_ids: np.ndarray  # int64, (N,)
    features: np.ndarray  # float32, (N, D)

    def rows(self, selected) -> 'BoxFeatures':
        return BoxFeatures(self.ann_ids[selected], self.cat_ids[selected],
                           self.features[selected])

    @staticmethod
    def concat(parts: Sequence['BoxFeatures']) -> 'BoxFeatures':
        parts = [p for p in parts if len(p.ann_ids)] or [BoxFeatures.empty()]
        return BoxFeatures(*(np.concatenate(column) for column in zip(*parts)))

    @staticmethod
    def empty() -> 'BoxFeatures':
        return BoxFeatures(np.zeros(0, np.int64), np.zeros(0, np.int64),
                           np.zeros((0, 0), np.float32))


def collect_features(model: nn.Module, dataset, per_image: Dict[int, List[dict]],
                     indices: Iterable[int], progress=None) -> BoxFeatures:
    """The features of every phase-I box in the images ``indices``."""
    parts = []
    for index in indices:
        img_id = dataset.get_data_info(index)['img_id']
        anns = per_image.get(img_id)
        if anns:
            parts.append(BoxFeatures(np.array([a['id'] for a in anns], np.int64),
                                     np.array([a['category_id'] for a in anns], np.int64),
                                     image_features(model, dataset[index], anns).numpy()))
        if progress is not None:
            progress.update()
    return BoxFeatures.concat(parts)


def exemplars_by_category(boxes: BoxFeatures, num_exemplars: int) -> Dict[int, Tuple[list, int]]:
    """{category id: (its exemplars' annotation ids, its number of candidates)} for every
    category in ``boxes``, each picked from its boxes in annotation-id order."""
    order = np.lexsort((boxes.ann_ids, boxes.cat_ids))
    cat_ids, starts = np.unique(boxes.cat_ids[order], return_index=True)
    picked = {}
    for cat_id, rows in zip(cat_ids.tolist(), np.split(order, starts[1:])):
        chosen = select_exemplars(torch.from_numpy(boxes.features[rows]), num_exemplars)
        picked[cat_id] = (boxes.ann_ids[rows[chosen.numpy()]].tolist(), len(rows))
    return picked


def build_memory(boxes: BoxFeatures, num_exemplars: int, split: dict,
                 group=None) -> Optional[dict]:
    """Pick each phase-I category's exemplars (Eq. 2-5) from all its boxes.

    Shared across processes (``group``, an :class:`~mmdet_tde.utils.process_group.
    TorchProcessGroup`), each process passes the boxes of its images; each category's boxes
    then travel to the one process that picks its exemplars, so that no process holds all the
    features (about 5 GB on LVIS v1). Rank 0 returns the memory, the others None.
    """
    group = group or SingleProcess()
    category_ids = split['phase1_category_ids']
    if group.world_size > 1:
        # Each category to one process, the categories with the most boxes first.
        counts = sum(group.all_gather(Counter(boxes.cat_ids.tolist())), Counter())
        owners = dict(zip(category_ids, least_loaded_owners(
            [counts[c] for c in category_ids], group.world_size).tolist()))
        owner_of_row = np.array([owners[c] for c in boxes.cat_ids.tolist()], np.int64)
        # This process's own rows stay; only the others travel.
        parts = [None if rank == group.rank else boxes.rows(owner_of_row == rank)
                 for rank in range(group.world_size)]
        received = group.all_to_all(parts)
        received[group.rank] = boxes.rows(owner_of_row == group.rank)
        del parts
        boxes = BoxFeatures.concat(received)
    shares = group.gather(exemplars_by_category(boxes, num_exemplars))
    if shares is None:
        return None
    picked = {cat_id: value for share in shares for cat_id, value in share.items()}
    return dict(version=MEMORY_VERSION, split_digest=split['digest'],
                num_exemplars=num_exemplars,
                feature='input of fc_cls in the last box stage, phase-I model in eval mode',
                exemplars={str(c): picked[c][0] for c in category_ids if c in picked},
                candidates={str(c): picked.get(c, ([], 0))[1] for c in category_ids})


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
