"""Time convnb.cam.grad_cam against pytorch-grad-cam's GradCAM on the same model, image, layer and class.

    CONVNB_DATA=/work/shared/data python bench/cam.py [--threads 1] [--rounds 7] [--calls 10] [--device cpu]

Prints one JSON object per line: how closely the maps agree at the last block; how close each is to the exact map at
layers followed by an in-place ReLU; one line per implementation (median and best time per call, ratio to the
library); and one for hooks, gradients and memory over 1,000 calls. pytorch-grad-cam (`pip install grad-cam`) is
only needed here, not by convnb; without it the reference is a plain hook implementation, and the output says so.
"""
from __future__ import annotations
import argparse, copy, gc, json, os, platform, statistics, time

import psutil
import torch
import torch.nn.functional as F
from torch import nn

from convnb.cam import grad_cam
from convnb.data import imagenet_batch, photo, squeezenet
from convnb.inspection import count_hooks
from common import emit


def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()


def plain_hooks(model, layer):
    "A straightforward Grad-CAM: forward hook keeps the output, a tensor hook its gradient, full backward, then resize."
    def run(x, target):
        store = {}
        def fwd(m, i, o):
            store['A'] = o.detach().clone()
            o.register_hook(lambda g: store.__setitem__('g', g))
        h = layer.register_forward_hook(fwd)
        try:
            model.zero_grad(set_to_none=True)
            model(x)[0, target].backward()
        finally: h.remove()
        m = F.relu((store['g'].mean((2, 3), keepdim=True) * store['A']).sum(1))
        return resize_like_library(m[0], x.shape[-2:])
    return run


def resize_like_library(m, size):
    "A map (h,w) or (1,h,w) resized to the input size and scaled to 0..1, as pytorch-grad-cam returns its maps."
    m = F.interpolate(m.reshape(1, 1, *m.shape[-2:]), size=tuple(size), mode='bilinear', align_corners=False)[0, 0]
    m = m - m.min()
    return m / (m.max() + 1e-7)


def in_place_check(net, x, target, GradCAM, ClassifierOutputTarget):
    "At layers followed by an in-place ReLU, compare both with the exact map: the library on a copy without in-place ReLUs."
    safe = copy.deepcopy(net)
    for m in safe.modules():
        if isinstance(m, nn.ReLU): m.inplace = False
    for name in ['features.12.squeeze', 'features.12.expand3x3']:
        with GradCAM(model=safe, target_layers=[safe.get_submodule(name)]) as lib:
            exact = torch.as_tensor(lib(input_tensor=x, targets=[ClassifierOutputTarget(target)])[0]).cpu()
        with GradCAM(model=net, target_layers=[net.get_submodule(name)]) as lib:
            theirs = torch.as_tensor(lib(input_tensor=x, targets=[ClassifierOutputTarget(target)])[0]).cpu()
        ours = resize_like_library(grad_cam(net, x, target, net.get_submodule(name)), x.shape[-2:]).cpu()
        emit(check='layer followed by an in-place ReLU', layer=name, device=str(x.device),
             convnb_max_abs_diff_to_exact=round((ours - exact).abs().max().item(), 6),
             library_max_abs_diff_to_exact=round((theirs - exact).abs().max().item(), 6))
    net.zero_grad(set_to_none=True)


