""".dev_scripts/gpu/make_data.py: mini-LVIS from the generator's file alone (no mmdet, no mmcv),
so that the GPU check has its data while mmcv is still being built."""
import json
import sys

import pytest


@pytest.fixture
def make_data(gpu_script, monkeypatch):
    monkeypatch.delitem(sys.modules, 'minilvis', raising=False)  # the loader registers it
    yield gpu_script('make_data')
    monkeypatch.delitem(sys.modules, 'minilvis', raising=False)


def test_the_generator_is_where_the_script_looks(make_data):
    generator = make_data.load_generator()
    assert callable(generator.make_minilvis) and generator.MiniLVISOptions().num_val > 0


def test_a_moved_generator_is_named(make_data, tmp_path):
    with pytest.raises(FileNotFoundError, match='mini-LVIS generator is not at .*gone.py'):
        make_data.load_generator(tmp_path / 'gone.py')


def test_it_writes_the_requested_images(make_data, tmp_path, capsys):
    out = tmp_path / 'minilvis'
    make_data.main([str(out), '--num-train', '3', '--num-val', '2'])
    for split, count in (('train', 3), ('val', 2)):
        ann = json.loads((out / 'annotations' / f'minilvis_v1_{split}.json').read_text())
        assert len(ann['images']) == count
    assert f'mini-LVIS in {out}' in capsys.readouterr().out
