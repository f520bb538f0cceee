""".dev_scripts/gpu/train_config.py: the shipped mini-LVIS TDE config, iteration-based, on the
check's data; what mmengine resolves from the generated file."""
import pytest
from mmengine.config import Config


@pytest.fixture(scope='module')
def train_config(gpu_script):
    return gpu_script('train_config')


@pytest.mark.parametrize('iters, warmup', [(3, 1), (8, 3), (300, 76), (396, 100), (1000, 100)])
def test_warmup_is_a_quarter_of_a_short_run_and_capped(train_config, iters, warmup):
    assert train_config.warmup_iters(iters) == warmup


@pytest.mark.parametrize('workers', [0, 4])
def test_the_written_config_resolves_to_the_shortened_run(train_config, tmp_path, workers):
    out = tmp_path / 'minilvis_tde.py'
    train_config.main([str(out), '--data-root', '/data/minilvis', '--iters', '300', '--batch',
                       '4', '--workers', str(workers), '--log-interval', '10'])
    cfg = Config.fromfile(str(out))
    assert cfg.train_cfg == dict(type='IterBasedTrainLoop', max_iters=300, val_interval=301)
    warmup, steps = cfg.param_scheduler
    assert (warmup.end, steps.end, steps.milestones) == (76, 300, [225])
    assert cfg.train_dataloader.batch_size == 4
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        assert loader.dataset.data_root == '/data/minilvis/'
        assert loader.num_workers == workers
        assert loader.persistent_workers is (workers > 0)
    assert cfg.val_evaluator.ann_file == '/data/minilvis/annotations/minilvis_v1_val.json'
    assert cfg.default_hooks.checkpoint.interval == 300
    assert cfg.default_hooks.logger.interval == 10
    # the TDE heads come from the shipped config
    assert all(head.type.startswith('TDE') for head in cfg.model.roi_head.bbox_head)


def test_zero_iterations_are_refused(train_config, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_config.main([str(tmp_path / 'c.py'), '--data-root', 'd', '--iters', '0',
                           '--batch', '1', '--workers', '0', '--log-interval', '1'])
    assert exit_info.value.code == 2
    assert '--iters must be >= 1' in capsys.readouterr().err
    assert not (tmp_path / 'c.py').exists()
