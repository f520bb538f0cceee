"""The exemplar memory's candidates and the memory built in one process and shared across
processes: the boxes mmdet trains on; the same memory, each category picked by exactly one
process from all its boxes, against a float64 Eq. 2-5 loop."""
import json

import numpy as np
import pytest

from mmdet.registry import DATASETS

import mmdet_tde.engine.dual_phase_memory as dual_phase_memory
from mmdet_tde.engine.dual_phase_memory import BoxFeatures, build_memory, phase1_annotations
from mmdet_tde.fileio import make_split
from mmdet_tde.testing import make_lvis_annotations
from mmdet_tde.utils import least_loaded_owners, run_in_processes
from helpers.reference import ref_select

# Category id -> number of boxes; 5 has none, 9 is not a phase-I category of the split.
COUNTS = {1: 23, 2: 14, 3: 9, 4: 4, 6: 2, 7: 1, 8: 12}
SPLIT = dict(phase1_category_ids=[8, 1, 2, 3, 4, 5, 6, 7], digest='d' * 16)
NUM_EXEMPLARS = 3


@pytest.fixture(scope='module')
def boxes():
    rng = np.random.default_rng(0)
    cat_ids = np.array([c for c, n in COUNTS.items() for _ in range(n)], np.int64)
    rows = rng.permutation(len(cat_ids))
    ann_ids = rng.choice(10_000, size=len(cat_ids), replace=False).astype(np.int64)
    features = (rng.normal(size=(len(cat_ids), 6)) + 0.5).astype(np.float32)
    return BoxFeatures(ann_ids, cat_ids[rows], features)


def reference_memory(boxes):
    """Each category's exemplars by the float64 loop, over its boxes in annotation-id order."""
    exemplars = {}
    for cat_id in SPLIT['phase1_category_ids']:
        rows = [i for i in np.argsort(boxes.ann_ids) if boxes.cat_ids[i] == cat_id]
        if rows:
            picked = ref_select(boxes.features[rows].astype(np.float64), NUM_EXEMPLARS)
            exemplars[str(cat_id)] = [int(boxes.ann_ids[rows[i]]) for i in picked]
    return exemplars


def test_one_process_matches_the_reference(boxes):
    memory = build_memory(boxes, NUM_EXEMPLARS, SPLIT)
    expected = reference_memory(boxes)
    assert memory['exemplars'] == expected
    assert list(memory['exemplars']) == list(expected)  # in the split's order
    assert memory['candidates'] == {str(c): COUNTS.get(c, 0) for c in SPLIT['phase1_category_ids']}
    assert memory['split_digest'] == SPLIT['digest']
    assert memory['num_exemplars'] == NUM_EXEMPLARS


def test_the_order_of_the_boxes_does_not_matter(boxes):
    shuffled = boxes.rows(np.random.default_rng(1).permutation(len(boxes.ann_ids)))
    assert build_memory(shuffled, NUM_EXEMPLARS, SPLIT) == build_memory(boxes, NUM_EXEMPLARS,
                                                                        SPLIT)


def _build_shared(group, boxes, shard_of_row):
    """build_memory from this process's shard; also which boxes this process picked from."""
    picked_from = []
    pick = dual_phase_memory.exemplars_by_category

    def recording_pick(own_boxes, num):
        picked_from.append(sorted(own_boxes.cat_ids.tolist()))
        return pick(own_boxes, num)

    dual_phase_memory.exemplars_by_category = recording_pick
    memory = build_memory(boxes.rows(shard_of_row == group.rank), NUM_EXEMPLARS, SPLIT, group)
    return memory, picked_from


@pytest.mark.slow
@pytest.mark.parametrize('world_size', [2, 3])
def test_shared_equals_one_process(boxes, world_size):
    n = len(boxes.ann_ids)
    shard_of_row = np.arange(n) % 2  # with 3 processes, rank 2 has no boxes of its own
    replies = run_in_processes(_build_shared, world_size, boxes, shard_of_row)
    assert [error for error, _ in replies] == [None] * world_size
    memories = [memory for (_, (memory, _)) in replies]
    assert memories[0] == build_memory(boxes, NUM_EXEMPLARS, SPLIT)
    assert memories[1:] == [None] * (world_size - 1)
    # Each category's boxes all went to one process, and only there.
    held = [picked[0] for (_, (_, picked)) in replies]
    assert sorted(sum(held, [])) == sorted(boxes.cat_ids.tolist())
    owners = [{c for c in COUNTS if c in share} for share in held]
    assert all(not (owners[a] & owners[b]) for a in range(world_size) for b in range(a))
    assert max(len(share) for share in held) < n


def test_categories_go_to_the_least_loaded_process():
    owners = least_loaded_owners([0, 10, 50, 60, 100], 2)
    # Largest first, each to the least loaded process (ties to the lower rank).
    assert owners.tolist() == [0, 0, 1, 1, 0]
    assert least_loaded_owners([0, 10, 50], 1).tolist() == [0, 0, 0]


def test_phase1_candidates_are_the_boxes_mmdet_trains_on(tmp_path):
    annotations = make_lvis_annotations(12, 10, seed=2)
    phase1 = [c['id'] for c in annotations['categories'] if c['frequency'] != 'r']
    image = annotations['images'][0]
    width, height = image['width'], image['height']
    edge_cases = [([width + 5, 10, 20, 20], 400),  # outside the image: mmdet skips it
                  ([width - 4, height - 4, 30, 30], 16),  # partly inside: kept
                  ([10, 10, 0.5, 20], 10),  # under 1 pixel wide: skipped
                  ([10, 10, 20, 20], 0)]  # area 0: skipped
    first_id = max(a['id'] for a in annotations['annotations']) + 1
    for offset, (bbox, area) in enumerate(edge_cases):
        annotations['annotations'].append(dict(
            id=first_id + offset, image_id=image['id'], category_id=phase1[0], bbox=bbox,
            area=area, segmentation=[[0, 0, 1, 0, 1, 1]]))
    ann_file = tmp_path / 'train.json'
    ann_file.write_text(json.dumps(annotations))
    split = make_split(annotations['categories'])
    assert split['phase1_category_ids'] == sorted(phase1)
    per_image = phase1_annotations(str(ann_file), split)

    # The reference: the phase-I boxes of mmdet's own LVIS dataset, per image.
    dataset = DATASETS.build(dict(type='LVISV1Dataset', ann_file=str(ann_file),
                                  data_prefix=dict(img=''), test_mode=True, filter_cfg=None,
                                  pipeline=[]))
    expected = {}
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        boxes = [(dataset.cat_ids[inst['bbox_label']], inst['bbox'])
                 for inst in info['instances']]
        boxes = [box for box in boxes if box[0] in phase1]
        if boxes:
            expected[info['img_id']] = sorted(boxes)
    got = {img_id: sorted((a['category_id'], [x, y, x + w, y + h])
                          for a in anns for x, y, w, h in [a['bbox']])
           for img_id, anns in per_image.items()}
    assert got == expected
    edge_ids = {a['id'] for a in per_image[image['id']]} & set(range(first_id, first_id + 4))
    assert edge_ids == {first_id + 1}
    for anns in per_image.values():
        assert [a['id'] for a in anns] == sorted(a['id'] for a in anns)
        assert all(set(a) == {'id', 'category_id', 'bbox'} for a in anns)  # masks not kept