def time_calls(f, calls, device):
    "Seconds per call of f(), over `calls` calls."
    sync(device); t0 = time.perf_counter()
    for _ in range(calls): f()
    sync(device)
    return (time.perf_counter() - t0) / calls


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--threads', type=int, default=1, help='torch CPU threads (1 keeps timings steady on a shared machine)')
    ap.add_argument('--rounds', type=int, default=7)
    ap.add_argument('--calls', type=int, default=10, help='calls per implementation per round')
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--photo', default='dog')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    net = squeezenet().to(device)
    x = imagenet_batch(photo(args.photo)).to(device)
    layer = net.features  # the last Fire block's output, 512x13x13
    with torch.no_grad(): target = net(x).argmax(1).item()
    common = dict(model='squeezenet1_0', layer='features (512x13x13)', input=list(x.shape), target=target,
                  device=str(device), threads=args.threads, torch=torch.__version__,
                  load_avg=[round(v, 2) for v in os.getloadavg()], cpus=os.cpu_count(), machine=platform.machine())

    impls = {'convnb.grad_cam': lambda: grad_cam(net, x, target, layer),
             'convnb.grad_cam+resize': lambda: resize_like_library(grad_cam(net, x, target, layer), x.shape[-2:]),
             'plain hooks+resize': plain_hooks(net, layer)}
    plain = impls['plain hooks+resize']
    impls['plain hooks+resize'] = lambda: plain(x, target)
    try:
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
        import importlib.metadata as md
        lib = GradCAM(model=net, target_layers=[layer])
        targets = [ClassifierOutputTarget(target)]
        impls['pytorch_grad_cam.GradCAM'] = lambda: lib(input_tensor=x, targets=targets)
        reference, ref_version = 'pytorch_grad_cam.GradCAM', md.version('grad-cam')
    except ImportError:
        lib, reference, ref_version = None, 'plain hooks+resize', None

    # the maps agree?
    ours = resize_like_library(grad_cam(net, x, target, layer), x.shape[-2:]).cpu()
    theirs = impls[reference]()
    theirs = torch.as_tensor(theirs).reshape(ours.shape).float().cpu()
    emit(check='maps agree', reference=reference, max_abs_diff=round((ours - theirs).abs().max().item(), 6),
         corr=round(torch.corrcoef(torch.stack([ours.flatten(), theirs.flatten()]))[0, 1].item(), 6))
    net.zero_grad(set_to_none=True)
    if lib is not None: in_place_check(net, x, target, GradCAM, ClassifierOutputTarget)

    for f in impls.values(): f()  # warm up
    times = {k: [] for k in impls}
    for _ in range(args.rounds):  # interleaved, so that a busy moment on the machine hits every implementation alike
        for k, f in impls.items(): times[k].append(time_calls(f, args.calls, device))
    ref = statistics.median(times[reference])
    for k, ts in times.items():
        med = statistics.median(ts)
        emit(impl=k, reference=reference, reference_version=ref_version, median_ms=round(1e3 * med, 2),
             best_ms=round(1e3 * min(ts), 2), ratio_to_reference=round(med / ref, 3),
             calls=args.rounds * args.calls, **common)
    if lib is not None: lib.activations_and_grads.release()
    net.zero_grad(set_to_none=True)

    # memory and hooks over 1,000 calls on a small input
    small = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
                          nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(inplace=True),
                          nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))).to(device).train()
    xs = torch.randn(1, 3, 16, 16, device=device)
    for _ in range(50): grad_cam(small, xs, 1)
    gc.collect(); rss0 = psutil.Process().memory_info().rss
    cuda0 = torch.cuda.memory_allocated() if device.type == 'cuda' else 0
    t0 = time.perf_counter()
    for _ in range(1000): grad_cam(small, xs, 1)
    dt = time.perf_counter() - t0
    gc.collect()
    emit(check='1000 calls', hooks_left=count_hooks(small) + count_hooks(net), still_training=small.training,
         param_grads=sum(p.grad is not None for p in small.parameters()),
         rss_growth_mb=round((psutil.Process().memory_info().rss - rss0) / 2**20, 2),
         cuda_growth_bytes=(torch.cuda.memory_allocated() - cuda0) if device.type == 'cuda' else None,
         ms_per_call=round(dt, 3), **{**common, 'model': 'small conv net with batchnorm, in training mode',
                                       'layer': 'default (model[-2])', 'input': list(xs.shape), 'target': 1})


if __name__ == '__main__': main()
