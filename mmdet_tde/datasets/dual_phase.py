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
import numbers
import os
from typing import Dict, List, Optional

from mmdet.datasets import LVISV05Dataset, LVISV1Dataset
from mmdet.registry import DATASETS

from mmdet_tde.fileio import check_split_categories, load_split, read_json

PHASE1_POLICIES = ('ignore', 'drop_images', 'background')
# 2: the memory carries the id of the prepare run (shared with its initial checkpoint) and the
# digest of the phase-I checkpoint it was made from.
MEMORY_VERSION = 2


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def read_memory(path: str, split: dict) -> dict:
    """The exemplar memory file, checked against the split it was made with: its version, its
    split digest, and exemplars (unique annotation ids) for every phase-I category that had
    candidates and for no other category."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'exemplar memory file not found: {path} (make it with '
                                'tools/dual_phase_prepare.py)')
    memory = read_json(path, 'exemplar memory file')
    if not isinstance(memory, dict):
        raise ValueError(f'{path} is not an exemplar memory file: a JSON object is expected')
    if memory.get('split_digest') != split['digest']:
        raise ValueError(f'{path} was made with another dual-phase split (digest '
                         f"{memory.get('split_digest')}, the split file's is {split['digest']})")
    if memory.get('version') != MEMORY_VERSION:
        raise ValueError(f"{path}: memory version {memory.get('version')!r}, expected "
                         f'{MEMORY_VERSION}: make it again with tools/dual_phase_prepare.py')
    for key in ('prepare_id', 'phase1_checkpoint_sha256'):
        if not isinstance(memory.get(key), str):
            raise ValueError(f'{path}: {key} must be a string, got {memory.get(key)!r}')
    exemplars, candidates = memory.get('exemplars'), memory.get('candidates')
    phase1 = {str(c) for c in split['phase1_category_ids']}
    for key, value in (('exemplars', exemplars), ('candidates', candidates)):
        if not isinstance(value, dict) or not value or not set(value) <= phase1:
            raise ValueError(f'{path}: {key} must map phase-I category ids of the split to their '
                             f'{key}, got {value!r:.80}')
    if not all(_is_int(n) and n >= 0 for n in candidates.values()):
        raise ValueError(f'{path}: candidates must be counts (integers >= 0), got '
                         f'{candidates!r:.80}')
    with_candidates = {c for c, n in candidates.items() if n > 0}
    if set(exemplars) != with_candidates:
        raise ValueError(f'{path}: exemplars are given for categories {sorted(exemplars, key=int)} '
                         'but the phase-I categories with candidates are '
                         f'{sorted(with_candidates, key=int)}')
    seen = set()
    for cat_id, ids in exemplars.items():
        if (not isinstance(ids, list) or not ids or not all(map(_is_int, ids))
                or len(ids) > candidates[cat_id]):
            raise ValueError(f'{path}: the exemplars of category {cat_id} must be 1 to '
                             f'{candidates[cat_id]} annotation ids, got {ids!r:.80}')
        if seen & set(ids) or len(set(ids)) != len(ids):
            raise ValueError(f'{path}: an annotation id appears twice among the exemplars')
        seen |= set(ids)
    return memory


def load_memory(path: str, split: dict) -> Dict[int, int]:
    """{annotation id: category id} of the exemplar memory (:func:`read_memory`)."""
    exemplars = read_memory(path, split)['exemplars']
    return {ann_id: int(cat_id) for cat_id, ids in exemplars.items() for ann_id in ids}


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
        self._memory_found: Dict[int, int] = {}
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
            self._memory_found.update((ann['id'], ann['category_id']) for ann in anns
                                      if ann['id'] in self._memory)
            labelled = [rare or ann['id'] in self._memory for ann, rare in zip(anns, in_phase2)]
            if not any(labelled):
                self._left_out.add(img_id)
            anns = [ann if keep else dict(ann, iscrowd=1) for ann, keep in zip(anns, labelled)]
        return super().parse_data_info(dict(raw_data_info, raw_ann_info=anns))

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        if self._memory is not None and self._memory_found != self._memory:
            missing = sorted(set(self._memory) - set(self._memory_found))
            moved = sorted(i for i, c in self._memory_found.items() if self._memory[i] != c)
            raise ValueError(
                f'the exemplar memory {self.memory_file} does not fit {self.ann_file}: '
                + (f'{len(missing)} annotation ids are not in it (e.g. {missing[:5]})'
                   if missing else f'annotations {moved[:5]} are of other categories')
                + ': make the memory from these annotations')
        return data_list

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
