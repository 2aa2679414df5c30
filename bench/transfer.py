"""Transfer learning with few labels: a fine-tuned pretrained SqueezeNet against from-scratch nets given the same seconds.

Prints JSON lines: one at the start (machine, load, settings), then for each labelled-set size (`--per-class`) one line
with `experiment: labels`, `per_class`, `pretrained_acc` (test accuracy of SqueezeNet's ImageNet body with a new head,
fine-tuned as lesson 09 does: `fine_tune`, Adam), `scratch_acc` (test accuracy of the from-scratch net with the better
validation accuracy of two, each trained for as many seconds as the pretrained one took: the same SqueezeNet with
random weights, and lesson 06b's `fast_net` with its recipe at 32 px), `seconds` (the pretrained run's training),
and the validation accuracies every choice was made on. Lesson 09 plots them.

    python bench/transfer.py                          # the labels curve: 10, 30, 100, 300 per class
    python bench/transfer.py --per-class 100 --save /tmp/cifar_squeezenet.pth
    python bench/transfer.py --per-class '' --bn      # frozen batchnorm: statistics kept against drifting
    python bench/transfer.py --per-class '' --progressive --sgd

`--save PATH` writes the model fine-tuned on the largest size as `{'model': state_dict}` (`learn.save`), which loads
into `transfer_model(create_body(data.squeezenet()), 10)`; it takes images as `data.imagenet_batch(img, size)` makes
them, at 96 to 224 px, and its outputs follow `data.cifar10()`'s class list. A line `event: saved` gives its test
accuracy at several sizes. On a shared machine the `load` field says how busy it was; `--threads 1` is often faster.
"""
from __future__ import annotations
import argparse, itertools, math, time
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import squeezenet1_0

from common import emit, load, machine
from convnb import data
from convnb.data import DataLoaders, Loader, IMAGENET_STATS, channel_stats, random_split
from convnb.fast import fast_net, nesterov_sgd, one_cycle_cos, triangle
from convnb.learner import Learner
from convnb.resnet import flip_shift, resnet_small
from convnb.transfer import BATCHNORMS, create_body, imagenet_loader as loader, per_class, resized, transfer_model, transfer_splitter


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--per-class', type=str, default='10,30,100,300', help="labelled images per class ('' for none)")
    p.add_argument('--size', type=int, default=96, help='image size for the pretrained net (chosen on validation)')
    p.add_argument('--base-lr', type=float, default=5e-3, help="fine_tune's base_lr (Adam)")
    p.add_argument('--lr-mult', type=float, default=100, help="fine_tune's lr_mult: first group's lr = head's / lr_mult")
    p.add_argument('--smoothing', type=float, default=0., help='label smoothing for the pretrained net')
    p.add_argument('--freeze-steps', type=int, default=24, help='at least this many steps with the body frozen')
    p.add_argument('--steps', type=int, default=120, help='at least this many steps unfrozen (72 and 120 tried: 120)')
    p.add_argument('--min-epochs', type=int, default=10, help='and at least this many unfrozen epochs')
    p.add_argument('--bs', type=int, default=64)
    p.add_argument('--aug', action='store_true',
                   help='flips and shifts for the SqueezeNets too (worse on validation: 0.66 against 0.685 at 96 px)')
    p.add_argument('--only-pretrained', action='store_true', help='skip the scratch nets (to choose settings)')
    p.add_argument('--scratch-lr', type=float, default=0.2, help="fast_net's peak lr (nesterov SGD, triangle)")
    p.add_argument('--test-per-class', type=int, default=200, help='test images per class (1000 for all)')
    p.add_argument('--save', type=str, default=None, help='write the fine-tuned model of the largest size here')
    p.add_argument('--multiscale-lr', type=float, default=0.05,
                   help="--save: the head's peak lr in the 2 multi-scale epochs, times --base-lr (0.25 lost 14 points at 96 px)")
    p.add_argument('--bn', action='store_true', help='the frozen-batchnorm experiment (resnet_small, 5 to 5 classes)')
    p.add_argument('--bn-epochs', type=int, default=4, help='epochs to pretrain resnet_small on five classes')
    p.add_argument('--progressive', action='store_true', help='64 px, 128 px, and 64 then 128 px, at 100 per class')
    p.add_argument('--sgd', action='store_true', help='fine_tune with SGD instead of Adam, at 100 per class')
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--seed', type=int, default=0)
    return p.parse_args(argv)


