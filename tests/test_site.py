"""The course website as a reader meets it: `_site/` served on 127.0.0.1 and opened in headless Chromium (Playwright).

Every page (the home page, every lesson, the tool notebooks, the API reference) is opened with each request to a host
other than 127.0.0.1 blocked and recorded, and checked: nothing blocked, no failed request, no console error; each
lesson shows a picture and no traceback, hides its nbdev directives and draws its widgets with their note; the API page
names every public name of convnb; every link between pages, and its #anchor, resolves; math is typeset by the site's
own MathJax; the search finds a function. Build the site first with the README's site command (`convnb site`); CI
does. Without a built site (or Chromium) the browser tests are skipped, saying so; the builder's own pieces (directives,
widgets drawn as HTML, the API page's source) are tested either way. Screenshots go to tests/screenshots/ (git-ignored).
Takes about a minute.
"""
import functools, html, importlib, os, pkgutil, re, shutil, sys, threading, urllib.parse, urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from convnb.cli import lesson_notebooks

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get('CONVNB_SITE') or ROOT / '_site')
SHOTS = Path(__file__).resolve().parent / 'screenshots'
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
         '--disable-sync', '--no-first-run', '--disable-quic']
LESSONS = [p.stem for p in lesson_notebooks(ROOT / 'nbs')]
TOOLS = [p.stem for p in sorted((ROOT / 'nbs').glob('9[0-9]*_*.ipynb'))]
PAGES = ['index', *LESSONS, *TOOLS, 'api']
SEARCH = 'conv_out_size'  # a function every version of the course has (lesson 03)

sys.path.insert(0, str(ROOT / 'docs'))
import api, build  # noqa: E402  (docs/: the site's builder and its API page)


def needs(ok: bool, why: str):
    "Skip with `why` unless `ok`; in CI, which builds the site and installs Chromium first, fail instead."
    if ok: return
    if os.environ.get('CI'): raise RuntimeError(why)
    pytest.skip(why)


@pytest.fixture(scope='module')
def playwright():
    needs((SITE / 'index.html').is_file(), f"the website has not been built: no {SITE}/index.html (build it with the "
                                           "README's site command, or `convnb site`)")
    needs(Path(CHROMIUM).exists(), f'no Chromium at {CHROMIUM} (apt-get install -y chromium)')
    return pytest.importorskip('playwright.sync_api')


# ------------------------------------------------------------------------------- the builder, without a browser

def test_directives_are_read_and_stripped():
    assert build.directives('#| export\n#|hide\n# | eval: false\nx = 1  #| not a directive') == \
        ({'export': '', 'hide': '', 'eval': 'false'}, 'x = 1  #| not a directive')
    assert build.skip_reason({'slow': ''}) == 'slow' and build.skip_reason({'eval': 'false'}) == 'eval'
    assert build.skip_reason({'export': '', 'hide': ''}) is None


def widget_state(models: dict) -> dict:
    return {k: {'model_name': name, 'state': st} for k, (name, st) in models.items()}


def test_an_interact_widget_becomes_its_controls_and_its_picture():
    png = {'output_type': 'display_data', 'metadata': {}, 'data': {'image/png': 'iVBORw0KGgo=', 'text/plain': 'fig'}}
    state = widget_state({'box': ('VBoxModel', {'children': ['IPY_MODEL_k', 'IPY_MODEL_mode', 'IPY_MODEL_out']}),
                          'k': ('IntSliderModel', {'description': 'kernel', 'value': 3, 'min': 1, 'max': 7, 'step': 2}),
                          'mode': ('DropdownModel', {'description': 'mode', '_options_labels': ['zeros', 'reflect'], 'index': 1}),
                          'out': ('OutputModel', {'outputs': [png]})})
    view = {'output_type': 'display_data', 'metadata': {},
            'data': {'application/vnd.jupyter.widget-view+json': {'model_id': 'box'}, 'text/plain': 'interactive(...)'}}
    html_out, picture = build.static_widget_outputs(view, state, '03_stride_padding')
    markup = html_out['data']['text/html']
    assert 'convnb lab 03' in markup and 'redraw the picture' in markup
    assert '<input type="range" disabled min="1" max="7" step="2" value="3">' in markup
    assert '<option selected>reflect</option>' in markup and 'disabled' in markup
    assert picture['data']['image/png'] == 'iVBORw0KGgo='


