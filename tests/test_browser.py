"""Every lesson as a learner meets it: JupyterLab in a real (headless) Chromium, driven by Playwright.

For each lesson: open it, run all cells, wait for the kernel, then check there is no error output, that a plot and a
widget rendered, and that moving a widget redraws its picture. Screenshots go to tests/screenshots/ (git-ignored).
JupyterLab runs on 127.0.0.1 with a random port and token, on a copy of the notebooks without their `#| slow` cells,
and is stopped by its PID at the end, also on failure. Run with `pytest -k browser`.
"""
import contextlib, json, os, re, secrets, shutil, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path

import pytest

from convnb.cli import lesson_notebooks

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
SHOTS = Path(__file__).resolve().parent / 'screenshots'
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
LESSONS = [p.name for p in lesson_notebooks(NBS)]   # the one definition of what a lesson is
LONGEST = ('06_resnet.ipynb', '08_augmentation.ipynb', '05b_batchnorm.ipynb', '05a_hooks.ipynb',
           '06b_training_fast.ipynb', '09_transfer.ipynb')  # started first, so the two queues finish together
# lessons run at once (one per core, one thread per kernel); seconds after which a lesson counts as hung. The timeout
# guards against hangs only: on a quiet 2-core machine the slowest lesson takes 1.5 to 3 minutes and all of them about
# 5, but a slower or busier machine must not fail the test for its speed.
PARALLEL, TIMEOUT = 2, 900
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
    # no "get notified about Jupyter news?" pop-up over the pictures
    (root / '.jupyter' / 'labconfig').mkdir(parents=True)
    (root / '.jupyter' / 'labconfig' / 'page_config.json').write_text(
        json.dumps({'disabledExtensions': {'@jupyterlab/apputils-extension:announcements': True}}))
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, 'JUPYTER_CONFIG_DIR': str(root / '.jupyter'), 'JUPYTERLAB_WORKSPACES_DIR': str(root / '.ws'),
           'MPLBACKEND': 'module://matplotlib_inline.backend_inline', 'OMP_NUM_THREADS': '1'}
    log_path = tmp_path_factory.mktemp('lablog') / 'lab.log'  # outside the folder the learner sees
    log = open(log_path, 'w')
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
        else: raise RuntimeError(f'JupyterLab did not start: {log_path.read_text()[-2000:]}')
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


def open_lab(browser, base, token):
    "A new page with JupyterLab loaded (loading it once per queue, not once per lesson, saves seconds of CPU)."
    page = browser.new_page(viewport={'width': 1400, 'height': 1000})
    page.goto(f'{base}/lab?reset&token={token}', wait_until='domcontentloaded')
    page.wait_for_function("() => window.jupyterapp", timeout=120_000)
    page.evaluate("async () => { await window.jupyterapp.restored; }")
    return page


def start(page, name):
    "Open `name` in the lab page, wait for its kernel, and start running all its cells (not waiting for them)."
    page.evaluate("""async name => {
      const app = window.jupyterapp, w = await app.commands.execute('docmanager:open', {path: name});
      await w.sessionContext.ready; await w.revealed; app.shell.activateById(w.id);
      app.commands.execute('notebook:run-all-cells'); }""", name)


def finished(page):
    "The notebook's errors once its kernel is idle with every cell run (or stopped by an error), else None."
    s = page.evaluate(STATE)
    return s['errors'] if s and s['status'] == 'idle' and (s['errors'] or s['todo'] == 0) else None


WIDGET_INPUTS = '.jupyter-widgets .noUi-handle, .jupyter-widgets input[type=number], .jupyter-widgets select'
# The widget to change, where the first slider, number box or menu is not the one to try: in lesson 01 a kernel cell.
POKE = {'01_kernels_by_hand.ipynb': '.jupyter-widgets .widget-text input[type=number]'}


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


