"""Evaluate many values of a test-time setting from one pass of a model over the test set: TDE's
alpha, or the tau of post-hoc logit adjustment.

alpha only enters the classification scores (Eq. 8). With class-agnostic box regression the cascade
refinement does not depend on the class scores either, so the backbone, the RPN, the box stages,
their RoI features and the classifiers' alpha-free terms (logits and counterfactual logits) are
computed once per image; for each alpha only Eq. (8)-(9) are recombined and mmdet's own box
post-processing picks that alpha's detections. A detection's mask depends only on its box and label,
and every alpha draws its boxes from the same candidates, so the mask branch runs once per distinct
(box, label) pair: an alpha pays only for the detections the alphas before it did not have.

The tau of logit adjustment enters only the post-processing of the box head that gives the
detections (the last stage's, on the stages' averaged scores): no stage's refinement depends on it,
so the same one pass serves any softmax box head, class-specific regression included.
"""
import copy
import json
import os.path as osp
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.dist import all_reduce, get_world_size, is_main_process
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmengine.structures import InstanceData
from mmengine.utils import ProgressBar

from mmdet.models.roi_heads import HybridTaskCascadeRoIHead

from mmdet_tde.evaluation.lvis_report import category_ap_change, largest_moves, save_ap_change
from mmdet_tde.models import CausalNormPredictor, LogitAdjustedBBoxHeadMixin
from mmdet_tde.models.layers.options import check_number, check_option


@dataclass(frozen=True)
class SweptSetting:
    """What a sweep varies, as its outputs name it."""
    name: str  # per-value report dirs '{name}_{value}', JSON keys '{name}s', log lines
    off: str  # what the value 0 means
    stem: str  # the sweep's files in the work dir: '{stem}.json', '{stem}_ap_change.csv', ...


TDE_ALPHA = SweptSetting('alpha', 'TDE off', 'alpha_sweep')
LOGIT_ADJUSTMENT_TAU = SweptSetting('tau', 'no logit adjustment', 'logit_adjust_sweep')


def _bbox_heads(roi_head) -> list:
    heads = roi_head.bbox_head
    return list(heads) if isinstance(heads, torch.nn.ModuleList) else [heads]


def check_sweepable(model) -> None:
    """Every box head must be a TDE head with class-agnostic regression."""
    heads = _bbox_heads(model.roi_head)
    for i, head in enumerate(heads):
        if not isinstance(head.fc_cls, CausalNormPredictor):
            raise ValueError(f'box head {i} ({type(head).__name__}) has no CausalNormPredictor: '
                             'the alpha sweep needs TDE box heads in every stage')
        problem = head.fc_cls.head_direction_problem()
        if problem is not None:
            raise ValueError(f'box head {i}: {problem}: TDE is undefined')
        if len(heads) > 1 and not head.reg_class_agnostic:
            raise ValueError(f'box head {i} has class-specific regression: the cascade refinement '
                             'would depend on alpha; use reg_class_agnostic=True')


def _semantic_kwargs(roi_head, x):
    """The extra arguments HTC's predict_bbox and predict_mask take, as its predict passes them."""
    if not isinstance(roi_head, HybridTaskCascadeRoIHead):
        return {}, {}
    semantic_feat = roi_head.semantic_head(x)[1] if roi_head.with_semantic else None
    return dict(semantic_feat=semantic_feat), dict(semantic_heat=semantic_feat)


@contextmanager
def capture_box_stage(roi_head):
    """Record the classifier inputs of every stage and the last stage's post-processing inputs."""
    heads = _bbox_heads(roi_head)
    record = dict(features=[None] * len(heads))
    hooks = [
        head.fc_cls.register_forward_hook(
            lambda module, args, out, i=i: record['features'].__setitem__(i, args[0]))
        for i, head in enumerate(heads)
    ]
    last = heads[-1]
    original = last.predict_by_feat

    def predict_by_feat(**kwargs):
        record['post_process'] = kwargs
        return original(**kwargs)

    last.predict_by_feat = predict_by_feat
    try:
        yield record
    finally:
        del last.predict_by_feat
        for hook in hooks:
            hook.remove()


