"What every draw_<lesson>.py script shares: matplotlib's SVG backend, text kept as text, the font size, the folder."
from pathlib import Path
import matplotlib
matplotlib.use('svg')
import matplotlib.pyplot as plt

plt.rcParams['svg.fonttype'] = 'none'   # text stays text: small files, searchable, readable by screen readers
plt.rcParams['font.size'] = 10
HERE = Path(__file__).resolve().parent   # the SVGs are written next to the scripts
