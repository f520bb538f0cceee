"""That the inputs of phase II belong together, checked before any training step.

A phase-II run reads five files made at different times: the split, the exemplar memory, the
phase-II initial checkpoint (``load_from``), the phase-I teacher and the annotations. Any of
them can be stale or swapped and training would still run. The prepare tool writes the memory
and the initial checkpoint with one run id and the digest of the phase-I checkpoint they come
from; :func:`check_phase2_inputs` compares them. The checkpoint's recorded training config is
read as data (:func:`recorded_config`), never executed: it comes from the checkpoint file.
"""
import ast
import hashlib
import os.path as osp
from typing import Optional

from mmdet_tde.datasets.dual_phase import read_memory
from mmdet_tde.fileio import load_split
from mmdet_tde.utils.checkpoint import load_checkpoint_file

PHASE2_INIT = 'a phase-II initial checkpoint (written by tools/dual_phase_prepare.py)'
PHASE2_MODEL = 'a phase-II model (its config has a teacher)'
PHASE1_MODEL = 'a phase-I model'
OTHER_MODEL = 'a model trained on all classes (not a phase-I model)'
UNKNOWN = 'a checkpoint that records no training config'


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 22), b''):
            digest.update(block)
    return digest.hexdigest()


def _literal(node):
    """The value of a config expression made of literals and ``dict(key=...)``; None for any
    other expression (nothing is evaluated)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values) if k is not None}
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == 'dict'
            and not node.args):
        return {kw.arg: _literal(kw.value) for kw in node.keywords if kw.arg is not None}
    return None


def recorded_config(checkpoint: dict) -> Optional[dict]:
    """The training config mmengine records in a checkpoint (``meta['cfg']``, its text), parsed
    as data; None when there is none or it does not parse."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    text = meta.get('cfg') if isinstance(meta, dict) else None
    if not isinstance(text, str):
        return None
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    return {target.id: _literal(node.value) for node in tree.body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)}


def _train_dataset(cfg: dict) -> dict:
    dataset = ((cfg.get('train_dataloader') or {}).get('dataset')) or {}
    while isinstance(dataset, dict) and dataset.get('type') in ('ClassBalancedDataset',
                                                                 'RepeatDataset'):
        dataset = dataset.get('dataset') or {}
    return dataset if isinstance(dataset, dict) else {}


def checkpoint_role(checkpoint: dict) -> str:
    """What a checkpoint is for dual-phase training: one of the module's role constants."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if isinstance(meta, dict) and 'dual_phase' in meta:
        return PHASE2_INIT
    cfg = recorded_config(checkpoint)
    if cfg is None:
        return UNKNOWN
    if 'teacher_checkpoint' in (cfg.get('model') or {}):
        return PHASE2_MODEL
    return PHASE1_MODEL if _train_dataset(cfg).get('phase') == 1 else OTHER_MODEL


def check_phase1_checkpoint(checkpoint: dict, path: str, split: dict, split_given: bool) -> str:
    """Refuse a checkpoint the prepare tool must not take as its phase-I model: a phase-II one,
    a phase-I model of another split, and (unless ``--split-file`` names the split, the
    joint-training control) one that is not a phase-I model. Returns the checkpoint's role."""
    role = checkpoint_role(checkpoint)
    if role in (PHASE2_INIT, PHASE2_MODEL):
        raise ValueError(f'{path} is {role}, not a phase-I checkpoint: give the phase-I model')
    if role == PHASE1_MODEL:
        split_file = _train_dataset(recorded_config(checkpoint)).get('split_file')
        if isinstance(split_file, str) and osp.isfile(split_file):
            trained = load_split(split_file)['digest']
            if trained != split['digest']:
                raise ValueError(f'{path} is a phase-I model of another split ({split_file}, '
                                 f"digest {trained}; this run's is {split['digest']})")
    elif not split_given:
        raise ValueError(f'{path} is {role}: give a phase-I checkpoint, or --split-file to use a '
                         'model trained on all classes as phase I (the joint-training control)')
    return role


def check_phase2_inputs(cfg, unsafe: bool = False) -> None:
    """For a phase-II config (a dual-phase dataset with ``phase=2``): the memory fits the split
    (:func:`read_memory`), the teacher is the phase-I checkpoint the memory was made from, and
    ``load_from`` is the initial checkpoint written with this memory. Other configs pass."""
    dataset = _train_dataset(cfg)
    if dataset.get('phase') != 2 or dataset.get('memory_file') is None:
        return
    memory_file = dataset['memory_file']
    memory = read_memory(memory_file, load_split(dataset['split_file']))
    teacher = (cfg.get('model') or {}).get('teacher_checkpoint')
    if teacher is not None:
        if not osp.isfile(teacher):
            raise FileNotFoundError(f'teacher_checkpoint not found: {teacher} (the phase-I '
                                    'checkpoint; train phase I first)')
        if file_sha256(teacher) != memory['phase1_checkpoint_sha256']:
            raise ValueError(f'teacher_checkpoint {teacher} is not the phase-I checkpoint the '
                             f'memory {memory_file} was made from '
                             f"({memory.get('phase1_checkpoint')}): give that checkpoint, or "
                             'prepare again from this one')
    init_path = cfg.get('load_from')
    if init_path is None or cfg.get('resume'):
        return
    meta = load_checkpoint_file(init_path, map_location='cpu', unsafe=unsafe).get('meta') or {}
    run_id = (meta.get('dual_phase') or {}).get('prepare_id')
    if run_id != memory['prepare_id']:
        problem = ('has no dual-phase prepare id: it is not a phase-II initial checkpoint'
                   if run_id is None else
                   f'was written by another run of tools/dual_phase_prepare.py (id {run_id})')
        raise ValueError(f"load_from {init_path} {problem}; the memory {memory_file} has id "
                         f"{memory['prepare_id']}: use the initial checkpoint written with it")