class MaskMemo:
    """The masks of the (box, label) detections one batch has seen so far, per image.

    :meth:`add_masks` gives each detection its mask, and its box in original-image coordinates,
    exactly as mmdet's ``predict_mask(..., rescale=True)`` does, but runs the mask branch only on
    the pairs not seen before: across alphas most detections recur.
    """

    def __init__(self, roi_head, x, batch_img_metas: List[dict], **predict_mask_kwargs):
        self.roi_head = roi_head
        self.x = x
        self.metas = batch_img_metas
        # HTC's predict_mask also takes its semantic feature (semantic_heat, None without it)
        self.predict_mask_kwargs = predict_mask_kwargs
        # Per image, M pairs seen so far: (M, 5) network-input box and label, (M, 4) box in the
        # original image, (M, H, W) mask.
        self.keys: List[Optional[torch.Tensor]] = [None] * len(batch_img_metas)
        self.bboxes: List[Optional[torch.Tensor]] = [None] * len(batch_img_metas)
        self.masks: List[Optional[torch.Tensor]] = [None] * len(batch_img_metas)

    @staticmethod
    def _known_rows(keys: torch.Tensor, seen: Optional[torch.Tensor]) -> torch.Tensor:
        """Per detection, its row among the pairs seen so far, or -1 for a new pair."""
        if seen is None:
            return torch.full((len(keys), ), -1, dtype=torch.long, device=keys.device)
        match = (keys[:, None] == seen[None]).all(dim=-1)
        return torch.where(match.any(dim=1), match.int().argmax(dim=1), -1)

    @staticmethod
    def _append(seen: Optional[torch.Tensor], new: torch.Tensor) -> torch.Tensor:
        return new if seen is None else torch.cat([seen, new])

    def add_masks(self, results_list: List[InstanceData]) -> List[InstanceData]:
        keys = [torch.cat([r.bboxes, r.labels[:, None].to(r.bboxes.dtype)], dim=1)
                for r in results_list]
        rows = [self._known_rows(k, seen) for k, seen in zip(keys, self.keys)]
        # predict_mask rescales the boxes in place: it gets copies.
        unseen = [InstanceData(bboxes=r.bboxes[row < 0].clone(), labels=r.labels[row < 0])
                  for r, row in zip(results_list, rows)]
        unseen = self.roi_head.predict_mask(x=self.x, batch_img_metas=self.metas,
                                            results_list=unseen, rescale=True,
                                            **self.predict_mask_kwargs)
        for j, (results, k, row, computed) in enumerate(zip(results_list, keys, rows, unseen)):
            new = row < 0
            num_seen = 0 if self.keys[j] is None else len(self.keys[j])
            row[new] = num_seen + torch.arange(int(new.sum()), device=row.device)
            self.keys[j] = self._append(self.keys[j], k[new])
            self.bboxes[j] = self._append(self.bboxes[j], computed.bboxes)
            self.masks[j] = self._append(self.masks[j], computed.masks)
            results.bboxes = self.bboxes[j][row]
            results.masks = self.masks[j][row]
        return results_list


