"""What the command-line tools in ``tools/`` share; the library itself does not use it."""
import argparse
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

from mmdet_tde.datasets.class_counts import COUNT_SOURCES
from mmdet_tde.models.layers.options import check_number, check_option

from .checkpoint import CheckpointError
from .lvis_annotation_check import check_lvis_annotation_versions
from .logit_adjustment_config import set_logit_adjustment, train_class_counts_cfg


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


def alpha_arg(text: str) -> float:
    """argparse ``type=`` for alpha: a bad value is a usage error (exit 2), not a traceback."""
    try:
        return check_option('alpha', float(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def tau_arg(text: str) -> float:
    """argparse ``type=`` for the logit-adjustment tau: finite and >= 0, else a usage error."""
    try:
        return check_number('tau', float(text), 0)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_logit_adjustment_args(parser: argparse.ArgumentParser, tau_flag: str, nargs=None,
                              tau_help: str = '') -> None:
    """The post-hoc logit adjustment options that ``tools/test.py`` and ``sweep_alpha.py``
    share; ``tau_flag`` (one tau, or several with ``nargs``) switches it on."""
    group = parser.add_argument_group('post-hoc logit adjustment (docs/method.md)')
    group.add_argument(tau_flag, type=tau_arg, nargs=nargs, metavar='TAU', help=tau_help)
    group.add_argument('--logit-adjust-form', choices=('exempted', 'plain'),
                       help='exempted (default): the background keeps its probability and the '
                       'classes share the rest; plain: softmax over the adjusted class logits '
                       'and the background logit')
    group.add_argument('--class-counts-file',
                       help="LVIS-format file to count the training instances in (default: the "
                       "box head's logit_adjustment.class_counts, else train_dataloader's "
                       'ann_file)')
    group.add_argument('--class-counts-source', choices=COUNT_SOURCES,
                       help="instance_count (default): each category's LVIS instance_count; "
                       "annotations: count the file's annotations")


def check_logit_adjustment_args(parser: argparse.ArgumentParser, args, tau_flag: str) -> None:
    """A usage error for the form and count options given without the flag that uses them."""
    tau = getattr(args, tau_flag.lstrip('-').replace('-', '_'))
    given = [flag for flag, value in (('--logit-adjust-form', args.logit_adjust_form),
                                      ('--class-counts-file', args.class_counts_file),
                                      ('--class-counts-source', args.class_counts_source))
             if value is not None]
    if tau is None and given:
        parser.error(f'{", ".join(given)} apply only with {tau_flag}')


def apply_logit_adjustment_args(cfg: Config, args, tau: float) -> dict:
    """:func:`set_logit_adjustment` as the options of :func:`add_logit_adjustment_args` say."""
    counts = None
    if args.class_counts_file is not None or args.class_counts_source is not None:
        counts = train_class_counts_cfg(cfg, args.class_counts_source or 'instance_count',
                                        args.class_counts_file)
    head = set_logit_adjustment(cfg, tau, background_exempted=args.logit_adjust_form != 'plain',
                                class_counts=counts)
    settings = head['logit_adjustment']
    counts = settings['class_counts']
    print_log(f"post-hoc logit adjustment in {head['type']} (tau {tau:g}, background "
              f"{'exempted' if settings['background_exempted'] else 'not exempted'}), "
              f'{len(counts)} class counts from {min(counts)} to {max(counts)}', logger='current')
    return head
