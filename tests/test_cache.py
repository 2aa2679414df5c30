"""The CIFAR-10 cache of convnb.data and the atomic writer of convnb.files, against damaged, unwritable and shared caches.

Decoding the real CIFAR-10 tarball takes about a minute, so here it "decodes" to small fake arrays (and counts how
often). Every test works in its own temporary CONVNB_CACHE; write failures are simulated by raising, since chmod means
nothing to root.
"""
import contextlib, errno, os, subprocess, sys, time

import numpy as np
import pytest
import torch

from convnb import data, files

WRITE_ERRORS = [PermissionError(errno.EACCES, 'Permission denied'), OSError(errno.ENOSPC, 'No space left on device'),
                OSError(errno.EROFS, 'Read-only file system')]


def fake_cifar(n_train=20, n_test=10) -> dict:
    rng = np.random.default_rng(0)
    return {split: (rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), np.arange(n, dtype=np.int64) % 10)
            for split, n in (('train', n_train), ('test', n_test))}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    "An empty cache, no data folder, and a CIFAR-10 that decodes to `fake_cifar()`; `builds` counts the decodes."
    monkeypatch.setenv('CONVNB_DATA', str(tmp_path / 'no-data'))
    monkeypatch.setenv('CONVNB_CACHE', str(tmp_path / 'cache'))
    builds = []
    def build():
        builds.append(1)
        return fake_cifar()
    monkeypatch.setattr(data, '_cifar_arrays', build)
    return tmp_path / 'cache' / 'cifar10', builds


def names(folder) -> list[str]:
    "Every file in `folder`, hidden temporary files included."
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def same_as_fake(x, y, split='train'):
    fx, fy = fake_cifar()[split]
    return torch.equal(x, torch.from_numpy(fx)) and torch.equal(y, torch.from_numpy(fy)) and x.is_contiguous()


@contextlib.contextmanager
def umask(mask):
    old = os.umask(mask)
    try: yield
    finally: os.umask(old)


def test_built_once_then_read_back_readable_by_others(cache):
    folder, builds = cache
    with umask(0o022): x, y, classes = data.cifar10()
    assert same_as_fake(x, y) and classes == data.CIFAR10_CLASSES and len(builds) == 1
    assert names(folder) == ['test_x.npy', 'test_y.npy', 'train_x.npy', 'train_y.npy']
    assert {oct(p.stat().st_mode & 0o777) for p in folder.iterdir()} == {'0o644'}  # a shared cache: others can read
    x, y, _ = data.cifar10(train=False)
    assert same_as_fake(x, y, 'test') and len(builds) == 1                          # from the cache


def test_the_umask_is_respected(cache):
    folder, _ = cache
    with umask(0o077): data.cifar10()
    assert {oct(p.stat().st_mode & 0o777) for p in folder.iterdir()} == {'0o600'}


def truncate(p): p.write_bytes(p.read_bytes()[:1000])
def garbage(p): p.write_bytes(b'not an array at all\n' * 50)
def empty(p): p.write_bytes(b'')
def pickled(p): np.save(p, np.array([{'a': 1}], dtype=object), allow_pickle=True)
def five_labels(p): np.save(p.with_name('train_y.npy'), np.arange(5, dtype=np.int64))
def float_images(p): np.save(p, np.zeros((20, 3, 32, 32), np.float32))
def bad_labels(p): np.save(p.with_name('train_y.npy'), np.full(20, 12, dtype=np.int64))


@pytest.mark.parametrize('damage, words', [(truncate, 'train_x.npy is not a complete .npy file'),
                                           (garbage, 'train_x.npy is not a complete .npy file'),
                                           (empty, 'train_x.npy is not a complete .npy file'),
                                           (pickled, 'train_x.npy is not a complete .npy file'),
                                           (five_labels, 'labels (5,)'), (float_images, 'float32 images'),
                                           (bad_labels, 'labels 0..9')])
def test_damaged_cache_is_named_and_rebuilt(cache, damage, words):
    folder, builds = cache
    data.cifar10()
    damage(folder / 'train_x.npy')
    with pytest.warns(files.CacheWarning) as w: x, y, _ = data.cifar10()
    msg = str(w[0].message)
    assert 'The cached CIFAR-10 is damaged' in msg and words in msg and str(folder) in msg, msg
    assert same_as_fake(x, y) and len(builds) == 2
    data.cifar10()
    assert len(builds) == 2, 'the rebuilt cache must be good again'


@pytest.mark.parametrize('error', WRITE_ERRORS, ids=lambda e: errno.errorcode[e.errno])
def test_unwritable_cache_still_loads(cache, monkeypatch, error):
    folder, builds = cache
    @contextlib.contextmanager
    def refuse(dest):
        raise error
        yield
    monkeypatch.setattr(files, 'atomic_path', refuse)
    with pytest.warns(files.CacheWarning) as w: x, y, _ = data.cifar10(train=False)
    assert same_as_fake(x, y, 'test')
    assert len(w) == 1, [str(m.message) for m in w]      # one warning, not one per file
    for words in ('CIFAR-10 is loaded, but could not be saved in the cache', error.strerror, 'CONVNB_CACHE'):
        assert words in str(w[0].message)
    assert names(folder) == []


def test_disk_full_halfway_leaves_no_part_file(cache, monkeypatch):
    folder, _ = cache
    def half_then_full(fh, a, **kw):
        fh.write(b'\x93NUMPY' + bytes(200))
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(np, 'save', half_then_full)
    with pytest.warns(files.CacheWarning, match='No space left on device'): x, y, _ = data.cifar10()
    assert same_as_fake(x, y) and names(folder) == []


def test_train_must_be_a_bool(cache):
    _, builds = cache
    for bad in ('test', 'train', 0, 1, None, [True]):
        with pytest.raises(TypeError, match=r"train must be True or False; got .*train=False"): data.cifar10(bad)
    assert builds == []
    x, _, _ = data.cifar10(np.False_)
    assert len(x) == 10


def test_killed_writer_leaves_a_part_file_that_a_later_write_removes(tmp_path):
    "A writer killed mid-write leaves `.NAME.<random>.part`; once it is an hour old, the next write of NAME removes it."
    dest = tmp_path / 'big.npy'
    code = ("import sys, time; from convnb.files import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n"
            "    tmp.write_bytes(b'half a fi'); print('writing', flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, '-c', code, str(dest)], stdout=subprocess.PIPE, text=True)
    try: assert proc.stdout.readline().strip() == 'writing'
    finally:
        proc.kill(); proc.wait()
    left = [p for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].name.startswith('.big.npy.') and left[0].name.endswith('.part')
    with files.atomic_path(dest) as tmp: tmp.write_bytes(b'whole')
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([left[0].name, 'big.npy'])  # young: maybe still writing
    old = time.time() - 2 * files.STALE
    os.utime(left[0], (old, old))
    with files.atomic_path(dest) as tmp: tmp.write_bytes(b'whole again')
    assert names(tmp_path) == ['big.npy'] and dest.read_bytes() == b'whole again'
    other = tmp_path / '.other.npy.abc.part'; other.write_bytes(b''); os.utime(other, (old, old))
    with files.atomic_path(dest) as tmp: tmp.write_bytes(b'x')
    assert other.exists(), "only the leftovers of the same file's writes are removed"
