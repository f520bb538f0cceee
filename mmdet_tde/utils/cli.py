"""What the command-line tools in ``tools/`` share (their test-time options are in
``mmdet_tde.engine.cli_args``); the library itself does not use it."""
import ctypes
import datetime
import os
import signal
import sys
from typing import Callable, Optional

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.logging import print_log

from .checkpoint import CheckpointError
from .lvis_annotation_check import check_lvis_annotation_versions


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


# Errors that report a bad input (file, config, checkpoint, option) and say which: a tool prints
# their message, not a traceback. Others (bugs) keep their traceback.
INPUT_ERRORS = (ValueError, FileNotFoundError, CheckpointError)
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def end_with_launcher() -> None:
    """Under ``torch.distributed.run``, have Linux send this rank SIGTERM when the launcher dies.

    A killed launcher (SIGKILL cannot be forwarded) would otherwise leave its ranks running,
    orphaned, to finish and write their outputs. Nothing elsewhere (no launcher, not Linux).
    """
    if 'TORCHELASTIC_RUN_ID' not in os.environ or not sys.platform.startswith('linux'):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return
    if os.getppid() == 1:  # the launcher died before the call
        os.kill(os.getpid(), signal.SIGTERM)


def run_tool(main: Callable[[], None]) -> None:
    """Run a tool's ``main``, then close the process group it started, even when it failed.

    A gloo process group left to the interpreter's teardown can abort a process that finished
    its work (SIGABRT, "terminate called without an active exception": about one 2-process job
    in four here): gloo's threads still hold completed work whose tensors need the interpreter
    that is going away. Closed while Python is alive, the job exits with its real status.
    An :data:`INPUT_ERRORS` error exits with status 1 and its type and message.
    """
    end_with_launcher()
    try:
        main()
    except INPUT_ERRORS as error:
        sys.exit(f'error: {type(error).__name__}: {error}')
    finally:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


def load_tool_config(config: str, launcher: str, cfg_options: Optional[dict] = None,
                     work_dir: Optional[str] = None) -> Config:
    """Load a config as mmdet's tools do: ``--cfg-options`` merged, work dir CLI > file > name;
    an LVIS annotation file of the wrong version for its dataset type is refused here."""
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
    check_lvis_annotation_versions(cfg)
    return cfg
