"""Full MNIST with the course's best fast recipe (lesson 05b), trained against the clock on the CPU.

Prints one JSON line per checkpoint with `train_s` (training seconds so far, evaluation not counted) and `test_acc`,
plus the machine's load average, so that figures from a busy machine can be recognised as such.

    python bench/mnist.py                      # two fresh runs: a 15-second and a 60-second budget
    python bench/mnist.py --budget 30          # one run with a 30-second budget
    python bench/mnist.py --epochs 3           # a fixed number of epochs instead of a time budget
    python bench/mnist.py --data DIR           # any folder with the four MNIST-named IDX files (.gz or not)
    python bench/mnist.py --holdout 10000      # choose settings on the last 10,000 training digits, not the test set

`cpu_s` is the CPU time the process used while training: on a quiet machine it is about `train_s` times the number of
threads; much less than that means other programs were using the cores and `train_s` is inflated. (With two threads
and one busy core, each step waits for the starved thread, and training can be ten times slower; on a shared machine
`--threads 1` gives far steadier figures.)

The recipe: a small all-convolutional net (a 5x5 stride-2 stem, then three 3x3 stride-2 blocks, 16-32-64-128
channels, each conv followed by batchnorm and ReLU, then global average pooling and one linear layer), in channels-last
memory layout; batches of 256; AdamW; the 1cycle shape for the learning rate (a linear rise over the first quarter,
then a cosine fall to nearly zero) with Adam's beta1 moving the opposite way; label smoothing 0.1; and one random
shift of up to 2 pixels for each whole batch. With a time budget the schedule follows the clock, so a run always
finishes its schedule: on a slower or busier machine it simply takes fewer steps.
"""
from __future__ import annotations
import argparse, gzip, json, math, os, time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from convnb.data import mnist, parse_idx
from convnb.layers import conv   # Conv2d (no bias), BatchNorm2d, ReLU

MNIST_NAMES = {'x_train': 'train-images-idx3-ubyte', 'y_train': 'train-labels-idx1-ubyte',
               'x_test': 't10k-images-idx3-ubyte', 'y_test': 't10k-labels-idx1-ubyte'}


def emit(**kw): print(json.dumps(kw), flush=True)


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


def fast_cnn(n_in=1, n_out=10, w=16):
    "Four stride-2 blocks (28 -> 14 -> 7 -> 4 -> 2 pixels, `w` to 8`w` channels), global average pooling, linear."
    return nn.Sequential(conv(n_in, w, ks=5, bn=True), conv(w, 2 * w, bn=True), conv(2 * w, 4 * w, bn=True),
                         conv(4 * w, 8 * w, bn=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8 * w, n_out))


def one_cycle(p, lr_max, pct_start=0.25, div=25., final_div=1e4, mom=(0.95, 0.85)):
    "Learning rate and momentum at progress `p` in [0, 1]: linear warm-up, then cosine annealing (1cycle's shape)."
    if p < pct_start:
        t = p / pct_start
        return lr_max / div + t * (lr_max - lr_max / div), mom[0] + t * (mom[1] - mom[0])
    t = (1 + math.cos(math.pi * min((p - pct_start) / (1 - pct_start), 1.))) / 2   # 1 -> 0
    return lr_max / final_div + t * (lr_max - lr_max / final_div), mom[0] + t * (mom[1] - mom[0])


def evaluate(model, x, y, bs=1000):
    "Test accuracy in eval mode."
    model.eval()
    with torch.no_grad():
        correct = sum((model(x[i:i + bs]).argmax(1) == y[i:i + bs]).sum().item() for i in range(0, len(x), bs))
    model.train()
    return correct / len(x)


