"""The API reference page, written from the package when the site is built: every name in each module's `__all__`.

Modules come in reading order (the notebook that writes each one, from its generated header), each with its docstring
and a link to its notebook; each name with its signature and docstring, as Sphinx Python-domain objects (so the
search and the index know them), and a link to the very cell of the lesson that defines it.
"""
from __future__ import annotations
import ast, hashlib, importlib, inspect, json, pkgutil, re
from pathlib import Path

HEADER = re.compile(r'File to edit: \.\./nbs/(\S+)\.ipynb')
EXPORT = re.compile(r'^\s*#\s*\|\s*export[is]?\s*$')
DEFAULT_EXP = re.compile(r'^\s*#\s*\|\s*default_exp\s+(\S+)', re.M)


def modules(package: str = 'convnb') -> list[tuple[object, str]]:
    "(module, notebook stem) for every public module of `package`, in the notebooks' order; all imported first."
    pkg = importlib.import_module(package)
    mods = [importlib.import_module(f'{package}.{m.name}') for m in pkgutil.iter_modules(pkg.__path__)
            if not m.name.startswith('_')]
    out = []
    for mod in mods:
        m = HEADER.search(Path(mod.__file__).read_text(encoding='utf-8'))
        if m: out.append((mod, m.group(1)))
    return sorted(out, key=lambda t: t[1])


def label(module: str, name: str) -> str:
    "The target placed before the cell that defines `module.name` in its notebook."
    exact = '' if name.islower() else '-' + hashlib.sha1(name.encode()).hexdigest()[:6]  # labels ignore case
    return f'src-{module}.{name}'.lower() + exact


def definitions(nbs: Path, package: str = 'convnb') -> dict[str, dict[int, list[str]]]:
    "For each notebook stem: cell index -> the labels of the public names that cell defines first."
    publics = {mod.__name__: set(getattr(mod, '__all__', [])) for mod, _ in modules(package)}
    out = {}
    for nb_path in sorted(nbs.glob('*.ipynb')):
        cells = json.loads(nb_path.read_text(encoding='utf-8'))['cells']
        srcs = [''.join(c['source']) for c in cells]
        m = next((DEFAULT_EXP.search(s) for s in srcs if DEFAULT_EXP.search(s)), None)
        if not m: continue
        module = f'{package}.{m.group(1)}'
        seen, found = set(), {}
        for i, (cell, src) in enumerate(zip(cells, srcs)):
            lines = src.splitlines()
            if cell['cell_type'] != 'code' or not any(EXPORT.match(l) for l in lines[:3]): continue
            code = '\n'.join(l for l in lines if not l.lstrip().startswith(('#|', '%', '!')))
            try: tree = ast.parse(code)
            except SyntaxError: continue
            names = []
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): names.append(node.name)
                elif isinstance(node, ast.Assign): names += [t.id for t in node.targets if isinstance(t, ast.Name)]
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name): names.append(node.target.id)
            new = [n for n in dict.fromkeys(names) if n in publics.get(module, ()) and n not in seen]
            seen.update(new)
            if new: found[i] = [label(module, n) for n in new]
        out[nb_path.stem] = found
    return out


def title(nbs: Path, stem: str) -> str:
    "A notebook's title: its first markdown heading."
    for c in json.loads((nbs / f'{stem}.ipynb').read_text(encoding='utf-8'))['cells']:
        if c['cell_type'] == 'markdown' and (m := re.match(r'#\s+(.+)', ''.join(c['source']).strip())):
            return m.group(1).replace('`', '')  # it is the text of a link role, which cannot hold backticks
    return stem


class _Raw:
    "Shows as its text in a signature (a shortened default value, an annotation kept as written)."
    def __init__(self, text): self.text = text
    def __repr__(self): return self.text


def signature(obj, drop_first: bool = False) -> str:
    "`(a, b=1) -> int`, long or unreadable defaults shortened to `...`, without `self` if `drop_first`; or ''."
    try: sig = inspect.signature(obj, eval_str=False)
    except (TypeError, ValueError): return ''
    def short(v):
        r = repr(v)
        return _Raw(r if len(r) <= 40 and '<' not in r and '\n' not in r else '...')
    def ann(a): return _Raw(a) if isinstance(a, str) else a
    params = [p.replace(default=short(p.default) if p.default is not p.empty else p.empty,
                        annotation=ann(p.annotation)) for p in sig.parameters.values()][int(drop_first):]
    sig = sig.replace(parameters=params, return_annotation=ann(sig.return_annotation))
    return re.sub(r'\s+', ' ', str(sig))


