"""Time cost of the TDE box heads against mmdet's stock ``Shared2FCBBoxHead``.

Both Cascade Mask R-CNNs come from one config; the TDE model only swaps every stage's box head for
``TDEShared2FCBBoxHead`` (``CausalNormPredictor`` as ``fc_cls``, head direction updated every
training iteration). They share every weight of the same name and shape, see the same synthetic
batch and are timed interleaved (the order swaps every round) so that the load of a shared
machine hits both alike. Reported: medians, interquartile ranges and the TDE/stock ratio of a full
training iteration (``train_step``: forward, loss, backward, SGD step through mmengine's
``OptimWrapper``), of inference (``test_step`` under ``no_grad``), and of the box classifier alone
(also under ``torch.autocast`` with ``--cls-autocast``). On a GPU: the peak memory of both models
too. The set-up's sanity checks are tests (``tests/test_benchmarks/test_head_overhead.py``).

Run from the repository root::

    python benchmarks/head_overhead.py          # a few minutes on 2 CPU cores
    python benchmarks/head_overhead.py --iters 14 --out docs/benchmarks/head_overhead.md
    python benchmarks/head_overhead.py --device cuda --depth 101 --img-size 800
    # the paper's size: 1333x800, 2 images, 512 RoIs each, 300 detections, classifier under AMP
    python benchmarks/head_overhead.py --device cuda --depth 101 --img-size 800 --img-width 1333 \
        --batch-size 2 --test-max-per-img 300 --cls-rois 1024 --cls-autocast fp16 bf16
"""
import argparse
import platform
import shlex
import statistics
import sys
import timeit
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, Dict, List, Optional

import mmcv
import mmdet
import mmengine
import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper
from mmengine.structures import InstanceData
from torch import nn

from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmdet.utils import register_all_modules

from mmdet_tde.fileio import atomic_open, write_json_atomic
from mmdet_tde.models import CausalNormPredictor

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = 'configs/lvis/cascade_baseline_r101.py'
NECK_IN_CHANNELS = {18: [64, 128, 256, 512], 34: [64, 128, 256, 512],
                    50: [256, 512, 1024, 2048], 101: [256, 512, 1024, 2048]}
AUTOCAST_DTYPES = dict(fp16=torch.float16, bf16=torch.bfloat16)


def build_models(config: str, depth: int, num_classes: int, device: str, test_score_thr: float,
                 test_max_per_img: int = 100, seed: int = 0):
    """The stock and TDE models, a ResNet-``depth`` without pretrained weights, with every TDE
    weight of the same name and shape copied from the stock model.

    With random weights the two heads score boxes very differently, so a score threshold would
    send different numbers of boxes to NMS and the mask heads and time that difference instead of
    the heads. The default threshold 0 keeps every candidate in both models and ``max_per_img``
    detections reach the mask heads of both: the work outside the box heads is the same.

    Returns the models and the names of the TDE entries that could not be shared (the causal-norm
    classifiers' head directions).
    """
    cfg = get_config(config) if config.startswith('mmdet::') else Config.fromfile(REPO / config)
    stock = cfg.model
    stock.test_cfg.rcnn.update(score_thr=test_score_thr, max_per_img=test_max_per_img)
    stock.backbone.update(depth=depth, init_cfg=None)
    stock.neck.in_channels = NECK_IN_CHANNELS[depth]
    for head in stock.roi_head.bbox_head:
        head.num_classes = num_classes
    stock.roi_head.mask_head.num_classes = num_classes
    tde = Config(dict(model=stock.to_dict())).model
    for head in tde.roi_head.bbox_head:
        head.type = 'TDEShared2FCBBoxHead'
    models = {}
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel('WARNING')  # init_weights logs every parameter
    for name, model_cfg in (('stock', stock), ('tde', tde)):
        torch.manual_seed(seed)
        models[name] = MODELS.build(model_cfg)
        models[name].init_weights()
    logger.setLevel(level)
    stock_state = models['stock'].state_dict()
    not_shared = []
    with torch.no_grad():
        for key, value in models['tde'].state_dict().items():
            if key in stock_state and stock_state[key].shape == value.shape:
                value.copy_(stock_state[key])
            else:
                not_shared.append(key)
    return {k: m.to(device) for k, m in models.items()}, not_shared


