"""What does convnb's Learner cost over a bare PyTorch loop? Prints JSON lines, one per measured epoch, then a summary.

Both train the same model (simple_cnn, 2 classes) from the same initial weights on the same 3-vs-7 batches: one
epoch of training, then one pass over the validation set computing loss and accuracy. The runs are interleaved
(bare, Learner, Learner with progress bar, bare, ...) so that a change in machine load hits all of them alike, and the
summary uses medians. Within a rep every run sees the same shuffled batches, so their validation accuracies should agree:
a check that the Learner does exactly the bare loop's work.

    python bench/learner.py [--reps 5] [--bs 64] [--threads N] [--device cpu|cuda] [--model simple|linear|cifar]

`--model linear` (one nn.Linear) makes the model almost free, so the difference is the Learner's own cost per batch.
`--model cifar` is bench/cifar.py's recipe on 10,240 CIFAR-10 images (fast_net at widths 32,128,128 by default, so that
a rep takes seconds; `--widths`): the bare loop does by hand what the callbacks do (channels-last, bf16 autocast where
the CPU has bf16 units, a triangle schedule set before each step, flips and shifts, label smoothing), and the Learner
does it with `ChannelsLast`, `MixedPrecision` and `fit_budget`.
"""
import argparse, contextlib, statistics, sys, time

import itertools
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from convnb.data import cifar10, mnist_sample, dataloaders
from convnb.fast import ChannelsLast, MixedPrecision, amp_dtype, fast_net, nesterov_sgd, set_hypers, triangle
from convnb.resnet import flip_shift
from convnb.inspection import default_device
from convnb.layers import simple_cnn
from convnb.learner import Learner
from common import emit, load, machine  # bench/common.py: JSON lines, the machine, its load


def bare_epoch(model, dls, lr):
    "One training epoch and one validation pass, written as plainly as possible."
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()
    for xb, yb in dls.train:
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    total, correct, n = 0., 0., 0
    with torch.no_grad():
        for xb, yb in dls.valid:
            preds = model(xb)
            total += F.cross_entropy(preds, yb) * len(yb)
            correct += (preds.argmax(1) == yb).float().sum()
            n += len(yb)
    return {'loss': (total / n).item(), 'accuracy': (correct / n).item()}


def learner_epoch(model, dls, lr, progress):
    "The same epoch through the Learner."
    learn = Learner(model, dls, progress=progress)
    learn.fit(1, lr)
    h = learn.recorder.history[-1]
    return {'loss': h['valid_loss'], 'accuracy': h['accuracy']}


def bare_recipe_epoch(model, dls, lr, dtype):
    "One epoch of bench/cifar.py's recipe, by hand: channels-last, autocast, a triangle lr per step; then validation."
    model.to(memory_format=torch.channels_last).train()
    opt, sched, n = nesterov_sgd(model.parameters(), lr), triangle(lr), len(dls.train)
    autocast = lambda: torch.autocast('cpu', dtype=dtype, enabled=dtype is not None)
    for i, (xb, yb) in enumerate(dls.train):
        set_hypers(opt, sched(i / n))
        with autocast(): preds = model(xb.contiguous(memory_format=torch.channels_last))
        loss = F.cross_entropy(preds.float(), yb, label_smoothing=0.2)
        opt.zero_grad(); loss.backward(); opt.step()
    model.eval()
    total, correct, count = 0., 0., 0
    with torch.no_grad(), autocast():
        for xb, yb in dls.valid:
            preds = model(xb.contiguous(memory_format=torch.channels_last)).float()
            total += F.cross_entropy(preds, yb, label_smoothing=0.2) * len(yb)
            correct += (preds.argmax(1) == yb).float().sum(); count += len(yb)
    return {'loss': (total / count).item(), 'accuracy': (correct / count).item()}


def learner_recipe_epoch(model, dls, lr, dtype):
    "The same epoch through the Learner, with the bench's callbacks."
    cbs = [ChannelsLast()] + ([MixedPrecision(dtype=dtype)] if dtype else [])
    learn = Learner(model, dls, loss_func=partial(F.cross_entropy, label_smoothing=0.2), opt_func=nesterov_sgd, cbs=cbs,
                    progress=False)
    learn.fit_budget(triangle(lr), steps=len(dls.train))
    h = learn.recorder.history[-1]
    return {'loss': h['valid_loss'], 'accuracy': h['accuracy']}


