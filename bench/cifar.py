"""CIFAR-10 from scratch with the course's best recipe (lesson 06): a whitened fast net, trained against the clock.

Prints one JSON line at the start (the settings), one per checkpoint epoch (`train_s`, `images_per_s`, `test_acc`)
and a last one with `test_acc` and `tta_acc`. Checkpoints are every second epoch by default (`--eval-every`);
`train_s` counts training only, not evaluation, so evaluating more or less often does not change the result.

    python bench/cifar.py                 # 15 minutes of training, the default budget
    python bench/cifar.py --minutes 3     # a short run: the whole schedule squeezed into 3 minutes
    python bench/cifar.py --epochs 8      # a fixed number of epochs instead of a time budget

The model (`--net fast`, the default): lesson 06's `fast_net`, in the spirit of Keller Jordan's airbench: a frozen
2x2 patch-whitening conv fitted to ten training batches, then plain conv-pool groups (`--widths`, default 32,128,128)
and no shortcuts. `--net resnet`: `resnet_small` (a 3x3 stem, three stages of residual blocks, 1.2M parameters).
The recipe: the model in channels-last memory
layout, its forward pass under bfloat16 autocast where the CPU computes in bf16 natively (AVX512-BF16, AMX);
random flips and shifts of up to 2 pixels, applied to whole uint8 batches (`flip_shift`); label smoothing 0.2;
SGD with Nesterov momentum 0.9, batches of 256, weight decay 5e-4 on the weights only; the learning rate rises
linearly to 0.4 over the first quarter of the budget and falls linearly to zero at the end; at the end, test-time
augmentation (`tta`: flips and one-pixel shifts). With `--minutes` the schedule follows the clock, so a run finishes
its schedule on a slow or a busy machine too (on a machine shared with other jobs, `--threads 1` is often faster).
"""
from __future__ import annotations
import argparse, contextlib, copy, itertools, json, os, time
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F

from convnb.data import cifar10, dataloaders
from convnb.learner import Learner, Callback, CancelFitException, CancelValidException, accuracy
from convnb.resnet import resnet_small, fast_net, flip_shift, tta


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--minutes', type=float, default=15., help='training time budget (ignored with --epochs)')
    p.add_argument('--epochs', type=float, default=None, help='train this many epochs instead of for --minutes')
    p.add_argument('--bs', type=int, default=256, help='batch size (256 was tuned together with --lr 0.4)')
    p.add_argument('--lr', type=float, default=0.4, help='peak learning rate')
    p.add_argument('--wd', type=float, default=5e-4)
    p.add_argument('--pct-start', type=float, default=0.25, help='fraction of the budget spent warming up')
    p.add_argument('--label-smoothing', type=float, default=0.2)
    p.add_argument('--net', choices=['resnet', 'fast'], default='fast',
                   help="resnet: lesson 06's resnet_small; fast: a whitened plain net in the spirit of airbench")
    p.add_argument('--widths', type=str, default=None, help='resnet: 32,64,128,256; fast: 32,128,128')
    p.add_argument('--depth', type=str, default='1', help='blocks per stage: one int, or one per stage like 1,1,2')
    p.add_argument('--max-shift', type=int, default=2)
    p.add_argument('--ema', type=float, default=0.0, help='weight averaging: 0 for none, else the decay per step')
    p.add_argument('--eval-every', type=int, default=2,
                   help='evaluate on the test set every this many epochs (not counted in train_s)')
    p.add_argument('--limit', type=int, default=None, help='train on LIMIT evenly spaced images (quick checks)')
    p.add_argument('--test-limit', type=int, default=None, help='test on TEST_LIMIT evenly spaced images')
    p.add_argument('--threads', type=int, default=None, help='CPU threads (default: all cores)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--no-channels-last', dest='channels_last', action='store_false')
    p.add_argument('--bf16', choices=['auto', 'on', 'off'], default='auto',
                   help='bfloat16 autocast for the forward pass; auto: on where the CPU computes in bf16 natively')
    return p.parse_args(argv)


def emit(**kw):
    "One JSON line on stdout, flushed so a reader sees progress."
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in kw.items()}), flush=True)