class OnePassSweep:
    """One pass over a dataloader, one evaluator per value of :attr:`setting`.

    The backbone, the RPN and the box stages run once per batch; per value only the last box
    stage's post-processing (:meth:`_predict_at`), the masks of detections not seen yet and the
    evaluation. Subclasses say which models they accept and how a value changes the scores.
    """
    setting: SweptSetting

    def __init__(self, model, evaluator_cfgs: Sequence, dataset_meta: dict,
                 values: Sequence[float], build_evaluator):
        name = self.setting.name
        if not values:
            raise ValueError(f'{name}s must not be empty')
        self.values = [self._check_value(v) for v in values]
        check_distinct(f'{name}s', self.values)
        self._check_model(model)
        self.model = model
        if len(evaluator_cfgs) != len(self.values):
            raise ValueError(f'one evaluator config per {name} is needed')
        self.evaluators: List[Evaluator] = []
        for cfg in evaluator_cfgs:
            evaluator = build_evaluator(cfg)
            evaluator.dataset_meta = dataset_meta
            self.evaluators.append(evaluator)
        self.seconds = {'shared': 0.0, f'per_{name}': [0.0] * len(self.values),
                        'evaluate': [0.0] * len(self.values)}

    @torch.no_grad()
    def process(self, data_batch: dict) -> None:
        model = self.model
        start = time.perf_counter()
        data = model.data_preprocessor(data_batch, False)
        inputs, samples = data['inputs'], data['data_samples']
        metas = [s.metainfo for s in samples]
        roi_head = model.roi_head
        x = model.extract_feat(inputs)
        rpn_results = model.rpn_head.predict(x, samples, rescale=False)
        # mmdet rescales boxes only after the masks are pasted when there is a mask branch.
        box_rescale = not roi_head.with_mask
        box_kwargs, mask_kwargs = _semantic_kwargs(roi_head, x)
        with capture_box_stage(roi_head) as record:
            roi_head.predict_bbox(x, metas, rpn_results, rcnn_test_cfg=roi_head.test_cfg,
                                  **box_kwargs,
                                  rescale=box_rescale)
        heads = _bbox_heads(roi_head)
        terms = self._value_free_terms(heads, record['features'])
        post = record['post_process']
        masks = MaskMemo(roi_head, x, metas, **mask_kwargs) if roi_head.with_mask else None
        self.seconds['shared'] += time.perf_counter() - start

        for i, value in enumerate(self.values):
            start = time.perf_counter()
            results = self._predict_at(value, heads, terms, post)
            if masks is not None:
                results = masks.add_masks(results)
            predictions = model.add_pred_to_datasample(copy.deepcopy(samples), results)
            self.evaluators[i].process(data_samples=predictions, data_batch=data_batch)
            self.seconds[f'per_{self.setting.name}'][i] += time.perf_counter() - start

    def evaluate(self, num_samples: int) -> List[Dict[str, float]]:
        metrics = []
        for i, evaluator in enumerate(self.evaluators):
            start = time.perf_counter()
            metrics.append(evaluator.evaluate(num_samples))
            self.seconds['evaluate'][i] = time.perf_counter() - start
        return metrics


class AlphaSweep(OnePassSweep):
    """TDE's alpha: the classifiers' alpha-free terms once per batch, Eq. (8)-(9) per alpha."""
    setting = TDE_ALPHA

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        heads = _bbox_heads(self.model.roi_head)
        self.cos_sum = torch.zeros(len(heads), dtype=torch.float64)
        self.cos_count = 0

    @staticmethod
    def _check_value(alpha) -> float:
        return check_option('alpha', alpha)

    @staticmethod
    def _check_model(model) -> None:
        check_sweepable(model)

    def _value_free_terms(self, heads, features) -> list:
        self._accumulate_cosine(heads, features)
        return [head.fc_cls.inference_terms(feat) for head, feat in zip(heads, features)]

    def _predict_at(self, alpha, heads, stage_terms, post) -> List[InstanceData]:
        per_image = [len(r) for r in post['rois']]
        stage_scores = [
            head.fc_cls.scores_from_terms(*terms, alpha).split(per_image, 0)
            for head, terms in zip(heads, stage_terms)
        ]
        # The same arithmetic as mmdet's cascade score averaging.
        cls_scores = [
            sum([scores[j] for scores in stage_scores]) / float(len(stage_scores))
            for j in range(len(per_image))
        ]
        return heads[-1].predict_by_feat(**dict(post, cls_scores=cls_scores))

    def _accumulate_cosine(self, heads, features) -> None:
        # The sums stay on the CPU, whatever device the model runs on (mmengine's all_reduce
        # moves them to the communication device).
        for s, (head, feat) in enumerate(zip(heads, features)):
            cosine = head.fc_cls.head_direction_cosine(feat).mean(dim=1).double().sum()
            self.cos_sum[s] += cosine.cpu()
        self.cos_count += len(features[0])

    def mean_cosine(self) -> List[float]:
        """Per stage, mean ``cos(x, d_hat)`` over the test RoIs of all ranks and over the heads."""
        totals = torch.cat([self.cos_sum, self.cos_sum.new_tensor([self.cos_count])])
        all_reduce(totals)
        return (totals[:-1] / totals[-1].clamp_min(1)).tolist()


