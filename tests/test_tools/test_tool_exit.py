"""A distributed tool exits with the status of its work: the process group it started is closed
before the interpreter's teardown, which otherwise aborts some finished 2-process gloo jobs."""
import os
import runpy
import subprocess
import sys

import pytest

from helpers.ports import free_port

# The collectives of shared LVIS evaluation, then (optionally) a failure, inside run_tool; each
# rank then writes down whether a process group is still open.
JOB = """
import os
import sys
import torch.distributed as dist
from mmdet_tde.utils import TorchProcessGroup, run_tool


def main():
    dist.init_process_group('gloo')
    group = TorchProcessGroup()
    for _ in range(3):
        received = group.all_to_all([list(range(1000 * (group.rank + 1)))] * group.world_size)
        assert [len(r) for r in received] == [1000, 2000]
    if sys.argv[1] == 'fail':
        raise ValueError(f'rank {group.rank} failed on purpose')


try:
    run_tool(main)
finally:
    with open(f"{sys.argv[2]}/rank{os.environ['RANK']}.txt", 'w') as f:
        f.write(f'group still open: {dist.is_initialized()}')
"""


def launch(script, mode):
    for report in script.parent.glob('rank*.txt'):
        report.unlink()
    env = dict(os.environ, OMP_NUM_THREADS='1')
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
           '--master_port', str(free_port()), str(script), mode, str(script.parent)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def group_states(script):
    return [(script.parent / f'rank{r}.txt').read_text() for r in range(2)]


@pytest.fixture
def job(tmp_path):
    script = tmp_path / 'job.py'
    script.write_text(JOB)
    return script


@pytest.mark.slow
def test_finished_jobs_exit_cleanly(job):
    # Without run_tool closing the group, 7 of 30 such jobs aborted with SIGABRT at exit here;
    # six clean exits in a row would then happen about one time in five.
    for attempt in range(6):
        result = launch(job, 'ok')
        output = result.stdout + result.stderr
        assert result.returncode == 0, f'attempt {attempt}:\n{output[-3000:]}'
        assert group_states(job) == ['group still open: False'] * 2
        assert 'terminate called' not in output


@pytest.mark.slow
def test_a_failing_job_still_closes_its_group_and_reports_the_error(job):
    result = launch(job, 'fail')
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert 'ValueError: rank 0 failed on purpose' in output
    assert 'SIGABRT' not in output
    assert group_states(job) == ['group still open: False'] * 2


CONFIG_MISSING = 'FileNotFoundError: config file not found: missing_config.py'
CHECKPOINT_MISSING = 'FileNotFoundError: checkpoint not found: none.pth'


@pytest.mark.parametrize('tool, argv, error', [
    ('train.py', [], CONFIG_MISSING), ('test.py', ['none.pth'], CHECKPOINT_MISSING),
    ('sweep_alpha.py', ['none.pth'], CHECKPOINT_MISSING),
    ('dual_phase_prepare.py', ['none.pth'], CONFIG_MISSING)])
def test_a_distributed_tool_reports_a_bad_input_as_an_error(tool, argv, error, tmp_path,
                                                            repo_root, monkeypatch):
    """Run as a script, each distributed tool's main goes through run_tool: a missing input
    ends it with status 1 and the error's type and message, not a traceback."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('LOCAL_RANK', '0')  # the tools set it when missing
    monkeypatch.setattr(sys, 'argv', [tool, 'missing_config.py'] + argv)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(repo_root / 'tools' / tool), run_name='__main__')
    assert exit_info.value.code == f'error: {error}'