def evenly_spaced(x, y, n):
    "`n` evenly spaced items: a balanced subset, since the CIFAR-10 files are sorted by class."
    idx = torch.arange(n) * len(x) // n
    return x[idx], y[idx]


def nesterov_sgd(params, lr, wd=5e-4):
    "SGD with Nesterov momentum 0.9; weight decay on the conv and linear weights, none on biases and batchnorm."
    params = [p for p in params if p.requires_grad]
    groups = [dict(params=[p for p in params if p.ndim > 1], weight_decay=wd),
              dict(params=[p for p in params if p.ndim <= 1], weight_decay=0.)]
    return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)


def warmup_decay(frac, pct_start):
    "Learning-rate multiplier at `frac` of the way through training: up linearly, then down linearly to zero."
    return frac / pct_start if frac < pct_start else max(0., (1 - frac) / (1 - pct_start))


class Budget(Callback):
    "Sets the learning rate from the fraction of the budget (training seconds or steps) used, and stops at the end."
    order = 5
    def __init__(self, lr_max, pct_start, seconds=None, steps=None):
        self.lr_max, self.pct_start, self.seconds, self.steps = lr_max, pct_start, seconds, steps
    def before_fit(self): self.train_s, self.step, self.images = 0., 0, 0
    def before_train(self): self.t0 = time.perf_counter()
    def after_train(self): self.train_s += time.perf_counter() - self.t0
    def elapsed(self): return self.train_s + (time.perf_counter() - self.t0 if self.learn.training else 0.)
    def frac(self): return self.elapsed() / self.seconds if self.seconds else self.step / self.steps
    def before_batch(self):
        if not self.learn.training: return
        f = self.frac()
        if f >= 1: self.after_train(); raise CancelFitException
        for g in self.learn.opt.param_groups: g['lr'] = self.lr_max * warmup_decay(f, self.pct_start)
    def after_step(self): self.step += 1; self.images += len(self.learn.yb)


def cpuinfo() -> str:
    "The text of /proc/cpuinfo, or '' where there is none."
    try: return Path('/proc/cpuinfo').read_text()
    except OSError: return ''


def cpu_name() -> str:
    "The CPU's model name (figures differ a lot between CPUs)."
    return next((l.split(':', 1)[1].strip() for l in cpuinfo().splitlines() if l.startswith('model name')), 'unknown')


def cpu_has_bf16() -> bool:
    "Whether this CPU has native bfloat16 dot products (AVX512-BF16 or AMX), which make bf16 convolutions faster."
    flags = cpuinfo()
    return 'avx512_bf16' in flags or 'amx_bf16' in flags


class MixedPrecision(Callback):
    "Runs the forward pass under bfloat16 autocast (weights, gradients and the loss stay float32)."
    order = 2
    def __init__(self, device_type): self.device_type, self.ctx = device_type, None
    def before_batch(self):
        self.ctx = torch.autocast(self.device_type, dtype=torch.bfloat16); self.ctx.__enter__()
    def after_pred(self):
        self.ctx.__exit__(None, None, None); self.ctx = None
        self.learn.preds = self.learn.preds.float()
    def after_batch(self):
        if self.ctx is not None: self.ctx.__exit__(None, None, None); self.ctx = None


class ChannelsLast(Callback):
    "Feeds the model channels-last batches (faster convolutions on CPUs with oneDNN)."
    order = 1
    def before_batch(self): self.learn.xb = self.learn.xb.contiguous(memory_format=torch.channels_last)


class WeightAverage(Callback):
    "Keeps an exponential moving average of the weights (and batchnorm statistics); evaluation uses the average."
    order = 30
    def __init__(self, decay): self.decay = decay
    def before_fit(self): self.avg = copy.deepcopy(self.learn.model).requires_grad_(False)
    @torch.no_grad()
    def after_step(self):
        d = self.decay * min(1., self.learn.budget.frac() / self.learn.budget.pct_start)  # little averaging in warm-up
        for a, m in zip(self.avg.state_dict().values(), self.learn.model.state_dict().values()):
            if a.is_floating_point(): a.lerp_(m, 1 - d)
            else: a.copy_(m)
    def before_validate(self): self.trained, self.learn.model = self.learn.model, self.avg.eval()
    def after_validate(self): self.learn.model = self.trained
    def after_fit(self): self.learn.model.load_state_dict(self.avg.state_dict())


