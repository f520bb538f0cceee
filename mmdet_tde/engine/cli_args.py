"""The command-line options of the test-time settings (TDE's alpha, logit adjustment's tau) that
``tools/test.py`` and ``tools/sweep_alpha.py`` share."""
import argparse

from mmengine.config import Config
from mmengine.logging import print_log

from mmdet_tde.fileio import COUNT_SOURCES
from mmdet_tde.models.layers.options import check_number, check_option

from .logit_adjustment_config import set_logit_adjustment, train_class_counts_cfg


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
