"The benches run as a user runs them (tiny settings, one thread): their JSON lines carry what a figure depends on."
import gzip, json, os, platform, subprocess, sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / 'bench'
MACHINE = {'cpu', 'cpu_generation', 'cpu_bf16', 'threads', 'torch'}
GLIBC = sys.platform.startswith('linux') and platform.libc_ver()[0] == 'glibc'   # where keep_freed_memory works


def bench(script, *args, timeout=300):
    "Run bench/`script` with `args`; its JSON lines."
    r = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=timeout,
                       cwd=BENCH)
    assert r.returncode == 0, r.stderr[-3000:]
    return [json.loads(l) for l in r.stdout.splitlines() if l.startswith('{')]


def write_idx(path, a):
    "A gzipped IDX file of unsigned bytes, as MNIST's."
    header = bytes([0, 0, 8, a.ndim]) + b''.join(int(n).to_bytes(4, 'big') for n in a.shape)
    path.write_bytes(gzip.compress(header + a.astype(np.uint8).tobytes()))


def test_mnist_bench_reads_any_folder_of_mnist_files(tmp_path):
    rng = np.random.default_rng(0)
    for name, n in [('train', 4096), ('t10k', 256)]:
        labels = rng.integers(0, 10, n)
        images = (labels[:, None, None] * 25 + rng.integers(0, 20, (n, 28, 28))).clip(0, 255)   # learnable
        write_idx(tmp_path / f'{name}-images-idx3-ubyte.gz', images)
        write_idx(tmp_path / f'{name}-labels-idx1-ubyte.gz', labels)
    lines = bench('mnist.py', '--data', str(tmp_path), '--epochs', '4', '--threads', '1')
    start, checkpoints = lines[0], lines[1:]
    assert start['event'] == 'start' and MACHINE <= start.keys() and start['bf16'] is False and start['threads'] == 1
    assert start['n_train'] == 4096 and start['n_eval'] == 256 and start['bs'] == 512
    assert start['kept_memory'] is GLIBC   # keep_freed_memory: glibc only
    assert len(checkpoints) == 4 and all({'train_s', 'test_acc', 'images_per_s'} <= c.keys() for c in checkpoints)
    assert checkpoints[-1]['test_acc'] > 0.3   # the classes differ in brightness: 32 steps learn some of that
    start, *checkpoints = bench('mnist.py', '--data', str(tmp_path), '--epochs', '1', '--threads', '1', '--crop', '20',
                                '--ema', '0.9', '--no-keep-memory')   # the centre 20x20 pixels, the average measured
    assert start['crop'] == 20 and start['ema'] == 0.9 and len(checkpoints) == 4 and start['kept_memory'] is False
    start, *checkpoints = bench('mnist.py', '--data', str(tmp_path), '--epochs', '2', '--threads', '1',
                                '--muon-lr', '0.005', '--lr', '0.05', '--tta', 'ring')   # Muon for the filters, SGD for the rest
    assert start['muon_lr'] == 0.005 and checkpoints[-1]['test_acc'] > 0.3
    assert start['tta'] == 'ring' and all(c['test_tta_acc'] > 0.3 for c in checkpoints[-1:])   # and 8 shifted copies


def test_mnist_bench_names_a_folder_without_mnist_files(tmp_path):
    r = subprocess.run([sys.executable, str(BENCH / 'mnist.py'), '--data', str(tmp_path), '--epochs', '1'],
                       capture_output=True, text=True, timeout=120, cwd=BENCH)
    assert r.returncode != 0 and 'train-images-idx3-ubyte.gz' in r.stderr and str(tmp_path) in r.stderr


@pytest.fixture
def cifar_data():
    if not os.environ.get('CONVNB_DATA'): pytest.skip('CONVNB_DATA is not set: the CIFAR-10 bench needs the data')