def test_a_quiz_says_where_to_answer():
    state = widget_state({'q': ('VBoxModel', {'children': ['IPY_MODEL_t', 'IPY_MODEL_row']}),
                          't': ('HTMLModel', {'value': '<b>How many?</b>'}),
                          'row': ('HBoxModel', {'children': ['IPY_MODEL_box', 'IPY_MODEL_btn', 'IPY_MODEL_verdict']}),
                          'box': ('TextModel', {'placeholder': 'your answer', 'value': ''}),
                          'btn': ('ButtonModel', {'description': 'Check'}), 'verdict': ('LabelModel', {'value': ''})})
    view = {'output_type': 'display_data', 'data': {'application/vnd.jupyter.widget-view+json': {'model_id': 'q'}}}
    [out] = build.static_widget_outputs(view, state, '04b_learner')
    markup = out['data']['text/html']
    assert 'Answer these in JupyterLab' in markup and 'convnb lab 04b' in markup and '<b>How many?</b>' in markup
    assert '<button disabled>Check</button>' in markup and 'placeholder="your answer"' in markup


def public_names() -> list[str]:
    import convnb
    out = []
    for m in pkgutil.iter_modules(convnb.__path__):
        if m.name.startswith('_'): continue
        mod = importlib.import_module(f'convnb.{m.name}')
        out += [f'{mod.__name__}.{n}' for n in getattr(mod, '__all__', [])]
    return out


def test_the_api_page_source_has_every_public_name():
    md = api.api_markdown(ROOT / 'nbs')
    modules = [mod.__name__ for mod, _ in api.modules()]
    missing = []
    for full in public_names():
        mod, name = full.rsplit('.', 1)
        head = re.search(rf'^## {re.escape(mod)}$(.*?)(?=^## |\Z)', md, re.M | re.S)
        body = head.group(1) if head else ''
        if not re.search(rf'{{py:\w+}} {re.escape(name)}\b', body) and f'`{full}` is' not in body: missing.append(full)
    assert len(modules) >= 15 and not missing, missing


# ---------------------------------------------------------------------------------- the site, in a browser


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


@pytest.fixture(scope='module')
def base(playwright):
    "The built site served on 127.0.0.1 at a free port, for the module's tests; stopped at the end."
    server = ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(SITE)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try: yield f'http://127.0.0.1:{server.server_address[1]}'
    finally: server.shutdown(); server.server_close(); thread.join(10)


@pytest.fixture(scope='module')
def context(playwright):
    "A browser context that lets requests to 127.0.0.1 through and blocks (and records) every other one."
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        ctx = browser.new_context(viewport={'width': 1280, 'height': 900})
        ctx.blocked = []
        def route(r):
            url = r.request.url
            if urllib.parse.urlsplit(url).hostname == '127.0.0.1': r.continue_()
            else: ctx.blocked.append(url); r.abort()
        ctx.route('**/*', route)
        yield ctx
        browser.close()


def visit(ctx, url, shot=None) -> dict:
    "Open `url`, wait until it and its math are done, and return what went wrong and what it shows."
    page, problems = ctx.new_page(), dict(failed=[], console=[])
    page.on('console', lambda m: m.type == 'error' and problems['console'].append(m.text))
    page.on('pageerror', lambda e: problems['console'].append(f'uncaught: {e}'))
    page.on('requestfailed', lambda r: problems['failed'].append(f'{r.url}: {r.failure}'))
    page.on('response', lambda r: r.status >= 400 and problems['failed'].append(f'{r.url}: HTTP {r.status}'))
    n_blocked = len(ctx.blocked)
    response = page.goto(url, wait_until='load')
    page.evaluate("async () => { const m = window.MathJax; if (m && m.startup && m.startup.promise) await m.startup.promise; }")
    page.wait_for_load_state('networkidle')
    blocked = ctx.blocked[n_blocked:]
    info = page.evaluate("""() => {
      const main = document.querySelector('article') || document.body;
      const text = sel => [...main.querySelectorAll(sel)].map(e => e.innerText);
      return {
        status: 0, title: document.title, text: main.innerText,
        images: [...main.querySelectorAll('img')].filter(i => i.complete && i.naturalWidth > 0).length,
        outputs: text('.cell_output'), code: text('.cell_input pre'),
        tracebacks: main.querySelectorAll('.output.traceback, .output.error').length,
        widgets: [...main.querySelectorAll('.convnb-widget:not(.convnb-widget-more)')].map(w => !!w.querySelector('.convnb-widget-note')),
        math: main.querySelectorAll('.math').length, typeset: main.querySelectorAll('mjx-container').length,
        links: [...document.querySelectorAll('a[href]')].map(a => a.href),
      }; }""")
    info.update(status=response.status if response else 0, blocked=blocked,
                failed=[f for f in problems['failed'] if not any(f.startswith(b) for b in blocked)],
                console=problems['console'])
    if shot:
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / f'site-{shot}.png'))
        for what, sel in (('picture', '.cell_output img'), ('widget', '.convnb-widget')):
            el = page.locator(f'article {sel}').first
            if el.count():
                cell = el.locator('xpath=ancestor::div[contains(@class,"cell")][1]')
                (cell if cell.count() else el).screenshot(path=str(SHOTS / f'site-{shot}-{what}.png'))
    page.close()
    return info


