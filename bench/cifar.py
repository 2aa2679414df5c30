"""CIFAR-10 from scratch with the course's best recipe (lesson 06b): a whitened fast net, trained against the clock.

Prints one JSON line at the start (the settings), one per checkpoint epoch (`train_s`, `images_per_s`, `test_acc`)
and a last one with `test_acc` and `tta_acc`. Checkpoints are every second epoch by default (`--eval-every`);
`train_s` counts training only, not evaluation, so evaluating more or less often does not change the result.

    python bench/cifar.py                 # 15 minutes of training, the default budget
    python bench/cifar.py --minutes 3     # a short run: the whole schedule squeezed into 3 minutes
    python bench/cifar.py --epochs 8      # a fixed number of epochs instead of a time budget
    python bench/cifar.py --valid 5000    # for choosing settings: train on 45,000, report on the 5,000 held out

The model (`--net fast`, the default): lesson 06b's `fast_net`, in the spirit of Keller Jordan's airbench: a frozen
2x2 patch-whitening conv fitted to ten training batches, then plain conv-pool groups (`--widths`, default 64,256,256,
chosen over 32,128,128 on the validation split) and no shortcuts; each 3x3 conv starts as the identity on its first
inputs (lesson 06b's `identity_init`) and the batchnorm scales stay 1 (its `fixed_norm_scales`). `--net resnet`:
lesson 06's `resnet_small`. The recipe, built from `convnb.fast` with the course's `Learner`: the model in
channels-last memory layout (`ChannelsLast`), its forward pass under bfloat16 autocast where the CPU computes in bf16
natively (AVX512-BF16, AMX; `MixedPrecision`, float16 on a CUDA GPU); glibc's malloc told to keep freed memory for
the next step (`keep_freed_memory`: no page faults, about 10% more images per second); alternating flips (a random
half of the images mirrored in the first epoch, then every image mirrored again each epoch: `AlternatingFlips`) and
random shifts of up to 2 pixels, applied to whole uint8 batches (`flip_shift`); label smoothing 0.2. The optimiser is
airbench's, written for a mean loss and scaled to batches of 512 (airbench's 1,024 halved, and its learning rate with
them: on a CPU a smaller batch costs no speed, and on the validation split 512 came out a little ahead of 1,024 and
256): SGD with Nesterov momentum 0.85, a peak learning rate of 0.75 (64 times that for the batchnorm shifts), and
weight decay on every tensor, 0.1% per step at the peak (`airbench_sgd`); the learning rate rises linearly from 0.15
to 0.75 over the first 23% of the budget and falls to 0.0525 at the end (`ramp`, `Budget`); the whitening bias starts
at zero and trains for the first three epochs only (`FreezeAfter`); every 5 steps the weights are pulled to a moving
average of themselves that grows more stubborn as the budget runs out (`Lookahead`), and the run ends on that
average; batchnorm keeps its running statistics with momentum 0.4. At the end, test-time augmentation (`tta`: flips
and one-pixel shifts), reported apart. With `--minutes` the schedule follows the clock, so a run finishes its
schedule on a slow or a busy machine too (on a machine shared with other jobs, `--threads 1` is often faster).

Flags to leave ingredients out, for ablations: `--no-keep-memory`, `--no-whitening`, `--no-flip`, `--flips random`,
`--max-shift 0`, `--label-smoothing 0`, `--bf16 off`, `--no-channels-last`, `--no-dirac`, `--bn-scale`,
`--no-bias-decay`, `--no-lookahead`, `--whiten-bias off` (zero and frozen from the start: the first layer's backward
pass is skipped, about 6% faster), `--whiten-fp32` (the whitening conv in float32: 6% slower). Tried on the
validation split and left out: `--whiten-eps` (a larger eps damps the faint chroma detail that JPEG removes),
`--whiten-keep K` (only the K strongest whitened directions), `--recalibrate N` (batchnorm statistics measured afresh
at the end on N unaugmented training images; the last line then has both accuracies), `--ema`, `--muon-lr` (Muon,
`convnb.muon.Muon`, for the 3x3 filters, SGD for the rest: far ahead after two epochs, 85.2% against 81.5% at
`--muon-lr 0.03`, and level after ten, 89.9% against 89.8-89.9%, at up to a tenth fewer images per second).
`--small-start 24 --small-until F` (`SmallStart`: the training batches shrunk to 24x24 pixels while the budget's
fraction is below F, for cheaper early steps) is an option for a CPU on which 15 minutes hold only about ten epochs:
13 epochs with the first half shrunk cost about as much as ten and reached 90.3% on the validation split, against
89.8-89.9% for ten, and level with 15 full epochs (90.2%).
The earlier recipes: with `--bs 1024 --lr 1.5` (airbench's batches), 89.8% on the test set; with `--bs 1024 --lr 1.5
--flips random`, 89.5%; with `--flips random --bs 256 --lr 0.4 --wd 5e-4 --pct-start 0.25 --lr-start 0 --lr-end 0
--mom 0.9 --bias-mult 1 --no-bias-decay --bn-scale --no-dirac --whiten-bias train --whiten-bias-epochs 1000
--no-lookahead --bn-momentum 0.1`, 88.6%. bench/cifar_ablation.py runs the ablations; bench/results/README.md lists
the saved runs."""
from __future__ import annotations
import argparse, contextlib, itertools, time
from functools import partial

