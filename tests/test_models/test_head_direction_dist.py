"""A real 2-process gloo run: both ranks end with the EMA of the global foreground means.

They also agree to skip an iteration in which only one of them saw a non-finite feature.
"""
import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from helpers.ports import free_port

C, D, STEPS, MOMENTUM = 4, 8, 5, 0.9
NAN_STEP = 3


def rank_batch(rank, step):
    """Features and labels of one rank at one step; label C is background.

    Step 1: rank 1 has no foreground; step 2: no rank has any (the direction must not change);
    step 3: one foreground feature of rank 1 is NaN (no rank may update).
    """
    g = torch.Generator().manual_seed(100 * step + rank)
    n = 3 + 2 * rank + step
    x = torch.randn(n, D, generator=g) + rank
    labels = torch.randint(0, C + 1, (n, ), generator=g)
    labels[0] = 0  # class 0 is foreground
    labels[-1] = C
    if (step == 1 and rank == 1) or step == 2:
        labels[:] = C
    if step == NAN_STEP and rank == 1:
        x[0, 2] = float('nan')
    return x, labels


def worker(rank, world_size, port, out):
    from mmdet_tde.models import CausalNormPredictor
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=world_size)
    torch.manual_seed(0)
    predictor = CausalNormPredictor(D, C + 1, num_heads=2, momentum=MOMENTUM).train()
    history = []
    for step in range(STEPS):
        x, labels = rank_batch(rank, step)
        predictor(x)
        predictor.update_head_direction_from_targets(labels)
        history.append(predictor.head_direction.clone())
    out[rank] = (torch.stack(history), predictor.skipped_updates)
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_rank_gloo_directions_are_identical_and_global():
    world_size = 2
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(worker, args=(world_size, free_port(), out), nprocs=world_size, join=True)
        histories = [out[r][0].double().numpy() for r in range(world_size)]
        assert [out[r][1] for r in range(world_size)] == [1, 1]
    np.testing.assert_array_equal(histories[0], histories[1])
    expected = np.zeros(D)
    for step in range(STEPS):
        if step == NAN_STEP:
            np.testing.assert_array_equal(histories[0][step], histories[0][step - 1])
            continue
        feats = []
        for rank in range(world_size):
            x, labels = rank_batch(rank, step)
            feats.append(x[labels < C].double().numpy())
        feats = np.concatenate(feats)
        if len(feats):
            expected = MOMENTUM * expected + feats.mean(0)
        np.testing.assert_allclose(histories[0][step], expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(histories[0][2], histories[0][1])
