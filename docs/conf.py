"""Sphinx configuration of the course website (run by docs/build.py; the sources are generated under _build/site/src).

Everything the pages load is in the built folder: the theme's scripts and fonts, the search index, and MathJax (copied
from the django-static-mathjax wheel by build.py). No CDN, no web fonts, no widget scripts: nothing leaves the site.
"""
import os
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
cfg = ConfigParser(delimiters=['=']); cfg.read(ROOT / 'settings.ini', encoding='utf-8')
ini = cfg['DEFAULT']

project, author, copyright = ini['title'], ini['author'], ini['copyright']
version = release = ini['version']
root_doc = 'index'
extensions = ['myst_nb', 'sphinx.ext.mathjax', 'sphinx.ext.githubpages']
exclude_patterns = ['_build', '**.ipynb_checkpoints']

# The notebooks were executed by build.py (once, without their `#| slow` cells): render them as they are.
nb_execution_mode = 'off'
nb_merge_streams = True
myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence']
myst_heading_anchors = 3
suppress_warnings = ['myst.header']          # lessons may skip a heading level; that is a style choice, not an error

# MathJax from the site itself (build.py stages it into CONVNB_SITE_STATIC/mathjax).
mathjax_path = 'mathjax/tex-chtml.js'
html_static_path = ['_static', os.environ.get('CONVNB_SITE_STATIC', str(ROOT / '_build' / 'site' / 'static'))]
html_css_files = ['convnb.css']

html_theme = 'sphinx_book_theme'
html_title = 'convnb: a course on convolutional networks'
html_copy_source = False                     # the executed notebooks would double the site's size
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    'home_page_in_toc': True,
    'show_toc_level': 2,
    'use_download_button': False,            # it would offer the notebook sources we do not copy
    'use_fullscreen_button': False,
    'navigation_with_keys': False,
}
nb_ipywidgets_js = {}                        # widgets are drawn as static HTML by build.py: no CDN scripts
html_context = {'default_mode': 'light'}     # the plots have white backgrounds; without it the theme logs an error
