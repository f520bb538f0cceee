"""Checkpoint loading that unpickles data, never code, unless the user opts in for a file.

torch >= 2.6 loads with ``weights_only=True``: only tensors, containers and numbers come back.
mmengine checkpoints also hold a few plain data types (the message hub's ``HistoryBuffer`` with
numpy arrays, numpy scalars in the logged values); those are allowed by name while a checkpoint
is loaded. Anything else would need full unpickling, which can run any code the file carries,
so it is refused unless the user passes ``--unsafe-load`` for a file they trust.
"""
import contextlib
import contextvars
import os.path as osp
import pickle
import re
from typing import Iterator, List, Optional, Tuple

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

UNSAFE_FLAG = '--unsafe-load'
# Numeric numpy dtypes: their classes rebuild the dtype of numpy scalars and arrays. Object
# ('O'), string and void dtypes stay out.
_NUMERIC_DTYPE_CODES = '?bBhHiIlLqQefdgFDG'
# The methods every HistoryBuffer registers as its statistics (HistoryBuffer.statistics).
_HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


# Whether the enclosing checkpoint_loading block was opened with the user's --unsafe-load.
_UNSAFE_BLOCK = contextvars.ContextVar('unsafe_checkpoint_loading', default=False)


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read (missing, empty, truncated, not a checkpoint)."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint holding objects outside the allowed types, refused without the opt-in."""


