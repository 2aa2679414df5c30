"""A check on bench/cifar.py: airbench's training as one bare loop, with no `Learner` and no convnb.fast.

Written here from the description of Keller Jordan's airbench94 (its hyperparameters, in its own units: lr and weight
decay per 1,024 examples with a summed loss). If this loop and bench/cifar.py reach the same accuracy after the same
epochs, the gap to airbench's published 94% is not in the course's code. Prints JSON lines like the other benches:

    python bench/airbench_loop.py --valid 5000 --eval-at 2,4,6,8   # 9.9 epochs, about 14 minutes on 2 cores

It differs from airbench in what a CPU imposes (bfloat16 autocast instead of float16 weights) and in its data (the
course's CIFAR-10, decoded from JPEG files). Alternating flips: a random half of the images is mirrored in even epochs,
the other half in odd ones.
"""
import argparse, math, time

import torch
import torch.nn.functional as F
from torch import nn

from common import emit, load, machine
from convnb.data import cifar10, random_split

MEAN, STD = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1), torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--epochs', type=float, default=9.9)
    p.add_argument('--bs', type=int, default=1024)
    p.add_argument('--lr', type=float, default=11.5, help='per 1,024 examples, summed loss')
    p.add_argument('--mom', type=float, default=0.85)
    p.add_argument('--wd', type=float, default=0.0153, help='per 1,024 examples')
    p.add_argument('--bias-scaler', type=float, default=64.)
    p.add_argument('--valid', type=int, default=5000, help='hold out this many training images (0: the test set)')
    p.add_argument('--limit', type=int, default=None, help='train on the first LIMIT images (quick checks)')
    p.add_argument('--eval-at', type=str, default='', help='epochs to evaluate after, like 2,4,6')
    p.add_argument('--bf16', type=int, default=1)
    p.add_argument('--seed', type=int, default=0)
    return p.parse_args(argv)


class Group(nn.Module):
    "conv, pool, norm, GELU, conv, norm, GELU; convs start as the identity, norms without scales."
    def __init__(self, ni, nf):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(ni, nf, 3, padding=1, bias=False), nn.Conv2d(nf, nf, 3, padding=1, bias=False)
        self.n1, self.n2 = nn.BatchNorm2d(nf, eps=1e-12, momentum=0.4), nn.BatchNorm2d(nf, eps=1e-12, momentum=0.4)
        for c in (self.c1, self.c2): nn.init.dirac_(c.weight.data[:c.in_channels])
        for n in (self.n1, self.n2): n.weight.requires_grad_(False)
    def forward(self, x): return F.gelu(self.n2(self.c2(F.gelu(self.n1(F.max_pool2d(self.c1(x), 2))))))


def net(x, widths=(64, 256, 256)):
    "The whitening conv (fitted to `x`, uncentred), three groups, max pool, a linear head scaled by 1/9."
    patches = x.unfold(2, 2, 1).unfold(3, 2, 1).transpose(1, 3).reshape(-1, 12).double()
    evals, evecs = torch.linalg.eigh(patches.T @ patches / len(patches))
    w = (evecs.T / (evals + 5e-4).sqrt()[:, None]).reshape(12, 3, 2, 2).float()
    white = nn.Conv2d(3, 24, 2)
    white.weight.data, white.bias.data = torch.cat([w, -w]), torch.zeros(24)
    white.weight.requires_grad_(False)
    a, b, c = widths
    head = nn.Linear(c, 10, bias=False)
    return nn.Sequential(white, nn.GELU(), Group(24, a), Group(a, b), Group(b, c), nn.MaxPool2d(3), nn.Flatten(), head)


