"""LVIS datasets for the two phases of dual-phase training.

Phase I learns the phase-I categories from all training images. An image of a phase-I category
often also holds unlabelled-for-now phase-II objects; dropping their labels would teach the RPN
and every R-CNN stage that rare objects are background. They are marked ignored instead
(``ignore_flag``), which mmdet's assigners honour when ``ignore_iof_thr`` is set. Two other
policies exist for the ablation only: ``drop_images`` (leave out every image with a phase-II
object) and ``background`` (the naive one: drop their labels).

Phase II trains on the images that hold an exemplar of the memory (tools/dual_phase_prepare.py)
or any phase-II object; exemplars and phase-II objects are labelled, every other object is
ignored.
"""
import json
import os
from typing import List, Optional

from mmdet.datasets import LVISV05Dataset, LVISV1Dataset
from mmdet.registry import DATASETS

from .dual_phase_split import check_split_categories, load_split

PHASE1_POLICIES = ('ignore', 'drop_images', 'background')


def load_memory(path: str, split: dict) -> set:
    """Annotation ids of the exemplar memory, checked against the split it was made with."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'exemplar memory file not found: {path} (make it with '
                                'tools/dual_phase_prepare.py)')
    with open(path) as f:
        memory = json.load(f)
    if memory.get('split_digest') != split['digest']:
        raise ValueError(f'{path} was made with another dual-phase split (digest '
                         f"{memory.get('split_digest')}, the split file's is {split['digest']})")
    return {int(ann_id) for ids in memory['exemplars'].values() for ann_id in ids}


class DualPhaseMixin:
    """Relabels instances per phase and leaves out the images a phase does not train on."""

    def __init__(self, *args, split_file: str, phase: int, phase1_policy: str = 'ignore',
                 memory_file: Optional[str] = None, **kwargs):
        if phase not in (1, 2):
            raise ValueError(f'phase must be 1 or 2, got {phase!r}')
        if phase1_policy not in PHASE1_POLICIES:
            raise ValueError(f'phase1_policy must be one of {PHASE1_POLICIES}, '
                             f'got {phase1_policy!r}')
        if (phase == 2) != (memory_file is not None):
            raise ValueError('memory_file is required in phase 2 and not used in phase 1, got '
                             f'phase={phase}, memory_file={memory_file!r}')
        self.split = load_split(split_file)
        self.split_file = split_file
        self.phase = phase
        self.phase1_policy = phase1_policy
        self.memory_file = memory_file
        self._memory = None if memory_file is None else load_memory(memory_file, self.split)
        self._phase2_ids = set(self.split['phase2_category_ids'])
        self._left_out = set()
        self._categories_checked = False
        super().__init__(*args, **kwargs)

    def parse_data_info(self, raw_data_info: dict):
        if not self._categories_checked:  # self.lvis exists while the data list is loaded
            check_split_categories(self.split, self.lvis.dataset['categories'], self.ann_file)
            self._categories_checked = True
        anns = raw_data_info['raw_ann_info']
        in_phase2 = [ann['category_id'] in self._phase2_ids for ann in anns]
        img_id = raw_data_info['raw_img_info']['img_id']
        if self.phase == 1:
            if self.phase1_policy == 'drop_images' and any(in_phase2):
                self._left_out.add(img_id)
            elif self.phase1_policy == 'background':
                anns = [ann for ann, rare in zip(anns, in_phase2) if not rare]
            else:
                anns = [dict(ann, iscrowd=1) if rare else ann for ann, rare in zip(anns, in_phase2)]
        else:
            labelled = [rare or ann['id'] in self._memory for ann, rare in zip(anns, in_phase2)]
            if not any(labelled):
                self._left_out.add(img_id)
            anns = [ann if keep else dict(ann, iscrowd=1) for ann, keep in zip(anns, labelled)]
        return super().parse_data_info(dict(raw_data_info, raw_ann_info=anns))

    def filter_data(self) -> List[dict]:
        data_list = super().filter_data()
        if self.test_mode:
            return data_list
        return [info for info in data_list if info['img_id'] not in self._left_out]


@DATASETS.register_module()
class DualPhaseLVISV1Dataset(DualPhaseMixin, LVISV1Dataset):
    """mmdet's ``LVISV1Dataset`` for phase I or II of dual-phase training."""


@DATASETS.register_module()
class DualPhaseLVISV05Dataset(DualPhaseMixin, LVISV05Dataset):
    """mmdet's ``LVISV05Dataset`` for phase I or II of dual-phase training."""
