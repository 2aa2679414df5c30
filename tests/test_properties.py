"""Property-based tests (hypothesis) of the package's contracts, on random shapes, settings and dtypes.

- the convolutions (`conv2d_loops`, `conv2d_unfold`, `conv_matrix`) against `F.conv2d`, computed in float64;
- the size formula `conv_out_size` against the shapes `F.conv2d` and `F.max_pool2d` really give;
- `random_split` (sizes, disjoint, stratified, seeded) and `Loader` (number of batches, every item once);
- bad input: every bad combination raises ValueError or TypeError with a message, never anything else.

Deterministic for CI (`derandomize=True`, no example database) and quick: each property runs a fixed number of small
examples (see `MAX` below).
"""
import functools, math, warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from convnb.arith import conv_out_size
from convnb.conv import conv2d_unfold, conv_matrix
from convnb.data import Loader, random_split
from convnb.kernels import conv2d_loops

@pytest.fixture(autouse=True, scope='module')
def one_thread():
    "Tiny tensors: one thread is fastest, and fair to a busy machine; the setting is put back afterwards."
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


MAX = dict(loops=120, unfold=150, matrix=80, bad=250, size=300, split=120, loader=150)  # examples per property


def fast(n):
    "Settings of one property: `n` examples, no deadline, the same examples on every run."
    return settings(max_examples=n, deadline=None, derandomize=True, database=None)


def refused(f, name=''):
    "Call `f`; it must raise ValueError or TypeError with a message (naming `name`); anything else fails the test."
    try: f()
    except (ValueError, TypeError) as e:
        assert str(e).strip(), f'{type(e).__name__} without a message'
        assert name in str(e), f'the message does not name {name!r}: {e}'
        return e
    raise AssertionError('bad input was accepted')


# --- making tensors ----------------------------------------------------------------------------------------------

DTYPES = [torch.float32, torch.float64, torch.uint8, torch.int8, torch.int64, torch.bool]


def make(shape, dtype, g) -> torch.Tensor:
    "A random tensor of `shape` and `dtype`: small whole numbers for integer types, normal floats otherwise."
    if dtype == torch.bool: return torch.randint(0, 2, shape, generator=g).bool()
    if dtype == torch.uint8: return torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)
    if dtype == torch.int8: return torch.randint(-128, 128, shape, generator=g, dtype=torch.int8)
    if dtype == torch.int64: return torch.randint(-1000, 1001, shape, generator=g)
    return torch.randn(shape, generator=g, dtype=dtype)


def conv_dtype(*ts) -> torch.dtype:
    "The documented dtype of a convolution: torch's promotion, but whole numbers (and bools) as int64."
    dt = functools.reduce(torch.promote_types, [t.dtype for t in ts])
    return dt if dt.is_floating_point else torch.int64


def arg(draw, a, b):
    "An (h, w) setting as the user may write it: an int when both agree (sometimes), a tuple or a list."
    return draw(st.sampled_from([a, (a, b), [a, b]] if a == b else [(a, b), [a, b]]))


@st.composite
def conv_cases(draw, n=(0, 2), c=(1, 3), hw=(1, 7), k=(1, 3), s=(1, 3), p=(0, 2), d=(1, 2), dtypes=DTYPES):
    "A random convolution: tensors x, w, bias and the stride, padding, dilation arguments; the kernel may not fit."
    ints = lambda lo_hi: draw(st.integers(*lo_hi))
    N, c_in, c_out, H, W, kh, kw = ints(n), ints(c), ints(c), ints(hw), ints(hw), ints(k), ints(k)
    sh, sw, ph, pw, dh, dw = ints(s), ints(s), ints(p), ints(p), ints(d), ints(d)
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    x = make((N, c_in, H, W), draw(st.sampled_from(dtypes)), g)
    w = make((c_out, c_in, kh, kw), draw(st.sampled_from(dtypes)), g)
    b = make((c_out,), draw(st.sampled_from(dtypes)), g) if draw(st.booleans()) else None
    fits = dh * (kh - 1) + 1 <= H + 2 * ph and dw * (kw - 1) + 1 <= W + 2 * pw
    return dict(x=x, w=w, b=b, kw=dict(stride=arg(draw, sh, sw), padding=arg(draw, ph, pw), dilation=arg(draw, dh, dw)),
                pairs=dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw)), fits=fits)


