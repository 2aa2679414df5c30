"""Full MNIST with the course's fast recipe (lesson 06b), trained against the clock on the CPU.

Prints one JSON line per checkpoint with `train_s` (training seconds so far, evaluation not counted), `test_acc` and
`images_per_s`, plus the machine's load average, so that figures from a busy machine can be recognised as such.

    python bench/mnist.py                      # two fresh runs: a 15-second and a 60-second budget
    python bench/mnist.py --budget 30          # one run with a 30-second budget
    python bench/mnist.py --epochs 3           # a fixed number of epochs instead of a time budget
    python bench/mnist.py --data DIR           # any folder with the four MNIST-named IDX files (.gz or not)
    python bench/mnist.py --holdout 10000      # choose settings on the last 10,000 training digits, not the test set

`cpu_s` is the CPU time the process used while training: on a quiet machine it is about `train_s` times the number of
threads; much less than that means other programs were using the cores and `train_s` is inflated. (With two threads
and one busy core, each step waits for the starved thread, and training can be ten times slower; on a shared machine
`--threads 1` gives far steadier figures.)

The recipe, built from `convnb.fast`: `fast_cnn` (a 5x5 stride-2 stem, then three 3x3 stride-2 blocks, 16-32-64-128
channels, each conv followed by batchnorm and ReLU, then global average pooling and one linear layer) in channels-last
memory layout (`ChannelsLast`); the digits normalised and padded once, in memory, with one random shift of up to 2
pixels for each whole batch (`TensorBatches`); batches of 512 with a peak learning rate of 0.02; AdamW with weight decay on the weights only
(`decay_groups`); the 1cycle shape for the learning rate (a linear rise over the first quarter, then a cosine fall to
nearly zero) with Adam's beta1 moving the opposite way (`one_cycle_cos`); label smoothing 0.1. With a time budget the
schedule follows the clock (`Budget`), so a run always finishes its schedule: on a slower or busier machine it simply
takes fewer steps. Freed memory is kept for the next step (`keep_freed_memory`, as in bench/cifar.py; for this
small net it made no measurable difference: 20,400 against 20,800 images per second; `--no-keep-memory` leaves it out).

Tried on the holdout and left out of the recipe (each ends level with it or lower; bench/results/tuning):
`--crop 24` (the central 24x24 pixels only, 13% more images per second), `--ema 0.99` (the checkpoints measure an
average of the weights, `WeightAverage`), `--width 32`, `--bf16 on`, `--muon-lr 0.005 --lr 0.05` (Muon,
`convnb.muon.Muon`, for the conv filters, Nesterov SGD for the rest: 99.43/99.45% after 15 s against AdamW's
99.40/99.34% the same day, within the noise; a little lower after 60 s, at a fifth fewer images per second).
`--tta ring` also reports `*_tta_acc`, the softmax averaged over each digit and its eight one-pixel shifts (never
mirrored): +0.04 to +0.07 points on the holdout after 5 epochs (three seeds), too little to change the picture.
"""
from __future__ import annotations
import argparse, gzip, time
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F

from common import emit, load, machine
from convnb.callbacks import Callback, accuracy
from convnb.data import DataLoaders, mnist, parse_idx
from convnb.fast import (ChannelsLast, MixedPrecision, TensorBatches, WeightAverage, amp_dtype, decay_groups,
                         fast_cnn, one_cycle_cos)
from convnb.inspection import n_params
from convnb.learner import Learner
from convnb.muon import Muon
from convnb.resnet import tta
from convnb.training import keep_freed_memory

MNIST_NAMES = {'x_train': 'train-images-idx3-ubyte', 'y_train': 'train-labels-idx1-ubyte',
               'x_test': 't10k-images-idx3-ubyte', 'y_test': 't10k-labels-idx1-ubyte'}


def load_idx_folder(folder):
    "The four MNIST-named IDX files of `folder` (gzipped or not) as uint8 images `(N,28,28)` and int64 labels."
    folder, out = Path(folder), {}
    for key, name in MNIST_NAMES.items():
        path = next((p for p in (folder/f'{name}.gz', folder/name) if p.is_file()), None)
        if path is None: raise SystemExit(f"{folder} has no {name}.gz (or {name}): --data needs MNIST's four IDX file names")
        raw = path.read_bytes()
        out[key] = torch.from_numpy(parse_idx(gzip.decompress(raw) if path.suffix == '.gz' else raw).copy())
    if out['x_train'].ndim != 3 or len(out['x_train']) != len(out['y_train']) or len(out['x_test']) != len(out['y_test']):
        raise SystemExit(f"{folder}: expected images (N,H,W) with as many labels; got {tuple(out['x_train'].shape)} "
                         f"and {tuple(out['y_train'].shape)}")
    return (out['x_train'], out['y_train'].long()), (out['x_test'], out['y_test'].long())


