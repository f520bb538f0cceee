"""Summary of a gpu_check.sh run: python .dev_scripts/gpu/gpu_check_summary.py WORK_DIR OUT.md.

Reads what the steps left in WORK_DIR (results/steps.tsv, the step logs, the mmengine logs and
metrics under runs/, results/head_overhead.md) and writes one markdown page: every step with its
status and time, then the key numbers of each part. Standard library only, so that it runs in
a second even while other steps are running; a part whose files are missing or unreadable says so
and the rest is still written.
"""
import json
import statistics
import sys
import time
from pathlib import Path

METRICS = ('AP', 'APr', 'APc', 'APf')


def steps_table(work: Path) -> list:
    lines = ['| step | status | seconds | note |', '|---|---|---|---|']
    path = work / 'results' / 'steps.tsv'
    for row in path.read_text().splitlines() if path.exists() else []:
        name, status, seconds, note = (row.split('\t') + [''] * 4)[:4]
        lines.append(f'| {name} | {status} | {seconds} | {note} |')
    return lines


def log_lines(work: Path, step: str, keep=lambda line: True, limit: int = 12) -> list:
    path = work / 'results' / f'{step}.log'
    if not path.exists():
        return [f'(no {step}.log)']
    lines = [line for line in path.read_text(errors='replace').splitlines() if keep(line)]
    return lines[:limit]


def scalars(run: Path) -> list:
    """mmengine's training log records (vis_data/scalars.json), oldest run first."""
    files = sorted(run.glob('*/vis_data/scalars.json'))
    if not files:
        return []
    return [json.loads(line) for line in files[-1].read_text().splitlines() if line.strip()]


def training_rows(work: Path) -> list:
    lines = ['| run | iterations logged | first loss | last loss | loss finite | median s/iter '
             '| peak memory MB (mmengine) |', '|---|---|---|---|---|---|---|']
    for run in sorted((work / 'runs').glob('train_*')):
        records = [r for r in scalars(run) if 'loss' in r]
        if not records:
            lines.append(f'| {run.name} | no log records | | | | | |')
            continue
        losses = [r['loss'] for r in records]
        finite = all(isinstance(v, (int, float)) and abs(v) != float('inf') and v == v
                     for v in losses)
        times = [r['time'] for r in records if 'time' in r]
        memory = max((r.get('memory', 0) for r in records), default=0)
        lines.append(f"| {run.name} | {records[-1].get('iter', len(records))} | {losses[0]:.4f} "
                     f"| {losses[-1]:.4f} | {finite} | "
                     f"{statistics.median(times) if times else float('nan'):.3f} | "
                     f"{memory or 'n/a (CPU)'} |")
    lines += ['', 'Loss curves: `runs/train_*/*/vis_data/scalars.json` in results.tar.gz.']
    return lines


def test_metrics(run: Path) -> dict:
    """The metrics mmengine wrote after a test (``<timestamp>/<timestamp>.json``)."""
    for path in sorted(run.glob('*/*.json'), reverse=True):
        if path.parent.name == 'vis_data':
            continue
        data = json.loads(path.read_text())
        if any(k.startswith('lvis/') for k in data):
            return data
    return {}


def metric_cells(metrics: dict) -> str:
    return ' | '.join(f"{metrics.get(f'lvis/{t}_{n}', float('nan')):.4f}"
                      for t in ('bbox', 'segm') for n in METRICS)


def metric_header(first: str) -> list:
    names = [f'{t} {n}' for t in ('bbox', 'segm') for n in METRICS]
    return [f"| {first} | {' | '.join(names)} |", '|---' * (len(names) + 1) + '|']


def test_rows(work: Path) -> list:
    lines = metric_header('checkpoint (TDE at the config alpha)')
    for run in sorted((work / 'runs').glob('test_*')):
        metrics = test_metrics(run)
        lines.append(f'| {run.name} | {metric_cells(metrics)} |' if metrics
                     else f'| {run.name} | no metrics |')
    return lines


def sweep_rows(work: Path) -> list:
    lines = []
    for run in sorted((work / 'runs').glob('sweep_*')):
        path = run / 'alpha_sweep.json'
        if not path.exists():
            lines.append(f'{run.name}: no alpha_sweep.json')
            continue
        result = json.loads(path.read_text())
        lines += [f'{run.name} (alpha 0 = TDE off):', ''] + metric_header('alpha')
        lines += [f'| {a:g} | {metric_cells(m)} |'
                  for a, m in zip(result['alphas'], result['metrics'])]
        cos = ', '.join(f'{c:.3f}' for c in result.get('mean_cos_head_direction', []))
        lines += ['', f'mean cos(x, d_hat) per stage: {cos}; seconds: {result.get("seconds")}']
    return lines


def section(title: str, build) -> list:
    try:
        body = build()
    except Exception as exc:  # noqa: BLE001 - a broken part must not hide the others
        body = [f'(could not read: {type(exc).__name__}: {exc})']
    return ['', f'## {title}', '', *body]


def summary(work: Path) -> str:
    mode_file = work / 'results' / 'mode'
    mode = mode_file.read_text().strip() if mode_file.exists() else 'unknown'
    head = work / 'results' / 'head_overhead.md'
    lines = [f'# GPU check ({mode}): summary at {time.strftime("%Y-%m-%d %H:%M:%S")}', '',
             'Written by `.dev_scripts/gpu/gpu_check.sh` after every step; the logs are in '
             'results.tar.gz.']
    lines += section('Steps', lambda: steps_table(work))
    lines += section('Machine', lambda: ['```', *log_lines(
        work, 'env', lambda s: any(k in s for k in ('NVIDIA-SMI', 'H100', 'H200', 'release',
                                                     'gcc', 'python ', 'gpu ', 'numpy',
                                                     'setuptools', 'torch'))), '```'])
    lines += section('mmcv', lambda: ['```', *log_lines(work, 'mmcv_import', limit=3),
                                      *log_lines(work, 'ops_check', limit=3),
                                      *log_lines(work, 'ops_check_fallback', limit=3), '```'])
    lines += section('Training on mini-LVIS (TDE heads; train_dp_*: dual-phase)',
                     lambda: training_rows(work))
    lines += section('Test', lambda: test_rows(work))
    lines += section('Alpha sweep', lambda: sweep_rows(work))
    lines += section('Head overhead at the paper\'s size',
                     lambda: head.read_text().splitlines() if head.exists()
                     else ['(not run or not finished)'])
    return '\n'.join(lines) + '\n'


def main(argv=None) -> None:
    work, out = map(Path, (argv or sys.argv[1:])[:2])
    text = summary(work)
    tmp = out.with_name(f'.{out.name}.tmp')
    tmp.write_text(text)
    tmp.replace(out)


if __name__ == '__main__':
    main()