import torch
import torch.nn.functional as F

from common import emit, load, machine
from convnb.callbacks import Callback, CancelValidException, accuracy
from convnb.data import Loader, cifar10, dataloaders, random_split
from convnb.fast import (ChannelsLast, MixedPrecision, WeightAverage, amp_dtype, fast_net, nesterov_sgd,
                         whitening_filters)
from convnb.inspection import n_params
from convnb.learner import Learner
from convnb.muon import Muon
from convnb.training import keep_freed_memory
from convnb.resnet import evenly_spaced, flip_shift, resnet_small, tta


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--minutes', type=float, default=15., help='training time budget (ignored with --epochs)')
    p.add_argument('--epochs', type=float, default=None, help='train this many epochs instead of for --minutes')
    p.add_argument('--bs', type=int, default=512, help='batch size')
    p.add_argument('--lr', type=float, default=0.75, help='peak learning rate (of the mean loss)')
    p.add_argument('--wd', type=float, default=1.33e-3, help='weight decay (times the lr: the decay per step)')
    p.add_argument('--pct-start', type=float, default=0.23, help='fraction of the budget spent warming up')
    p.add_argument('--lr-start', type=float, default=0.2, help='the schedule starts at this fraction of --lr')
    p.add_argument('--lr-end', type=float, default=0.07, help='and ends at this fraction of --lr')
    p.add_argument('--label-smoothing', type=float, default=0.2)
    p.add_argument('--net', choices=['resnet', 'fast'], default='fast',
                   help="resnet: lesson 06's resnet_small; fast: lesson 06b's whitened plain net, after airbench")
    p.add_argument('--widths', type=str, default=None, help='resnet: 32,64,128,256; fast: 64,256,256')
    p.add_argument('--depth', type=str, default='1', help='blocks per stage: one int, or one per stage like 1,1,2')
    p.add_argument('--max-shift', type=int, default=2, help='random shifts of up to this many pixels (0: none)')
    p.add_argument('--no-flip', dest='flip', action='store_false', help='no random mirror images')
    p.add_argument('--flips', choices=['alternate', 'random'], default='alternate',
                   help='alternate: a random half mirrored in the first epoch, then each image mirrored every other '
                        "epoch (airbench's); random: each image mirrored by a coin toss in every batch")
    p.add_argument('--no-whitening', dest='whitening', action='store_false',
                   help='fast net: an ordinary learned 2x2 conv in place of the frozen whitening (an ablation)')
    p.add_argument('--no-dirac', dest='dirac', action='store_false',
                   help='3x3 convs start random (default: as the identity on their first inputs, `identity_init`)')
    p.add_argument('--bias-mult', type=float, default=64., help='batchnorm shifts (all biases without --no-bias-decay) '
                                                                 'learn this many times faster')
    p.add_argument('--no-keep-memory', dest='keep_memory', action='store_false',
                   help="leave glibc's malloc as it is (by default freed memory is kept: keep_freed_memory)")
    p.add_argument('--bn-scale', action='store_true', help='batchnorm scales train (default: fixed at 1)')
    p.add_argument('--whiten-bias', choices=['train', 'zero', 'off'], default='zero',
                   help='the whitening conv bias: trained from a random start, trained from zero, or zero and frozen')
    p.add_argument('--whiten-bias-epochs', type=int, default=3,
                   help='train the whitening bias for this many epochs, then freeze it')
    p.add_argument('--whiten-eps', type=float, default=5e-4,
                   help="added to the patch covariance's eigenvalues: larger damps the faint (JPEG-noise) directions")
    p.add_argument('--whiten-keep', type=int, default=0,
                   help='keep only the K strongest whitened directions (and their negatives), 1 to 12; 0: all 12')
    p.add_argument('--whiten-fp32', action='store_true', help='the whitening conv in float32 under bf16 autocast')
    p.add_argument('--no-bias-decay', dest='bias_decay', action='store_false',
                   help="no weight decay on biases and norms, all 1-D tensors at --bias-mult (the earlier recipe)")
    p.add_argument('--bn-momentum', type=float, default=0.4, help="batchnorm running-stat momentum (PyTorch's: 0.1)")
    p.add_argument('--no-lookahead', dest='lookahead', action='store_false',
                   help="no Lookahead (default: every 5 steps the weights are pulled to their moving average)")
    p.add_argument('--mom', type=float, default=0.85, help='Nesterov momentum')
    p.add_argument('--muon-lr', type=float, default=0., help='Muon for the 3x3 conv filters at this peak lr (0: SGD)')
    p.add_argument('--muon-mom', type=float, default=0.6, help="Muon's Nesterov momentum")
    p.add_argument('--small-start', type=int, default=0,
                   help='train on images shrunk to this many pixels a side for the first --small-until of the budget')
    p.add_argument('--small-until', type=float, default=0.5, help='the fraction of the budget that --small-start lasts')
    p.add_argument('--ema', type=float, default=0.0, help='weight averaging: 0 for none, else the decay per step')
    p.add_argument('--recalibrate', type=int, default=0,
                   help='also report the accuracy after batchnorm statistics are measured afresh on this many images')
    p.add_argument('--eval-every', type=int, default=2,
                   help='evaluate on the test set every this many epochs (not counted in train_s)')
    p.add_argument('--limit', type=int, default=None, help='train on LIMIT evenly spaced images (quick checks)')
    p.add_argument('--test-limit', type=int, default=None, help='test on TEST_LIMIT evenly spaced images')
    p.add_argument('--valid', type=int, default=0,
                   help='hold out VALID training images (stratified, seed 42) and report on them, never the test set: '
                        'for choosing the recipe')
    p.add_argument('--threads', type=int, default=None, help='CPU threads (default: all cores)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--no-channels-last', dest='channels_last', action='store_false')
    p.add_argument('--bf16', choices=['auto', 'on', 'off'], default='auto',
                   help='mixed precision for the forward pass; auto: on where the CPU computes in bf16 natively')
    return p.parse_args(argv)


