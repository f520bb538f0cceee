"""A hook for the distributed tests: every rank saves its head directions before and after
training, so that ranks (and a resumed run) can be compared with each other and the checkpoint."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmdet.registry import HOOKS


def dump_path(work_dir, event, epoch, rank):
    return osp.join(work_dir, f'head_direction_{event}_epoch{epoch}_rank{rank}.pt')


@HOOKS.register_module()
class HeadDirectionDumpHook(Hook):

    def _dump(self, runner, event):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        directions = {name: buf.detach().clone() for name, buf in model.named_buffers()
                      if name.endswith('head_direction')}
        torch.save(directions, dump_path(runner.work_dir, event, runner.epoch, get_rank()))

    def before_train(self, runner):
        # after mmengine's resume, which happens before this hook runs
        self._dump(runner, 'before_train')

    def after_train(self, runner):
        self._dump(runner, 'after_train')