def _doc(obj) -> str:
    doc = obj.__doc__ if isinstance(obj.__doc__, str) else ''
    return inspect.cleandoc(doc) if doc else ''


def _directive(kind: str, head: str, body: list[str], fence: str = '```', options: list[str] = ()) -> list[str]:
    return [f'{fence}{{py:{kind}}} {head}', *options, '', *body, fence, '']


def _methods(cls, module: str) -> list[str]:
    "Nested directives for the public methods and properties a class defines itself (patched ones too)."
    out = []
    for name, v in vars(cls).items():
        if name.startswith('_'): continue
        fn, opts, kind = v, [], 'method'
        if isinstance(v, (classmethod, staticmethod)): fn, opts = v.__func__, [f':{type(v).__name__}:']
        elif isinstance(v, property): fn, kind = v.fget, 'property'
        elif not inspect.isfunction(v): continue
        doc = [_doc(fn)] if _doc(fn) else []
        owner = getattr(fn, '__module__', module)
        if owner != module and owner.startswith(module.split('.')[0] + '.'): doc += ['', f'*Added by `{owner}`.*']
        head = name if kind == 'property' else name + signature(fn, drop_first=not isinstance(v, staticmethod))
        out += _directive(kind, head, doc, options=opts)
    return out


def entry(mod, name: str, link: str) -> list[str]:
    "The Markdown of one public name."
    obj, module = getattr(mod, name), mod.__name__
    owner = getattr(obj, '__module__', None) if (inspect.isclass(obj) or inspect.isroutine(obj)) else None
    if owner and owner != module and owner.startswith(module.split('.')[0] + '.'):
        target = f'{owner}.{getattr(obj, "__qualname__", name)}'
        return [f'`{module}.{name}` is {{py:obj}}`{target}`, re-exported here.', '']
    documented = inspect.isclass(obj) or inspect.isroutine(obj)  # an instance's __doc__ is its type's
    doc = [_doc(obj), ''] if documented and _doc(obj) else []
    doc.append(f'*Taught in {link}.*')
    if inspect.isclass(obj):
        kind = 'exception' if issubclass(obj, BaseException) else 'class'
        sig = '' if kind == 'exception' and '__init__' not in vars(obj) else signature(obj)
        return _directive(kind, name + sig, doc + [''] + _methods(obj, module), fence='````')
    if inspect.isroutine(obj): return _directive('function', name + signature(obj), doc)
    r = repr(obj)
    value = [f':value: {r}'] if len(r) <= 60 and '\n' not in r else [f':type: {type(obj).__name__}']
    return _directive('data', name, doc, options=value)


def api_markdown(nbs: Path, package: str = 'convnb', on_site=None) -> str:
    "The whole API page; links go to the notebooks in `on_site` (default: all), the others are named only."
    defs = {lbl for cells in definitions(nbs, package).values() for lbls in cells.values() for lbl in lbls}
    lines = ['# API reference', '',
             f'Every public name of `{package}` (each module\'s `__all__`), with its signature and docstring, grouped '
             'by module in the order of the notebooks that write them. This page is generated from the package each '
             'time the site is built. Each name links to the cell of the lesson that defines it, where it is explained, '
             'tested and used.', '']
    for mod, stem in modules(package):
        names = list(getattr(mod, '__all__', []))
        if not names: continue
        on = on_site is None or stem in on_site
        page = f'{{doc}}`{title(nbs, stem)} <{stem}>`' if on else title(nbs, stem)
        summary = (mod.__doc__ or '').strip().splitlines()
        lines += [f'## {mod.__name__}', '', f'```{{py:module}} {mod.__name__}', '```', '',
                  *([summary[0], ''] if summary else []), f'Written by {page}.', '']
        for name in names:
            lbl = label(mod.__name__, name)
            link = f'{{ref}}`{title(nbs, stem)} <{lbl}>`' if on and lbl in defs else page
            lines += entry(mod, name, link)
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    import sys
    print(api_markdown(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / 'nbs'))
