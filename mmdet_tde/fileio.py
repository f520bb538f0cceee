"""Output files that are complete or absent: written beside their target, then renamed.

An interrupted run (Ctrl-C, a killed job, a full disk) then leaves the previous file or none,
never a truncated JSON that a later step would read as corrupt. Standard library only, so any
module of mmdet_tde can import it without import cycles.
"""
import contextlib
import json
import os
import os.path as osp
import uuid
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path beside ``path`` that replaces ``path`` when the block succeeds.

    The temporary name keeps ``path``'s extension, for writers that pick the format from it
    (matplotlib). On any exception, KeyboardInterrupt included, it is removed.
    """
    directory, name = osp.split(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    stem, ext = osp.splitext(name)
    tmp = osp.join(directory, f'.{stem}.tmp{os.getpid()}-{uuid.uuid4().hex[:8]}{ext}')
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
    if osp.isdir(path):
        raise ValueError(f'{what} {path} is a directory; give a file name')
    existing = osp.dirname(osp.abspath(path))
    while not osp.exists(existing):
        existing = osp.dirname(existing)
    if not osp.isdir(existing):
        raise ValueError(f'{what} {path}: {existing} is a file, not a directory')
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f'{what} {path}: directory {existing} is not writable')
