"""Output files that are complete or absent: written beside their target, then renamed.

An interrupted run (Ctrl-C, a killed job, a full disk) then leaves the previous file or none,
never a truncated JSON that a later step would read as corrupt. Standard library only, so any
module of mmdet_tde can import it without import cycles.
"""
import contextlib
import glob
import json
import os
import os.path as osp
import re
import signal
import threading
import uuid
from typing import Iterable, Iterator, Optional


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def remove_stale_temporaries(path: str) -> list:
    """Remove the temporary files :func:`atomic_path` left beside ``path`` in processes that no
    longer run (a SIGKILL cannot be caught, so the next writer of ``path`` cleans up)."""
    directory, name = osp.split(osp.abspath(path))
    stem, ext = osp.splitext(name)
    pattern = re.compile(re.escape(f'.{stem}.tmp') + r'(\d+)-[0-9a-f]{8}' + re.escape(ext) + '$')
    removed = []
    for tmp in glob.glob(osp.join(glob.escape(directory), f'.{glob.escape(stem)}.tmp*')):
        found = pattern.match(osp.basename(tmp))
        if found and not _pid_alive(int(found.group(1))):
            with contextlib.suppress(OSError):
                os.remove(tmp)
                removed.append(tmp)
    return removed


def _raise_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Make SIGTERM (a job killed by its scheduler or launcher) an exception inside the block,
    so that the temporary file is removed; only where SIGTERM would otherwise just end the
    process (main thread, default handler)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path beside ``path`` that replaces ``path`` when the block succeeds.

    The temporary name keeps ``path``'s extension, for writers that pick the format from it
    (matplotlib). On any exception, KeyboardInterrupt and SIGTERM included, it is removed;
    those a SIGKILL left are removed by the next write of ``path``.
    """
    directory, name = osp.split(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    remove_stale_temporaries(path)
    stem, ext = osp.splitext(name)
    tmp = osp.join(directory, f'.{stem}.tmp{os.getpid()}-{uuid.uuid4().hex[:8]}{ext}')
    with _sigterm_raises():
        try:
            yield tmp
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise


@contextlib.contextmanager
def atomic_open(path: str, mode: str = 'w', **kwargs):
    """``open(path, mode)`` whose content appears at ``path`` only once fully written."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())


def write_json_atomic(data, path: str, indent: int = 1, **kwargs) -> None:
    """``json.dump`` to ``path`` through :func:`atomic_open`; ``kwargs`` go to ``json.dump``."""
    with atomic_open(path) as f:
        json.dump(data, f, indent=indent, **kwargs)


def check_output_path(path: str, what: str = 'output file') -> None:
    """Raise ValueError now, not after an hour of evaluation, if ``path`` cannot be written.

    Missing parent directories are fine (writers create them) if the nearest existing one is
    a writable directory.
    """
    if not path:
        raise ValueError(f'{what} is an empty path; give a file name')
    if osp.isdir(path):
        raise ValueError(f'{what} {path} is a directory; give a file name')
    existing = osp.dirname(osp.abspath(path))
    while not osp.exists(existing):
        existing = osp.dirname(existing)
    if not osp.isdir(existing):
        raise ValueError(f'{what} {path}: {existing} is a file, not a directory')
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f'{what} {path}: directory {existing} is not writable')


def read_json(path: str, what: str = 'JSON file'):
    """``json.load`` of ``path`` with errors that name the file: missing, empty, not JSON."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    if osp.getsize(path) == 0:
        raise ValueError(f'{what} {path} is empty (0 bytes)')
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f'{what} {path} is not valid JSON ({error})') from None


def same_file(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` name one file (links and relative paths resolved)."""
    if osp.exists(a) and osp.exists(b):
        return osp.samefile(a, b)
    return osp.realpath(a) == osp.realpath(b)


def check_not_input(output: str, inputs: Iterable[Optional[str]], what: str = 'output file'):
    """Raise ValueError if ``output`` is one of the run's ``inputs``: a tool never writes over
    what it reads."""
    for given in inputs:
        if given is not None and same_file(output, given):
            raise ValueError(f'{what} {output} is also an input of this run ({given}): it would '
                             'be overwritten; write it elsewhere')
