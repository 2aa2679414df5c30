"The benches run as a user runs them (tiny settings, one thread): their JSON lines carry what a figure depends on."
import gzip, json, os, subprocess, sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / 'bench'
MACHINE = {'cpu', 'cpu_bf16', 'threads', 'torch'}


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
    assert len(checkpoints) == 4 and all({'train_s', 'test_acc', 'images_per_s'} <= c.keys() for c in checkpoints)
    assert checkpoints[-1]['test_acc'] > 0.3   # the classes differ in brightness: 32 steps learn some of that


def test_mnist_bench_names_a_folder_without_mnist_files(tmp_path):
    r = subprocess.run([sys.executable, str(BENCH / 'mnist.py'), '--data', str(tmp_path), '--epochs', '1'],
                       capture_output=True, text=True, timeout=120, cwd=BENCH)
    assert r.returncode != 0 and 'train-images-idx3-ubyte.gz' in r.stderr and str(tmp_path) in r.stderr


@pytest.fixture
def cifar_data():
    if not os.environ.get('CONVNB_DATA'): pytest.skip('CONVNB_DATA is not set: the CIFAR-10 bench needs the data')


def test_cifar_bench_reports_test_or_validation(cifar_data):
    tiny = ['--limit', '1024', '--epochs', '2', '--widths', '8,16,16', '--eval-every', '1', '--threads', '1']
    lines = bench('cifar.py', *tiny, '--test-limit', '300')
    start, epochs, end = lines[0], lines[1:-1], lines[-1]
    assert MACHINE <= start.keys() and isinstance(start['bf16'], bool) and start['test_images'] == 300
    assert [e['epoch'] for e in epochs] == [1, 2] and all({'train_s', 'test_acc', 'images_per_s'} <= e.keys() for e in epochs)
    assert end['event'] == 'end' and {'test_acc', 'tta_acc', 'train_s', 'images_per_s'} <= end.keys()
    lines = bench('cifar.py', *tiny, '--valid', '200')   # settings are chosen on held-out training images
    assert 180 <= lines[0]['valid_images'] <= 220 and lines[0]['train_images'] + lines[0]['valid_images'] == 1024
    assert all('test_acc' not in l for l in lines) and {'valid_acc', 'valid_tta_acc'} <= lines[-1].keys()


def test_cifar_ablation_writes_one_whole_file_per_variant(cifar_data, tmp_path):
    args = ['--minutes', '0.05', '--speed-minutes', '0.05', '--valid', '200', '--out', str(tmp_path),
            '--only', 'recipe', 'no-whitening', '--', '--limit', '1024', '--widths', '8,16,16', '--threads', '1']
    r = subprocess.run([sys.executable, str(BENCH / 'cifar_ablation.py'), *args], capture_output=True, text=True,
                       timeout=300, cwd=BENCH)
    assert r.returncode == 0, r.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ['no-whitening.jsonl', 'recipe.jsonl']   # no .tmp left
    runs = {p.stem: [json.loads(l) for l in p.read_text().splitlines()] for p in tmp_path.iterdir()}
    assert runs['recipe'][0]['args']['whitening'] is True and runs['no-whitening'][0]['args']['whitening'] is False
    assert all('valid_acc' in r[-1] for r in runs.values())