def make_batch(num_images: int, size: int, num_classes: int, num_gts: int, seed: int = 0,
               width: Optional[int] = None) -> dict:
    """Deterministic random ``size`` x ``width`` (height x width; square by default) images with
    random gt boxes, labels and box-shaped masks."""
    h, w = size, width or size
    scale = torch.tensor([w, h], dtype=torch.float32)
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i in range(num_images):
        inputs.append(torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8))
        xy = torch.rand(num_gts, 2, generator=g) * scale * 0.6
        wh = torch.rand(num_gts, 2, generator=g) * scale * 0.3 + scale * 0.08
        boxes = torch.cat([xy, torch.minimum(xy + wh, scale - 1)], dim=1).floor()
        masks = torch.zeros(num_gts, h, w, dtype=torch.uint8)
        for j, (x1, y1, x2, y2) in enumerate(boxes.int().tolist()):
            masks[j, y1:y2, x1:x2] = 1
        sample = DetDataSample(metainfo=dict(img_id=i, img_shape=(h, w),
                                             ori_shape=(h, w), scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(
            bboxes=boxes, labels=torch.randint(0, num_classes, (num_gts, ), generator=g),
            masks=BitmapMasks(masks.numpy(), h, w))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def time_interleaved(fns: Dict[str, Callable[[], object]], rounds: int, warmup: int,
                     device: str = 'cpu', label: str = '') -> Dict[str, List[float]]:
    """Seconds per call of each function, in rounds that take them in turns (A B, B A, ...); the
    first ``warmup`` rounds are dropped.

    Every call is timed by the standard library's ``timeit.Timer`` (garbage collection off), on
    a GPU after waiting for it, as ``torch.utils.benchmark`` does. That Timer is not used itself:
    it measures one function at a time and adds warm-up calls to every measurement, which for a
    training iteration of several seconds would triple the run.
    """
    clock = timeit.default_timer
    if device == 'cuda':
        def clock():
            torch.cuda.synchronize()
            return timeit.default_timer()
    timers = {name: timeit.Timer(fn, timer=clock) for name, fn in fns.items()}
    names = list(fns)
    times = {name: [] for name in names}
    for step in range(warmup + rounds):
        for name in (names if step % 2 == 0 else names[::-1]):
            seconds = timers[name].timeit(number=1)
            if step >= warmup:
                times[name].append(seconds)
        if label:
            print(f'[head_overhead] {label}: round {step + 1}/{warmup + rounds} done', flush=True)
    return times


def compare(times: Dict[str, List[float]], a: str, b: str) -> dict:
    """Median and quartiles (ms) of ``a`` and ``b`` and the ratio of their medians, ``b / a``."""
    def summary(seconds):
        ms = sorted(s * 1e3 for s in seconds)
        q1, _, q3 = statistics.quantiles(ms, n=4, method='inclusive') if len(ms) > 1 else ms * 3
        return dict(median_ms=statistics.median(ms), q1_ms=q1, q3_ms=q3, n=len(ms))

    sa, sb = summary(times[a]), summary(times[b])
    return dict(baseline=a, candidate=b, **{a: sa, b: sb}, ratio=sb['median_ms'] / sa['median_ms'])


def bench_models(models: dict, batch: dict, iters: int, warmup: int, device: str,
                 lr: float = 0.002) -> dict:
    """Training iterations, then inference, of both models on the same batch."""
    wrappers = {name: OptimWrapper(torch.optim.SGD(m.parameters(), lr=lr, momentum=0.9,
                                                   weight_decay=1e-4))
                for name, m in models.items()}

    def train(name):
        models[name].train()
        models[name].train_step(batch, wrappers[name])

    @torch.no_grad()
    def infer(name):
        models[name].eval()
        models[name].test_step(batch)

    train_times = time_interleaved({n: lambda n=n: train(n) for n in models}, iters, warmup, device,
                                   'training iterations')
    # TDE inference needs a head direction: the training iterations above have set it.
    infer_times = time_interleaved({n: lambda n=n: infer(n) for n in models}, iters, warmup, device,
                                   'inference')
    memory = memory_peaks(models, wrappers, train, infer) if device == 'cuda' else None
    return dict(train=compare(train_times, 'stock', 'tde'),
                inference=compare(infer_times, 'stock', 'tde'), memory=memory)


def memory_peaks(models: dict, wrappers: dict, train: Callable[[str], None],
                 infer: Callable[[str], None]) -> dict:
    """GPU memory (MiB) of each model: its own state and the peak of one training iteration and
    one inference (``torch.cuda.max_memory_allocated``), both models being resident.

    ``own_state_mib``: the model's parameters, buffers and SGD momentum; ``*_above_resident_mib``:
    the peak less what was allocated before the call (both models' state), i.e. the memory the
    call needs. One model alone on the GPU peaks at about ``own_state + above_resident``.
    """
    mib = 2**-20
    result = {}
    for name, model in models.items():
        state = [*model.parameters(), *model.buffers()]
        for group in wrappers[name].optimizer.state.values():
            state += [v for v in group.values() if torch.is_tensor(v)]
        entry = dict(own_state_mib=sum(t.numel() * t.element_size() for t in state) * mib)
        for kind, fn in (('train', train), ('inference', infer)):
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            resident = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            fn(name)
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
            entry[f'{kind}_peak_mib'] = peak * mib
            entry[f'{kind}_above_resident_mib'] = (peak - resident) * mib
        result[name] = entry
    return result


def bench_classifier(num_rois: int, in_features: int, num_cols: int, iters: int, warmup: int,
                     device: str, seed: int = 0, autocast: Optional[str] = None) -> dict:
    """The box classifier alone: ``nn.Linear`` vs ``CausalNormPredictor`` (paper defaults).

    ``autocast`` ('fp16' or 'bf16'): every call under ``torch.autocast`` with that dtype, as in
    AMP training: ``nn.Linear`` then runs in it, the causal-norm classifier stays in float32.
    """
    def region():
        if autocast is None:
            return nullcontext()
        return torch.autocast(device, dtype=AUTOCAST_DTYPES[autocast])

    torch.manual_seed(seed)
    linear = nn.Linear(in_features, num_cols).to(device)
    causal = CausalNormPredictor(in_features, num_cols).to(device)
    x = torch.relu(torch.randn(num_rois, in_features, device=device))
    labels = torch.randint(0, num_cols, (num_rois, ), device=device)
    causal.update_head_direction(x)
    x_grad = x.clone().requires_grad_()

    def train(module):
        module.train()
        with region():
            out = module(x_grad)
        out.float().sum().backward()
        if module is causal:
            causal.update_head_direction_from_targets(labels)

    @torch.no_grad()
    def infer(module):
        module.eval()
        with region():
            module(x)

    @torch.no_grad()
    def forward(fn):
        with region():
            fn(x)

    def timed(fns):
        return compare(time_interleaved(fns, iters, warmup, device), 'linear', 'causal_norm')

    return dict(
        shape=[num_rois, in_features, num_cols], autocast=autocast,
        forward=timed(dict(linear=lambda: forward(linear),
                           causal_norm=lambda: forward(causal.deconfounded_logits))),
        train=timed(dict(linear=lambda: train(linear), causal_norm=lambda: train(causal))),
        inference=timed(dict(linear=lambda: infer(linear), causal_norm=lambda: infer(causal))))


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path('/proc/cpuinfo')
    if cpuinfo.exists():
        names = [line.split(':', 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith('model name')]
        cpu = names[0] if names else cpu
    info = dict(cpu=cpu, cpu_cores=torch.multiprocessing.cpu_count(),
                torch_threads=torch.get_num_threads(), python=platform.python_version(),
                torch=torch.__version__, mmcv=mmcv.__version__, mmdet=mmdet.__version__,
                mmengine=mmengine.__version__)
    if torch.cuda.is_available():
        info['gpu'] = torch.cuda.get_device_name()
    return info


def _row(label: str, result: dict) -> str:
    a, b = result[result['baseline']], result[result['candidate']]
    return (f"| {label} | {a['median_ms']:.1f} ({a['q1_ms']:.1f}-{a['q3_ms']:.1f}) "
            f"| {b['median_ms']:.1f} ({b['q1_ms']:.1f}-{b['q3_ms']:.1f}) | {result['ratio']:.3f} |")


def format_table(results: dict) -> str:
    """Markdown report: settings, machine, the timing table, GPU memory."""
    s, m, cls = results['settings'], results['machine'], results['classifier']
    n, d, cols = cls['shape']
    size = f"{s['img_width'] or s['img_size']}x{s['img_size']}"
    lines = [
        '# TDE box head overhead', '',
        f"Cascade Mask R-CNN from `{s['config']}`, ResNet-{s['depth']} (random init), "
        f"{s['num_classes']} classes, batch of {s['batch_size']} synthetic "
        f"{size} (width x height) images with {s['num_gts']} gt each, "
        f"inference score threshold {s['test_score_thr']} and "
        f"{s['test_max_per_img']} detections per image, "
        f"device `{s['device']}`. Stock: mmdet's "
        '`Shared2FCBBoxHead` in the three stages; TDE: `TDEShared2FCBBoxHead` (paper defaults). '
        f"Interleaved, {s['warmup']} warm-up rounds dropped, {s['iters']} measured; "
        'milliseconds as median (interquartile range).', '',
        f"Machine: {m['cpu']}, {m['cpu_cores']} cores ({m['torch_threads']} torch threads)"
        + (f", {m['gpu']}" if 'gpu' in m else '')
        + f"; Python {m['python']}, torch {m['torch']}, mmcv {m['mmcv']}, mmdet {m['mmdet']}, "
        f"mmengine {m['mmengine']}.", '',
        f"Command: `{results['command']}`", '',
        '| measurement | stock / `nn.Linear` ms | TDE / `CausalNormPredictor` ms | ratio |',
        '|---|---|---|---|',
        _row('training iteration (train_step, SGD)', results['models']['train']),
        _row('inference (test_step, no_grad)', results['models']['inference']),
        _row(f'classifier forward, {n}x{d} -> {cols} (Eq. 7 logits)', cls['forward']),
        _row('classifier training (forward + backward + head direction)', cls['train']),
        _row('classifier inference (TDE + background-exempted)', cls['inference']),
        *[_row(f"classifier {part}, autocast {dtype}", amp[part])
          for dtype, amp in results['classifier_autocast'].items()
          for part in ('forward', 'train', 'inference')], ''
    ]
    memory = results['models']['memory']
    if memory:
        lines += [
            'GPU memory, MiB (`torch.cuda.max_memory_allocated`, both models resident; alone, a '
            'model peaks at about its own state + the call\'s need):', '',
            '| model | own state (weights, buffers, SGD momentum) | training peak | training '
            'need | inference peak | inference need |', '|---|---|---|---|---|---|',
            *[f"| {name} | {m['own_state_mib']:.0f} | {m['train_peak_mib']:.0f} | "
              f"{m['train_above_resident_mib']:.0f} | {m['inference_peak_mib']:.0f} | "
              f"{m['inference_above_resident_mib']:.0f} |" for name, m in memory.items()], ''
        ]
    return '\n'.join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='repository config or mmdet::... config giving the stock model')
    parser.add_argument('--device', choices=['cpu', 'cuda'],
                        default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--iters', type=int, default=6, help='measured rounds per measurement')
    parser.add_argument('--warmup', type=int, default=1, help='discarded rounds per measurement')
    parser.add_argument('--img-size', type=int, default=256, help='image height (and width)')
    parser.add_argument('--img-width', type=int, default=None,
                        help='image width if not --img-size (the paper: 800 high, 1333 wide)')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--num-gts', type=int, default=8, help='gt instances per image')
    parser.add_argument('--depth', type=int, default=18, choices=sorted(NECK_IN_CHANNELS))
    parser.add_argument('--num-classes', type=int, default=1203, help='1203: LVIS v1.0')
    parser.add_argument('--test-score-thr', type=float, default=0.0,
                        help='box score threshold at inference (0: equal post-processing work)')
    parser.add_argument('--test-max-per-img', type=int, default=100,
                        help='detections per image at inference (LVIS: 300)')
    parser.add_argument('--cls-rois', type=int, default=512,
                        help='RoIs of the classifier benchmark')
    parser.add_argument('--cls-iters', type=int, default=50,
                        help='rounds of the classifier benchmark')
    parser.add_argument('--cls-autocast', nargs='*', default=[], choices=sorted(AUTOCAST_DTYPES),
                        help='also time the classifier under torch.autocast with these dtypes')
    parser.add_argument('--out', default='work_dirs/head_overhead.md',
                        help='markdown report, the raw numbers beside it as .json '
                        '(docs/benchmarks/head_overhead.md to record a run)')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    register_all_modules()
    argv = sys.argv[1:] if argv is None else argv
    models, _ = build_models(args.config, args.depth, args.num_classes, args.device,
                             args.test_score_thr, args.test_max_per_img, args.seed)
    batch = make_batch(args.batch_size, args.img_size, args.num_classes, args.num_gts, args.seed,
                       args.img_width)
    model_results = bench_models(models, batch, args.iters, args.warmup, args.device)
    in_features = models['stock'].roi_head.bbox_head[0].fc_cls.in_features
    classifier = [bench_classifier(args.cls_rois, in_features, args.num_classes + 1,
                                   args.cls_iters, max(args.warmup, 1), args.device, args.seed,
                                   autocast=dtype) for dtype in [None, *args.cls_autocast]]
    results = dict(
        command=shlex.join(['python', 'benchmarks/head_overhead.py', *argv]),
        settings={k: getattr(args, k) for k in ('config', 'device', 'iters', 'warmup', 'img_size',
                                                'img_width', 'batch_size', 'num_gts', 'depth',
                                                'num_classes', 'test_score_thr',
                                                'test_max_per_img', 'cls_rois', 'cls_iters',
                                                'cls_autocast', 'seed')},
        machine=machine(),
        models=model_results,
        classifier=classifier[0],
        classifier_autocast={c['autocast']: c for c in classifier[1:]})
    table = format_table(results)
    print(table)
    with atomic_open(args.out) as f:
        f.write(table)
    write_json_atomic(results, str(Path(args.out).with_suffix('.json')), indent=2)
    return results


if __name__ == '__main__':
    main()
