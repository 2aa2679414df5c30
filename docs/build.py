"""Build the course website: run every notebook once, show it as a reader meets it, add the API page, write HTML.

    python docs/build.py [OUT] [--force] [--workers N] [--reuse] [--exclude NB,...]
    (what `convnb site [OUT]` runs; OUT defaults to _site; `python docs/build.py -h` says what the options do)

1. Execute each notebook of nbs/ with nbclient, two at a time with one thread each, skipping the cells that nbdev_test
   skips (`#| slow`, `#| eval: false`). Executed copies are kept under _build/site/executed/ and reused while neither
   the notebook nor the package changed (`--force` runs everything again).
2. Turn each executed notebook into the page a reader sees: `#| hide` cells go, directive lines are stripped, a cell
   that was not run says so, and every widget becomes its initial picture with its controls drawn greyed out and a
   note that they respond in JupyterLab (the course's widgets call Python, so nothing could move without a kernel).
3. Write the API reference from the package itself (docs/api.py), and the home page's "Run it yourself" from README.md.
4. Run Sphinx (myst-nb, sphinx-book-theme; docs/conf.py) over that, with MathJax served from the site itself.
"""
from __future__ import annotations
import argparse, copy, hashlib, html, json, os, re, shutil, signal, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS, NBS, PKG = ROOT / 'docs', ROOT / 'nbs', ROOT / 'convnb'
BUILD = ROOT / '_build' / 'site'       # executed notebooks, Sphinx sources, doctrees, staged MathJax
sys.path.insert(0, str(DOCS))
EXEC_VERSION = '1'                     # bump to invalidate every cached execution

# ---------------------------------------------------------------------------------------------------------- pages

def pages() -> dict[str, list[Path]]:
    "The notebooks of the site, by part: the home page, the lessons (00 to 89) and the tools (90 to 99)."
    from convnb.cli import lesson_notebooks
    return {'home': [NBS / 'index.ipynb'], 'lessons': lesson_notebooks(NBS),
            'tools': sorted(NBS.glob('9[0-9]*_*.ipynb'))}

DIRECTIVE = re.compile(r'^\s*#\s*\|\s*([\w-]+)\s*:?\s*(.*?)\s*$')

def directives(src: str) -> tuple[dict, str]:
    "nbdev's `#| name value` lines at the top of a cell, as a dict, and the source without them."
    lines, found = src.splitlines(), {}
    while lines and (m := DIRECTIVE.match(lines[0])):
        found[m.group(1).lower()] = m.group(2).lower()
        lines.pop(0)
    return found, '\n'.join(lines).strip('\n')

def skip_reason(d: dict) -> str | None:
    "Why nbdev_test (and so this build) does not run a cell with directives `d`, or None."
    if 'slow' in d: return 'slow'
    if d.get('eval') == 'false': return 'eval'
    return None

def skipped(cell) -> str | None: return skip_reason(directives(cell.source)[0])

# ------------------------------------------------------------------------------------------------------ execution

def source_key(nb_path: Path) -> str:
    "A fingerprint of what an execution depends on: the notebook and every module of the package."
    h = hashlib.sha256(EXEC_VERSION.encode())
    for p in [nb_path, *sorted(PKG.glob('*.py'))]: h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()

def _output_widget():
    "nbclient's stand-in for an Output widget, which keeps what the widget shows but never writes to the kernel."
    from nbclient.output_widget import OutputWidget
    class KeepOutputs(OutputWidget):
        # The page needs the outputs only in the saved widget state, which nbclient keeps; sending each picture back
        # to the kernel from inside nbclient's message loop costs time and is a suspect in jupyter/nbclient#312.
        def sync_state(self): pass
    return KeepOutputs