def test_cifar_bench_reports_test_or_validation(cifar_data):
    tiny = ['--limit', '1024', '--epochs', '2', '--widths', '8,16,16', '--eval-every', '1', '--threads', '1', '--bs', '128']
    lines = bench('cifar.py', *tiny, '--test-limit', '300')
    start, epochs, end = lines[0], lines[1:-1], lines[-1]
    assert MACHINE <= start.keys() and isinstance(start['bf16'], bool) and start['test_images'] == 300
    assert [e['epoch'] for e in epochs] == [1, 2] and all({'train_s', 'test_acc', 'images_per_s'} <= e.keys() for e in epochs)
    assert end['event'] == 'end' and {'test_acc', 'tta_acc', 'train_s', 'images_per_s'} <= end.keys()
    lines = bench('cifar.py', *tiny, '--valid', '200')   # settings are chosen on held-out training images
    assert 180 <= lines[0]['valid_images'] <= 220 and lines[0]['train_images'] + lines[0]['valid_images'] == 1024
    assert all('test_acc' not in l for l in lines) and {'valid_acc', 'valid_tta_acc'} <= lines[-1].keys()
    frozen = bench('cifar.py', *tiny, '--test-limit', '300', '--whiten-bias', 'off', '--no-keep-memory')[0]
    assert frozen['params'] == start['params'] and frozen['trainable'] == start['trainable'] - 24   # 24 biases stay 0
    assert start['kept_memory'] is GLIBC and frozen['kept_memory'] is False
    narrow, *_, end = bench('cifar.py', *tiny, '--test-limit', '300', '--whiten-keep', '6', '--recalibrate', '200',
                            '--flips', 'random')   # 12 whitened channels, not 24: 12 biases and 12x8 3x3 filters fewer
    assert narrow['trainable'] == start['trainable'] - 12 - 12 * 8 * 9
    assert narrow['params'] == start['params'] - 12 - 12 * 8 * 9 - 12 * 3 * 2 * 2
    assert {'test_acc', 'test_recal_acc', 'recal_s'} <= end.keys() and 0 <= end['test_recal_acc'] <= 1


def test_cifar_bench_names_a_batch_bigger_than_the_data(cifar_data):
    r = subprocess.run([sys.executable, str(BENCH / 'cifar.py'), '--limit', '256', '--epochs', '1', '--threads', '1'],
                       capture_output=True, text=True, timeout=300, cwd=BENCH)
    assert r.returncode != 0 and '256 training images make no whole batch of --bs 512' in r.stderr, r.stderr[-2000:]


def test_cifar_ablation_writes_one_whole_file_per_variant(cifar_data, tmp_path):
    args = ['--minutes', '0.05', '--speed-minutes', '0.05', '--valid', '200', '--out', str(tmp_path),
            '--only', 'recipe', 'no-whitening', '--', '--limit', '1024', '--widths', '8,16,16', '--threads', '1', '--bs', '128']
    r = subprocess.run([sys.executable, str(BENCH / 'cifar_ablation.py'), *args], capture_output=True, text=True,
                       timeout=300, cwd=BENCH)
    assert r.returncode == 0, r.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ['no-whitening.jsonl', 'recipe.jsonl']   # no .tmp left
    runs = {p.stem: [json.loads(l) for l in p.read_text().splitlines()] for p in tmp_path.iterdir()}
    assert runs['recipe'][0]['args']['whitening'] is True and runs['no-whitening'][0]['args']['whitening'] is False
    assert all('valid_acc' in r[-1] for r in runs.values())


@pytest.fixture
def cifar_bench(monkeypatch):
    "bench/cifar.py as a module, for its small pieces."
    monkeypatch.syspath_prepend(str(BENCH))
    import cifar
    return cifar


def test_muon_sgd_gives_muon_the_3x3_filters_and_sgd_the_rest(cifar_bench):
    import torch
    from convnb.fast import fast_net
    from convnb.training import set_hypers
    model = fast_net(torch.randn(64, 3, 8, 8), (8, 16, 16))
    opt = cifar_bench.muon_sgd(model, lr=0.5, muon_lr=0.03, muon_mom=0.6, wd=1e-3, mom=0.85, bias_mult=64.)
    filters = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
    muon, rest, norms = opt.param_groups
    assert muon['muon'] and [id(p) for p in muon['params']] == [id(p) for p in filters] and muon['momentum'] == 0.6
    assert not rest['muon'] and not norms['muon'] and all(p.ndim != 4 or p.shape[-1] != 3 for p in rest['params'])
    trainable = {id(p) for p in model.parameters() if p.requires_grad}   # the frozen whitening weights: in no group
    assert {id(p) for g in opt.param_groups for p in g['params']} == trainable
    set_hypers(opt, 0.25)   # what Budget does at every step: the schedule scales every group alike
    assert [round(g['lr'], 6) for g in opt.param_groups] == [0.015, 0.25, 16.]