@pytest.fixture(scope='module')
def seen(base, context):
    "Every page of the site, visited once."
    return {name: visit(context, f'{base}/{name}.html', shot=name) for name in PAGES}


@pytest.mark.parametrize('name', PAGES)
def test_site_page_loads_cleanly(seen, name):
    s = seen[name]
    assert s['status'] == 200, f'{name}.html: HTTP {s["status"]} (is the site older than the notebooks? rebuild it)'
    assert not s['blocked'], f'{name}.html asked another host for: {s["blocked"]}'
    assert not s['failed'], f'{name}.html: failed requests: {s["failed"]}'
    assert not s['console'], f'{name}.html: console errors: {s["console"]}'
    assert not any(re.match(r'\s*#\s*\|', line) for c in s['code'] for line in c.splitlines()), \
        f'{name}.html shows nbdev directive lines (#| ...)'
    assert s['math'] == 0 or s['typeset'] > 0, f'{name}.html: {s["math"]} formulas, none typeset by MathJax'
    assert all(s['widgets']), f'{name}.html: a widget without its note'
    assert not any(re.search(r'\b(interactive|VBox|HBox|Output)\(children=', o) for o in s['outputs']), \
        f'{name}.html shows a widget as text instead of drawing it'


@pytest.mark.parametrize('name', LESSONS)
def test_site_lesson_shows_pictures_and_no_traceback(seen, name):
    s = seen[name]
    assert s['images'] >= 1, f'{name}.html shows no picture'
    assert s['tracebacks'] == 0 and not any('Traceback (most recent call last)' in o for o in s['outputs']), \
        f'{name}.html shows a traceback'
    assert s['widgets'], f'{name}.html: its widget is not drawn (no .convnb-widget)'


def test_site_home_page_lists_lessons_and_how_to_run(seen):
    s = seen['index']
    links = {urllib.parse.urlsplit(u).path.rsplit('/', 1)[-1] for u in s['links']}
    missing = [n for n in LESSONS if f'{n}.html' not in links]
    assert not missing, f'the home page does not link to {missing}'
    assert 'Run it yourself' in s['text'] and 'jupyter lab nbs' in s['text'] and 'pytest -q tests' in s['text']


def test_site_api_page_names_every_public_name(seen):
    text = seen['api']['text']
    names = public_names()
    missing = [n for n in names if n not in text]
    assert len(names) > 100 and not missing, f'the API page lacks {len(missing)} public names: {missing[:20]}'


@functools.lru_cache(maxsize=None)
def ids_of(url: str) -> frozenset:
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        return frozenset(html.unescape(i) for i in re.findall(r'\bid="([^"]+)"', r.read().decode('utf-8')))


def test_site_links_between_pages_resolve(seen, base):
    broken, checked = [], set()
    for name, s in seen.items():
        for url in s['links']:
            parts = urllib.parse.urlsplit(url)
            if not url.startswith(base) or parts.path.endswith('search.html') or url in checked: continue
            checked.add(url)
            page = urllib.parse.urlunsplit(parts._replace(fragment=''))
            if page.endswith('/'): page += 'index.html'
            try: ids = ids_of(page)
            except Exception as e: broken.append(f'{name}.html -> {url}: {e}'); continue
            frag = urllib.parse.unquote(parts.fragment)
            if frag and frag not in ids: broken.append(f'{name}.html -> {url}: no #{frag} there')
    assert len(checked) > len(PAGES) and not broken, f'{len(broken)} broken links: {broken[:20]}'


def test_site_search_finds_a_function(base, context):
    page = context.new_page()
    errors = []
    page.on('console', lambda m: m.type == 'error' and errors.append(m.text))
    page.goto(f'{base}/search.html?q={SEARCH}', wait_until='load')
    hit = page.locator(f'#search-results a[href*="api.html#convnb.arith.{SEARCH}"]')
    hit.first.wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / 'site-search.png'))
    page.close()
    assert not errors, errors
