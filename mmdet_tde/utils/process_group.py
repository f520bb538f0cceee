"""The collectives LVIS evaluation shared across processes needs, on torch.distributed.

Shared evaluation splits LVIS's categories over the processes (a category's AP depends on its
detections alone), so each process needs the detections of its categories from every other
one: an all-to-all of Python objects, which torch.distributed offers only for tensors. Objects
travel pickled in byte tensors over a gloo group (CPU memory, whatever backend the job uses).
:class:`SingleProcess` is the same interface for one process, so evaluation has one code path.
:func:`run_in_processes` starts such a group of local processes (``tools/eval_lvis.py --nproc``,
the tests, the speed benchmark). torch is imported where a group needs it: one process
evaluates without it.
"""
import multiprocessing
import os
import pickle
import queue
import tempfile
from typing import Any, List, Optional

import numpy as np


class SingleProcess:
    """Rank 0 of 1: every collective returns this process's own data."""

    rank = 0
    world_size = 1

    def all_gather(self, obj: Any) -> List[Any]:
        return [obj]

    def all_to_all(self, parts: List[Any]) -> List[Any]:
        return list(parts)

    def gather(self, obj: Any) -> Optional[List[Any]]:
        return [obj]


class TorchProcessGroup:
    """The processes of the current torch.distributed job, talking over gloo."""

    _gloo_groups = {}

    def __init__(self):
        import torch.distributed as dist
        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError('TorchProcessGroup needs an initialised torch.distributed job')
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        self.group = self._gloo_group()

    @classmethod
    def _gloo_group(cls):
        """The default group when it is gloo; else one gloo group, made once per job.

        Every process must create it at the same point, which holds because every process
        evaluates.
        """
        import torch.distributed as dist
        if dist.get_backend() == 'gloo':
            return None
        default = dist.distributed_c10d._get_default_group()
        if default not in cls._gloo_groups:
            cls._gloo_groups[default] = dist.new_group(backend='gloo')
        return cls._gloo_groups[default]

    def all_gather(self, obj: Any) -> List[Any]:
        return self.all_to_all([obj] * self.world_size)

    def all_to_all(self, parts: List[Any]) -> List[Any]:
        """Send ``parts[i]`` to process i; return what each process sent here, by rank."""
        if len(parts) != self.world_size:
            raise ValueError(f'all_to_all needs one part per process ({self.world_size}), '
                             f'got {len(parts)}')
        import torch
        import torch.distributed as dist
        payloads = [_to_bytes(part) for part in parts]
        sizes = [torch.tensor([p.numel()], dtype=torch.int64) for p in payloads]
        recv_sizes = [torch.zeros(1, dtype=torch.int64) for _ in range(self.world_size)]
        dist.all_to_all(recv_sizes, sizes, group=self.group)
        recv_sizes = [int(n) for n in recv_sizes]
        received = torch.empty(sum(recv_sizes), dtype=torch.uint8)
        dist.all_to_all_single(received, torch.cat(payloads), output_split_sizes=recv_sizes,
                               input_split_sizes=[p.numel() for p in payloads],
                               group=self.group)
        return [_from_bytes(t) for t in received.split(recv_sizes)]

    def gather(self, obj: Any) -> Optional[List[Any]]:
        """Every process's ``obj`` on rank 0 (None elsewhere)."""
        parts = [None] * self.world_size
        parts[0] = obj
        received = self.all_to_all(parts)
        return received if self.rank == 0 else None


def least_loaded_owners(costs, world_size: int) -> np.ndarray:
    """The process for each item (by index), the same in every process given the same costs.

    The costliest items go first, each to the least loaded process so far (ties: the lower
    index, the lower rank), so that no process gets much more than its share of the work.
    """
    costs = np.asarray(costs)
    owner = np.zeros(len(costs), dtype=np.int64)
    load = np.zeros(world_size)
    for idx in np.argsort(-costs, kind='stable'):
        owner[idx] = np.argmin(load)
        load[owner[idx]] += costs[idx]
    return owner


def _to_bytes(obj: Any):
    import torch
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return torch.from_numpy(np.frombuffer(data, dtype=np.uint8).copy())


def _from_bytes(tensor) -> Any:
    # Only tensors this job's own processes pickled above are ever unpickled here.
    return pickle.loads(tensor.numpy().tobytes())


def run_in_processes(fn, nproc: int, *args, start_method: str = 'spawn') -> list:
    """``fn(group, *args)`` in ``nproc`` fresh local processes: ``(exception, value)`` by rank.

    With more than one process they form a gloo group (a file store in a temporary folder, so
    no port is needed) and ``group`` is its :class:`TorchProcessGroup`; one process gets
    :class:`SingleProcess`. An exception in a process comes back as its ``exception`` (value
    None); a process that dies without reporting raises RuntimeError here. ``start_method``
    'fork' lets the processes inherit ``args`` instead of unpickling them, but is unsafe from a
    process that has started threads.
    """
    ctx = multiprocessing.get_context(start_method)
    outbox = ctx.Queue()
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, 'store')
        procs = [ctx.Process(target=_run_as_rank, args=(rank, nproc, store, fn, args, outbox))
                 for rank in range(nproc)]
        for proc in procs:
            proc.start()
        replies = {}
        while len(replies) < nproc:
            try:
                rank, error, value = outbox.get(timeout=1)
            except queue.Empty:
                if not any(proc.is_alive() for proc in procs) and outbox.empty():
                    raise RuntimeError('a process died without a result (exit codes '
                                       f'{[proc.exitcode for proc in procs]})') from None
                continue
            replies[rank] = (error, value)
        for proc in procs:
            proc.join()
    return [replies[rank] for rank in range(nproc)]


def _run_as_rank(rank, nproc, store, fn, args, outbox):
    import torch.distributed as dist
    if nproc > 1:
        dist.init_process_group('gloo', init_method=f'file://{store}', rank=rank,
                                world_size=nproc)
    try:
        outbox.put((rank, None, fn(TorchProcessGroup() if nproc > 1 else SingleProcess(),
                                   *args)))
    except Exception as e:  # handed to the caller, which decides what it means
        outbox.put((rank, e, None))
    finally:
        if nproc > 1:
            dist.destroy_process_group()
