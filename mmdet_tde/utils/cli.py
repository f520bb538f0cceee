"""What the command-line tools in ``tools/`` share; the library itself does not use it."""
import argparse
import datetime
import os
from typing import Callable, Optional

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.logging import print_log

from mmdet_tde.models.layers.options import check_option


def setup_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Run a distributed job on CPU processes with gloo when no GPU is present.

    mmengine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` and wraps the model with
    ``device_ids=[LOCAL_RANK]``; both fail on a CPU-only machine. The process group is therefore
    created here (mmengine skips its own when one exists) and the DDP wrapper gets no device ids.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise ValueError(f"launcher must be 'none' or 'pytorch' on a machine without GPU, "
                         f'got {launcher!r}')
    if not dist.is_initialized():
        timeout = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('timeout')
        kwargs = {} if timeout is None else dict(timeout=datetime.timedelta(seconds=timeout))
        dist.init_process_group(backend='gloo', **kwargs)
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    print_log(f'no GPU: running rank {dist.get_rank()} of {dist.get_world_size()} on the CPU '
              'with the gloo backend', logger='current')


def run_tool(main: Callable[[], None]) -> None:
    """Run a tool's ``main``, then close the process group it started, even when it failed.

    A gloo process group left to the interpreter's teardown can abort a process that finished
    its work (SIGABRT, "terminate called without an active exception": about one 2-process job
    in four here): gloo's threads still hold completed work whose tensors need the interpreter
    that is going away. Closed while Python is alive, the job exits with its real status.
    """
    try:
        main()
    finally:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


def load_tool_config(config: str, launcher: str, cfg_options: Optional[dict] = None,
                     work_dir: Optional[str] = None) -> Config:
    """Load a config as mmdet's tools do: ``--cfg-options`` merged, work dir CLI > file > name."""
    if not os.path.isfile(config):
        raise FileNotFoundError(f'config file not found: {config}')
    cfg = Config.fromfile(config)
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = os.path.join('./work_dirs', os.path.splitext(os.path.basename(config))[0])
    return cfg


def alpha_arg(text: str) -> float:
    """argparse ``type=`` for alpha: a bad value is a usage error (exit 2), not a traceback."""
    try:
        return check_option('alpha', float(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