def main(argv=None):
    a = parse_args(argv)
    torch.manual_seed(a.seed)
    x, y, _ = cifar10()
    if a.limit: x, y = x[:a.limit], y[:a.limit]
    if a.valid: (x, y), (xv, yv) = random_split(x, y, valid_pct=a.valid / len(x))   # the bench's split
    else: xv, yv, _ = cifar10(train=False)
    norm = lambda u: (u.float() / 255 - MEAN) / STD
    X, XV = norm(x), norm(xv)
    padded = F.pad(X, (2,) * 4, mode='reflect')
    model = net(X[:5000]).to(memory_format=torch.channels_last)
    n, steps_per_epoch = len(X), len(X) // a.bs
    total = math.ceil(steps_per_epoch * a.epochs)
    scale = 1024 * (1 + 1 / (1 - a.mom))   # airbench's units: a step's size apart from the momentum
    lr, wd = a.lr / scale, a.wd * a.bs / scale
    norms = [p for m in model.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters() if p.requires_grad]
    rest = [p for p in model.parameters() if p.requires_grad and all(p is not q for q in norms)]
    opt = torch.optim.SGD([dict(params=norms, lr=lr * a.bias_scaler, weight_decay=wd / (lr * a.bias_scaler)),
                           dict(params=rest, lr=lr, weight_decay=wd / lr)], momentum=a.mom, nesterov=True)
    base = [g['lr'] for g in opt.param_groups]
    warm = int(total * 0.23)
    sched = lambda s: 0.2 + 0.8 * s / warm if s < warm else 1 - 0.93 * (s - warm) / (total - warm)
    avg = [t.clone() for t in model.state_dict().values()]
    amp = lambda: torch.autocast('cpu', torch.bfloat16, enabled=bool(a.bf16))

    def pull(decay):   # Lookahead: the average moves towards the weights, the weights jump to the average
        for t, m in zip(avg, model.state_dict().values()):
            if m.is_floating_point(): t.lerp_(m, 1 - decay); m.copy_(t)

    @torch.no_grad()
    def evaluate():
        model.eval(); correct = 0
        with amp():
            for i in range(0, len(XV), 1000):
                correct += (model(XV[i:i + 1000].contiguous(memory_format=torch.channels_last)) / 9).argmax(1).eq(yv[i:i + 1000]).sum().item()
        model.train(); return correct / len(XV)

    eval_at = {int(e) for e in a.eval_at.split(',') if e}
    split = 'valid' if a.valid else 'test'
    emit(event='start', args=vars(a), **machine(), train_images=n, **{f'{split}_images': len(XV)}, total_steps=total)
    flipped, step, train_s = torch.rand(n) < 0.5, 0, 0.
    for epoch in range(math.ceil(a.epochs)):
        t0 = time.perf_counter()
        model[0].bias.requires_grad_(epoch < 3)
        flip = flipped if epoch % 2 == 0 else ~flipped
        perm = torch.randperm(n)
        for i in range(steps_per_epoch):
            idx = perm[i * a.bs:(i + 1) * a.bs]
            dy, dx = torch.randint(0, 5, (2, len(idx), 1))
            rows, cols = torch.arange(32) + dy, torch.arange(32) + dx
            cols = torch.where(flip[idx][:, None], 35 - cols, cols)
            xb = padded[idx[:, None, None, None], torch.arange(3)[:, None, None], rows[:, None, :, None], cols[:, None, None, :]]
            for g, b in zip(opt.param_groups, base): g['lr'] = b * sched(step)
            with amp(): out = model(xb.contiguous(memory_format=torch.channels_last)) / 9
            loss = F.cross_entropy(out.float(), y[idx], label_smoothing=0.2, reduction='sum')
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
            step += 1
            if step % 5 == 0: pull(0.95 ** 5 * (step / total) ** 3)
            if step >= total: break
        if step >= total: pull(1.)
        train_s += time.perf_counter() - t0
        if epoch + 1 in eval_at or step >= total:
            emit(epoch=epoch + 1, steps=step, train_s=train_s, images_per_s=step * a.bs / train_s,
                 **{f'{split}_acc': evaluate()}, load=load())
        if step >= total: break
    emit(event='end', train_s=train_s, steps=step, epochs=step * a.bs / n, images_per_s=step * a.bs / train_s,
         **{f'{split}_acc': evaluate()}, load=load())


if __name__ == '__main__': main()
