"Draws lesson 00's picture: `python nbs/images/draw_00_data.py` writes the SVG next to this file."
from drawing import plt, HERE   # the SVG backend and font settings every script shares
from matplotlib.patches import FancyBboxPatch, FancyArrowPatch

INK, MUTED = '#444444', '#888888'
SOURCE, LOOK, OUT = '#cfe2f3', '#eeeeee', '#fce5cd'


def box(ax, x, y, w, h, text, fc, ec=INK, ls='-', fontsize=8.5, weight='normal'):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle='round,pad=0.02,rounding_size=0.12', fc=fc, ec=ec, lw=0.9, ls=ls))
    ax.text(x + w / 2, y + h / 2, text, ha='center', va='center', color=INK, fontsize=fontsize, weight=weight)


def arrow(ax, a, b):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle='-|>', mutation_scale=10, color=INK, lw=0.9, shrinkA=0, shrinkB=0))


def sources_to_batches():
    "The four kinds of data, where convnb looks for them, and what comes out."
    fig, ax = plt.subplots(figsize=(9.6, 3.4))
    ax.set_xlim(0, 25); ax.set_ylim(0, 8.6); ax.axis('off')
    names = [('mnist()', '70,000 digits, 28x28'), ('cifar10()', '60,000 photos, 32x32'),
             ("photo('dog')", 'a few photos'), ('squeezenet()', 'pretrained weights')]
    for i, (f, what) in enumerate(names):
        y = 6.6 - i * 1.9
        box(ax, 0.2, y, 5.2, 1.5, f'{f}\n{what}', SOURCE)
        arrow(ax, (5.5, y + 0.75), (7.3, 4.3))
    ax.text(11.0, 8.1, 'where a file is looked for, in order', ha='center', color=INK, fontsize=9, weight='bold')
    steps = ['1. $CONVNB_DATA  (the course folder)', '2. ~/.cache/convnb  (a user cache)',
             '3. download: checksum checked,\n    written whole or not at all']
    for i, t in enumerate(steps):
        box(ax, 7.4, 5.9 - i * 2.0, 7.4, 1.6, t, LOOK, fontsize=8.5)
        if i: arrow(ax, (11.1, 5.9 - (i - 1) * 2.0), (11.1, 5.9 - (i - 1) * 2.0 - 0.4))
    arrow(ax, (14.9, 4.3), (16.4, 4.3))
    outs = ['uint8 tensors\n(N, H, W) or (N, C, H, W)', 'random_split:\ntrain / validation', 'dataloaders:\nnormalised batches']
    for i, t in enumerate(outs):
        box(ax, 16.5, 5.9 - i * 2.0, 7.6, 1.6, t, OUT)
        if i: arrow(ax, (20.3, 5.9 - (i - 1) * 2.0), (20.3, 5.9 - (i - 1) * 2.0 - 0.4))
    ax.text(12.5, 0.1, 'a missing file gives one error that lists every place looked in, and how to fix it',
            ha='center', color=MUTED, fontsize=8.5)
    fig.savefig(HERE / '00_data_sources.svg', bbox_inches='tight')
    plt.close(fig)


if __name__ == '__main__':
    sources_to_batches()
