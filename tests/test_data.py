"""The download and cache code of convnb.data (and convnb.files), against a local HTTP server on 127.0.0.1.

The server serves copies of the course's MNIST test files: as they are (good/), with flipped bytes
(corrupt/), cut in half (truncated/), and a handler that never answers (/hang/).
"""
import contextlib, errno, functools, gzip, http.server, os, shutil, socket, threading, time
from pathlib import Path

import pytest
import torch

from convnb import data, files

SHARED = Path(__file__).resolve().parents[1].parent / 'shared' / 'data'
MNIST_SRC = Path(os.environ.get('CONVNB_DATA') or SHARED) / 'mnist'
TEST_FILES = ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']

pytestmark = pytest.mark.skipif(not (MNIST_SRC / TEST_FILES[0]).is_file(), reason=f'no MNIST files in {MNIST_SRC}')


class Handler(http.server.SimpleHTTPRequestHandler):
    "Serves the site folder; counts requests; never answers under /hang/."
    requests = []
    def do_GET(self):
        Handler.requests.append(self.path)
        if self.path.startswith('/hang/'): time.sleep(30); return
        super().do_GET()
    def log_message(self, *args): pass


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    site = tmp_path_factory.mktemp('site')
    for kind in ('good', 'corrupt', 'truncated'): (site / kind).mkdir()
    for name in TEST_FILES:
        raw = (MNIST_SRC / name).read_bytes()
        (site / 'good' / name).write_bytes(raw)
        body = bytearray(gzip.decompress(raw)); body[5000] ^= 0xFF  # one flipped byte, a valid gzip
        (site / 'corrupt' / name).write_bytes(gzip.compress(bytes(body)))
        (site / 'truncated' / name).write_bytes(raw[:len(raw) // 2])
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Handler, directory=str(site)))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown(); httpd.server_close()


@pytest.fixture
def empty(tmp_path, monkeypatch):
    "No data folder and an empty cache: everything must come from the server."
    monkeypatch.setenv('CONVNB_DATA', str(tmp_path / 'no-data'))
    monkeypatch.setenv('CONVNB_CACHE', str(tmp_path / 'cache'))
    Handler.requests.clear()
    return tmp_path / 'cache'


def use_mirrors(monkeypatch, *urls):
    "Download every course file that has mirrors from `urls` instead, for this test only."
    for rel, f in list(files.COURSE_FILES.items()):
        if f.mirrors: monkeypatch.setitem(files.COURSE_FILES, rel, f._replace(mirrors=tuple(urls)))


def cache_files(cache):
    "Every file under the cache, hidden temporary files included."
    return sorted(p.relative_to(cache).as_posix() for p in cache.rglob('*') if p.is_file()) if cache.exists() else []


def test_good_download_is_cached_and_reused(server, empty, monkeypatch):
    use_mirrors(monkeypatch, f'{server}/good/')
    x, y = data.mnist(train=False)
    assert x.shape == (10_000, 28, 28) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert y.bincount().tolist()[:3] == [980, 1135, 1032]
    assert cache_files(empty) == [f'mnist/{n}' for n in TEST_FILES]
    n = len(Handler.requests)
    x2, _ = data.mnist(train=False)
    assert len(Handler.requests) == n, 'second load must come from the cache'
    assert torch.equal(x, x2)


@pytest.mark.parametrize('kind, words', [('corrupt', 'sha256'), ('truncated', 'gzip')])
def test_bad_download_leaves_nothing(server, empty, monkeypatch, kind, words):
    use_mirrors(monkeypatch, f'{server}/{kind}/')
    with pytest.raises(data.DataNotFound) as e: data.mnist(train=False)
    msg = str(e.value)
    assert words in msg and f'{server}/{kind}/t10k-images-idx3-ubyte.gz' in msg and 'CONVNB_DATA' in msg
    assert cache_files(empty) == []


def test_falls_back_to_next_mirror(server, empty, monkeypatch):
    use_mirrors(monkeypatch, f'{server}/corrupt/', f'{server}/good/')
    x, _ = data.mnist(train=False)
    assert x.shape == (10_000, 28, 28)
    assert cache_files(empty) == [f'mnist/{n}' for n in TEST_FILES]


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def test_no_network_fails_fast_with_guidance(empty, monkeypatch):
    use_mirrors(monkeypatch, f'http://127.0.0.1:{free_port()}/')
    t0 = time.perf_counter()
    with pytest.raises(data.DataNotFound) as e: data.mnist()
    assert time.perf_counter() - t0 < 5
    msg = str(e.value)
    assert 'Looked in' in msg and str(empty / 'mnist') in msg and 'CONVNB_DATA' in msg
    assert isinstance(e.value, FileNotFoundError)