def adam_learner(model, dls):
    return Learner(model, dls, opt_func=torch.optim.Adam, splitter=transfer_splitter, progress=False)


def epochs_for(steps, n_batches, at_least=1) -> int:
    return max(at_least, math.ceil(steps / n_batches))


def augment(a, size):
    "With --aug, random flips and shifts of up to `size/16` pixels (2 at 32 px, as fast_net's recipe has)."
    return partial(flip_shift, max_shift=max(1, size // 16)) if a.aug else None


def pretrained_run(a, train, valid, size, opt_func=torch.optim.Adam):
    "Fine-tune SqueezeNet's ImageNet body with a new head; (learner, seconds, epochs)."
    dls = DataLoaders(loader(*train, size, a.bs, shuffle=True, tfms=augment(a, size)), loader(*valid, size))
    torch.manual_seed(a.seed)
    learn = Learner(transfer_model(create_body(data.squeezenet()), 10), dls, opt_func=opt_func,
                    loss_func=partial(F.cross_entropy, label_smoothing=a.smoothing), splitter=transfer_splitter,
                    progress=False)
    fe, e = epochs_for(a.freeze_steps, len(dls.train)), epochs_for(a.steps, len(dls.train), a.min_epochs)
    t0 = time.perf_counter()
    learn.fine_tune(e, a.base_lr, freeze_epochs=fe, lr_mult=a.lr_mult)
    return learn, time.perf_counter() - t0, (fe, e)


def scratch_squeezenet(a, train, valid, size, seconds):
    "The same architecture from random weights, trained for `seconds` with Adam and a 1cycle-like schedule."
    dls = DataLoaders(loader(*train, size, a.bs, shuffle=True, tfms=augment(a, size)), loader(*valid, size))
    torch.manual_seed(a.seed)
    learn = Learner(transfer_model(create_body(squeezenet1_0(weights=None)), 10), dls, opt_func=torch.optim.Adam,
                    progress=False)
    learn.fit_budget(one_cycle_cos(1e-4, 2e-3, 1e-6), seconds=seconds)
    return learn


def scratch_fast_net(a, train, valid, seconds):
    "Lesson 06b's fast_net at 32 px with its recipe (flips and shifts, label smoothing, nesterov SGD), `seconds` long."
    mean, std = channel_stats(train[0])
    kw = dict(mean=mean, std=std)
    dls = DataLoaders(Loader(*train, bs=a.bs, shuffle=True, drop_last=True, tfms=partial(flip_shift, max_shift=2), **kw),
                      Loader(*valid, bs=256, **kw))
    torch.manual_seed(a.seed)
    model = fast_net(torch.cat([xb for xb, _ in itertools.islice(dls.train, 10)]))
    learn = Learner(model, dls, loss_func=partial(F.cross_entropy, label_smoothing=0.2),
                    opt_func=partial(nesterov_sgd, wd=5e-4), progress=False)
    learn.fit_budget(triangle(a.scratch_lr), seconds=seconds)
    return learn, kw


def labels_line(a, x, y, xt, yt, n, size):
    "One point of the labels curve: `n` labelled images per class; (learner, train, valid)."
    idx = per_class(y, n, a.seed).flatten()
    train, valid = random_split(x[idx], y[idx], valid_pct=0.2, seed=42)
    learn, seconds, (fe, e) = pretrained_run(a, train, valid, size)
    pre_valid = learn.validate()['accuracy']
    if a.only_pretrained:   # a settings run: validation only, the test set stays unseen
        emit(experiment='settings', per_class=n, size=size, aug=a.aug, base_lr=a.base_lr, lr_mult=a.lr_mult,
             smoothing=a.smoothing, freeze_epochs=fe, epochs=e,
             pretrained_valid=pre_valid, seconds=seconds, load=load())
        return learn, train, valid
    pre_test = learn.validate(loader(xt, yt, size))['accuracy']
    sq = scratch_squeezenet(a, train, valid, size, seconds)
    fn, kw = scratch_fast_net(a, train, valid, seconds)
    cands = {'squeezenet_random': (sq, sq.validate()['accuracy'], lambda: sq.validate(loader(xt, yt, size))),
             'fast_net': (fn, fn.validate()['accuracy'], lambda: fn.validate(Loader(xt, yt, 256, **kw)))}
    best = max(cands, key=lambda k: cands[k][1])              # chosen on validation, tested once
    emit(experiment='labels', per_class=n, train_images=len(train[1]), valid_images=len(valid[1]), size=size,
         pretrained_acc=pre_test, scratch_acc=cands[best][2]()['accuracy'], scratch_net=best, seconds=seconds,
         pretrained_valid=pre_valid, **{f'{k}_valid': v[1] for k, v in cands.items()},
         freeze_epochs=fe, epochs=e, test_images=len(yt), load=load())
    return learn, train, valid


def random_size(xb, sizes=(96, 128, 160, 192, 224)) -> torch.Tensor:
    "A uint8 batch resized to one size drawn from `sizes`: each batch its own."
    return resized(xb, sizes[int(torch.randint(len(sizes), ()))])


def saved_line(a, learn, train, valid, xt, yt, path):
    "Train 2 more epochs at random sizes from 96 to 224 px, save, load into a fresh transfer_model, test at 4 sizes."
    sizes = (96, 128, 160, 224)
    before = {str(s): round(learn.validate(loader(xt, yt, s))['accuracy'], 4) for s in sizes}
    learn.dls = DataLoaders(Loader(*train, a.bs, shuffle=True, drop_last=True, mean=IMAGENET_STATS[0], std=IMAGENET_STATS[1],
                                   tfms=random_size), loader(*valid, 128))
    t0 = time.perf_counter()
    lr = a.base_lr * a.multiscale_lr
    learn.fit_one_cycle(2, slice(lr / a.lr_mult, lr), div_factor=5)
    extra = time.perf_counter() - t0
    learn.save(path, with_opt=False)
    model = transfer_model(create_body(data.squeezenet()), 10).eval()
    model.load_state_dict(torch.load(path, map_location='cpu', weights_only=True)['model'])
    fresh = Learner(model, learn.dls, progress=False)
    accs = {str(s): round(fresh.validate(loader(xt, yt, s))['accuracy'], 4) for s in sizes}
    emit(event='saved', path=path, multiscale_seconds=extra, multiscale_lr=a.base_lr * a.multiscale_lr, test_acc_at_size_before=before, test_acc_at_size=accs,
         load=load())


def bn_experiment(a, x, y, xt, yt):
    "Pretrain resnet_small on classes 0-4, transfer the body to classes 5-9, head only: four batchnorm policies."
    src, srct = y < 5, yt < 5
    mean, std = channel_stats(x[src])
    kw = dict(mean=mean, std=std)
    dls = DataLoaders(Loader(x[src], y[src], 128, shuffle=True, drop_last=True, tfms=partial(flip_shift, max_shift=2), **kw),
                      Loader(xt[srct], yt[srct], 500, **kw))
    torch.manual_seed(a.seed)
    t0 = time.perf_counter()
    pre = Learner(resnet_small(n_out=5, widths=(16, 32, 64, 128)), dls, progress=False)
    pre.fit_one_cycle(a.bn_epochs, 0.1)
    pretrain_acc, pretrain_s = pre.validate()['accuracy'], time.perf_counter() - t0
    tgt, tgtt = y >= 5, yt >= 5
    idx = per_class(y[tgt] - 5, 100, a.seed).flatten()
    train, valid = random_split(x[tgt][idx], y[tgt][idx] - 5, valid_pct=0.2, seed=42)
    modes = {'kept': (False, False), 'kept, train_bn': (True, False), 'drift': (False, True),
             'drift, train_bn (fastai default)': (True, True)}
    for mode, (train_bn, drift) in modes.items():
        va, te, ol = [], [], []   # ol: the body with its old head, on the old five classes
        for seed in range(3):
            tdls = DataLoaders(Loader(*train, 32, shuffle=True, drop_last=True, **kw), Loader(*valid, 500, **kw))
            torch.manual_seed(seed)
            learn = adam_learner(transfer_model(create_body(pre.model), 5), tdls)
            learn.freeze(train_bn=train_bn)
            if drift:
                for m in learn.model[0].modules():
                    if isinstance(m, BATCHNORMS): m.train()
            learn.fit_one_cycle(8, 1e-2)
            va.append(learn.validate()['accuracy'])
            te.append(learn.validate(Loader(xt[tgtt], yt[tgtt] - 5, 500, **kw))['accuracy'])
            old = Learner(nn.Sequential(*learn.model[0], pre.model[-1]), dls, progress=False)   # the old head again
            ol.append(old.validate()['accuracy'])
        emit(experiment='frozen_bn', mode=mode, train_bn=train_bn, drift=drift, valid_acc=sum(va) / 3,
             test_acc=sum(te) / 3, test_accs=[round(t, 4) for t in te], seeds=3, pretrain_acc=pretrain_acc,
             old_task_acc=sum(ol) / 3, pretrain_s=pretrain_s, load=load())


def progressive_experiment(a, x, y, xt, yt):
    "At 100 per class: fine-tuned at 64 px, at 128 px, and at 64 px then more epochs at 128 px."
    idx = per_class(y, 100, a.seed).flatten()
    train, valid = random_split(x[idx], y[idx], valid_pct=0.2, seed=42)
    for mode, sizes in [('64 px', (64,)), ('128 px', (128,)), ('64 then 128 px', (64, 128))]:
        learn, seconds, (fe, e) = pretrained_run(a, train, valid, sizes[0])
        if len(sizes) > 1:
            learn.dls = DataLoaders(loader(*train, sizes[1], a.bs, shuffle=True, tfms=augment(a, sizes[1])),
                                    loader(*valid, sizes[1]))
            t0 = time.perf_counter()
            learn.fit_one_cycle(3, slice(a.base_lr / 2 / 100 / 2, a.base_lr / 2 / 2), div_factor=5)
            seconds += time.perf_counter() - t0
        emit(experiment='progressive', mode=mode, sizes=list(sizes), epochs=fe + e + 3 * (len(sizes) - 1),
             valid_acc=learn.validate()['accuracy'], test_acc=learn.validate(loader(xt, yt, sizes[-1]))['accuracy'],
             seconds=seconds, load=load())


def sgd_experiment(a, x, y, xt, yt):
    "fine_tune with the Learner's default SGD (momentum 0.9) instead of Adam, same learning rates."
    idx = per_class(y, 100, a.seed).flatten()
    train, valid = random_split(x[idx], y[idx], valid_pct=0.2, seed=42)
    sgd = lambda ps, lr: torch.optim.SGD(ps, lr=lr, momentum=0.9)
    for name, opt in [('adam', torch.optim.Adam), ('sgd', sgd)]:
        learn, seconds, _ = pretrained_run(a, train, valid, a.size, opt_func=opt)
        emit(experiment='optimizer', opt=name, valid_acc=learn.validate()['accuracy'],
             test_acc=learn.validate(loader(xt, yt, a.size))['accuracy'], seconds=seconds, load=load())


def main(argv=None):
    a = parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    x, y, classes = data.cifar10(); xt_all, yt_all, _ = data.cifar10(train=False)
    ti = per_class(yt_all, a.test_per_class, seed=1).flatten()
    xt, yt = xt_all[ti], yt_all[ti]
    sizes = [int(n) for n in a.per_class.split(',') if n.strip()]
    emit(event='start', args=vars(a), **machine(), classes=classes, test_images=len(yt), load=load())
    last = None
    for n in sizes: last = labels_line(a, x, y, xt, yt, n, a.size)
    if a.save and last is not None: saved_line(a, *last, xt, yt, a.save)
    if a.bn: bn_experiment(a, x, y, xt_all, yt_all)
    if a.progressive: progressive_experiment(a, x, y, xt, yt)
    if a.sgd: sgd_experiment(a, x, y, xt, yt)
    emit(event='end', load=load())


if __name__ == '__main__': main()
