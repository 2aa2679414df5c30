"`convnb practice` and `convnb practice --check`, end to end, as a learner runs them: in a subprocess."
import json, os, shutil, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONVNB = shutil.which('convnb') or str(Path(sys.executable).parent / 'convnb')


def run(*args, env=None, timeout=300):
    return subprocess.run([CONVNB, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, 'OMP_NUM_THREADS': '1', **(env or {})})


def code(src): return {'cell_type': 'code', 'metadata': {}, 'source': src, 'outputs': [], 'execution_count': None}
def nb(*cells): return {'cells': list(cells), 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 4}
def sources(path): return [''.join(c['source']) for c in json.loads(Path(path).read_text())['cells']]

AXPB_SRC = '''#| export
#| exercise multiply, then add
def axpb(a, x, b=0):
    "`a * x + b`, for numbers or tensors."
    if isinstance(a, str): raise TypeError('a must be a number, not a string')
    return a * x + b'''

AXPB = code(AXPB_SRC)
TINY = nb(code('#| export\nfrom fastcore.test import test_eq, test_fail\nfrom pathlib import Path'), AXPB,
          {'cell_type': 'markdown', 'metadata': {}, 'source': 'It adds:'},
          code('test_eq(axpb(2, 3, 1), 7)\ntest_fail(lambda: axpb("2", 3), contains="not a string")'),
          code('#| hide\ntest_fail(lambda: axpb("2", 3), exc=TypeError, contains="must be a number")'),
          code("assert Path('01_tiny.ipynb').is_file(), 'run from its own folder'\ntest_eq(axpb(0, 5, b=2), 2)"),
          code('#| slow\nraise RuntimeError("a slow cell is not run")'),
          code('#| eval: false\nraise RuntimeError("nor is one with eval: false")'),
          code('print("a later cell that does not name the exercise")'))


@pytest.fixture
def lessons(tmp_path):
    (tmp_path / 'nbs').mkdir()
    (tmp_path / 'nbs' / '00_plain.ipynb').write_text(json.dumps(nb(code('#| export\ndef f():\n    "Doc."\n    return 1'))))
    (tmp_path / 'nbs' / '01_tiny.ipynb').write_text(json.dumps(TINY))
    return {'CONVNB_NBS': str(tmp_path / 'nbs')}


def test_practice_hollows_only_the_exercise_and_drops_its_wording_tests(tmp_path, lessons):
    r = run('practice', str(tmp_path / 'out'), env=lessons)
    assert r.returncode == 0, r.stderr
    assert sources(tmp_path / 'out' / '00_plain.ipynb') == ['#| export\ndef f():\n    "Doc."\n    return 1']
    src = sources(tmp_path / 'out' / '01_tiny.ipynb')
    assert src[1] == '✏️ Exercise: write `axpb`: `a * x + b`, for numbers or tensors. Hint: multiply, then add.'
    assert src[2].startswith('#| export\n#| exercise multiply, then add\ndef axpb(a, x, b=0):\n') and 'return' not in src[2]
    assert "raise NotImplementedError('Exercise: write axpb. Hint: multiply, then add')" in src[2]
    assert src[4] == 'test_eq(axpb(2, 3, 1), 7)', 'the test of the value stays, the one of the wording goes'
    assert len(src) == len(TINY['cells']), 'the cell that held only a wording test is gone, the task cell came in'


def test_check_fails_hollow_exercises_and_passes_the_reference(tmp_path, lessons):
    out = tmp_path / 'out'
    assert run('practice', str(out), env=lessons).returncode == 0
    r = run('practice', '--check', str(out), env=lessons)
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert 'skip  00_plain: no exercise' in lines
    assert 'FAIL  01_tiny  axpb: NotImplementedError: Exercise: write axpb. Hint: multiply, then add' in lines, r.stdout
    assert '0 of 1 exercises pass' in lines and 'Traceback' not in r.stdout + r.stderr

    book = json.loads((out / '01_tiny.ipynb').read_text())   # a wrong answer: the value test says so, in one line
    cell = next(c for c in book['cells'] if 'def axpb' in ''.join(c['source']))
    cell['source'] = AXPB['source'].replace('a * x + b', 'a * x - b')
    (out / '01_tiny.ipynb').write_text(json.dumps(book))
    r = run('practice', '--check', str(out), env=lessons)
    assert r.returncode == 1 and 'FAIL  01_tiny  axpb: AssertionError: ==: 5 7' in r.stdout.splitlines(), r.stdout

    cell['source'] = AXPB['source']   # the reference solution: every exercise passes
    (out / '01_tiny.ipynb').write_text(json.dumps(book))
    r = run('practice', '--check', str(out), env=lessons)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'PASS  01_tiny  axpb' in r.stdout.splitlines() and '1 of 1 exercises pass' in r.stdout


def test_check_of_an_empty_folder_is_one_clear_line(tmp_path):
    r = run('practice', '--check', str(tmp_path))
    assert r.returncode == 2 and r.stderr.strip() == (f'convnb practice: No practice notebooks in {tmp_path}: write them '
                                                      f'first with: convnb practice {tmp_path}')


LESSON = ROOT / 'nbs' / '01_kernels_by_hand.ipynb'


@pytest.mark.skipif('#| exercise' not in LESSON.read_text(), reason='lesson 01 marks no exercise yet')
def test_real_lesson_filled_with_the_reference_passes(tmp_path):
    if not os.environ.get('CONVNB_DATA'): pytest.skip('CONVNB_DATA is not set')
    from convnb.practice import _exercise
    out = tmp_path / 'practice'
    assert run('practice', str(out)).returncode == 0
    for p in out.glob('*.ipynb'):
        if p.name != LESSON.name: p.unlink()   # one lesson keeps the test short
    book = json.loads((out / LESSON.name).read_text())
    mine = [c for c in book['cells'] if _exercise(c) is not None]
    reference = [c for c in json.loads(LESSON.read_text())['cells'] if _exercise(c) is not None]
    assert mine and len(mine) == len(reference)
    assert all('raise NotImplementedError(' in ''.join(c['source']) for c in mine)
    for c, ref in zip(mine, reference): c['source'] = ref['source']
    (out / LESSON.name).write_text(json.dumps(book))
    r = run('practice', '--check', str(out), timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count('PASS  01_kernels_by_hand') >= 1 and 'FAIL' not in r.stdout, r.stdout
