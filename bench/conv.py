"""Time three convolutions of the same batch and print JSON lines (one dict per line).

x (64,3,32,32), w (16,3,3,3), padding 1, no bias; torch's default number of threads.
- conv2d_loops  (convnb.kernels): plain Python loops, the reference; run once (it takes seconds)
- conv2d_unfold (convnb.conv): im2col and one matrix multiply
- F.conv2d: PyTorch
unfold and F.conv2d are timed alternately, run after run, so that load from other work on the machine hits both alike;
the median over --reps runs is the figure (min and quartiles are printed too). Target: unfold <= 2x F.conv2d.

Usage: python bench/conv.py [--reps 500] [--loop-images 64] [--seed 0]
"""
import argparse

import torch
import torch.nn.functional as F

from common import emit, loads, machine, summary, timed
from convnb.conv import conv2d_unfold
from convnb.kernels import conv2d_loops


def main(reps=500, loop_images=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x, w = torch.randn(64, 3, 32, 32, generator=g), torch.randn(16, 3, 3, 3, generator=g)
    emit(bench='conv', what='setup', x=list(x.shape), w=list(w.shape), padding=1, **machine(), load_avg_before=loads())

    ref = F.conv2d(x, w, padding=1)
    fns = {'conv2d_unfold': lambda: conv2d_unfold(x, w, padding=1), 'F.conv2d': lambda: F.conv2d(x, w, padding=1)}
    for f in fns.values():
        for _ in range(10): f()  # warm up
    times = {name: [] for name in fns}
    for _ in range(reps):
        for name, f in fns.items(): times[name].append(timed(f))
    stats = {name: summary(t) for name, t in times.items()}

    xl = x[:loop_images]
    t_loop = timed(lambda: conv2d_loops(xl, w, padding=1)) * len(x) / len(xl)
    stats['conv2d_loops'] = dict(median_ms=1e3 * t_loop, min_ms=1e3 * t_loop, reps=1, images_timed=len(xl))

    err_unfold = (conv2d_unfold(x, w, padding=1) - ref).abs().max().item()
    err_loops = (conv2d_loops(x[:2], w, padding=1) - ref[:2]).abs().max().item()
    for name in ['conv2d_loops', 'conv2d_unfold', 'F.conv2d']: emit(bench='conv', impl=name, **stats[name])

    base = stats['F.conv2d']['median_ms']
    ratio = stats['conv2d_unfold']['median_ms'] / base
    emit(bench='conv', what='ratios', unfold_over_conv2d=round(ratio, 3),
         loops_over_conv2d=round(stats['conv2d_loops']['median_ms'] / base, 1),
         unfold_over_conv2d_min=round(stats['conv2d_unfold']['min_ms'] / stats['F.conv2d']['min_ms'], 3),
         max_abs_err_unfold=err_unfold, max_abs_err_loops=err_loops, target_unfold_over_conv2d=2.0,
         meets_target=ratio <= 2.0, load_avg_after=loads())


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--reps', type=int, default=500, help='timed runs of unfold and F.conv2d each (median reported)')
    p.add_argument('--loop-images', type=int, default=64, help='images the loops run on; the time is scaled to 64')
    p.add_argument('--seed', type=int, default=0)
    main(**vars(p.parse_args()))