def test_ramp_starts_peaks_and_ends_where_asked(cifar_bench):
    from convnb.fast import triangle
    s = cifar_bench.ramp(2., start=0.2, end=0.07, pct_start=0.25)
    assert [round(s(f), 6) for f in (0, 0.125, 0.25, 0.625, 1, 1.5)] == [0.4, 1.2, 2., 1.07, 0.14, 0.14]
    assert all(abs(cifar_bench.ramp(0.4)(f / 10) - triangle(0.4)(f / 10)) < 1e-12 for f in range(11))


def tiny_learner(cbs):
    import torch
    from convnb.data import DataLoaders, Loader
    from convnb.learner import Learner
    torch.manual_seed(0)
    x, y = torch.rand(64, 1, 4, 4), torch.randint(0, 2, (64,))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 2))
    return Learner(model, DataLoaders(Loader(x, y, 8, shuffle=True), Loader(x, y, 32)), cbs=cbs, progress=False)


def test_lookahead_pulls_every_fifth_step_and_ends_on_the_average(cifar_bench):
    import torch
    la = cifar_bench.Lookahead(decay=0.5, every=5)
    learn, seen = tiny_learner([la]), []
    class Watch(cifar_bench.Callback):
        order = 40   # after the pull
        def after_step(self): seen.append(same())
    def same(): return [torch.equal(a, m) for a, m in zip(la.avg, learn.model.state_dict().values()) if a.is_floating_point()]
    learn.fit_budget(lambda f: 0.5, steps=16, cbs=[Watch()])
    pulled = [all(s) for s in seen]   # the weights equal the average right after each pull, and only then
    assert pulled == [(i + 1) % 5 == 0 for i in range(16)]
    assert all(same())   # and it ends on the average


def test_freeze_after_trains_a_tensor_for_its_first_epochs_only(cifar_bench):
    import torch
    learn = tiny_learner([])
    bias = learn.model[1].bias
    values = [bias.detach().clone()]
    class Watch(cifar_bench.Callback):
        def after_epoch(self): values.append(bias.detach().clone())
    learn.fit(3, 0.1, cbs=[cifar_bench.FreezeAfter(bias, 1), Watch()])
    assert not torch.equal(values[0], values[1]) and torch.equal(values[1], values[2]) and torch.equal(values[2], values[3])
    assert not bias.requires_grad


def test_small_start_shrinks_training_batches_for_the_first_part_of_the_budget_only(cifar_bench):
    import torch
    from convnb.data import DataLoaders, Loader
    from convnb.learner import Learner
    x, y = torch.rand(64, 3, 8, 8), torch.randint(0, 2, (64,))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                torch.nn.Linear(4, 2))
    learn, seen = Learner(model, DataLoaders(Loader(x, y, 8, shuffle=True), Loader(x, y, 32)), progress=False), []
    class Watch(cifar_bench.Callback):
        order = 2   # after SmallStart
        def before_batch(self): seen.append((learn.training, tuple(learn.xb.shape[-2:])))
    learn.fit_budget(lambda f: 0.1, steps=16, cbs=[cifar_bench.SmallStart(6, 0.25), Watch()])
    train = [size for training, size in seen if training]
    assert train == [(6, 6)] * 4 + [(8, 8)] * 12   # steps 0-3 of 16: frac < 0.25
    valid = [size for training, size in seen if not training]
    assert valid and all(size == (8, 8) for size in valid)   # validation at full size


