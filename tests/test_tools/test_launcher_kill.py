"""A killed launcher ends its ranks: after SIGKILL of a ``dist_*.sh`` launcher the ranks ran on,
orphaned, and finished writing their outputs (issue 31). The launchers exec
torch.distributed.run, and each rank asks Linux for SIGTERM when its launcher dies."""
import os
import signal
import subprocess
import sys
import time

import pytest

from helpers.ports import free_port

pytestmark = pytest.mark.slow

# A rank that records its pid, then works for longer than the test waits.
RANK = """
import os
import sys
import time
from mmdet_tde.utils import run_tool


def main():
    with open(os.path.join(sys.argv[1], 'rank.pid'), 'w') as f:
        f.write(str(os.getpid()))
    time.sleep(300)


run_tool(main)
"""


def running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its new parent to reap it does not)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


def wait_for(condition, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='parent-death signal: Linux')
def test_sigkill_of_the_launcher_ends_the_ranks(tmp_path, repo_root):
    script = tmp_path / 'rank.py'
    script.write_text(RANK)
    tools = repo_root / 'tools'
    env = dict(os.environ, OMP_NUM_THREADS='1', PORT=str(free_port()), PYTHON=sys.executable)
    launcher = subprocess.Popen(
        ['bash', str(tools / 'dist_run.sh'), os.path.relpath(script, tools), '1', str(tmp_path)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pid_file = tmp_path / 'rank.pid'
    rank = None
    try:
        assert wait_for(lambda: pid_file.exists() and pid_file.read_text(), 180), \
            'the rank never started'
        rank = int(pid_file.read_text())
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(timeout=30)
        assert wait_for(lambda: not running(rank), 30), 'the rank outlived its launcher'
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
        if rank is not None and running(rank):
            os.kill(rank, signal.SIGKILL)