def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--reps', type=int, default=5)
    p.add_argument('--bs', type=int, default=64)
    p.add_argument('--lr', type=float, default=0.05)
    p.add_argument('--threads', type=int, default=None, help='torch.set_num_threads (default: torch decides)')
    p.add_argument('--device', default=None)
    p.add_argument('--model', default='simple', choices=['simple', 'linear', 'cifar'])
    p.add_argument('--widths', default='32,128,128', help='--model cifar: fast_net widths')
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    device = torch.device(a.device) if a.device else default_device()

    if a.model == 'cifar':
        x, y, _ = cifar10(); xt, yt, _ = cifar10(train=False)
        dls = dataloaders((x[:10240], y[:10240]), (xt[:1000], yt[:1000]), bs=256, device=device, tfms=flip_shift,
                          valid_bs=500)
        dtype, lr = amp_dtype(device), 0.4
        fit_x = torch.cat([xb for xb, _ in itertools.islice(dls.train, 4)]).cpu()
        make = lambda: fast_net(fit_x, [int(w) for w in a.widths.split(',')])
        runs = {'bare': lambda m: bare_recipe_epoch(m, dls, lr, dtype),
                'learner': lambda m: learner_recipe_epoch(m, dls, lr, dtype)}
    else:
        train, valid = mnist_sample()
        dls = dataloaders(train, valid, bs=a.bs, device=device)
        make = (lambda: simple_cnn(n_out=2)) if a.model == 'simple' else (lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 2)))
        runs = {'bare': lambda m: bare_epoch(m, dls, a.lr),
                'learner': lambda m: learner_epoch(m, dls, a.lr, progress=False),
                'learner_progress': lambda m: learner_epoch(m, dls, a.lr, progress=True)}
    n_train = len(dls.train) * dls.train.bs   # images per training epoch
    torch.manual_seed(0)
    init = make().state_dict()
    emit(bench='learner', model=a.model, device=str(device), **machine(), bs=dls.train.bs, n_train=n_train,
         n_valid=sum(len(yb) for _, yb in dls.valid), loadavg=load())

    times, cpu = {k: [] for k in runs}, {k: [] for k in runs}
    for rep in range(-1, a.reps):  # rep -1 warms up (allocator, kernels) and is not counted
        for name, run in runs.items():
            model = make().to(device)
            model.load_state_dict(init)
            torch.manual_seed(1000 + rep)  # the same shuffled batches for every run of this rep
            sync(device)
            with contextlib.redirect_stdout(sys.stderr):  # console progress bars go to stderr, JSON to stdout
                t0, c0 = time.perf_counter(), time.process_time()
                res = run(model)
                sync(device)
                dt, dc = time.perf_counter() - t0, time.process_time() - c0
            if rep < 0: continue
            times[name].append(dt); cpu[name].append(dc)
            emit(run=name, rep=rep, seconds=round(dt, 4), cpu_seconds=round(dc, 4), images_per_s=round(n_train / dt, 1),
                 valid_accuracy=round(res['accuracy'], 4), loadavg=load())

    # wall time is what a user waits for; CPU time of this process is less disturbed by other work on a shared machine
    med = lambda v: statistics.median(v)
    n_batches = len(dls.train) + len(dls.valid)
    summary = {k: {'median_s': round(med(times[k]), 4), 'images_per_s': round(n_train / med(times[k]), 1),
                   'overhead_pct': round(100 * (med(times[k]) / med(times['bare']) - 1), 2),
                   'median_cpu_s': round(med(cpu[k]), 4),
                   'cpu_overhead_pct': round(100 * (med(cpu[k]) / med(cpu['bare']) - 1), 2),
                   'cpu_overhead_us_per_batch': round(1e6 * (med(cpu[k]) - med(cpu['bare'])) / n_batches, 1)}
               for k in runs}
    emit(summary=summary, target_overhead_pct=15, loadavg=load())


if __name__ == '__main__': main()
