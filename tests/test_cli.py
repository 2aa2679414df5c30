"The `convnb` command, run as a user runs it: in a subprocess."
import json, os, shutil, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONVNB = shutil.which('convnb') or str(Path(sys.executable).parent / 'convnb')


def run(*args, env=None):
    return subprocess.run([CONVNB, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


def test_doctor_with_course_data():
    if not os.environ.get('CONVNB_DATA'): pytest.skip('CONVNB_DATA is not set')
    r = run('doctor')
    assert r.returncode == 0, r.stdout + r.stderr
    for word in ('torch', 'torchvision', 'nbdev', 'device', 'sha256 ok', 'All set'): assert word in r.stdout


def test_doctor_without_data_says_how_to_fix(tmp_path):
    r = run('doctor', env={'CONVNB_DATA': '', 'CONVNB_CACHE': str(tmp_path), 'TORCH_HOME': str(tmp_path)})
    assert r.returncode == 1
    assert 'BAD mnist train-images-idx3-ubyte' in r.stdout and 'BAD weights' in r.stdout
    assert 'Fix: point CONVNB_DATA' in r.stdout


def test_doctor_names_a_corrupt_file(tmp_path):
    (tmp_path / 'weights').mkdir()
    (tmp_path / 'weights' / 'squeezenet1_0.pth').write_bytes(b'not weights')
    r = run('doctor', env={'CONVNB_DATA': str(tmp_path), 'CONVNB_CACHE': str(tmp_path), 'TORCH_HOME': str(tmp_path)})
    assert r.returncode == 1 and 'BAD weights' in r.stdout and 'sha256 is' in r.stdout


def test_lab_dry_run_opens_one_lesson():
    r = run('lab', '00', '--dry-run')
    assert r.returncode == 0 and 'jupyter lab' in r.stdout and r.stdout.split()[4].endswith('nbs/00_data.ipynb')
    r = run('lab', '77', '--dry-run')
    assert r.returncode == 2 and "No lesson starts with '77'" in r.stderr


def test_practice_writes_exercises_and_protects_work(tmp_path):
    dest = tmp_path / 'mine'
    r = run('practice', str(dest))
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in dest.iterdir())
    assert '00_data.ipynb' in names and not any(n.startswith('9') for n in names)
    assert not any(n.endswith('.part') or n.startswith('.') for n in names)
    nb = json.loads((dest / '00_data.ipynb').read_text())
    code = [c for c in nb['cells'] if c['cell_type'] == 'code']
    assert all(c['outputs'] == [] and c['execution_count'] is None for c in code)
    lesson = json.loads((ROOT / 'nbs' / '00_data.ipynb').read_text())   # not an exercise: exported code stays whole
    mnist_cell = next(c for c in code if 'def mnist(' in c['source'])
    assert mnist_cell['source'] == next(''.join(c['source']) for c in lesson['cells'] if 'def mnist(' in ''.join(c['source']))
    marked = [p for p in sorted((ROOT / 'nbs').glob('[0-8]*.ipynb')) if '#| exercise' in p.read_text()]
    for p in marked[:1]:   # a lesson with exercises: their bodies are hollow, the docstring stays as the specification
        cells = json.loads((dest / p.name).read_text())['cells']
        task = next(i for i, c in enumerate(cells) if c['cell_type'] == 'markdown' and ''.join(c['source']).startswith('✏️'))
        assert 'raise NotImplementedError(' in cells[task + 1]['source'] and '#| exercise' in cells[task + 1]['source']
    (dest / '00_data.ipynb').write_text('my work')
    r = run('practice', str(dest))
    assert r.returncode == 2 and '--force' in r.stderr
    assert (dest / '00_data.ipynb').read_text() == 'my work'


def test_site_dry_run_names_the_builder_and_the_folder(tmp_path):
    r = run('site', '--dry-run')
    assert r.returncode == 0, r.stderr
    exe, script, out = r.stdout.split()
    assert script.endswith('docs/build.py') and Path(script).is_file() and out.endswith('_site')
    r = run('site', str(tmp_path / 'web'), '--force', '--dry-run')
    assert r.returncode == 0 and r.stdout.split()[2:] == [str(tmp_path / 'web'), '--force']


def test_doctor_does_not_ask_for_the_website_tools():
    r = run('doctor', env={'CONVNB_DATA': ''})
    assert 'sphinx' not in r.stdout.lower() and 'myst' not in r.stdout.lower()


# --- hostile cases (issue 18): no traceback, one clear line, nothing half-written ------------------------------------
# The tests run as root, which ignores file permissions, so unreadable and unwritable files are simulated by making the
# functions that touch them raise what the system would raise.
import errno, io
from convnb import cli


def _doctor(monkeypatch, data, **env):
    for k, v in {'CONVNB_DATA': str(data), 'CONVNB_CACHE': str(data), 'TORCH_HOME': str(data), **env}.items():
        monkeypatch.setenv(k, v)
    buf = io.StringIO()
    status = cli.doctor(file=buf)
    return status, {line[4:].split('  ')[0].strip(): line[:3] for line in buf.getvalue().splitlines() if line[3:4] == ' '}, buf.getvalue()


def test_doctor_unreadable_file_is_a_bad_row(tmp_path, monkeypatch):
    (tmp_path / 'photos').mkdir()
    (tmp_path / 'photos' / 'dog.jpg').write_bytes(b'a dog')
    real = Path.read_bytes
    def read_bytes(self):
        if self.name == 'dog.jpg': raise PermissionError(errno.EACCES, 'Permission denied', str(self))
        return real(self)
    monkeypatch.setattr(Path, 'read_bytes', read_bytes)
    status, rows, out = _doctor(monkeypatch, tmp_path)
    assert status == 1 and rows['photos dog'] == 'BAD', out
    assert f"cannot read {tmp_path / 'photos' / 'dog.jpg'}: Permission denied; check its permissions" in out


def test_doctor_unreadable_folder_is_a_bad_row(tmp_path, monkeypatch):
    data = tmp_path / 'data'
    (data / 'mnist').mkdir(parents=True)
    real_stat, real_listdir = Path.stat, os.listdir
    def stat(self, **kw):   # like a folder without the x bit: nothing inside it can be looked at
        if str(self).startswith(f'{data}/'): raise PermissionError(errno.EACCES, 'Permission denied', str(self))
        return real_stat(self, **kw)
    def listdir(p='.'):
        if Path(p) == data: raise PermissionError(errno.EACCES, 'Permission denied', str(p))
        return real_listdir(p)
    monkeypatch.setattr(Path, 'stat', stat)
    monkeypatch.setattr(os, 'listdir', listdir)
    status, rows, out = _doctor(monkeypatch, data, CONVNB_CACHE=str(tmp_path / 'cache'))
    assert status == 1, out
    assert rows['data root'] == 'BAD' and rows['mnist train-images-idx3-ubyte'] == 'BAD' and rows['cache'] == 'ok ', out
    assert f'cannot read {data}: Permission denied' in out and 'Traceback' not in out


def test_doctor_data_root_that_is_a_file(tmp_path):
    (tmp_path / 'data.txt').write_text('not a folder')
    r = run('doctor', env={'CONVNB_DATA': str(tmp_path / 'data.txt'), 'CONVNB_CACHE': str(tmp_path / 'cache'),
                           'TORCH_HOME': str(tmp_path)})
    assert r.returncode == 1 and 'Traceback' not in r.stderr
    assert f"BAD data root" in r.stdout and 'is a file, not a folder' in r.stdout, r.stdout
    r = run('doctor', env={'CONVNB_DATA': str(tmp_path / 'nowhere'), 'CONVNB_CACHE': str(tmp_path / 'cache'),
                           'TORCH_HOME': str(tmp_path)})
    assert 'BAD data root' in r.stdout and 'does not exist' in r.stdout, r.stdout


def _fail_writes(monkeypatch, error, after=0):
    "Make the `after`+1-th and later notebook writes raise `error`."
    real, count = Path.write_text, [0]
    def write_text(self, *a, **kw):
        if '.ipynb' in self.name:   # a notebook, or a temporary file for one
            count[0] += 1
            if count[0] > after: raise error
        return real(self, *a, **kw)
    monkeypatch.setattr(Path, 'write_text', write_text)


@pytest.mark.parametrize('error, after, words', [
    (PermissionError(errno.EACCES, 'Permission denied'), 0, 'Permission denied'),
    (OSError(errno.ENOSPC, 'No space left on device'), 5, 'No space left on device')])
def test_practice_failed_write_leaves_nothing_and_rerun_works(tmp_path, monkeypatch, capsys, error, after, words):
    dest = tmp_path / 'mine'
    with monkeypatch.context() as m:
        _fail_writes(m, error, after)
        assert cli.main(['practice', str(dest)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'convnb practice: could not write the practice copy to {dest}: {words}'), err
    assert len(err.strip().splitlines()) == 1 and 'Traceback' not in err
    assert not dest.exists() and list(tmp_path.iterdir()) == [], 'nothing half-written, no temporary folder'
    assert cli.main(['practice', str(dest)]) == 0, 'the rerun is not blocked and needs no --force'
    assert len(list(dest.glob('*.ipynb'))) == len(cli.lesson_notebooks())


def test_practice_failed_write_into_existing_folder_keeps_it_as_it_was(tmp_path, monkeypatch, capsys):
    dest = tmp_path / 'mine'; dest.mkdir(); (dest / 'notes.txt').write_text('mine')
    _fail_writes(monkeypatch, OSError(errno.ENOSPC, 'No space left on device'), after=3)
    assert cli.main(['practice', str(dest)]) == 2
    assert 'No space left on device' in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ['mine'] and [p.name for p in dest.iterdir()] == ['notes.txt']


def test_practice_unwritable_parent_folder(tmp_path, monkeypatch, capsys):
    def mkdir(self, *a, **kw): raise PermissionError(errno.EACCES, 'Permission denied', str(self))
    monkeypatch.setattr(Path, 'mkdir', mkdir)
    assert cli.main(['practice', str(tmp_path / 'a' / 'b')]) == 2
    err = capsys.readouterr().err
    assert 'could not write the practice copy' in err and 'Permission denied' in err and len(err.splitlines()) == 1


def _lessons(folder, **notebooks):
    folder.mkdir()
    ok = {'cells': [{'cell_type': 'code', 'source': ['#| export\n', 'def f():\n', '    "Doc."\n', '    return 1'],
                     'metadata': {}, 'outputs': [], 'execution_count': 1}], 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}
    (folder / '00_fine.ipynb').write_text(json.dumps(ok))
    for name, text in notebooks.items(): (folder / f'{name}.ipynb').write_text(text)
    return {'CONVNB_NBS': str(folder)}


@pytest.mark.parametrize('text, words', [
    ('{"cells": [', '01_broken.ipynb is not valid notebook JSON (Expecting value at line 1, column 12)'),
    (json.dumps({'cells': [{'cell_type': 'code', 'source': '#| export\n#| exercise\nimport torch\n%time x = 1'}]}),
     "01_broken.ipynb, cell 1: line 4 of its exported code is not Python (invalid syntax): '%time x = 1'"),
    (json.dumps({'cells': [{'cell_type': 'code', 'source': '#| export\n#| exercise\ndef f(:\n  pass'}]}),
     '01_broken.ipynb, cell 1: line 3'),
    (json.dumps([1, 2]), '01_broken.ipynb is not a notebook: it has no list of cells')])
def test_practice_broken_notebook_is_one_clear_line(tmp_path, text, words):
    env = _lessons(tmp_path / 'nbs', **{'01_broken': text})
    r = run('practice', str(tmp_path / 'out'), env=env)
    assert r.returncode == 2 and 'Traceback' not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith('convnb practice: ') and words in r.stderr, r.stderr
    assert not (tmp_path / 'out').exists(), 'nothing written when a lesson is broken'
    r = run('practice', str(tmp_path / 'out2'), env=_lessons(tmp_path / 'nbs2'))
    assert r.returncode == 0 and (tmp_path / 'out2' / '00_fine.ipynb').is_file(), r.stderr


def test_practice_unreadable_lesson(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('CONVNB_NBS', _lessons(tmp_path / 'nbs')['CONVNB_NBS'])
    real = Path.read_text
    def read_text(self, *a, **kw):
        if self.name == '00_fine.ipynb': raise PermissionError(errno.EACCES, 'Permission denied', str(self))
        return real(self, *a, **kw)
    monkeypatch.setattr(Path, 'read_text', read_text)
    assert cli.main(['practice', str(tmp_path / 'out')]) == 2
    err = capsys.readouterr().err
    assert f"could not read a lesson: cannot read {tmp_path / 'nbs' / '00_fine.ipynb'}: Permission denied" in err, err