class SkipValidation(Callback):
    "Validates only every `every` epochs (checkpoints)."
    order = 0
    def __init__(self, every): self.every = every
    def before_validate(self):
        if (self.learn.epoch + 1) % self.every: raise CancelValidException


class Report(Callback):
    "After each checkpoint epoch: one JSON line with training time, speed and test accuracy."
    order = 70
    def __init__(self, name='test'): self.t_start, self.split = time.perf_counter(), name
    def after_epoch(self):
        row, b = self.learn.recorder.history[-1], self.learn.budget
        if row['valid_loss'] != row['valid_loss']: return  # not a checkpoint: no validation this epoch
        emit(epoch=self.learn.epoch + 1, train_s=b.train_s, images_per_s=b.images / max(b.train_s, 1e-9),
             train_loss=row['train_loss'], **{f'{self.split}_loss': row['valid_loss']}, **{f'{self.split}_acc': row['accuracy']},
             wall_s=time.perf_counter() - self.t_start, load=load())


def ramp(peak, start=0., end=0., pct_start=0.25):
    "A schedule: linearly from `start`*`peak` to `peak` over `pct_start` of the budget, then to `end`*`peak`."
    def sched(f):
        if f < pct_start: return peak * (start + (1 - start) * f / pct_start)
        return peak * (end + (1 - end) * max(0., (1 - f) / (1 - pct_start)))
    return sched


