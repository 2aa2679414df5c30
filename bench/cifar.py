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
chosen over 32,128,128 on the validation split) and no shortcuts. `--net resnet`: lesson 06's `resnet_small`. The
recipe, built from `convnb.fast` with the course's `Learner`: the model in channels-last memory layout
(`ChannelsLast`), its forward pass under bfloat16 autocast where the CPU computes in bf16 natively (AVX512-BF16, AMX;
`MixedPrecision`, float16 on a CUDA GPU); random flips and shifts of up to 2 pixels, applied to whole uint8 batches
(`flip_shift`); label smoothing 0.2; SGD with Nesterov momentum 0.9, batches of 256, weight decay 5e-4 on the weights
only (`nesterov_sgd`); the learning rate rises linearly to 0.4 over the first quarter of the budget and falls linearly
to zero at the end (`triangle`, `Budget`); at the end, test-time augmentation (`tta`: flips and one-pixel shifts),
reported apart. With `--minutes` the schedule follows the clock, so a run finishes its schedule on a slow or a busy
machine too (on a machine shared with other jobs, `--threads 1` is often faster).

Flags for ablations and for airbench's other habits (tried on the validation split, not in the default recipe):
`--no-whitening`, `--no-flip`, `--max-shift 0`, `--label-smoothing 0`, `--bf16 off`, `--no-channels-last`,
`--dirac` (lesson 06b's `identity_init`), `--no-bn-scale` (its `fixed_norm_scales`), `--bias-mult 64`, `--mom`, `--ema`.
bench/cifar_ablation.py runs the ablations; bench/results/README.md lists the saved runs.
"""
from __future__ import annotations
import argparse, contextlib, itertools, time
from functools import partial

import torch
import torch.nn.functional as F

from common import emit, load, machine
from convnb.callbacks import Callback, CancelValidException, accuracy
from convnb.data import cifar10, dataloaders, random_split
from convnb.fast import ChannelsLast, MixedPrecision, WeightAverage, amp_dtype, fast_net, nesterov_sgd, triangle
from convnb.inspection import n_params
from convnb.learner import Learner
from convnb.resnet import evenly_spaced, flip_shift, resnet_small, tta


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
                   help="resnet: lesson 06's resnet_small; fast: lesson 06b's whitened plain net, after airbench")
    p.add_argument('--widths', type=str, default=None, help='resnet: 32,64,128,256; fast: 64,256,256')
    p.add_argument('--depth', type=str, default='1', help='blocks per stage: one int, or one per stage like 1,1,2')
    p.add_argument('--max-shift', type=int, default=2, help='random shifts of up to this many pixels (0: none)')
    p.add_argument('--no-flip', dest='flip', action='store_false', help='no random mirror images')
    p.add_argument('--no-whitening', dest='whitening', action='store_false',
                   help='fast net: an ordinary learned 2x2 conv in place of the frozen whitening (an ablation)')
    p.add_argument('--dirac', action='store_true', help='each 3x3 conv starts as the identity on its first inputs')
    p.add_argument('--bias-mult', type=float, default=1., help='the lr of biases and norm shifts is this many times lr')
    p.add_argument('--no-bn-scale', dest='bn_scale', action='store_false', help='batchnorm scales fixed at 1')
    p.add_argument('--mom', type=float, default=0.9, help='Nesterov momentum')
    p.add_argument('--ema', type=float, default=0.0, help='weight averaging: 0 for none, else the decay per step')
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


def make_model(a, dls):
    "The net `--net` asks for; `fast_net`'s whitening is fitted to ten training batches."
    widths = [int(w) for w in (a.widths or ('32,64,128,256' if a.net == 'resnet' else '64,256,256')).split(',')]
    if a.net == 'resnet':
        depth = [int(d) for d in a.depth.split(',')]
        return resnet_small(widths=widths, depth=depth[0] if len(depth) == 1 else depth)
    model = fast_net(torch.cat([xb for xb, _ in itertools.islice(dls.train, 10)]).cpu(), widths)
    for m in model.modules():   # airbench's two habits (lesson 06b shows them; the recipe leaves them out)
        if a.dirac and isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3):   # each 3x3 conv copies its inputs
            torch.nn.init.dirac_(m.weight.data[:min(m.in_channels, m.out_channels)])
        if not a.bn_scale and isinstance(m, torch.nn.BatchNorm2d): m.weight.requires_grad_(False)   # scales stay 1
    if not a.whitening: model[0] = torch.nn.Conv2d(3, model[0].out_channels, 2)   # learns from random, like the rest
    return model


def main(argv=None):
    a = parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    t_start = time.perf_counter()
    x, y, _ = cifar10(); xt, yt, _ = cifar10(train=False)
    if a.limit: x, y = evenly_spaced(x, y, a.limit)
    if a.test_limit: xt, yt = evenly_spaced(xt, yt, a.test_limit)
    if a.valid: (x, y), (xt, yt) = random_split(x, y, valid_pct=a.valid / len(x))   # the test set stays unseen
    split = 'valid' if a.valid else 'test'   # what the checkpoints report on
    dls = dataloaders((x, y), (xt, yt), bs=a.bs, tfms=partial(flip_shift, max_shift=a.max_shift, p_flip=0.5 if a.flip else 0.), valid_bs=1000)
    model = make_model(a, dls)
    amp = amp_dtype(dls.device, {'auto': 'auto', 'on': True, 'off': False}[a.bf16])
    cbs = [SkipValidation(a.eval_every), Report(split)] + ([ChannelsLast()] if a.channels_last else [])
    if a.ema: cbs.append(WeightAverage(a.ema, warmup=a.pct_start))   # little averaging during the warm-up
    if amp: cbs.append(MixedPrecision(dtype=amp))
    learn = Learner(model, dls, loss_func=partial(F.cross_entropy, label_smoothing=a.label_smoothing),
                    opt_func=partial(nesterov_sgd, wd=a.wd, mom=a.mom, bias_mult=a.bias_mult), cbs=cbs, progress=False)
    emit(event='start', args={k: v for k, v in vars(a).items() if v is not None}, device=str(dls.device), **machine(),
         params=n_params(model), train_images=len(x), **{f'{split}_images': len(xt)}, bf16=amp == torch.bfloat16,
         amp=str(amp).replace('torch.', ''), load=load())
    steps = round(a.epochs * len(dls.train)) if a.epochs else None
    budget = learn.fit_budget(triangle(a.lr, a.pct_start), seconds=None if a.epochs else 60 * a.minutes, steps=steps)
    autocast = learn.mixed_precision.autocast if amp else contextlib.nullcontext
    with autocast(): test_acc = learn.validate()['accuracy']
    t0 = time.perf_counter()
    with autocast(): probs, targs = tta(learn)
    emit(event='end', train_s=budget.train_s, steps=budget.steps, epochs=budget.images / len(x),
         images_per_s=budget.images / max(budget.train_s, 1e-9), **{f'{split}_acc': test_acc,
         'valid_tta_acc' if a.valid else 'tta_acc': accuracy(probs, targs).item()}, tta_s=time.perf_counter() - t0,
         wall_s=time.perf_counter() - t_start, load=load())


if __name__ == '__main__': main()
