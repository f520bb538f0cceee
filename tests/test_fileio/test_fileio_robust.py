"""Output files: temporaries cleaned up after SIGTERM and (at the next write) after SIGKILL,
outputs that are inputs refused, unreadable JSON named (issue 31)."""
import os
import signal
import subprocess
import sys

import pytest

from mmdet_tde.fileio import (atomic_open, atomic_path, check_not_input, check_output_path,
                              read_json, remove_stale_temporaries)


def dead_pid():
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    proc.wait()
    return proc.pid


def test_sigterm_during_a_write_removes_the_temporary(tmp_path):
    target = tmp_path / 'model.pth'
    target.write_text('old')
    with pytest.raises(SystemExit) as exit_info:
        with atomic_path(str(target)) as tmp:
            with open(tmp, 'w') as f:
                f.write('half')
            os.kill(os.getpid(), signal.SIGTERM)
    assert exit_info.value.code == 128 + signal.SIGTERM
    assert os.listdir(tmp_path) == ['model.pth'] and target.read_text() == 'old'
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.slow
def test_the_next_write_removes_what_a_sigkill_left(tmp_path):
    target = tmp_path / 'dual_phase_phase2_init.pth'
    stale = tmp_path / f'.dual_phase_phase2_init.tmp{dead_pid()}-0123abcd.pth'
    alive = tmp_path / f'.dual_phase_phase2_init.tmp{os.getpid()}-0123abcd.pth'
    unrelated = tmp_path / '.other.tmp1-0123abcd.pth'
    for path in (stale, alive, unrelated):
        path.write_text('x')
    with atomic_open(str(target)) as f:
        f.write('new')
    assert sorted(os.listdir(tmp_path)) == sorted([target.name, alive.name, unrelated.name])
    assert remove_stale_temporaries(str(target)) == []


def test_an_output_that_is_an_input_is_refused(tmp_path):
    source = tmp_path / 'a.json'
    source.write_text('{}')
    (tmp_path / 'link.json').symlink_to(source)
    for output in (source, tmp_path / 'link.json', tmp_path / 'sub' / '..' / 'a.json'):
        with pytest.raises(ValueError, match='is also an input of this run'):
            check_not_input(str(output), [None, str(source)])
    check_not_input(str(tmp_path / 'b.json'), [str(source)])


@pytest.mark.parametrize('content, message', [(b'', 'is empty'), (b'{', 'is not valid JSON'),
                                              (b'\xff\xfe', 'is not valid JSON')])
def test_read_json_names_the_file(content, message, tmp_path):
    path = tmp_path / 'x.json'
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as error:
        read_json(str(path), 'split file')
    assert str(error.value).startswith(f'split file {path}')
    with pytest.raises(FileNotFoundError, match='split file not found'):
        read_json(str(tmp_path / 'none.json'), 'split file')


def test_an_empty_output_path_is_refused():
    with pytest.raises(ValueError, match='--out is an empty path; give a file name'):
        check_output_path('', '--out')