class Lookahead(Callback):
    "Every `every` steps the weights move to their moving average, whose decay grows as the budget's fraction cubed."
    order = 30
    def __init__(self, decay=0.95 ** 5, every=5): self.decay, self.every = decay, every
    def before_fit(self): self.avg, self.n = [t.clone() for t in self.learn.model.state_dict().values()], 0
    @torch.no_grad()
    def pull(self, d):
        for a, m in zip(self.avg, self.learn.model.state_dict().values()):
            if m.is_floating_point(): a.lerp_(m, 1 - d); m.copy_(a)
    def after_step(self):
        self.n += 1
        if self.n % self.every == 0: self.pull(self.decay * min(1., self.learn.budget.frac()) ** 3)
    def after_fit(self): self.pull(1.)   # the average is the result


class FreezeAfter(Callback):
    "`param` trains for the first `epochs` epochs only."
    def __init__(self, param, epochs): self.param, self.epochs = param, epochs
    def before_epoch(self): self.param.requires_grad_(self.learn.epoch < self.epochs)


class AlternatingFlips(Callback):
    "A random half of the training images mirrored in the first epoch, then every image mirrored again each epoch."
    order = 10   # after the Budget starts its clock: each epoch's flip counts as training time (the first, a copy, not)
    def before_fit(self):
        dl = self.learn.dls.train
        self.own, dl.x = dl.x, dl.x.clone()   # flip a copy: the caller's images stay as they are
        half = torch.rand(len(dl.x), device=dl.x.device) < 0.5
        dl.x[half] = dl.x[half].flip(-1)
    def before_train(self):
        if self.learn.epoch: x = self.learn.dls.train.x; x.copy_(x.flip(-1))   # so each image alternates sides
    def after_fit(self): self.learn.dls.train.x = self.own   # the loader gets its own images back


class SmallStart(Callback):
    "Training images shrunk to `size` x `size` pixels for the first `until` of the budget: cheaper early steps."
    order = 0   # before ChannelsLast
    def __init__(self, size, until): self.size, self.until = size, until
    def before_batch(self):
        if self.learn.training and self.learn.budget.frac() < self.until:
            self.learn.xb = F.interpolate(self.learn.xb, size=self.size, mode='bilinear', antialias=True)


class Float32(torch.nn.Module):
    "Runs `module` in float32 even under autocast."
    def __init__(self, module): super().__init__(); self.module = module
    def forward(self, x):
        with torch.autocast(x.device.type, enabled=False): return self.module(x.float())


def norm_groups(model, lr, wd, bias_mult, skip=frozenset()) -> list[dict]:
    "Two param groups (leaving out ids in `skip`): the batchnorm tensors at `bias_mult` times the lr, and the rest."
    norms = {id(p) for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) for p in m.parameters()}
    ps = [p for p in model.parameters() if p.requires_grad and id(p) not in skip]
    return [dict(params=[p for p in ps if id(p) not in norms], weight_decay=wd),
            dict(params=[p for p in ps if id(p) in norms], lr=lr * bias_mult, lr_mult=bias_mult,
                 weight_decay=wd / bias_mult)]   # every tensor decays as much per step


def airbench_sgd(model, lr, wd=5e-4, mom=0.9, bias_mult=1.):
    "Nesterov SGD; batchnorm tensors at `bias_mult` times the lr, every tensor decaying as much per step."
    return torch.optim.SGD(norm_groups(model, lr, wd, bias_mult), lr=lr, momentum=mom, nesterov=True)