def test_silent_server_times_out(server, empty, monkeypatch):
    use_mirrors(monkeypatch, f'{server}/hang/')
    monkeypatch.setattr(files, 'TIMEOUT', 1)
    t0 = time.perf_counter()
    with pytest.raises(data.DataNotFound, match='timed out'): data.mnist(train=False)
    assert time.perf_counter() - t0 < 5
    assert cache_files(empty) == []


def test_corrupt_file_in_data_folder_is_named(tmp_path, monkeypatch):
    folder = tmp_path / 'data' / 'mnist'; folder.mkdir(parents=True)
    for name in TEST_FILES: shutil.copy(MNIST_SRC / name, folder / name)
    bad = folder / TEST_FILES[1]
    bad.write_bytes(bad.read_bytes()[:-10])
    monkeypatch.setenv('CONVNB_DATA', str(tmp_path / 'data'))
    monkeypatch.setenv('CONVNB_CACHE', str(tmp_path / 'cache'))
    with pytest.raises(data.ChecksumError, match=str(bad)): data.mnist(train=False)


def unwritable_cache(monkeypatch, error):
    "Every write into the cache fails with `error`, as on a read-only folder or a full disk (root ignores chmod)."
    @contextlib.contextmanager
    def refuse(dest):
        raise error
        yield
    monkeypatch.setattr(files, 'atomic_path', refuse)


WRITE_ERRORS = [PermissionError(errno.EACCES, 'Permission denied'), OSError(errno.ENOSPC, 'No space left on device'),
                OSError(errno.EROFS, 'Read-only file system')]


@pytest.mark.parametrize('error', WRITE_ERRORS, ids=lambda e: errno.errorcode[e.errno])
def test_unwritable_cache_still_loads_mnist(server, empty, monkeypatch, error):
    "A good download is used even if it cannot be cached, and the warning blames the cache, not the download."
    use_mirrors(monkeypatch, f'{server}/good/')
    unwritable_cache(monkeypatch, error)
    with pytest.warns(files.CacheWarning) as w: x, y = data.mnist(train=False)
    assert x.shape == (10_000, 28, 28) and y.bincount().tolist()[:3] == [980, 1135, 1032]
    msg = str(w[0].message)
    for words in ('MNIST file t10k-images-idx3-ubyte.gz (from http://127.0.0.1', 'could not be saved in the cache',
                  error.strerror, 'CONVNB_CACHE'):
        assert words in msg, msg
    assert len(w) == 2 and cache_files(empty) == []   # one warning per file, nothing left behind


def test_disk_full_halfway_leaves_nothing(server, empty, monkeypatch):
    "A disk that fills up halfway through a write: loaded anyway, warned, and no half file or .part left."
    use_mirrors(monkeypatch, f'{server}/good/')
    real = Path.write_bytes
    def half_then_full(self, data):
        real(self, data[:len(data) // 2])
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(Path, 'write_bytes', half_then_full)
    with pytest.warns(files.CacheWarning, match='No space left on device'): x, _ = data.mnist(train=False)
    assert x.shape == (10_000, 28, 28)
    assert cache_files(empty) == []


def test_train_must_be_a_bool():
    for bad in ('test', 'train', 0, 1, None):
        with pytest.raises(TypeError, match='train must be True or False'): data.mnist(bad)


def test_atomic_path_keeps_nothing_on_error(tmp_path):
    dest = tmp_path / 'sub' / 'file.bin'
    with pytest.raises(KeyboardInterrupt):
        with data.atomic_path(dest) as tmp:
            tmp.write_bytes(b'half')
            raise KeyboardInterrupt
    assert list((tmp_path / 'sub').iterdir()) == []


def test_missing_photo_is_named(empty):
    with pytest.raises(data.DataNotFound, match="No photo named 'nope'"): data.photo('nope')
    assert data.photo('chelsea').shape == (3, 300, 451)


def test_data_reexports_the_file_tools():
    for name in ('DataNotFound', 'ChecksumError', 'data_root', 'cache_dir', 'atomic_path', 'download', 'sha256',
                 'socket_timeout', 'check_file'):
        assert getattr(data, name) is getattr(files, name) and name in data.__all__