class LogitAdjustmentSweep(OnePassSweep):
    """The tau of post-hoc logit adjustment, in the last box head (a logit-adjusted one, which
    brings the form and the class counts): its scores adjusted per tau."""
    setting = LOGIT_ADJUSTMENT_TAU

    @staticmethod
    def _check_value(tau) -> float:
        return check_number('tau', tau, 0)

    @staticmethod
    def _check_model(model) -> None:
        last = _bbox_heads(model.roi_head)[-1]
        if not isinstance(last, LogitAdjustedBBoxHeadMixin):
            raise ValueError(f'the last box head ({type(last).__name__}) is not logit-adjusted: '
                             'build the model from a config given to set_logit_adjustment')

    def _value_free_terms(self, heads, features) -> None:
        return None

    def _predict_at(self, tau, heads, terms, post) -> List[InstanceData]:
        return heads[-1].predict_adjusted(tau, **post)


def value_label(value: float) -> str:
    """``value`` as the sweep's folders and tables name it: ``%g`` (``1.5``, ``3``) where that
    is exact, else the shortest repr that gives the float back: distinct values never share a
    folder (``3.0000001`` and ``3.0000004`` both print ``3`` with ``%g``)."""
    value = float(value) + 0.0  # -0.0 -> 0.0
    short = f'{value:g}'
    return short if float(short) == value else repr(value)


def check_distinct(what: str, values: Sequence[float]) -> None:
    """Refuse a value given twice (``what``: how the values are named, e.g. ``'--alphas'``): it
    would be evaluated twice into the same folder."""
    labels = [value_label(v) for v in values]
    repeated = sorted({label for label in labels if labels.count(label) > 1}, key=float)
    if repeated:
        raise ValueError(f'{what} must be distinct, got {", ".join(repeated)} more than once')


def _outfile_prefix(work_dir: str, value: float, setting: SweptSetting = TDE_ALPHA) -> str:
    return f'{work_dir}/{setting.name}_{value_label(value)}/lvis'


def _evaluator_cfg_for(cfg, value: float, work_dir: str, setting: SweptSetting = TDE_ALPHA):
    """The test evaluator config, with each LVIS metric's files under ``work_dir/alpha_A/``
    (``tau_T/`` for logit adjustment)."""
    cfg = copy.deepcopy(cfg)
    for metric in cfg if isinstance(cfg, list) else [cfg]:
        if 'outfile_prefix' in metric or 'LVIS' in str(metric.get('type')):
            metric['outfile_prefix'] = _outfile_prefix(work_dir, value, setting)
    return cfg


def read_sweep_reports(work_dir: str, values: Sequence[float],
                       setting: SweptSetting = TDE_ALPHA) -> Optional[tuple]:
    """``(iou_type, {value: LVIS report})`` of the sweep's per-value reports: masks' where every
    value has one, else boxes'; None where some value has neither (a metric other than
    FastLVISMetric, or ``report=False``)."""
    for iou_type in ('segm', 'bbox'):
        paths = {v: f'{_outfile_prefix(work_dir, v, setting)}.{iou_type}_report.json'
                 for v in sorted(set(values))}
        if all(map(osp.isfile, paths.values())):
            reports = {}
            for value, path in paths.items():
                with open(path) as f:
                    reports[value] = json.load(f)
            return iou_type, reports
    return None