def muon_sgd(model, lr, muon_lr, muon_mom=0.6, wd=5e-4, mom=0.9, bias_mult=1.):
    "`Muon` for the 3x3 conv filters at `muon_lr`; the rest as in `airbench_sgd`."
    filters = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)
               and m.weight.requires_grad]
    muon = dict(params=filters, lr=muon_lr, lr_mult=muon_lr / lr, momentum=muon_mom, muon=True)
    return Muon([muon] + norm_groups(model, lr, wd, bias_mult, skip={id(p) for p in filters}), lr=lr, momentum=mom)


@torch.no_grad()
def recalibrate(learn, x, n, bs=1000, channels_last=True):
    "Batchnorm's running statistics measured afresh, with the final weights, on `n` unaugmented images of `x`."
    model, dl = learn.model, learn.dls.train
    bns = torch.nn.BatchNorm1d, torch.nn.BatchNorm2d
    norms, was_training = [m for m in model.modules() if isinstance(m, bns)], model.training
    moms = [m.momentum for m in norms]
    xs = x[torch.randperm(len(x))[:n]]   # all of `x` if it has fewer than `n`
    try:
        for m in norms: m.reset_running_stats(); m.momentum = None   # None: a plain average over the batches
        model.train()
        for xb, _ in Loader(xs, torch.zeros(len(xs)), bs, mean=dl.mean, std=dl.std, device=dl.device):
            model(xb.contiguous(memory_format=torch.channels_last) if channels_last and xb.ndim == 4 else xb)
    finally:
        for m, mom in zip(norms, moms): m.momentum = mom
        model.train(was_training)


def whitening(model):
    "The whitening conv of a fast net (inside its `Float32` wrapper, if any)."
    return getattr(model[0], 'module', model[0])


def make_model(a, dls):
    "The net `--net` asks for; `fast_net`'s whitening is fitted to ten training batches."
    widths = [int(w) for w in (a.widths or ('32,64,128,256' if a.net == 'resnet' else '64,256,256')).split(',')]
    if a.net == 'resnet':
        if a.whiten_keep or a.whiten_eps != 5e-4: raise SystemExit("--whiten-keep and --whiten-eps need --net fast")
        depth = [int(d) for d in a.depth.split(',')]
        return resnet_small(widths=widths, depth=depth[0] if len(depth) == 1 else depth)
    xs = torch.cat([xb for xb, _ in itertools.islice(dls.train, 10)]).cpu()
    model = fast_net(xs, widths)
    w = whitening_filters(xs, eps=a.whiten_eps)   # by ascending eigenvalue (the faintest first), then the same negated
    d, k = len(w) // 2, a.whiten_keep
    if not 0 <= k <= d: raise SystemExit(f"--whiten-keep {k}: a 2x2 patch of {xs.shape[1]} channels has {d} "
                                         f"directions; keep 1 to {d} of them, or 0 for all")
    if k:   # the strongest K and their negatives: a narrower first layer
        w = torch.cat([w[d - k:d], w[2 * d - k:]])
        model[0] = torch.nn.Conv2d(xs.shape[1], len(w), 2)
        c = model[2][0]; model[2][0] = torch.nn.Conv2d(len(w), c.out_channels, 3, padding=1, bias=False)
    model[0].weight.data = w; model[0].weight.requires_grad_(False)
    for m in model.modules():   # airbench's two habits, from lesson 06b
        if a.dirac and isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3):   # each 3x3 conv copies its inputs
            torch.nn.init.dirac_(m.weight.data[:min(m.in_channels, m.out_channels)])
        if not a.bn_scale and isinstance(m, torch.nn.BatchNorm2d): m.weight.requires_grad_(False)   # scales stay 1
        if a.bn_momentum is not None and isinstance(m, torch.nn.BatchNorm2d): m.momentum = a.bn_momentum
    if a.whiten_bias != 'train': model[0].bias.data.zero_(); model[0].bias.requires_grad_(a.whiten_bias == 'zero')
    if not a.whitening: model[0] = torch.nn.Conv2d(3, model[0].out_channels, 2)   # learns from random, like the rest
    if a.whiten_fp32: model[0] = Float32(model[0])
    return model