def reference(case) -> torch.Tensor:
    "F.conv2d of the case, in float64."
    b = None if case['b'] is None else case['b'].double()
    return F.conv2d(case['x'].double(), case['w'].double(), b, **case['pairs'])


def check_against_torch(out, case):
    "`out` has the documented dtype and the values of `F.conv2d` (exactly, for whole numbers)."
    ts = [t for t in (case['x'], case['w'], case['b']) if t is not None]
    ref = reference(case)
    assert out.dtype == conv_dtype(*ts), (out.dtype, [t.dtype for t in ts])
    assert out.shape == ref.shape
    if not out.dtype.is_floating_point:
        assert torch.equal(out, ref.round().long())   # exact: these sums are far below 2**53
        return
    b = None if case['b'] is None else case['b'].double().abs()
    scale = F.conv2d(case['x'].double().abs(), case['w'].double().abs(), b, **case['pairs'])   # sizes of the sums
    eps = 1e-12 if out.dtype == torch.float64 else 3e-5
    torch.testing.assert_close(out.double(), ref, rtol=0, atol=eps * (1 + scale.max().item() if scale.numel() else 1))


# --- the convolutions ----------------------------------------------------------------------------------------------

@fast(MAX['loops'])
@given(conv_cases())
def test_conv2d_loops_matches_torch(case):
    f = lambda: conv2d_loops(case['x'], case['w'], case['b'], **case['kw'])
    if not case['fits']: refused(f); return
    check_against_torch(f(), case)


@fast(MAX['unfold'])
@given(conv_cases(n=(0, 3), c=(1, 4), hw=(1, 12), k=(1, 5), s=(1, 3), p=(0, 3), d=(1, 3)))
def test_conv2d_unfold_matches_torch(case):
    f = lambda: conv2d_unfold(case['x'], case['w'], case['b'], **case['kw'])
    if not case['fits']: refused(f); return
    check_against_torch(f(), case)