class Checkpoints(Callback):
    "Evaluates at `n` evenly spaced fractions of the budget, with the clock stopped: one JSON line each."
    order = 60
    def __init__(self, test_dl, n=4, eval_name='test', tta_shifts=()):
        self.test_dl, self.n, self.eval_name, self.tta_shifts = test_dl, n, eval_name, tta_shifts
    def before_fit(self):
        self.marks, self.cpu0, self.eval_cpu = [(k + 1) / self.n for k in range(self.n)], time.process_time(), 0.
    def after_step(self):
        learn, b = self.learn, self.learn.budget
        p = b.frac()
        if not (p >= 1 or p >= self.marks[0]): return
        while self.marks and p >= self.marks[0]: self.marks.pop(0)
        c0 = time.process_time()
        with b.paused():
            accs = {f'{self.eval_name}_acc': learn.validate(self.test_dl)['accuracy']}
            if self.tta_shifts: accs[f'{self.eval_name}_tta_acc'] = shifted_accuracy(learn, self.test_dl, self.tta_shifts)
        self.eval_cpu += time.process_time() - c0
        train_s = b.elapsed()
        emit(event='checkpoint', epoch=round(learn.epoch + (learn.iter + 1) / learn.n_iter, 2), step=b.steps,
             train_s=round(train_s, 2), cpu_s=round(time.process_time() - self.cpu0 - self.eval_cpu, 2),
             images_per_s=round(b.images / train_s, 1), **accs,
             loss=round(learn.loss.item(), 4), load1=load())


TTA_SHIFTS = {'none': (), 'plus': ((1, 0), (-1, 0), (0, 1), (0, -1)),
              'ring': ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1))}


def shifted_accuracy(learn, dl, shifts) -> float:
    "Accuracy of the softmax averaged over each digit and its copies moved by `shifts` (no mirror: digits have a side)."
    return accuracy(*tta(learn, dl, flip=False, shifts=shifts)).item()


def adamw(params, lr, wd):
    "AdamW with weight decay on the weights only; beta1 follows the schedule, beta2 is 0.99."
    return torch.optim.AdamW(decay_groups(params, wd), lr=lr, betas=(0.95, 0.99))


def muon_sgd(params, lr, muon_lr, muon_mom=0.6, mom=0.9):
    "`Muon` for the conv filters at `muon_lr`; Nesterov SGD at `lr` for the rest (biases, norms, the head)."
    ps = [p for p in params if p.requires_grad]
    return Muon([dict(params=[p for p in ps if p.ndim == 4], lr=muon_lr, lr_mult=muon_lr / lr, momentum=muon_mom,
                      muon=True), dict(params=[p for p in ps if p.ndim != 4])], lr=lr, momentum=mom)