def check(page, name):
    "What a learner would see go wrong in the finished notebook `name`: a list of problems, empty when all is well."
    page.wait_for_timeout(500)
    if page.locator('.jp-OutputArea-output img').count() == 0: return ['no plot rendered']
    if page.locator('.jp-OutputArea-output .jupyter-widgets').count() == 0: return ['no ipywidgets view rendered']
    selector = POKE.get(name, WIDGET_INPUTS)
    inputs = page.locator(selector)
    if inputs.count() == 0: return [f'nothing to change ({selector})']
    widget = inputs.first
    before = images_near(widget)
    if not before: return ['the widget to change shows no picture']
    poke(page, widget)
    try:
        page.wait_for_function("([sel, b]) => { const area = document.querySelector(sel).closest('.jp-OutputArea');"
                               " const now = [...area.querySelectorAll('img')].map(i => i.src);"
                               " return now.length && now.join() !== b.join(); }", arg=[selector, before], timeout=60_000)
    except playwright.TimeoutError: return ['the picture did not change after changing the widget']
    page.wait_for_function(f"() => {{ const s = ({STATE})(); return s && s.status === 'idle'; }}", timeout=60_000)
    page.wait_for_timeout(500)  # the last redraw reaches the page
    errors = page.evaluate(STATE)['errors']  # a widget callback that raised shows an error output too
    if errors: return [f'error output after changing the widget: {errors}']
    widget.locator('xpath=ancestor::div[contains(@class,"jp-Cell")][1]').screenshot(path=str(SHOTS / f'{Path(name).stem}-widget.png'))
    return []


def close(page, name):
    "Screenshot the page, shut the notebook's kernel down and close the notebook without saving it."
    page.screenshot(path=str(SHOTS / f'{Path(name).stem}.png'))
    page.evaluate(f"""async () => {{ const w = {NOTEBOOK}; if (!w) return;
      w.context.model.dirty = false; await w.sessionContext.shutdown(); w.dispose(); }}""")


@pytest.fixture(scope='module')
def results(request, lab, browser):
    "Run every selected lesson, `PARALLEL` at a time, and check each as soon as it finishes."
    base, token = lab
    SHOTS.mkdir(exist_ok=True)
    chosen = {i.callspec.params['name'] for i in request.session.items if i.originalname == 'test_browser_lesson'}
    todo = sorted((n for n in LESSONS if n in chosen), key=lambda n: LONGEST.index(n) if n in LONGEST else len(LONGEST))
    free, running, out, t_start = [], {}, {}, time.time()
    while todo or running:
        while todo and len(running) < PARALLEL:
            name, t0 = todo.pop(0), time.time()
            for attempt in range(2):   # once more on a fresh page: Playwright now and then loses a promise
                page = None
                try:
                    page = free.pop() if free and not attempt else open_lab(browser, base, token)
                    start(page, name); running[name] = (page, t0); break
                except Exception as e:
                    if attempt: out[name] = dict(problems=[f'could not open and start: {type(e).__name__}: {e}'], seconds=0)
                    with contextlib.suppress(Exception): page.close()
        for name, (page, t0) in list(running.items()):
            errors, late = finished(page), time.time() - t0 > TIMEOUT
            if errors is None and not late: continue
            del running[name]
            try:
                if late: problems = [f'still running after {TIMEOUT} s: {page.evaluate(STATE)}']
                elif errors: problems = [f'error output: {errors}']
                else: problems = check(page, name)
            except Exception as e: problems = [f'{type(e).__name__}: {e}']
            try: close(page, name)
            except Exception as e: problems.append(f'could not close: {e}')
            if problems: page.close()  # a page in a bad state is not reused
            else: free.append(page)
            out[name] = dict(problems=problems, seconds=round(time.time() - t0, 1), done_at=round(time.time() - t_start, 1))
            print(json.dumps(dict(lesson=name, **out[name])), flush=True)
        time.sleep(0.5)
    for page in free: page.close()
    return out


@pytest.mark.parametrize('name', LESSONS)
def test_browser_lesson(results, name):
    assert not results[name]['problems'], f"{name}: {'; '.join(results[name]['problems'])}"


KINDS = ('Number(', 'Answer(', 'Choice(', 'Predict(')
QUICK_FIRST = ('02_conv2d.ipynb', '01_kernels_by_hand.ipynb', '00_data.ipynb', '04_simple_cnn.ipynb', '03_stride_padding.ipynb')