def _sliced(get_msg, step: float = 1.0):
    "A channel's `get_msg` that polls in slices of `step` seconds, so that a missed wake-up costs a second, not forever."
    from queue import Empty
    async def sliced(timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = step if deadline is None else min(step, max(0.0, deadline - time.monotonic()))
            try: return await get_msg(timeout=left)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline: raise
    return sliced

def _client_class():
    "nbclient's NotebookClient, with the two waits it can miss a message in made to look again every second."
    from nbclient import NotebookClient
    class Client(NotebookClient):
        # An interact() cell sometimes never finished: the kernel was idle, its reply sent, and nbclient still waiting
        # on a socket that had it (jupyter/nbclient#312). Polling again finds the message at once.
        async def async_start_new_kernel_client(self):
            kc = await super().async_start_new_kernel_client()
            for channel in (kc.shell_channel, kc.iopub_channel): channel.get_msg = _sliced(channel.get_msg)
            return kc
    return Client

def execute(src: str, dest: str, timeout: int = 600) -> float:
    "Run notebook `src` (without its skipped cells) in a fresh kernel in nbs/; write it with its outputs to `dest`."
    import nbformat
    from nbclient.exceptions import CellExecutionError
    t0, nb = time.time(), nbformat.read(src, as_version=4)
    todo = [c for c in nb.cells if c.cell_type == 'code' and c.source.strip() and not skipped(c)]
    if todo:
        run = copy.deepcopy(nb)
        run.cells = copy.deepcopy(todo)
        started = {}
        def start(cell, cell_index, **_): started[cell_index] = time.time()
        def done(cell, cell_index, **_):
            if (took := time.time() - started[cell_index]) > 60:
                print(f'  {Path(src).name}: a cell took {took:.0f} s: {cell.source.strip().splitlines()[0][:70]}', flush=True)
        client = _client_class()(run, timeout=timeout, kernel_name='python3', store_widget_state=True,
                                widget_registry={'@jupyter-widgets/output': {'OutputModel': _output_widget()}},
                                resources={'metadata': {'path': str(NBS)}}, on_cell_start=start, on_cell_executed=done,
                                extra_arguments=['--IPKernelApp.log_level=ERROR'])  # no warnings about TCP on localhost
        try: client.execute()
        except CellExecutionError as e:
            raise RuntimeError(f'{Path(src).name} failed while building the site; run it with '
                               f'`nbdev_test --path nbs/{Path(src).name}` to see why:\n{str(e)[-3000:]}') from None
        for mine, ran in zip(todo, run.cells): mine.outputs, mine.execution_count = ran.outputs, ran.execution_count
        for key in ('widgets', 'language_info'):
            if key in run.metadata: nb.metadata[key] = run.metadata[key]
    tmp = Path(dest).with_suffix('.part')
    nbformat.write(nb, tmp); os.replace(tmp, dest)
    print(f'  {Path(src).name}: {time.time() - t0:.0f} s', flush=True)
    return time.time() - t0

def execute_all(nbs: list[Path], workers: int = 2, force: bool = False, reuse: bool = False) -> dict[str, Path]:
    "Executed copies of `nbs`, reusing those whose key is unchanged (any, if `reuse`); the slowest start first."
    out_dir = BUILD / 'executed'; out_dir.mkdir(parents=True, exist_ok=True)
    times_file = out_dir / 'seconds.json'
    times = json.loads(times_file.read_text()) if times_file.exists() else {}
    done, todo = {}, []
    for p in nbs:
        dest, key, key_file = out_dir / p.name, source_key(p), out_dir / f'{p.stem}.key'
        done[p.name] = dest
        fresh = dest.exists() and (reuse or key_file.exists() and key_file.read_text() == key)
        if force or not fresh: todo.append((p, dest, key))
    # the slowest first, so that the two queues end together; unknown ones by number (later lessons train longer)
    guess = lambda n: 60 + int(n[:2]) if n[:2].isdigit() and int(n[:2]) < 90 else 10
    todo.sort(key=lambda t: -times.get(t[0].name, guess(t[0].name)))
    print(f'executing {len(todo)} of {len(nbs)} notebooks ({len(nbs) - len(todo)} unchanged since the last build), '
          f'{workers} at a time', flush=True)
    t0, n, running, logs = time.time(), len(todo), {}, BUILD / 'logs'
    logs.mkdir(parents=True, exist_ok=True)
    try:
        while todo or running:
            while todo and len(running) < workers:  # each notebook in a process of its own, killed by its id if need be
                p, dest, key = todo.pop(0)
                log = open(logs / f'{p.stem}.log', 'w')
                proc = subprocess.Popen([sys.executable, __file__, '--execute-one', str(p), str(dest)], stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
                running[proc] = (p, key, log, time.time())
            for proc, (p, key, log, t) in list(running.items()):
                if proc.poll() is None: continue
                del running[proc]; log.close()
                text = (logs / f'{p.stem}.log').read_text(errors='replace')
                if proc.returncode:
                    text = re.sub(r'\x1b\[[0-9;]*m', '', text)  # the traceback's colours
                    raise RuntimeError(text[-4000:] or f'{p.name}: exit status {proc.returncode}')
                print(text, end='', flush=True)
                (out_dir / f'{p.stem}.key').write_text(key)
                times[p.name] = round(time.time() - t, 1)
            time.sleep(0.2)
    finally:
        for proc in running:  # a failure stops the others: kill each by its process group (kernel included)
            try: os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError: pass
            proc.wait()
    times_file.write_text(json.dumps(times, indent=1))
    if n: print(f'executed {n} notebooks in {time.time() - t0:.0f} s', flush=True)
    return done

# ------------------------------------------------------------------------------------------------------- widgets

def lesson_number(stem: str) -> str:
    "'03_stride_padding' -> '03', '04b_learner' -> '04b'."
    m = re.match(r'(\d+[a-z]?)_', stem)
    return m.group(1) if m else stem

def _esc(v) -> str: return html.escape(str(v), quote=True)

class StaticWidget:
    "A widget tree from a notebook's saved widget state, drawn as greyed-out HTML controls and the outputs it showed."
    BOXES = {'VBoxModel': 'vbox', 'BoxModel': 'vbox', 'GridBoxModel': 'vbox', 'HBoxModel': 'hbox', 'AccordionModel': 'vbox',
             'TabModel': 'vbox', 'StackModel': 'vbox'}

    def __init__(self, state: dict): self.state, self.parts, self.buf, self.kinds, self.depth = state, [], [], set(), 0

    def flush(self):
        if self.buf: self.parts.append(('html', ''.join(self.buf))); self.buf = []

    def control(self, name, s) -> str:
        "One control as disabled HTML, showing its initial value."
        label = f'<label>{_esc(s["description"])}</label>' if s.get('description') and name != 'ButtonModel' else ''
        if name.endswith('SliderModel'):
            self.kinds.add('control')
            value = s.get('value', 0)
            if isinstance(value, list): value = ' to '.join(map(str, value))
            pos = s.get('value', 0)
            if name == 'FloatLogSliderModel':
                import math
                pos = math.log(pos, s.get('base', 10)) if pos and pos > 0 else s.get('min', 0)
            if isinstance(pos, list): pos = pos[0]
            return (f'{label}<input type="range" disabled min="{_esc(s.get("min", 0))}" max="{_esc(s.get("max", 100))}" '
                    f'step="{_esc(s.get("step", 1) or "any")}" value="{_esc(pos)}"><output>{_esc(value)}</output>')
        if name in ('DropdownModel', 'SelectModel', 'RadioButtonsModel', 'ToggleButtonsModel',
                                                  'SelectionSliderModel', 'SelectMultipleModel'):
            self.kinds.add('control')
            labels, index = s.get('_options_labels', []), s.get('index')
            opts = ''.join(f'<option{" selected" if i == index else ""}>{_esc(o)}</option>' for i, o in enumerate(labels))
            return f'{label}<select disabled>{opts}</select>'
        if name in ('CheckboxModel', 'ToggleButtonModel'):
            self.kinds.add('control')
            return f'{label}<input type="checkbox" disabled{" checked" if s.get("value") else ""}>'
        if name.endswith('TextModel') or name in ('TextareaModel', 'PasswordModel', 'ComboboxModel'):
            self.kinds.add('answer' if name == 'TextModel' else 'control')
            return (f'{label}<input type="text" disabled value="{_esc(s.get("value", ""))}" '
                    f'placeholder="{_esc(s.get("placeholder", ""))}">')
        if name == 'ButtonModel':
            self.kinds.add('button')
            return f'<button disabled>{_esc(s.get("description", ""))}</button>'
        if name in ('HTMLModel', 'HTMLMathModel'): return f'{label}<span>{s.get("value", "")}</span>'
        if name == 'LabelModel': return f'<span>{_esc(s.get("value", ""))}</span>'
        self.kinds.add('control')
        return f'{label}<span class="convnb-widget-other">[{_esc(name.removesuffix("Model"))}]</span>'

    def walk(self, model_id: str):
        m = self.state.get(model_id)
        if m is None: return
        name, s = m.get('model_name', ''), m.get('state', {})
        if name == 'OutputModel':
            self.kinds.add('output')
            self.buf.append('</div>' * self.depth); self.flush()
            self.parts += [('output', o) for o in s.get('outputs', [])]
            self.buf.append('<div class="convnb-widget-controls">' * self.depth)
        elif name in self.BOXES:
            self.buf.append(f'<div class="convnb-widget-{self.BOXES[name]}">'); self.depth += 1
            for child in s.get('children', []): self.walk(child.removeprefix('IPY_MODEL_'))
            self.depth -= 1; self.buf.append('</div>')
        else: self.buf.append(f'<div class="convnb-widget-row">{self.control(name, s)}</div>')

    def render(self, model_id: str) -> list[tuple[str, object]]:
        "('html', markup) and ('output', nbformat output) parts, in the order the widget shows them."
        self.walk(model_id); self.flush()
        return self.parts

def note(kinds: set, stem: str) -> str:
    "What the reader should know about a widget that does not move here."
    cmd = f'<code>convnb lab {lesson_number(stem)}</code>'
    if 'answer' in kinds and 'button' in kinds:
        return (f'Answer these in JupyterLab ({cmd}): type into a box and press <b>Check</b> or Enter, and it tells '
                f'you whether you are right. Here the boxes are only shown.')
    if 'output' in kinds:
        return (f'In JupyterLab ({cmd}) these controls redraw the picture as you change them; here it is drawn once, '
                f'for the values shown.')
    return f'This widget responds in JupyterLab ({cmd}); here it is shown in its initial state.'

def static_widget_outputs(output, state: dict, stem: str) -> list:
    "A widget view output replaced by HTML (note and greyed-out controls) and the outputs its Output widgets hold."
    import nbformat
    view = output['data']['application/vnd.jupyter.widget-view+json']
    w = StaticWidget(state)
    parts = w.render(view['model_id'])
    head = (f'<div class="convnb-widget" data-widget="{_esc(view["model_id"])}"><p class="convnb-widget-note">'
            f'{note(w.kinds, stem)}</p>')
    out, first = [], True
    for kind, part in parts:
        if kind == 'html':
            if not first and not re.search(r'<(input|select|button|span|label)', part): continue  # only closing tags
            body = (head if first else '<div class="convnb-widget convnb-widget-more">') + part + '</div>'
            out.append(nbformat.v4.new_output('display_data', data={'text/html': body})); first = False
        else: out.append(nbformat.from_dict(part))
    if first: out.insert(0, nbformat.v4.new_output('display_data', data={'text/html': head + '</div>'}))
    return out

# ---------------------------------------------------------------------------------------------------- the pages

NOT_RUN = {'slow': 'Not run for this website: this cell trains at full length (it is marked `#| slow`, and the tests '
                   'skip it too). Run it yourself in JupyterLab to see its output.',
           'eval': 'Not run for this website (the cell is marked `#| eval: false`).'}

def readme_block(marker: str) -> str:
    "The code block after `<!-- marker -->` in README.md."
    text = (ROOT / 'README.md').read_text(encoding='utf-8')
    m = re.search(rf'<!-- {re.escape(marker)} -->\s*```\w*\n(.*?)\n```', text, re.S)
    return m.group(1).strip() if m else ''

def run_it_yourself() -> str:
    lab, test = readme_block('lab command'), readme_block('test command')
    return ('## Run it yourself\n\nThis website shows every lesson as it ran once, with its pictures and numbers. The '
            'sliders and answer boxes respond when you run the lessons yourself. From a clone of the repository '
            '(Python 3.10 or newer), this installs PyTorch, JupyterLab and the package, and opens the course:\n\n'
            f'```bash\n{lab}\n```\n\nand this runs every lesson and every test:\n\n```bash\n{test}\n```\n\n'
            'The [API reference](api.md) lists every public name of the package, linked to the lesson that teaches it.')

def toctrees(parts: dict) -> str:
    out = []
    for caption, key in (('Lessons', 'lessons'), ('Tools', 'tools')):
        out.append(f'```{{toctree}}\n:hidden:\n:caption: {caption}\n\n' + '\n'.join(p.stem for p in parts[key]) + '\n```')
    out.append('```{toctree}\n:hidden:\n:caption: Reference\n\napi\n```')
    return '\n\n'.join(out)

def page(executed: Path, stem: str, targets: dict) -> dict:
    "The notebook a reader sees: hidden cells gone, directives stripped, widgets drawn, not-run cells marked."
    import nbformat
    nb = nbformat.read(executed, as_version=4)
    state = nb.metadata.pop('widgets', {}).get('application/vnd.jupyter.widget-state+json', {}).get('state', {})
    nb.metadata.setdefault('language_info', {'name': 'python', 'pygments_lexer': 'ipython3'})  # for the highlighting
    cells = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != 'code': cells.append(cell); continue
        d, body = directives(cell.source)
        if 'hide' in d or d.get('include') == 'false' or not body.strip(): continue
        cell.source = body
        tags = set(cell.metadata.get('tags', []))
        if d.get('echo') == 'false': tags.add('remove-input')
        if d.get('output') == 'false': tags.add('remove-output')
        if tags: cell.metadata['tags'] = sorted(tags)
        if why := skip_reason(d):
            cells.append(nbformat.v4.new_markdown_cell(f':::{{note}}\n{NOT_RUN[why]}\n:::'))
        outputs = []
        for o in cell.get('outputs', []):
            if o.get('output_type') in ('display_data', 'execute_result') and \
               'application/vnd.jupyter.widget-view+json' in o.get('data', {}):
                outputs += static_widget_outputs(o, state, stem)
            else: outputs.append(o)
        cell.outputs = outputs
        if labels := targets.get(i):  # where the API page links to: the cell that defines a public name
            cells.append(nbformat.v4.new_markdown_cell('\n'.join(f'({l})=' for l in labels)))
        cells.append(cell)
    nb.cells = cells
    return nb

def write_sources(executed: dict[str, Path], parts: dict) -> Path:
    "The Sphinx source folder: one notebook per page, api.md, and the home page with its run commands and toctrees."
    import nbformat, api
    src = BUILD / 'src'
    if src.exists(): shutil.rmtree(src)
    src.mkdir(parents=True)
    defs = api.definitions(NBS)
    for name, path in executed.items():
        stem = Path(name).stem
        nb = page(path, stem, defs.get(stem, {}))
        if stem == 'index':
            nb.cells.append(nbformat.v4.new_markdown_cell(run_it_yourself()))
            nb.cells.append(nbformat.v4.new_markdown_cell(toctrees(parts)))
        nbformat.write(nb, src / name)
    if (NBS / 'images').is_dir():  # the lessons' diagrams, linked from their markdown as images/NAME.svg
        shutil.copytree(NBS / 'images', src / 'images', ignore=shutil.ignore_patterns('*.py', '__pycache__'))
    (src / 'api.md').write_text(api.api_markdown(NBS, on_site={Path(n).stem for n in executed}), encoding='utf-8')
    return src

# ------------------------------------------------------------------------------------------------------ MathJax

MATHJAX_PARTS = ['tex-chtml.js', 'input/tex/extensions', 'output/chtml', 'ui', 'a11y', 'sre', 'adaptors']

def stage_mathjax() -> Path:
    "Copy the parts of MathJax 3 the pages load (from the django-static-mathjax wheel) to the staged static folder."
    import importlib.util
    spec = importlib.util.find_spec('mathjax')
    es5 = spec and Path(list(spec.submodule_search_locations)[0]) / 'static' / 'mathjax' / 'es5'
    if not es5 or not (es5 / 'tex-chtml.js').exists():
        sys.exit('No local MathJax: install the docs extra (pip install -e ".[docs]"), which brings django-static-mathjax.')
    dest = BUILD / 'static' / 'mathjax'
    if dest.exists(): shutil.rmtree(dest)
    for part in MATHJAX_PARTS:
        (dest / part).parent.mkdir(parents=True, exist_ok=True)
        if (es5 / part).is_dir(): shutil.copytree(es5 / part, dest / part)
        else: shutil.copy2(es5 / part, dest / part)
    return dest.parent

# ---------------------------------------------------------------------------------------------------------- main

def build(out: Path, workers: int = 2, force: bool = False, reuse: bool = False, exclude=()) -> Path:
    "Build the whole site into `out` (without the notebooks named in `exclude`)."
    for mod in ('sphinx', 'myst_nb', 'sphinx_book_theme', 'nbclient'):
        try: __import__(mod)
        except ImportError: sys.exit(f'The site needs the docs extra ({mod} is missing): pip install -e ".[dev,docs]"')
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    os.environ['MPLBACKEND'] = 'module://matplotlib_inline.backend_inline'
    os.environ.setdefault('PYDEVD_DISABLE_FILE_VALIDATION', '1')
    t0 = time.time()
    parts = {k: [p for p in ps if p.stem not in exclude] for k, ps in pages().items()}
    executed = execute_all([p for ps in parts.values() for p in ps], workers, force, reuse)
    t1 = time.time()
    src = write_sources(executed, parts)
    stage_mathjax()
    out = Path(out).resolve()
    if out.exists(): shutil.rmtree(out)
    cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-q', '-j', str(workers), '-c', str(DOCS),
           '-d', str(BUILD / 'doctrees'), str(src), str(out)]
    subprocess.run(cmd, check=True, env={**os.environ, 'CONVNB_SITE_STATIC': str(BUILD / 'static')})
    for p in (out / '_static').rglob('*.map'): p.unlink()  # the theme's source maps: for its developers, 3 MB
    size = sum(p.stat().st_size for p in out.rglob('*') if p.is_file())
    print(f'site written to {out}: {size / 2**20:.1f} MiB in {sum(1 for _ in out.rglob("*"))} files; executing took '
          f'{t1 - t0:.0f} s, the pages {time.time() - t1:.0f} s, all {time.time() - t0:.0f} s', flush=True)
    return out

def main(argv=None):
    if argv is None and sys.argv[1:2] == ['--execute-one']:  # one notebook, in a process of its own
        try: execute(*sys.argv[2:4])
        except RuntimeError as e: sys.exit(str(e))
        return
    p = argparse.ArgumentParser(prog='docs/build.py', description=__doc__.splitlines()[0])
    p.add_argument('out', nargs='?', default=str(ROOT / '_site'), help='where to write the site (default: _site)')
    p.add_argument('--force', action='store_true', help='execute every notebook again, even if unchanged')
    p.add_argument('--reuse', action='store_true', help='reuse any executed copy, even of a changed notebook (for '
                   'working on the pages themselves)')
    p.add_argument('--exclude', default='', help='notebooks to leave out, e.g. 09_transfer,99_cli (work in progress)')
    p.add_argument('--workers', type=int, default=2, help='notebooks executed at once (default 2)')
    a = p.parse_args(argv)
    try: build(Path(a.out), a.workers, a.force, a.reuse, [s for s in a.exclude.split(',') if s])
    except RuntimeError as e: sys.exit(f'The site was not built: {e}')

if __name__ == '__main__': main()