def main(argv=None):
    a = parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    kept = keep_freed_memory() if a.keep_memory else False   # no page faults: ~10% more images per second
    torch.manual_seed(a.seed)
    t_start = time.perf_counter()
    x, y, _ = cifar10(); xt, yt, _ = cifar10(train=False)
    if a.limit: x, y = evenly_spaced(x, y, a.limit)
    if a.test_limit: xt, yt = evenly_spaced(xt, yt, a.test_limit)
    if a.valid: (x, y), (xt, yt) = random_split(x, y, valid_pct=a.valid / len(x))   # the test set stays unseen
    split = 'valid' if a.valid else 'test'   # what the checkpoints report on
    if len(x) < a.bs: raise SystemExit(f"{len(x)} training images make no whole batch of --bs {a.bs}: lower --bs")
    p_flip = 0.5 if a.flip and a.flips == 'random' else 0.   # alternating flips are done by `AlternatingFlips`
    dls = dataloaders((x, y), (xt, yt), bs=a.bs, tfms=partial(flip_shift, max_shift=a.max_shift, p_flip=p_flip),
                      valid_bs=1000)
    model = make_model(a, dls)
    amp = amp_dtype(dls.device, {'auto': 'auto', 'on': True, 'off': False}[a.bf16])
    cbs = [SkipValidation(a.eval_every), Report(split)] + ([ChannelsLast()] if a.channels_last else [])
    if a.ema: cbs.append(WeightAverage(a.ema, warmup=a.pct_start))   # little averaging during the warm-up
    if a.lookahead: cbs.append(Lookahead())
    if a.small_start: cbs.append(SmallStart(a.small_start, a.small_until))
    if a.flip and a.flips == 'alternate': cbs.append(AlternatingFlips())
    if a.net == 'fast' and a.whitening and a.whiten_bias != 'off':   # the whitening bias trains for a few epochs only
        cbs.append(FreezeAfter(whitening(model).bias, a.whiten_bias_epochs))
    if amp: cbs.append(MixedPrecision(dtype=amp))
    learn = Learner(model, dls, loss_func=partial(F.cross_entropy, label_smoothing=a.label_smoothing),
                    opt_func=(lambda ps, lr: muon_sgd(model, lr, a.muon_lr, a.muon_mom, a.wd, a.mom, a.bias_mult))
                    if a.muon_lr else
                    (lambda ps, lr: airbench_sgd(model, lr, a.wd, a.mom, a.bias_mult)) if a.bias_decay else
                    partial(nesterov_sgd, wd=a.wd, mom=a.mom, bias_mult=a.bias_mult), cbs=cbs, progress=False)
    emit(event='start', args={k: v for k, v in vars(a).items() if v is not None}, device=str(dls.device), **machine(),
         params=n_params(model), trainable=n_params(model, True), train_images=len(x), **{f'{split}_images': len(xt)},
         bf16=amp == torch.bfloat16, kept_memory=kept, amp=str(amp).replace('torch.', ''), load=load())
    steps = round(a.epochs * len(dls.train)) if a.epochs else None
    budget = learn.fit_budget(ramp(a.lr, a.lr_start, a.lr_end, a.pct_start), steps=steps,
                              seconds=None if a.epochs else 60 * a.minutes)
    autocast = learn.mixed_precision.autocast if amp else contextlib.nullcontext
    with autocast(): test_acc = learn.validate()['accuracy']
    t0 = time.perf_counter()
    with autocast(): probs, targs = tta(learn)
    tta_s = time.perf_counter() - t0
    recal = {}
    if a.recalibrate:
        t0 = time.perf_counter()
        with autocast(): recalibrate(learn, x, a.recalibrate, channels_last=a.channels_last)
        recal = dict(recal_s=time.perf_counter() - t0)
        with autocast(): recal[f'{split}_recal_acc'] = learn.validate()['accuracy']
    emit(event='end', train_s=budget.train_s, steps=budget.steps, epochs=budget.images / len(x),
         images_per_s=budget.images / max(budget.train_s, 1e-9), **{f'{split}_acc': test_acc,
         'valid_tta_acc' if a.valid else 'tta_acc': accuracy(probs, targs).item()}, tta_s=tta_s, **recal,
         wall_s=time.perf_counter() - t_start, load=load())


if __name__ == '__main__': main()
