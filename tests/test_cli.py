"The `convnb` command, run as a user runs it: in a subprocess."
import json, os, shutil, subprocess, sys
from pathlib import Path

import pytest

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
    mnist_cell = next(c for c in code if 'def mnist(' in c['source'])
    assert "raise NotImplementedError('Exercise: write mnist')" in mnist_cell['source']
    assert 'MNIST images' in mnist_cell['source'], 'the docstring stays as the specification'
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