@fast(MAX['unfold'] // 3)
@given(conv_cases(n=(1, 2), hw=(2, 8), dtypes=[torch.float64]))
def test_conv2d_unfold_gradients_match_torch(case):
    if not case['fits']: return
    x, w = case['x'].requires_grad_(), case['w'].requires_grad_()
    mine = torch.autograd.grad(conv2d_unfold(x, w, None, **case['kw']).square().sum(), (x, w))
    theirs = torch.autograd.grad(F.conv2d(x, w, None, **case['pairs']).square().sum(), (x, w))
    for a, b in zip(mine, theirs): torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


@fast(MAX['matrix'])
@given(conv_cases(n=(1, 1), hw=(1, 6), k=(1, 3), d=(1, 2)))
def test_conv_matrix_matches_torch(case):
    x, w, kw = case['x'][0], case['w'], dict(case['kw'])
    f = lambda: conv_matrix(w, tuple(x.shape[1:]), **kw)
    if not case['fits']: refused(f); return
    M = f()
    ref = F.conv2d(x[None].double(), w.double(), **case['pairs'])
    assert M.dtype == conv_dtype(w) and M.shape == (ref.numel(), x.numel())
    out = M.double() @ x.double().flatten()          # M holds the weights; multiply in float64 to compare
    torch.testing.assert_close(out, ref.flatten(), rtol=1e-9, atol=1e-9)
    assert int((M != 0).sum()) <= (w != 0).sum() * ref.shape[-1] * ref.shape[-2]   # only the weights, shared


# --- bad input: always a ValueError or TypeError with a message --------------------------------------------------

BAD_SETTINGS = {'stride': [0, -1, 1.5, True, '2', None, (1, 2, 3), (1, 0), (2, 1.0), [1]],
                'padding': [-1, 1.0, False, 'same', (0, -1), (1,), None],
                'dilation': [0, -2, 2.0, True, (1, 0), 'x']}

CORRUPTIONS = ['x_ndim', 'w_ndim', 'channels', 'bias_shape', 'setting', 'too_big', 'not_tensor', 'complex',
               'zero_kernel', 'zero_channels', 'zero_pixels', 'device']


def corrupt(draw, case, how):
    "The case's (x, w, b, kw) with one thing made wrong in the way `how` says, and the argument a message must name."
    x, w, b, kw = case['x'], case['w'], case['b'], dict(case['kw'])
    name = {'x_ndim': 'x', 'w_ndim': 'w', 'bias_shape': 'bias', 'channels': 'channel', 'too_big': 'kernel',
            'device': 'device'}.get(how, '')
    if how == 'x_ndim': x = draw(st.sampled_from([x[0], x[None], x[0, 0]]))
    elif how == 'w_ndim': w = draw(st.sampled_from([w[0], w[None], w[0, 0]]))
    elif how == 'channels': w = torch.cat([w, w[:, :1]], 1)
    elif how == 'bias_shape': b = draw(st.sampled_from([torch.zeros(len(w) + 1), torch.zeros(len(w), 1), torch.zeros(())]))
    elif how == 'setting':
        name = draw(st.sampled_from(sorted(BAD_SETTINGS)))
        kw[name] = draw(st.sampled_from(BAD_SETTINGS[name]))
    elif how == 'too_big':
        kw = dict(stride=1, padding=0, dilation=1)
        w = torch.zeros(len(w), w.shape[1], x.shape[2] + draw(st.integers(1, 3)), 1)
    elif how == 'not_tensor':
        which = draw(st.sampled_from(['x', 'w', 'bias']))
        bad = draw(st.sampled_from(['numpy', 'list', 'str', 'none', 'int']))
        t = {'x': x, 'w': w, 'bias': w[:, 0, 0, 0]}[which]
        v = {'numpy': t.numpy(), 'list': t.tolist(), 'str': 'image', 'none': None, 'int': 3}[bad]
        if which == 'bias' and bad == 'none': v = 'bias'    # None is a fine bias
        x, w, b = (v, w, b) if which == 'x' else (x, v, b) if which == 'w' else (x, w, v)
        name = which
    elif how == 'complex':
        if draw(st.booleans()): x, name = x.to(torch.complex64), 'x'
        else: w, name = w.to(torch.complex128), 'w'
    elif how == 'zero_kernel': w = w[:, :, :0] if draw(st.booleans()) else w[..., :0]
    elif how == 'zero_channels': x, w = x[:, :0], w[:, :0]
    elif how == 'zero_pixels': x, kw = x[:, :, :0], dict(kw, padding=2)
    elif how == 'device': w = w.to('meta')
    return x, w, b, kw, name


@fast(MAX['bad'])
@given(conv_cases(n=(1, 2), hw=(3, 6), k=(1, 3), p=(0, 1), d=(1, 1), dtypes=[torch.float32, torch.uint8]),
       st.sampled_from(CORRUPTIONS), st.sampled_from(['loops', 'unfold', 'matrix']), st.data())
def test_bad_convolutions_are_refused_clearly(case, how, fn, data):
    if not case['fits']: return
    x, w, b, kw, name = corrupt(data.draw, case, how)   # the message must name `name`
    if fn == 'loops': refused(lambda: conv2d_loops(x, w, b, **kw), name)
    elif fn == 'unfold': refused(lambda: conv2d_unfold(x, w, b, **kw), name)
    elif (w is not case['w'] or how in ('setting', 'zero_pixels', 'too_big')) and how not in ('channels', 'device'):
        size = (0, case['x'].shape[-1]) if how == 'zero_pixels' else tuple(case['x'].shape[-2:])
        refused(lambda: conv_matrix(w, size, **kw), name)


@fast(MAX['bad'] // 5)
@given(st.sampled_from([0, -3, 2.5, True, '5', None, (4, 4, 4), (4, -1)]))
def test_conv_matrix_bad_in_size(in_size):
    refused(lambda: conv_matrix(torch.ones(1, 1, 3, 3), in_size, padding=2))


# --- the size formula ----------------------------------------------------------------------------------------------

@fast(MAX['size'])
@given(st.integers(1, 40), st.integers(1, 7), st.integers(1, 4), st.integers(0, 3), st.integers(1, 3))
def test_conv_out_size_matches_torch(n, ks, stride, padding, dilation):
    f = lambda: conv_out_size(n, ks, stride, padding, dilation)
    if dilation * (ks - 1) + 1 > n + 2 * padding: refused(f); return
    x, w = torch.zeros(1, 1, n, 1), torch.zeros(1, 1, ks, 1)
    got = F.conv2d(x, w, stride=(stride, 1), padding=(padding, 0), dilation=(dilation, 1)).shape[2]
    assert f() == got, (n, ks, stride, padding, dilation)


@fast(MAX['size'])
@given(st.integers(1, 40), st.integers(1, 7), st.integers(1, 4), st.integers(0, 3), st.integers(1, 3), st.booleans())
def test_conv_out_size_matches_pooling(n, ks, stride, padding, dilation, ceil_mode):
    if padding > ks // 2: return    # PyTorch's pools take at most half the kernel as padding
    f = lambda: conv_out_size(n, ks, stride, padding, dilation, ceil_mode=ceil_mode)
    x = torch.zeros(1, 1, n, 1)
    try: got = F.max_pool2d(x, (ks, 1), (stride, 1), (padding, 0), (dilation, 1), ceil_mode=ceil_mode).shape[2]
    except RuntimeError: refused(f); return     # the window does not fit: ours must say so too
    assert f() == got, (n, ks, stride, padding, dilation, ceil_mode)


@fast(10)
@given(st.sampled_from(['no', 'False', 1, 0.0, None]))
def test_conv_out_size_ceil_mode_must_be_bool(value):
    refused(lambda: conv_out_size(10, 3, 2, ceil_mode=value), 'ceil_mode')


@fast(MAX['size'] // 3)
@given(st.sampled_from(['n', 'ks', 'stride', 'padding', 'dilation']),
       st.sampled_from([0, -1, 2.5, True, '3', None, (3, 3), float('nan')]))
def test_conv_out_size_bad_arguments(name, value):
    args = dict(n=10, ks=3, stride=1, padding=0, dilation=1)
    if name == 'padding' and value == 0: value = -1
    refused(lambda: conv_out_size(**{**args, name: value}))


# --- random_split --------------------------------------------------------------------------------------------------

@st.composite
def labelled(draw, min_per_class=2):
    "Labels with 1 to 4 classes, each at least `min_per_class` times, shuffled."
    counts = draw(st.lists(st.integers(min_per_class, 30), min_size=1, max_size=4))
    y = torch.cat([torch.full((c,), i) for i, c in enumerate(counts)])
    return y[torch.randperm(len(y), generator=torch.Generator().manual_seed(draw(st.integers(0, 1000))))]


@fast(MAX['split'])
@given(labelled(), st.floats(0.1, 0.9), st.integers(0, 2**31 - 1))
def test_random_split_sizes_disjoint_stratified_seeded(y, pct, seed):
    ids = torch.arange(len(y))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')   # a degenerate class may be warned about; the contract below still holds
        (i_tr, y_tr), (i_va, y_va) = random_split(ids, y, valid_pct=pct, seed=seed)
        (i_tr2, _), (i_va2, _) = random_split(ids, y, valid_pct=pct, seed=seed)
    assert len(i_tr) + len(i_va) == len(y)
    assert sorted(torch.cat([i_tr, i_va]).tolist()) == ids.tolist(), 'every item on exactly one side'
    assert torch.equal(y[i_tr], y_tr) and torch.equal(y[i_va], y_va), 'labels stay with their images'
    for c in y.unique():
        n_c, v_c = int((y == c).sum()), int((y_va == c).sum())
        assert abs(v_c - pct * n_c) <= 1, f'class {c}: {v_c} of {n_c} in valid, asked for {pct:.2f}'
    assert torch.equal(i_tr, i_tr2) and torch.equal(i_va, i_va2), 'the same seed gives the same split'


@fast(MAX['split'] // 2)
@given(st.sampled_from(['valid_pct', 'seed', 'lengths', 'y']), st.data())
def test_random_split_bad_arguments(what, data):
    y, x, kw = torch.arange(20) % 2, torch.arange(20), {}
    if what == 'valid_pct': kw['valid_pct'] = data.draw(st.sampled_from([0, 1, -0.2, 1.5, float('nan'), '0.2', True, None]))
    elif what == 'seed': kw['seed'] = data.draw(st.sampled_from([1.5, '42', None, True]))
    elif what == 'lengths': x = x[:data.draw(st.integers(0, 19))]
    else: y = data.draw(st.sampled_from([y.float(), y[:, None], y[None], 'labels']))
    refused(lambda: random_split(x, y, **kw))


# --- Loader --------------------------------------------------------------------------------------------------------

def id_images(n) -> torch.Tensor:
    "n uint8 images of 1x2 pixels that spell their own number: (i // 256, i % 256)."
    i = torch.arange(n)
    return torch.stack([i // 256, i % 256], 1).to(torch.uint8).view(n, 1, 1, 2)


def ids_of(xb) -> list:
    "The numbers the images of a decoded batch spell (the batch is in 0..1, not normalised)."
    px = (xb * 255).round().long().view(len(xb), 2)
    return (px[:, 0] * 256 + px[:, 1]).tolist()


@fast(MAX['loader'])
@given(st.integers(1, 300), st.integers(1, 70), st.booleans(), st.booleans())
def test_loader_batches_cover_every_item_once(n, bs, shuffle, drop_last):
    if drop_last and n < bs: bs = n     # not one full batch: see test_loader_without_batches_is_loud
    x, y = id_images(n), torch.arange(n) % 3
    dl = Loader(x, y, bs=bs, shuffle=shuffle, drop_last=drop_last, device='cpu')
    batches = list(dl)
    assert len(batches) == len(dl) == (n // bs if drop_last else math.ceil(n / bs))
    seen = [i for xb, _ in batches for i in ids_of(xb)]
    assert len(seen) == len(set(seen)), 'an item came twice'
    assert len(seen) == (n - n % bs if drop_last else n) and all(len(yb) == bs for _, yb in batches[:-1])
    if not shuffle: assert seen == list(range(len(seen))), 'without shuffle, the order of the data'
    for xb, yb in batches:
        assert xb.dtype == torch.float32 and xb.shape[1:] == (1, 1, 2)
        assert yb.tolist() == [i % 3 for i in ids_of(xb)], 'labels stay with their images'


@fast(MAX['loader'] // 5)
@given(st.integers(0, 40), st.integers(1, 70), st.booleans())
def test_loader_without_batches_is_loud(n, bs, shuffle):
    drop_last = n > 0     # n == 0: no item at all; else fewer items than one batch, and drop_last drops them
    bs = max(bs, n + 1) if drop_last else bs
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            batches = list(Loader(id_images(n), torch.arange(n) % 3, bs=bs, shuffle=shuffle, drop_last=drop_last,
                                  device='cpu'))
    except ValueError as e:
        assert str(e); return               # refused: loud
    assert batches or caught, f'{n} items, bs={bs}, drop_last={drop_last}: no batch and no warning'


@fast(MAX['loader'] // 3)
@given(st.sampled_from(['bs', 'lengths', 'x']), st.data())
def test_loader_bad_arguments(what, data):
    x, y, kw = id_images(10), torch.arange(10) % 2, dict(device='cpu')
    if what == 'bs': kw['bs'] = data.draw(st.sampled_from([0, -1, 2.5, True, '64', None]))
    elif what == 'lengths': y = y[:data.draw(st.integers(0, 9))]
    else: x = data.draw(st.sampled_from([x[0, 0], x[None], 'images']))
    refused(lambda: list(Loader(x, y, **kw)), what if what in kw else '')


@fast(MAX['loader'] // 5)
@given(st.sampled_from(['shuffle', 'drop_last']), st.sampled_from(['no', 'False', 1.0, None]))
def test_loader_flags_must_be_bools(name, value):
    refused(lambda: list(Loader(id_images(10), torch.arange(10) % 2, device='cpu', **{name: value})), name)