def run(data, budget=None, epochs=None, bs=512, lr=0.02, wd=0.05, width=16, smoothing=0.1, shift=2, seed=0, checkpoints=4,
        channels_last=True, eval_name='test', bf16='off', crop=0, ema=0., kept_memory=False, muon_lr=0., muon_mom=0.6,
        tta='none'):
    "Train one fresh model for `budget` seconds (or `epochs` epochs), printing a JSON line at each checkpoint."
    torch.manual_seed(seed)
    t_setup = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = data
    mean, std = x_train.float().mean() / 255, x_train.float().std() / 255      # training images only
    m = (x_train.shape[-1] - crop) // 2 if crop else 0   # a centre crop drops the mostly black border
    norm = lambda x: ((x[..., m:x.shape[-2] - m, m:x.shape[-1] - m].float() / 255 - mean) / std)[:, None]
    train = TensorBatches(norm(x_train), y_train, bs, shift=shift, fill=(-mean / std).item())  # black comes in
    test = TensorBatches(norm(x_test), y_test, 1000, shuffle=False)
    model = fast_cnn(w=width)
    cbs = [Checkpoints(test, checkpoints, eval_name, TTA_SHIFTS[tta])] + ([ChannelsLast()] if channels_last else [])
    amp = amp_dtype('cpu', {'auto': 'auto', 'on': True, 'off': False}[bf16])
    if amp: cbs.append(MixedPrecision(dtype=amp))
    if ema: cbs.append(WeightAverage(ema, warmup=0.25))   # the checkpoints measure the average
    learn = Learner(model, DataLoaders(train, []), loss_func=partial(F.cross_entropy, label_smoothing=smoothing),
                    opt_func=(partial(muon_sgd, muon_lr=muon_lr, muon_mom=muon_mom) if muon_lr else
                              partial(adamw, wd=wd)),
                    cbs=cbs, progress=False)  # no validation pass: the checkpoints
    emit(event='start', budget_s=budget, epochs=epochs, n_train=len(x_train), n_eval=len(x_test), bs=bs, lr=lr, wd=wd,
         width=width, smoothing=smoothing, shift=shift, crop=crop, ema=ema, channels_last=channels_last, seed=seed, **machine(),
         bf16=amp == torch.bfloat16, kept_memory=kept_memory, muon_lr=muon_lr, muon_mom=muon_mom, tta=tta,
         params=n_params(model),
         setup_s=round(time.perf_counter() - t_setup, 2), load1=load())
    learn.fit_budget(one_cycle_cos(lr / 25, lr, lr / 1e4), None if muon_lr else one_cycle_cos(0.95, 0.85, 0.95),
                     seconds=budget, steps=epochs * len(train) if epochs else None)
    return learn.model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data', help='folder with the four MNIST-named IDX files (default: convnb.data.mnist)')
    ap.add_argument('--budget', type=float, nargs='+', default=[15., 60.], help='training seconds, one run each')
    ap.add_argument('--epochs', type=int, nargs='+', help='fixed numbers of epochs instead of time budgets')
    ap.add_argument('--bs', type=int, default=512, help='batch size (chosen with --lr on --holdout 10000)')
    ap.add_argument('--lr', type=float, default=0.02, help='peak learning rate')
    ap.add_argument('--wd', type=float, default=0.05)
    ap.add_argument('--width', type=int, default=16)
    ap.add_argument('--smoothing', type=float, default=0.1)
    ap.add_argument('--shift', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--muon-lr', type=float, default=0., help='Muon for the conv filters at this peak lr, SGD at --lr '
                                                               'for the rest (0: AdamW for all)')
    ap.add_argument('--muon-mom', type=float, default=0.6, help="Muon's Nesterov momentum")
    ap.add_argument('--tta', choices=list(TTA_SHIFTS), default='none',
                    help='also report accuracy averaged over one-pixel shifts of each test digit: plus (4), ring (8)')
    ap.add_argument('--ema', type=float, default=0., help='weight averaging: 0 for none, else the decay per step')
    ap.add_argument('--crop', type=int, default=0, help='train and test on the central CROP x CROP pixels (0: all)')
    ap.add_argument('--holdout', type=int, default=0,
                    help='train on all but the last N training digits and report accuracy on those N (test set unused)')
    ap.add_argument('--bf16', choices=['auto', 'on', 'off'], default='off',
                    help='bfloat16 autocast (auto: where the CPU has bf16 units); off by default: the net is too small to gain')
    ap.add_argument('--no-channels-last', action='store_true', help='keep the usual NCHW memory layout')
    ap.add_argument('--threads', type=int, help='torch threads (default: torch decides, one per core)')
    ap.add_argument('--no-keep-memory', dest='keep_memory', action='store_false',
                    help="leave glibc's malloc as it is (by default freed memory is kept: keep_freed_memory)")
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    kept = keep_freed_memory() if a.keep_memory else False
    data = load_idx_folder(a.data) if a.data else (mnist(True), mnist(False))
    if a.holdout:  # a validation split carved from the training set: for choosing settings without peeking at the test set
        (x, y), _ = data
        data = (x[:-a.holdout], y[:-a.holdout]), (x[-a.holdout:], y[-a.holdout:])
    kw = dict(bs=a.bs, lr=a.lr, wd=a.wd, width=a.width, smoothing=a.smoothing, shift=a.shift, seed=a.seed,
              channels_last=not a.no_channels_last, bf16=a.bf16, crop=a.crop, ema=a.ema, kept_memory=kept,
              muon_lr=a.muon_lr, muon_mom=a.muon_mom, tta=a.tta)
    kw['eval_name'] = 'holdout' if a.holdout else 'test'
    for e in a.epochs or []: run(data, epochs=e, **kw)
    for b in ([] if a.epochs else a.budget): run(data, budget=b, **kw)


if __name__ == '__main__': main()
