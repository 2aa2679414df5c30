"""What does convnb's Learner cost over a bare PyTorch loop? Prints JSON lines, one per measured epoch, then a summary.

Both train the same model (simple_cnn, 2 classes) from the same initial weights on the same 3-vs-7 batches: one
epoch of training, then one pass over the validation set computing loss and accuracy. The runs are interleaved
(bare, Learner, Learner with progress bar, bare, ...) so that a change in machine load hits all of them alike, and the
summary uses medians. Within a rep every run sees the same shuffled batches, so their validation accuracies should agree:
a check that the Learner does exactly the bare loop's work.

    python bench/learner.py [--reps 5] [--bs 64] [--threads N] [--device cpu|cuda] [--model simple|linear]

`--model linear` (one nn.Linear) makes the model almost free, so the difference is the Learner's own cost per batch.
"""
import argparse, contextlib, statistics, sys, time

import torch
import torch.nn.functional as F
from torch import nn

from convnb.data import mnist_sample, dataloaders
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


def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--reps', type=int, default=5)
    p.add_argument('--bs', type=int, default=64)
    p.add_argument('--lr', type=float, default=0.05)
    p.add_argument('--threads', type=int, default=None, help='torch.set_num_threads (default: torch decides)')
    p.add_argument('--device', default=None)
    p.add_argument('--model', default='simple', choices=['simple', 'linear'])
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    device = torch.device(a.device) if a.device else default_device()

    train, valid = mnist_sample()
    dls = dataloaders(train, valid, bs=a.bs, device=device)
    n_train = len(dls.train) * a.bs
    make = (lambda: simple_cnn(n_out=2)) if a.model == 'simple' else (lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 2)))
    torch.manual_seed(0)
    init = make().state_dict()
    runs = {'bare': lambda m: bare_epoch(m, dls, a.lr),
            'learner': lambda m: learner_epoch(m, dls, a.lr, progress=False),
            'learner_progress': lambda m: learner_epoch(m, dls, a.lr, progress=True)}
    emit(bench='learner', model=a.model, device=str(device), **machine(), bs=a.bs, n_train=n_train,
         n_valid=len(valid[1]), loadavg=load())

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