def test_airbench_loop_runs_its_schedule_to_the_end(cifar_data):
    start, *epochs, end = bench('airbench_loop.py', '--limit', '2048', '--valid', '512', '--bs', '256', '--epochs', '1.5',
                                '--eval-at', '1')
    assert MACHINE <= start.keys() and start['train_images'] == 1536 and start['valid_images'] == 512
    assert start['total_steps'] == 9 and [e['epoch'] for e in epochs] == [1, 2] and end['steps'] == 9
    assert abs(end['epochs'] - 1.5) < 1e-9 and 0 <= end['valid_acc'] <= 1


def test_alternating_flips_show_each_image_mirrored_every_other_epoch(cifar_bench):
    import torch
    learn, seen = tiny_learner([cifar_bench.AlternatingFlips()]), []
    own = learn.dls.train.x; x0 = own.clone()
    class Watch(cifar_bench.Callback):
        order = 20   # after the flipping
        def before_train(self): seen.append(learn.dls.train.x.clone())
    learn.fit(4, 0.1, cbs=[Watch()])
    first = torch.tensor([not torch.equal(a, b) for a, b in zip(seen[0], x0)])   # mirrored in epoch 0
    assert 0.25 < first.float().mean() < 0.75   # about half
    for e, xe in enumerate(seen):
        flipped = first ^ bool(e % 2)
        assert torch.equal(xe[flipped], x0[flipped].flip(-1)) and torch.equal(xe[~flipped], x0[~flipped])
    assert learn.dls.train.x is own and torch.equal(own, x0)   # the loader's own images back, never flipped


def test_recalibrate_averages_batchnorm_over_plain_normalised_batches_and_restores_the_model(cifar_bench):
    import torch
    from convnb.data import DataLoaders, Loader
    from convnb.learner import Learner
    torch.manual_seed(0)
    x, y = torch.randint(0, 256, (64, 1, 4, 4), dtype=torch.uint8), torch.randint(0, 2, (64,))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.BatchNorm1d(8),
                                torch.nn.Linear(8, 2))
    flip = lambda xb: xb.flip(-1)   # an augmentation recalibrate must not use
    learn = Learner(model, DataLoaders(Loader(x, y, 8, shuffle=True, mean=100., std=50., tfms=flip), Loader(x, y, 32)),
                    progress=False)
    bn = model[2]; model.eval(); bn.momentum = 0.3
    torch.manual_seed(1); cifar_bench.recalibrate(learn, x, n=64, bs=32)   # two batches of 32
    torch.manual_seed(1); order = torch.randperm(64)   # the images it drew, in its order
    with torch.no_grad(): h = model[1](model[0]((x[order].float() / 255 - 100.) / 50.))
    test_mean, test_var = h.mean(0), (h[:32].var(0) + h[32:].var(0)) / 2   # a plain average of the two batches
    assert torch.allclose(bn.running_mean, test_mean, atol=1e-5) and torch.allclose(bn.running_var, test_var, atol=1e-5)
    assert bn.momentum == 0.3 and not model.training


def test_whiten_keep_keeps_the_strongest_directions_and_their_negatives(cifar_bench):
    import torch
    from types import SimpleNamespace
    from convnb.fast import whitening_filters
    torch.manual_seed(0)
    batch = (torch.rand(16, 3, 8, 8) + torch.rand(16, 1, 1, 1), torch.zeros(16))   # ten identical batches
    dls = SimpleNamespace(train=[batch] * 10)
    xs = torch.cat([batch[0]] * 10)
    for eps, keep in [(5e-4, 3), (1e-2, 12)]:
        a = cifar_bench.parse_args(['--widths', '8,16,16', '--whiten-keep', str(keep), '--whiten-eps', str(eps)])
        model, w = cifar_bench.make_model(a, dls), whitening_filters(xs, eps=eps)   # faintest first, then negated
        test_rows = list(range(12 - keep, 12)) + list(range(24 - keep, 24))
        assert torch.allclose(model[0].weight, w[test_rows]) and model[0].out_channels == 2 * keep
        assert model[2][0].in_channels == 2 * keep and not model[0].weight.requires_grad
    for bad in ['-1', '13']:
        with pytest.raises(SystemExit, match='--whiten-keep'):
            cifar_bench.make_model(cifar_bench.parse_args(['--whiten-keep', bad]), dls)
