"""The lessons' static diagrams: SVG files under nbs/images/, readable without running anything.

Notebooks are committed without outputs, so a picture a learner should see before running a cell is a file. Each
picture a lesson links to exists, is small, and has a script that redraws it.
"""
import json, re
from pathlib import Path

import pytest

from convnb.practice import lesson_notebooks

ROOT = Path(__file__).resolve().parents[1]
NBS, IMAGES = ROOT / 'nbs', ROOT / 'nbs' / 'images'
LESSONS = lesson_notebooks(NBS)
LINK = re.compile(r'!\[([^\]]*)\]\((images/[^)\s]+)\)')


def links(nb_path: Path, first: int | None = None) -> list[tuple[str, str]]:
    "(alt text, path) of every image a notebook's markdown links to under images/ (in its first `first` cells)."
    cells = json.loads(nb_path.read_text(encoding='utf-8'))['cells'][:first]
    return [m for c in cells if c['cell_type'] == 'markdown' for m in LINK.findall(''.join(c['source']))]


@pytest.mark.parametrize('nb', LESSONS, ids=lambda p: p.stem)
def test_every_linked_picture_exists_and_says_what_it_shows(nb):
    for alt, rel in links(nb):
        p = NBS / rel
        assert p.is_file(), f'{nb.name} links to {rel}, which is not in nbs/images/'
        assert alt.strip(), f'{nb.name}: picture {rel} has no alt text'
        assert p.stat().st_size < 100_000, f'{rel} is {p.stat().st_size:,} bytes: keep a diagram under 100 KB'


def test_every_picture_has_a_script_that_draws_it():
    drawn_by = [s.stem[len('draw_'):] for s in IMAGES.glob('draw_*.py')]   # draw_02_conv2d.py draws 02_conv2d_*.svg
    for svg in IMAGES.glob('*.svg'):
        assert any(svg.stem.startswith(f'{d}_') for d in drawn_by), \
            f'{svg.name}: no nbs/images/draw_<lesson>.py for it (a picture needs a script that redraws it)'


@pytest.mark.parametrize('nb', LESSONS, ids=lambda p: p.stem)
def test_every_lesson_opens_with_a_picture(nb):
    "A learner sees where the lesson is going before running anything: a diagram within its first seven cells."
    assert links(nb, first=7), f'{nb.name}: link a picture (images/...) near the top, after the opening question'