class SkipValidation(Callback):
    "Validates only every `every` epochs (checkpoints)."
    order = 0
    def __init__(self, every): self.every = every
    def before_validate(self):
        if (self.learn.epoch + 1) % self.every: raise CancelValidException


class Report(Callback):
    "After each checkpoint epoch: one JSON line with training time, speed and test accuracy."
    order = 70
    def __init__(self): self.t_start = time.perf_counter()
    def after_epoch(self):
        row, b = self.learn.recorder.history[-1], self.learn.budget
        if row['valid_loss'] != row['valid_loss']: return  # not a checkpoint: no validation this epoch
        emit(epoch=self.learn.epoch + 1, train_s=b.train_s, images_per_s=b.images / max(b.train_s, 1e-9),
             train_loss=row['train_loss'], test_loss=row['valid_loss'], test_acc=row['accuracy'],
             wall_s=time.perf_counter() - self.t_start, load=os.getloadavg()[0])


def main(argv=None):
    a = parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    t_start = time.perf_counter()
    x, y, _ = cifar10(); xt, yt, _ = cifar10(train=False)
    if a.limit: x, y = evenly_spaced(x, y, a.limit)
    if a.test_limit: xt, yt = evenly_spaced(xt, yt, a.test_limit)
    dls = dataloaders((x, y), (xt, yt), bs=a.bs, tfms=partial(flip_shift, max_shift=a.max_shift), valid_bs=1000)
    widths = [int(w) for w in (a.widths or ('32,64,128,256' if a.net == 'resnet' else '32,128,128')).split(',')]
    if a.net == 'resnet':
        depth = [int(d) for d in a.depth.split(',')]
        model = resnet_small(widths=widths, depth=depth[0] if len(depth) == 1 else depth)
    else:
        xs = torch.cat([xb for xb, _ in itertools.islice(dls.train, 10)])  # whitening is fitted to training batches
        model = fast_net(xs.cpu(), widths).to(dls.device)
    if a.channels_last: model = model.to(memory_format=torch.channels_last)
    steps = round(a.epochs * len(dls.train)) if a.epochs else None
    budget = Budget(a.lr, a.pct_start, seconds=None if a.epochs else 60 * a.minutes, steps=steps)
    cbs = [budget, SkipValidation(a.eval_every), Report()] + ([ChannelsLast()] if a.channels_last else [])
    if a.ema: cbs.append(WeightAverage(a.ema))
    bf16 = a.bf16 == 'on' or (a.bf16 == 'auto' and (dls.device.type == 'cuda' or cpu_has_bf16()))
    if bf16: cbs.append(MixedPrecision(dls.device.type))
    autocast = partial(torch.autocast, dls.device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext
    learn = Learner(model, dls, loss_func=partial(F.cross_entropy, label_smoothing=a.label_smoothing),
                    opt_func=partial(nesterov_sgd, wd=a.wd), cbs=cbs, progress=False)
    learn.budget = budget
    emit(event='start', args={k: v for k, v in vars(a).items() if v is not None}, device=str(dls.device),
         threads=torch.get_num_threads(), cpu=cpu_name(), params=sum(p.numel() for p in model.parameters()), train_images=len(x),
         test_images=len(xt), bf16=bf16, load=os.getloadavg()[0])
    learn.fit(10_000 if a.epochs is None else int(-(-a.epochs // 1)), a.lr)
    with autocast(): test_acc = learn.validate()['accuracy']
    t0 = time.perf_counter()
    with autocast(): probs, targs = tta(learn)
    emit(event='end', train_s=budget.train_s, steps=budget.step, epochs=budget.images / len(x),
         images_per_s=budget.images / max(budget.train_s, 1e-9), test_acc=test_acc,
         tta_acc=accuracy(probs, targs).item(), tta_s=time.perf_counter() - t0,
         wall_s=time.perf_counter() - t_start, load=os.getloadavg()[0])


if __name__ == '__main__': main()
