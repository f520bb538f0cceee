"""Class counts for logit adjustment from an LVIS-format file, in mmdet's LVIS label order."""
import json

import pytest

from mmdet.datasets import LVISV1Dataset

from mmdet_tde.fileio import load_class_counts

# Categories deliberately not in id order: mmdet's label i is the file's i-th category.
CATEGORIES = [dict(id=7, name='kite', instance_count=3, frequency='c'),
              dict(id=2, name='apple', instance_count=10, frequency='f'),
              dict(id=5, name='yak', instance_count=1, frequency='r')]
ANNOTATED = {7: 2, 2: 4, 5: 1}  # annotations in the file per category id: not instance_count


def _lvis_file(path, categories=CATEGORIES, annotated=ANNOTATED):
    images = [dict(id=1, coco_url='http://images.cocodataset.org/train2017/1.jpg', height=64,
                   width=64, neg_category_ids=[],
                   not_exhaustive_category_ids=[])]
    annotations = []
    for cat_id, num in annotated.items():
        for _ in range(num):
            annotations.append(dict(id=len(annotations) + 1, image_id=1, category_id=cat_id,
                                    bbox=[1, 1, 10, 10], area=100.0,
                                    segmentation=[[1, 1, 11, 1, 11, 11, 1, 11]]))
    path.write_text(json.dumps(dict(images=images, annotations=annotations,
                                    categories=categories)))
    return str(path)


def test_both_sources_follow_mmdet_lvis_label_order(tmp_path):
    ann_file = _lvis_file(tmp_path / 'train.json')
    assert load_class_counts(ann_file) == [3, 10, 1]
    assert load_class_counts(ann_file, 'annotations') == [2, 4, 1]
    # mmdet's own dataset on the same file: label of each category id, and its labels' counts
    dataset = LVISV1Dataset(ann_file=ann_file, data_prefix=dict(img=''), test_mode=True,
                            pipeline=[])
    labels = [inst['bbox_label'] for i in range(len(dataset))
              for inst in dataset.get_data_info(i)['instances']]
    assert [labels.count(label) for label in range(3)] == load_class_counts(ann_file,
                                                                            'annotations')
    by_id = {c['id']: c['instance_count'] for c in CATEGORIES}
    counts = load_class_counts(ann_file)
    assert all(counts[label] == by_id[cat_id] for cat_id, label in dataset.cat2label.items())


def test_names_are_checked_against_the_model_classes(tmp_path):
    ann_file = _lvis_file(tmp_path / 'train.json')
    assert load_class_counts(ann_file, classes=('kite', 'apple', 'yak')) == [3, 10, 1]
    with pytest.raises(ValueError, match="label 0 is 'kite' in the file and 'apple' in the "
                       "model"):
        load_class_counts(ann_file, classes=['apple', 'kite', 'yak'])
    with pytest.raises(ValueError, match='3 categories in the file, 4 classes in the model'):
        load_class_counts(ann_file, classes=['kite', 'apple', 'yak', 'zebra'])


def test_a_category_without_instances_is_refused(tmp_path):
    categories = [dict(c, instance_count=0) if c['id'] == 5 else c for c in CATEGORIES]
    with pytest.raises(ValueError, match=r"instance_count\): 1 categories have no training "
                       r"instance: 'yak' \(id 5\)"):
        load_class_counts(_lvis_file(tmp_path / 'a.json', categories))
    with pytest.raises(ValueError, match=r"annotations\): 1 categories .*'apple' \(id 2\)"):
        load_class_counts(_lvis_file(tmp_path / 'b.json', annotated={7: 2, 5: 1}),
                          'annotations')


def test_files_without_what_the_source_needs_are_refused(tmp_path):
    no_count = [{k: v for k, v in c.items() if k != 'instance_count'} for c in CATEGORIES]
    ann_file = _lvis_file(tmp_path / 'coco_style.json', no_count)
    with pytest.raises(ValueError, match="no 'instance_count'.*source='annotations'"):
        load_class_counts(ann_file)
    assert load_class_counts(ann_file, 'annotations') == [2, 4, 1]
    with pytest.raises(ValueError, match='category ids \\[9\\] that are not among'):
        load_class_counts(_lvis_file(tmp_path / 'c.json', annotated={7: 1, 2: 1, 5: 1, 9: 1}),
                          'annotations')
    with pytest.raises(ValueError, match='has no categories'):
        load_class_counts(_lvis_file(tmp_path / 'd.json', []))
    with pytest.raises(ValueError, match=r"source must be one of \('instance_count', "
                       r"'annotations'\), got 'images'"):
        load_class_counts(ann_file, 'images')
