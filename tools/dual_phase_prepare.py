"""Prepare phase II of dual-phase training from a phase-I checkpoint.

    python tools/dual_phase_prepare.py PHASE1_CONFIG PHASE1_CHECKPOINT [--num-exemplars 10]
    tools/dist_dual_phase_prepare.sh PHASE1_CONFIG PHASE1_CHECKPOINT 8

Runs the phase-I model over the training images, takes the classification features (the input
of ``fc_cls``, last box stage) of every ground-truth box of a phase-I category, picks each
category's exemplars by Eq. 2-5 and writes, beside the checkpoint unless --out-dir says
otherwise:
  dual_phase_memory.json       the exemplar memory (annotation ids), for the phase-II dataset
  dual_phase_phase2_init.pth   the phase-I weights with the phase-II classifier rows
                               re-initialised, for phase II's ``load_from``; a model trained
                               on all classes (given with --split-file) keeps the rows it
                               learned, as a user fine-tuning it would
Both carry one run id (the checkpoint is written first, the memory last), which phase II
compares, and the memory the digest of the phase-I checkpoint, which phase II compares with its
teacher's.
The memory is the same for any number of processes. Each process keeps the features of its
images, and each category's then go to one process, which picks its exemplars: no process
holds all of them.
"""
import argparse
import os.path as osp
import uuid

import torch
from mmengine.config import DictAction
from mmengine.dist import get_dist_info, init_dist
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar

from mmdet.registry import MODELS

from mmdet_tde.engine.dual_phase_checks import (PHASE1_MODEL, check_phase1_checkpoint,
                                                file_sha256)
from mmdet_tde.engine.dual_phase_memory import (build_memory, collect_features, feature_dataset,
                                                fresh_classifier_state, phase1_annotations,
                                                phase2_init_state, save_checkpoint_atomic,
                                                unwrapped_dataset_cfg)
from mmdet_tde.fileio import load_split, phase2_labels
from mmdet_tde.fileio import check_not_input, check_output_path, write_json_atomic
from mmdet_tde.utils import (SingleProcess, TorchProcessGroup, load_checkpoint_file,
                             load_tool_config, run_tool, setup_cpu_distributed)

MEMORY_FILE = 'dual_phase_memory.json'
INIT_FILE = 'dual_phase_phase2_init.pth'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='the phase-I config')
    parser.add_argument('checkpoint', help='the phase-I checkpoint')
    parser.add_argument('--split-file', help='the dual-phase split (default: the one in the '
                        "config's training dataset); lets a model trained on all classes "
                        '(the "joint training" control) serve as phase I')
    parser.add_argument('--num-exemplars', type=int, default=10,
                        help='exemplars per phase-I category (the paper\'s best: 10)')
    parser.add_argument('--out-dir', help='where the memory and the phase-II initial checkpoint '
                        'go (default: beside the checkpoint)')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='fully unpickle the checkpoint, which can run code stored in it: '
                        'only for files you trust')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    args = parser.parse_args()
    if args.num_exemplars < 1:
        parser.error(f'--num-exemplars must be >= 1, got {args.num_exemplars}')
    return args


def train_dataset_cfg(cfg, split_file):
    dataset = unwrapped_dataset_cfg(cfg.train_dataloader.dataset)
    if split_file is None and 'split_file' not in dataset:
        raise ValueError(f"{cfg.filename}: train_dataloader.dataset is {dataset.get('type')}, not "
                         'a dual-phase dataset with a split_file: give a phase-I config or '
                         '--split-file')
    return dataset


def main():
    args = parse_args()
    cfg = load_tool_config(args.config, args.launcher, args.cfg_options)
    if args.launcher != 'none':
        if torch.cuda.is_available():
            init_dist(args.launcher)
        else:
            setup_cpu_distributed(cfg, args.launcher)
    rank, world_size = get_dist_info()
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    device = torch.device('cuda', torch.cuda.current_device()) if torch.cuda.is_available() \
        else torch.device('cpu')

    dataset_cfg = train_dataset_cfg(cfg, args.split_file)
    split_file = args.split_file or dataset_cfg['split_file']
    ann_file = osp.join(dataset_cfg.get('data_root') or '', dataset_cfg['ann_file'])
    out_dir = args.out_dir or osp.dirname(osp.abspath(args.checkpoint))
    memory_path, init_path = osp.join(out_dir, MEMORY_FILE), osp.join(out_dir, INIT_FILE)
    for path in (init_path, memory_path):  # before the feature pass, not after it
        check_output_path(path, 'output')
        check_not_input(path, [args.checkpoint, args.config, split_file, ann_file], 'output')
    split = load_split(split_file)
    checkpoint = load_checkpoint_file(args.checkpoint, map_location='cpu',
                                      unsafe=args.unsafe_load)
    role = check_phase1_checkpoint(checkpoint, args.checkpoint, split,
                                   args.split_file is not None)
    # Digest of the file read now, for phase II to compare with its teacher (rank 0 writes).
    checkpoint_sha256 = file_sha256(args.checkpoint) if rank == 0 else None
    state_dict = checkpoint.get('state_dict', checkpoint)
    model = MODELS.build(cfg.model)
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    if missing or unexpected:
        raise ValueError(f'{args.checkpoint} does not fit {args.config}: missing keys '
                         f'{missing[:5]}, unexpected keys {unexpected[:5]} (first five)')
    model.to(device).eval()

    per_image = phase1_annotations(ann_file, split)
    dataset = feature_dataset(dataset_cfg.to_dict(), cfg.test_dataloader.dataset.pipeline)
    indices = range(rank, len(dataset), world_size)
    progress = ProgressBar(len(indices)) if rank == 0 else None
    boxes = collect_features(model, dataset, per_image, indices, progress)
    group = TorchProcessGroup() if world_size > 1 else SingleProcess()
    memory = build_memory(boxes, args.num_exemplars, split, group)
    if memory is None:  # not rank 0
        return

    run = dict(prepare_id=uuid.uuid4().hex, phase1_checkpoint=osp.basename(args.checkpoint),
               phase1_checkpoint_sha256=checkpoint_sha256)
    # Phase I never trained its phase-II rows (masked); a model trained on all classes did.
    if role == PHASE1_MODEL:
        fresh = fresh_classifier_state(cfg.model.to_dict())
        phase2_rows, init_state = 'fresh', phase2_init_state(state_dict, fresh,
                                                             phase2_labels(split))
    else:
        phase2_rows, init_state = 'trained', state_dict
    init = dict(meta=dict(dual_phase=dict(split_digest=split['digest'], phase2_rows=phase2_rows,
                                          **run)),
                state_dict=init_state)
    # The memory last: a run killed in between leaves a checkpoint whose id no memory has.
    save_checkpoint_atomic(init, init_path)
    write_json_atomic(dict(memory, **run), memory_path)
    num_boxes = sum(memory['candidates'].values())
    picked = sum(len(v) for v in memory['exemplars'].values())
    print(f'\n[dual-phase prepare] {num_boxes} phase-I boxes, {picked} exemplars over '
          f"{len(memory['exemplars'])} categories, phase-II rows {phase2_rows} -> {memory_path}, "
          f'{init_path}', flush=True)


if __name__ == '__main__':
    run_tool(main)
