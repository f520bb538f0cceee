""".dev_scripts/gpu/dual_phase_configs.py: the shipped TDE dual-phase configs shortened to the
check's iterations, on its data and split, phase II taught by the check's own phase I."""
import pytest
from mmengine.config import Config


@pytest.fixture(scope='module')
def dual_phase_configs(gpu_script):
    return gpu_script('dual_phase_configs')


def test_both_phases_run_on_the_checks_files(dual_phase_configs, tmp_path):
    out = tmp_path / 'dual_phase'
    dual_phase_configs.main([
        str(out), '--data-root', '/w/minilvis', '--split', '/w/split.json', '--iters', '8',
        '--batch', '4', '--workers', '2', '--log-interval', '1',
        '--teacher-checkpoint', '/w/runs/train_dp_phase1/iter_8.pth',
        '--prepared-dir', '/w/runs/dp_prepare'])
    phase1, phase2 = (Config.fromfile(str(out / f'{name}.py')) for name in ('phase1', 'phase2'))
    for cfg in (phase1, phase2):
        assert cfg.train_cfg == dict(type='IterBasedTrainLoop', max_iters=8, val_interval=9)
        assert cfg.param_scheduler[0].end == 2
        assert cfg.default_hooks.checkpoint.interval == 8
        assert cfg.train_dataloader.batch_size == 4
        assert cfg.train_dataloader.dataset.split_file == '/w/split.json'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            assert cfg[loader].dataset.data_root == '/w/minilvis/'
            assert cfg[loader].num_workers == 2 and cfg[loader].persistent_workers is True
        assert cfg.test_evaluator.ann_file == '/w/minilvis/annotations/minilvis_v1_val.json'
    assert [head.cls_predictor_cfg.split_file for head in phase1.model.roi_head.bbox_head] \
        == ['/w/split.json'] * 3
    assert phase2.model.teacher_config == str(out / 'phase1.py')
    assert phase2.model.teacher_checkpoint == '/w/runs/train_dp_phase1/iter_8.pth'
    assert phase2.model.roi_head.split_file == '/w/split.json'
    assert phase2.load_from == '/w/runs/dp_prepare/dual_phase_phase2_init.pth'
    assert phase2.train_dataloader.dataset.memory_file == \
        '/w/runs/dp_prepare/dual_phase_memory.json'


def test_no_workers_means_no_persistent_workers(dual_phase_configs, tmp_path):
    paths = dual_phase_configs.write_configs(
        tmp_path, data_root='/w/minilvis/', split='/w/split.json', iters=1, batch=2, workers=0,
        log_interval=1, teacher_checkpoint='t.pth', prepared_dir='p')
    cfg = Config.fromfile(str(paths['phase1']))
    assert cfg.train_dataloader.persistent_workers is False
    assert cfg.val_dataloader.dataset.data_root == '/w/minilvis/'
    assert cfg.param_scheduler[0].end == 1
