"""Keeps the package's map true: imports point one way, private names stay home, methods are not attached by assignment.

Each module of convnb/ is written by one notebook of nbs/ (its header names it). A lesson is a notebook numbered 00 to
89, a tool one numbered 90 to 99. The rules, from DESIGN.md and the README's "Adding a lesson":
- a lesson imports only earlier lessons and tools; a tool imports no lesson (tools import earlier tools only);
- no module uses another module's private (`_name`) names;
- no method is attached to a class by assignment (`Learner.fit = _fit`): later cells use fastcore's `@patch`.
"""
import ast, re
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / 'convnb'
HEADER = re.compile(r'File to edit: \.\./nbs/(\S+)\.ipynb')


def modules() -> dict:
    "Module name -> (notebook stem, parsed source) for every generated module of the package."
    out = {}
    for p in sorted(PKG.glob('*.py')):
        src = p.read_text(encoding='utf-8')
        if m := HEADER.search(src): out[p.stem] = (m.group(1), ast.parse(src))
    return out


MODULES = modules()


def rank(stem: str) -> tuple:
    "Where a notebook stands in reading order: ('lesson' or 'tool', its name for ordering)."
    return ('tool' if int(stem[:2]) >= 90 else 'lesson', stem)


def package_imports(tree) -> list[tuple[str, list[str]]]:
    "(module, names) for every `from .x import ...`, `from convnb.x import ...` or `import convnb.x` in a module."
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ''
            if node.level == 1 or mod.startswith('convnb.') or mod == 'convnb':
                names = [a.name for a in node.names]
                if node.level == 1 and not mod: out += [(n, []) for n in names]      # from . import data
                elif mod == 'convnb': out += [(n, []) for n in names]                 # from convnb import data
                else: out.append((mod.removeprefix('convnb.'), names))
        elif isinstance(node, ast.Import):
            out += [(a.name.removeprefix('convnb.'), []) for a in node.names if a.name.startswith('convnb.')]
    return out


def test_every_module_has_a_notebook():
    assert len(MODULES) >= 15, sorted(MODULES)
    for name, (stem, _) in MODULES.items():
        assert (PKG.parent / 'nbs' / f'{stem}.ipynb').is_file(), f'{name}.py names a missing notebook {stem}'


@pytest.mark.parametrize('name', sorted(MODULES))
def test_imports_point_one_way(name):
    stem, tree = MODULES[name]
    kind, _ = rank(stem)
    for mod, _names in package_imports(tree):
        assert mod in MODULES, f'{name} imports convnb.{mod}, which no notebook writes'
        other_kind, other = rank(MODULES[mod][0])
        if kind == 'tool':
            assert other_kind == 'tool', f'tool module {name} ({stem}) imports the lesson module {mod} ({other})'
        if other_kind == kind:
            assert other < stem, f'{name} ({stem}) imports {mod} ({other}), which comes later in the course'


@pytest.mark.parametrize('name', sorted(MODULES))
def test_no_private_names_of_other_modules(name):
    _, tree = MODULES[name]
    imported_modules = set()
    for mod, names in package_imports(tree):
        bad = [n for n in names if n.startswith('_') and not n.startswith('__')]
        assert not bad, f'{name} imports private names {bad} from convnb.{mod}'
        if not names: imported_modules.add(mod.split('.')[-1])
    for node in ast.walk(tree):   # data._find: a private attribute of a module imported as a whole
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in imported_modules
                and node.attr.startswith('_') and not node.attr.startswith('__')):
            raise AssertionError(f'{name} uses {node.value.id}.{node.attr}, a private name of another module')


@pytest.mark.parametrize('name', sorted(MODULES))
def test_no_methods_attached_by_assignment(name):
    _, tree = MODULES[name]
    classes = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
    for node in tree.body:   # module level only: `Cls.meth = fn` or `Cls.a, Cls.b = f, g`
        if not isinstance(node, ast.Assign): continue
        targets = [t for tgt in node.targets for t in (tgt.elts if isinstance(tgt, ast.Tuple) else [tgt])]
        for t in targets:
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id[:1].isupper():
                raise AssertionError(f'{name}: {t.value.id}.{t.attr} is attached by assignment (line {node.lineno}); '
                                     f'use @patch' + ('' if t.value.id in classes else ' (class from another module)'))


def test_the_checks_can_fail(tmp_path):
    "Each rule catches what it is for, on made-up sources."
    bad_private = ast.parse('from .data import _find\n')
    assert package_imports(bad_private) == [('data', ['_find'])]
    assigned = ast.parse('class A: pass\ndef _f(self): pass\nA.f, A.g = _f, _f\n')
    global MODULES
    saved = MODULES
    try:
        MODULES = {'x': ('90_x', assigned), 'y': ('91_y', ast.parse('from . import data\ndata._find(1)\n')),
                   'data': ('00_data', ast.parse('')), 'z': ('92_z', ast.parse('from .data import mnist\n'))}
        with pytest.raises(AssertionError, match='attached by assignment'): test_no_methods_attached_by_assignment('x')
        with pytest.raises(AssertionError, match='private name'): test_no_private_names_of_other_modules('y')
        with pytest.raises(AssertionError, match='tool module z'): test_imports_point_one_way('z')
    finally:
        MODULES = saved
