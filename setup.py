"Package setup for convnb, driven by settings.ini (nbdev 2 style, without pkg_resources)."
from configparser import ConfigParser
import shlex
import setuptools

config = ConfigParser(delimiters=['='])
config.read('settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

licenses = {'apache2': 'Apache-2.0'}
statuses = ['Planning', 'Pre-Alpha', 'Alpha', 'Beta', 'Production/Stable', 'Mature', 'Inactive']

requirements = shlex.split(cfg.get('requirements', ''))
dev_requirements = shlex.split(cfg.get('dev_requirements', ''))
docs_requirements = shlex.split(cfg.get('docs_requirements', ''))  # the website: Sphinx, myst-nb, a local MathJax
console_scripts = cfg.get('console_scripts', '').split()

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    url=cfg['git_url'],
    author=cfg['author'],
    author_email=cfg['author_email'],
    license=licenses[cfg['license']],
    keywords=cfg['keywords'],
    classifiers=[
        'Development Status :: ' + cfg['status'] + ' - ' + statuses[int(cfg['status'])],
        'Intended Audience :: ' + cfg['audience'].title(),
        'Natural Language :: ' + cfg['language'].title(),
        'Programming Language :: Python :: 3',
    ],
    packages=setuptools.find_packages(include=['convnb', 'convnb.*']),
    include_package_data=True,
    install_requires=requirements,
    extras_require={'dev': dev_requirements, 'docs': docs_requirements},
    python_requires='>=' + cfg['min_python'],
    entry_points={
        'console_scripts': console_scripts,
        'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"],
    },
    zip_safe=False,
)