def quiz_lesson():
    "The quickest lesson that asks a question of every kind (None if none does yet)."
    have = [n for n in LESSONS if all(k in (NBS / n).read_text(encoding='utf-8') for k in KINDS)]
    return next((n for n in QUICK_FIRST if n in have), have[0] if have else None)


def give(q, answer):
    "Type `answer` into question widget `q`, press Check, and return what the question says back."
    old = q.locator('.widget-html').last.inner_text()
    box = q.locator('input[type=text]')
    box.fill(answer)
    box.press('Tab')                 # the widget sends its new value on change; give it time to reach the kernel,
    q.page.wait_for_timeout(600)     # which may still be busy with the last click (ipywidgets buffers the update, not the click)
    q.locator('button', has_text='Check').click()
    return verdict(q, old)


def verdict(q, old=None):
    "The text of the verdict under question widget `q` (waiting for it to change from `old`)."
    out = q.locator('.widget-html').last
    for _ in range(100):
        text = out.inner_text()
        if text and text != old: return text
        q.page.wait_for_timeout(100)
    return out.inner_text()


def shown_answer(q) -> str:
    "Two wrong tries, then Show answer: check the hint and return the answer text."
    first = give(q, '-987654321')
    assert '❌' in first, first
    second = give(q, '-987654320')
    assert 'you may show the answer' in second, second
    show = q.locator('button', has_text='Show answer')
    assert show.is_visible()
    show.click()
    return verdict(q, second)


def test_quiz_kinds(lab, browser):
    "A learner answers one question of each kind: hints after wrong tries, explanations after right ones, a prediction compared."
    name = quiz_lesson()
    if name is None: pytest.skip('no lesson asks every kind of question yet')
    page = open_lab(browser, *lab)
    start(page, name)
    t0 = time.time()
    while (errors := finished(page)) is None and time.time() - t0 < TIMEOUT: time.sleep(0.5)
    assert errors == [], f'{name}: {errors}'
    num = page.locator('.convnb-number').first
    num.scroll_into_view_if_needed()
    m = re.search(r'The answer: ([-\d.,e+]+)', shown_answer(num))
    assert m, verdict(num)
    assert '✅ right!' in give(num, m.group(1).replace(',', ''))
    ans = page.locator('.convnb-answer').first
    m = re.search(r'The answer: `([^`]+)`', shown_answer(ans))
    assert m, verdict(ans)
    assert '✅ right!' in give(ans, m.group(1).upper())          # case does not matter
    choice = page.locator('.convnb-choice:has(input[type=radio])').first
    radios, said = choice.locator('input[type=radio]'), ''
    for i in range(radios.count()):
        radios.nth(i).check()
        page.wait_for_timeout(600)                                  # let the new value reach the kernel first (see give)
        choice.locator('button', has_text='Check').click()
        said = verdict(choice, said)
        if '✅' in said: break
        assert '✘' in said, said                                   # a wrong pick is explained too
    assert '✅ right!' in said and '✔' in said, said                # the right one, with its explanation
    pred = page.locator('.convnb-predict').first
    pred.scroll_into_view_if_needed()
    if pred.locator('input[type=radio]').count(): pred.locator('input[type=radio]').first.check()
    else: pred.locator('input[type=text]').fill('1')
    page.wait_for_timeout(600)
    pred.locator('button', has_text='Commit').click()
    assert '🔒' in verdict(pred), verdict(pred)
    compared = page.evaluate(f"""async () => {{
      const app = window.jupyterapp, w = {NOTEBOOK}, cells = w.content.widgets, out = [];
      for (let i = 0; i < cells.length; i++) {{
        if (!cells[i].model.sharedModel.getSource().includes('.compare(')) continue;
        w.content.activeCellIndex = i; await app.commands.execute('notebook:run-cell');
      }}
      await new Promise(r => setTimeout(r, 3000));
      for (const c of cells) if (c.model.sharedModel.getSource().includes('.compare('))
        for (const o of c.model.outputs.toJSON()) out.push(o.text || '');
      return out.join('\\n'); }}""")
    assert 'You predicted' in compared, compared
    SHOTS.mkdir(exist_ok=True); page.screenshot(path=str(SHOTS / 'quiz.png'))
    close(page, name)
    page.close()