def sweep_ap_change(work_dir: str, values: Sequence[float], num: int = 10,
                    setting: SweptSetting = TDE_ALPHA) -> Optional[dict]:
    """Per-category AP change from the value 0 (TDE off) to the best value, from the sweep's
    LVIS reports.

    The best value has the highest mask AP when masks were evaluated, else box AP (ties: the
    smaller value); the reference is 0, else the smallest value swept. Writes
    ``work_dir/alpha_sweep_ap_change.{csv,png}`` (``setting.stem``; :func:`category_ap_change`,
    :func:`save_ap_change`), logs the ``num`` rare categories that gained most and frequent ones
    that lost most, and returns what it compared. Without the reports (a metric other than
    FastLVISMetric, or ``report=False``) it logs why and returns None.
    """
    logger = MMLogger.get_current_instance()
    name = setting.name
    values = sorted(set(values))
    found = read_sweep_reports(work_dir, values, setting)
    if found is None:
        logger.warning('no per-category AP change: the sweep wrote no LVIS report at some '
                       f'{name} ({_outfile_prefix(work_dir, values[0], setting)}.bbox_report.json '
                       'and the like; FastLVISMetric writes them unless report=False)')
        return None
    iou_type, reports = found
    reference = 0.0 if 0 in values else values[0]
    best = max(values, key=lambda v: reports[v]['summary']['AP'])  # ties: the smaller
    rows = category_ap_change(reports[reference], reports[best])
    chosen_by = f'{"mask" if iou_type == "segm" else "box"} AP'
    title = f'{iou_type} AP change per category, {name} {reference:g} -> {best:g}'
    files = save_ap_change(rows, osp.join(work_dir, f'{setting.stem}_ap_change'), title)
    moves = largest_moves(rows, num)
    why = setting.off if reference == 0 else f'the smallest {name} swept; 0 ({setting.off}) was not'
    lines = [f'per-category {iou_type} AP change from {name} {reference:g} ({why}) to {name} '
             f'{best:g} (the highest {chosen_by}: {reports[best]["summary"]["AP"]:.4f} against '
             f'{reports[reference]["summary"]["AP"]:.4f}): {", ".join(files.values())}']
    for key, what in (('rare_gains', 'rare categories that gained most'),
                      ('frequent_losses', 'frequent categories that lost most')):
        moved = [f"{r['name']} {r['change']:+.4f} ({r['AP_reference']:.4f} -> {r['AP_best']:.4f})"
                 for r in moves[key]]
        lines.append(f'{what}: ' + (', '.join(moved) if moved else 'none'))
    logger.info('\n'.join(lines))
    return {'iou_type': iou_type, 'chosen_by': chosen_by, f'reference_{name}': reference,
            f'best_{name}': best, 'files': files,
            **{key: [dict(category_id=r['category_id'], name=r['name'], change=r['change'])
                     for r in moved_rows] for key, moved_rows in moves.items()}}


def _run_sweep(runner, sweep_type, values: Sequence[float]):
    """Sweep ``values`` with a Runner whose model and test dataloader are built from a config.

    Under a distributed launcher every rank sweeps its share of the test set and the evaluators
    gather the predictions of all ranks; the timings are rank 0's.
    """
    logger = MMLogger.get_current_instance()
    name = sweep_type.setting.name
    dataloader = runner.test_dataloader
    dataset = dataloader.dataset
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    model.eval()
    evaluator_cfgs = [
        _evaluator_cfg_for(runner.cfg.test_evaluator, v, runner.work_dir, sweep_type.setting)
        for v in values
    ]
    sweep = sweep_type(model, evaluator_cfgs, dataset.metainfo, values, runner.build_evaluator)
    logger.info(f'{name} sweep over {len(dataset)} images for {name}s {sweep.values}')
    progress = ProgressBar(len(dataset)) if is_main_process() else None
    for data_batch in dataloader:
        sweep.process(data_batch)
        if progress is not None:
            for _ in range(len(data_batch['data_samples']) * get_world_size()):
                progress.update()
    metrics = sweep.evaluate(len(dataset))
    seconds = sweep.seconds
    per_value = [p + e for p, e in zip(seconds[f'per_{name}'], seconds['evaluate'])]
    # The first value pays for all its masks, i.e. what a plain test run computes; each further
    # value (in the order given) only for its scores, NMS, new masks and evaluation.
    one_pass = seconds['shared'] + per_value[0]
    extra = per_value[1:]
    return sweep, {
        f'{name}s': sweep.values, 'metrics': metrics,
        'seconds': dict(seconds, one_full_pass=one_pass, **{f'each_extra_{name}': extra}),
        f'extra_{name}_cost_ratio': [e / one_pass for e in extra]}


def run_alpha_sweep(runner, alphas: Sequence[float]) -> dict:
    """Sweep TDE's ``alphas`` (:func:`_run_sweep`); also the mean ``cos(x, d_hat)`` per stage."""
    sweep, result = _run_sweep(runner, AlphaSweep, alphas)
    return dict(result, mean_cos_head_direction=sweep.mean_cosine())


def run_logit_adjustment_sweep(runner, taus: Sequence[float]) -> dict:
    """Sweep the logit-adjustment ``taus`` (:func:`_run_sweep`) with the form and class counts
    of the model's logit-adjusted last box head."""
    sweep, result = _run_sweep(runner, LogitAdjustmentSweep, taus)
    last = _bbox_heads(sweep.model.roi_head)[-1]
    return dict(result, background_exempted=last.adjustment_background_exempted)
