"""Post-hoc logit adjustment in an mmdet config: test a softmax checkpoint without retraining."""
import os.path as osp
from typing import Optional

from mmengine.config import Config

from mmdet_tde.fileio import load_class_counts
from mmdet_tde.models.layers.options import check_number, check_option
from mmdet_tde.models.roi_heads.bbox_heads import LOGIT_ADJUSTED_HEAD_OF

from .tde_config import has_tde_heads, set_tde_inference

LOGIT_ADJUSTED_HEAD_TYPES = tuple(LOGIT_ADJUSTED_HEAD_OF.values())


def _train_dataset(cfg: Config) -> dict:
    """The training dataset's config, inside mmdet's wrappers (``ClassBalancedDataset``, ...)."""
    dataset = cfg.get('train_dataloader', {}).get('dataset', {})
    while 'ann_file' not in dataset and isinstance(dataset.get('dataset'), dict):
        dataset = dataset['dataset']
    return dataset


def train_classes(cfg: Config) -> Optional[list]:
    """The model's class names, the training set's ``metainfo.classes``; None if not set."""
    classes = (_train_dataset(cfg).get('metainfo') or {}).get('classes')
    return None if classes is None else list(classes)


def train_class_counts_cfg(cfg: Config, source: str = 'instance_count',
                           ann_file: Optional[str] = None) -> dict:
    """The arguments of :func:`load_class_counts` for the model of ``cfg``: ``ann_file``
    defaults to the training set's (``data_root`` joined as mmengine's datasets do), ``classes``
    are :func:`train_classes`."""
    if ann_file is None:
        dataset = _train_dataset(cfg)
        ann_file = dataset.get('ann_file')
        if not ann_file:
            raise ValueError('the config has no train_dataloader.dataset.ann_file to count the '
                             'classes in: give the training annotation file (tools: '
                             '--class-counts-file)')
        if dataset.get('data_root') and not osp.isabs(ann_file):
            ann_file = osp.join(dataset['data_root'], ann_file)
    return dict(ann_file=ann_file, source=source, classes=train_classes(cfg))


def set_logit_adjustment(cfg: Config, tau: float, background_exempted: bool = True,
                         class_counts=None) -> dict:
    """Make the box head that turns ``cfg.model``'s scores into detections adjust them.

    That head is ``model.roi_head.bbox_head`` (``StandardRoIHead``) or the last of the list
    (``CascadeRoIHead``, HTC: it post-processes the average of all stages' scores). Its type
    becomes its logit-adjusted twin (:data:`LOGIT_ADJUSTED_HEAD_OF`), which loads the same
    checkpoints. TDE heads, all stages', infer without TDE: logit adjustment takes the place of
    TDE and adjusts the de-confounded logits.

    ``class_counts``: a list in label order, or the arguments of :func:`load_class_counts`
    (``classes`` defaulting to the training set's); None keeps the head's configured counts,
    else takes the training set's ``instance_count``. Counts in a file are read here, once,
    checked, and written into the config as a list, so that the work dir's config dump records
    them.

    Returns:
        the head's config.
    """
    tau = check_number('tau', tau, 0)
    check_option('background_exempted', background_exempted)
    heads = (cfg.model.get('roi_head') or {}).get('bbox_head')
    if heads is None:
        raise ValueError('the model has no roi_head.bbox_head: logit adjustment applies to the '
                         'box head of a two-stage detector')
    head = heads[-1] if isinstance(heads, (list, tuple)) else heads
    head_type = LOGIT_ADJUSTED_HEAD_OF.get(head['type'], head['type'])
    if head_type not in LOGIT_ADJUSTED_HEAD_TYPES:
        raise ValueError(f"no logit-adjusted box head replaces {head['type']!r}; supported: "
                         f'{sorted(LOGIT_ADJUSTED_HEAD_OF)} and their logit-adjusted types')
    if class_counts is None:
        class_counts = (head.get('logit_adjustment') or {}).get('class_counts')
    if class_counts is None:
        class_counts = train_class_counts_cfg(cfg)
    if isinstance(class_counts, dict):
        class_counts = load_class_counts(**dict(dict(classes=train_classes(cfg)), **class_counts))
    if has_tde_heads(cfg):
        set_tde_inference(cfg, use_tde=False)
    head['type'] = head_type
    head['logit_adjustment'] = dict(tau=tau, background_exempted=background_exempted,
                                    class_counts=list(class_counts))
    return head