def run(data, budget=None, epochs=None, bs=256, lr=0.01, wd=0.05, width=16, smoothing=0.1, shift=2, seed=0, checkpoints=4,
        channels_last=True, eval_name='test'):
    "Train one fresh model for `budget` seconds (or `epochs` epochs), printing a JSON line at each checkpoint."
    torch.manual_seed(seed)
    t_setup = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = data
    mean, std = x_train.float().mean() / 255, x_train.float().std() / 255      # training images only
    layout = torch.channels_last if channels_last else torch.contiguous_format
    norm = lambda x: ((x.float() / 255 - mean) / std)[:, None].contiguous(memory_format=layout)
    xt, xv = norm(x_train), norm(x_test)
    xt = F.pad(xt, (shift,) * 4, value=(-mean / std).item()) if shift else xt   # pad once: a shift is then a slice
    h, w = x_train.shape[-2:]
    model = fast_cnn(w=width).to(memory_format=layout)
    decay, no_decay = [p for p in model.parameters() if p.ndim > 1], [p for p in model.parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': wd}, {'params': no_decay, 'weight_decay': 0.}], lr=lr)
    n, steps_per_epoch = len(xt), len(xt) // bs
    total_steps = epochs * steps_per_epoch if epochs else None
    emit(event='start', budget_s=budget, epochs=epochs, n_train=len(x_train), n_eval=len(x_test), bs=bs, lr=lr, wd=wd,
         width=width, smoothing=smoothing, shift=shift, channels_last=channels_last, seed=seed, threads=torch.get_num_threads(),
         params=sum(p.numel() for p in model.parameters()), setup_s=round(time.perf_counter() - t_setup, 2),
         load1=os.getloadavg()[0])
    marks = [(k + 1) / checkpoints for k in range(checkpoints)]   # fractions of the run at which we evaluate
    train_s, cpu_s, step, epoch, done = 0., 0., 0, 0, False
    while not done:
        idx, epoch = torch.randperm(n), epoch + 1
        for i in range(steps_per_epoch):
            t0, c0 = time.perf_counter(), time.process_time()
            p = train_s / budget if budget else step / total_steps
            lr_now, mom = one_cycle(p, lr)
            for g in opt.param_groups: g['lr'], g['betas'] = lr_now, (mom, 0.99)
            b = idx[i * bs:(i + 1) * bs]
            xb = xt[b]
            if shift:
                dy, dx = torch.randint(0, 2 * shift + 1, (2,)).tolist()
                xb = xb[:, :, dy:dy + h, dx:dx + w]
            xb = xb.contiguous(memory_format=layout)   # convolutions want a dense batch in the model's layout
            loss = F.cross_entropy(model(xb), y_train[b], label_smoothing=smoothing)
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
            train_s += time.perf_counter() - t0; cpu_s += time.process_time() - c0; step += 1
            p = train_s / budget if budget else step / total_steps
            done = p >= 1 - 1e-9
            if done or p >= marks[0]:
                while marks and p >= marks[0]: marks.pop(0)
                emit(event='checkpoint', epoch=round(epoch - 1 + (i + 1) / steps_per_epoch, 2), step=step,
                     train_s=round(train_s, 2), cpu_s=round(cpu_s, 2),
                     **{f'{eval_name}_acc': evaluate(model, xv, y_test)}, loss=round(loss.item(), 4), load1=os.getloadavg()[0])
            if done: break
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data', help='folder with the four MNIST-named IDX files (default: convnb.data.mnist)')
    ap.add_argument('--budget', type=float, nargs='+', default=[15., 60.], help='training seconds, one run each')
    ap.add_argument('--epochs', type=int, nargs='+', help='fixed numbers of epochs instead of time budgets')
    ap.add_argument('--bs', type=int, default=256)
    ap.add_argument('--lr', type=float, default=0.01)
    ap.add_argument('--wd', type=float, default=0.05)
    ap.add_argument('--width', type=int, default=16)
    ap.add_argument('--smoothing', type=float, default=0.1)
    ap.add_argument('--shift', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--holdout', type=int, default=0,
                    help='train on all but the last N training digits and report accuracy on those N (test set unused)')
    ap.add_argument('--no-channels-last', action='store_true', help='keep the usual NCHW memory layout')
    ap.add_argument('--threads', type=int, help='torch threads (default: torch decides, one per core)')
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    data = load_idx_folder(a.data) if a.data else (mnist(True), mnist(False))
    if a.holdout:  # a validation split carved from the training set: for choosing settings without peeking at the test set
        (x, y), _ = data
        data = (x[:-a.holdout], y[:-a.holdout]), (x[-a.holdout:], y[-a.holdout:])
    kw = dict(bs=a.bs, lr=a.lr, wd=a.wd, width=a.width, smoothing=a.smoothing, shift=a.shift, seed=a.seed,
              channels_last=not a.no_channels_last)
    kw['eval_name'] = 'holdout' if a.holdout else 'test'
    for e in a.epochs or []: run(data, epochs=e, **kw)
    for b in ([] if a.epochs else a.budget): run(data, budget=b, **kw)


if __name__ == '__main__': main()