def _numpy_global(name: str) -> List[Tuple[object, str]]:
    """A ``numpy._core.multiarray`` function under both the numpy 2 and numpy 1 module paths,
    so checkpoints written under either numpy load."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1
        from numpy.core import multiarray
    func = getattr(multiarray, name)
    return [(func, f'numpy._core.multiarray.{name}'), (func, f'numpy.core.multiarray.{name}')]


def _history_buffer_statistic(owner, name: str):
    """Stands in for ``getattr`` while loading, for one use only.

    A pickled ``HistoryBuffer`` holds its statistics methods (``min``, ``mean``, ...), which
    pickle protocol 2 (torch.save's) writes as ``getattr(HistoryBuffer, 'min')``. Any other
    ``getattr`` could reach attributes with side effects, so it is refused.
    """
    if owner is HistoryBuffer and name in _HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'GLOBAL builtins.getattr is allowed only as getattr(HistoryBuffer, one of '
        f'{_HISTORY_BUFFER_STATISTICS}), got getattr({owner!r}, {name!r})')


def allowed_checkpoint_globals() -> list:
    """The globals a checkpoint may name beyond torch's own allowlist, each for a reason:

    - ``HistoryBuffer``: mmengine's message hub keeps the logged values in it (``--resume``);
    - ``builtins.getattr``, only as ``getattr(HistoryBuffer, <statistic>)``: the buffer's
      statistics methods (:func:`_history_buffer_statistic`);
    - ``numpy.dtype`` and the numeric dtype classes: rebuild numpy dtypes (reduce, then build);
    - ``multiarray.scalar``: numpy scalars (e.g. a loss logged as ``np.float64``);
    - ``multiarray._reconstruct`` and ``numpy.ndarray``: numpy arrays (the buffer's history).
    """
    dtype_classes = {type(np.dtype(code)) for code in _NUMERIC_DTYPE_CODES}
    return ([HistoryBuffer, (_history_buffer_statistic, 'builtins.getattr'), np.dtype,
             np.ndarray] + sorted(dtype_classes, key=str) + _numpy_global('scalar') +
            _numpy_global('_reconstruct'))


@contextlib.contextmanager
def trusted_checkpoint_types() -> Iterator[None]:
    """Allow :func:`allowed_checkpoint_globals` in ``weights_only`` loads inside this block."""
    with torch.serialization.safe_globals(allowed_checkpoint_globals()):
        yield


def _offending_types(filename: str, message: str) -> str:
    """Name every global outside the allowlist (zip checkpoints), else the one torch met first."""
    try:
        with trusted_checkpoint_types():
            names = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
        if names:
            return ', '.join(sorted(names))
    except Exception:  # legacy (non-zip) format or unreadable: fall back to torch's message
        pass
    found = (re.search(r'GLOBAL (\S+)', message)
             or re.search(r"but got <class '([^']+)'>", message)
             or re.search(r'(?:but got|unrecognized function) (\S+)', message))
    if found is None:
        return 'an object of a type that is not allowed'
    name = found.group(1).rstrip('.,')
    if name.startswith('numpy.dtypes.') and name not in {
            f'numpy.dtypes.{type(np.dtype(code)).__name__}' for code in _NUMERIC_DTYPE_CODES}:
        name += ' (a numpy array of strings, bytes or Python objects; only numeric ones load)'
    return name


def _refusal(filename: str, message: str, remote: bool = False) -> UnsafeCheckpointError:
    how = f'download it and load the local file with {UNSAFE_FLAG}' if remote else \
        f'rerun with {UNSAFE_FLAG}'
    return UnsafeCheckpointError(
        f'refused to load checkpoint {filename}: it holds {_offending_types(filename, message)}, '
        'which is not among the types allowed in checkpoints (tensors, containers, numbers, '
        "numeric numpy scalars and arrays, mmengine's HistoryBuffer). Unpickling it could run "
        f'code stored in the file. If you trust the file, {how} (full unpickling).')


def load_checkpoint_file(filename: str, map_location=None, unsafe: Optional[bool] = None):
    """``torch.load`` a local checkpoint: allowed types only unless ``unsafe``; errors name it.

    ``unsafe=None``: as the enclosing :func:`checkpoint_loading` block says (a tool's
    ``--unsafe-load``; False outside any block), so that the files a model loads itself during
    a run (the dual-phase teacher) follow the flag the refusal message tells users about.
    """
    if unsafe is None:
        unsafe = _UNSAFE_BLOCK.get()
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint not found: {filename}')
    if osp.getsize(filename) == 0:
        raise CheckpointError(f'checkpoint {filename} is empty (0 bytes)')
    try:
        if unsafe:
            return torch.load(filename, map_location=map_location, weights_only=False)
        with trusted_checkpoint_types():
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if _is_refusal(e):
            raise _refusal(filename, str(e)) from None
        raise _unreadable(filename, e) from e
    except (MemoryError, RecursionError):
        raise
    except Exception as e:
        raise _unreadable(filename, e) from e


def _is_refusal(error: Exception) -> bool:
    """Whether torch's ``weights_only`` unpickler met a global it may not load (rather than bytes
    that are no pickle at all, e.g. "Unsupported operand")."""
    message = str(error)
    refused = r'GLOBAL \S+|unrecognized function|Can only (?:build|create new object)'
    return 'Weights only load failed' in message and re.search(refused, message) is not None


def _unreadable(filename: str, error: Exception) -> CheckpointError:
    return CheckpointError(f'cannot load checkpoint {filename} ({type(error).__name__}: {error}); '
                           'is it complete and a torch checkpoint?')


def _is_remote(filename: str) -> bool:
    return re.match(r'^[\w.+-]+://', filename) is not None


@contextlib.contextmanager
def checkpoint_loading(unsafe: bool = False) -> Iterator[None]:
    """Route mmengine's checkpoint loads (``load_from``, ``--resume``, ``Runner.load_checkpoint``,
    pretrained weights) through :func:`load_checkpoint_file` inside this block.

    Local files are loaded here; remote ones (``torchvision://``, URLs) by mmengine's loader
    with the allowed types, and ``unsafe`` does not apply to them. The maintained mmengine fork
    (onedl-mmengine) loads remote files through ``_safe_torch_load``, which retries a refused
    file with full unpickling after a warning; inside the block that retry is replaced by the
    refusal. mmengine's loaders are put back on exit, so nothing outside the block changes.
    """
    original = CheckpointLoader.__dict__['load_checkpoint']
    fork_loader = getattr(mmengine_checkpoint, '_safe_torch_load', None)

    def load(cls, filename, map_location=None, logger='current'):
        if not _is_remote(filename):
            return load_checkpoint_file(filename, map_location, unsafe=unsafe)
        try:
            with trusted_checkpoint_types():
                return original.__func__(cls, filename, map_location, logger)
        except pickle.UnpicklingError as e:
            if _is_refusal(e):
                raise _refusal(filename, str(e), remote=True) from None
            raise

    def load_without_fallback(file, map_location=None, weights_only=None):
        with trusted_checkpoint_types():
            return torch.load(file, map_location=map_location, weights_only=True)

    CheckpointLoader.load_checkpoint = classmethod(load)
    if fork_loader is not None:
        mmengine_checkpoint._safe_torch_load = load_without_fallback
    token = _UNSAFE_BLOCK.set(unsafe)
    try:
        yield
    finally:
        _UNSAFE_BLOCK.reset(token)
        CheckpointLoader.load_checkpoint = original
        if fork_loader is not None:
            mmengine_checkpoint._safe_torch_load = fork_loader
