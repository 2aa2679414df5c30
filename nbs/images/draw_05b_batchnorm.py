"Draws lesson 05b's picture: `python nbs/images/draw_05b_batchnorm.py` writes the SVG next to this file."
import numpy as np
from drawing import plt, HERE   # the SVG backend and font settings every script shares
from matplotlib.patches import FancyBboxPatch, FancyArrowPatch

CONV, BN, RELU, INK = '#cfe2f3', '#d9ead3', '#fce5cd', '#444444'
COLORS = ['#cc4125', '#3d85c6', '#6aa84f']


def box(ax, x, y, w, h, color, text, size=8.5):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle='round,pad=0.02,rounding_size=0.12', fc=color, ec=INK, lw=0.7))
    ax.text(x + w / 2, y + h / 2, text, ha='center', va='center', color=INK, fontsize=size)


def arrow(ax, a, b):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle='-|>', mutation_scale=9, color=INK, lw=0.8))


def bumps(ax, x0, y0, params, w=3.2, h=1.2):
    "Three channels' distributions (a sketch): bell curves with the given (centre, spread), on one axis."
    t = np.linspace(-4, 4, 41)
    ax.plot([x0, x0 + w], [y0, y0], color=INK, lw=0.6)
    for (m, s), c in zip(params, COLORS):
        ax.plot(x0 + (t + 4) / 8 * w, y0 + h * np.exp(-0.5 * ((t - m) / s) ** 2), color=c, lw=1.2)
    ax.plot([x0 + w / 2] * 2, [y0 - 0.1, y0 + h + 0.1], color=INK, lw=0.5, ls=':')


def plan():
    "conv -> batchnorm (per channel: minus mean, over std, times weight, plus bias) -> ReLU, with the distributions."
    fig, ax = plt.subplots(figsize=(10, 3.2))
    ax.set_xlim(0, 20); ax.set_ylim(0, 6.4); ax.axis('off')
    ax.text(10, 6.0, 'What if each layer re-scaled its own outputs, on every batch?', ha='center', va='center',
            color=INK, fontsize=10, weight='bold')
    box(ax, 0.2, 2.6, 2.6, 1.2, CONV, 'conv\n(no bias)')
    arrow(ax, (2.9, 3.2), (5.4, 3.2))
    box(ax, 5.5, 2.2, 8.0, 2.0, BN, 'batchnorm, per channel c:\n(x - mean_c) / std_c  over batch, rows, columns\n'
        'then  × weight_c + bias_c  (learned)', size=8.5)
    arrow(ax, (13.6, 3.2), (15.9, 3.2))
    box(ax, 16.0, 2.6, 2.4, 1.2, RELU, 'ReLU')
    bumps(ax, 0.2, 0.3, [(-2.2, 0.5), (0.8, 1.4), (2.5, 0.3)])
    ax.text(1.8, 1.9, 'before: each channel its own place and spread', ha='left', va='center', color=INK, fontsize=7.5)
    bumps(ax, 10.0, 0.3, [(0, 1), (0, 1), (0, 1)])
    ax.text(10.2, 1.9, 'after: mean 0, std 1 (then the learned scale)', ha='left', va='center', color=INK,
            fontsize=7.5)
    ax.text(10, 5.1, 'training: the batch\'s statistics (and running averages kept);  eval: the running averages',
            ha='center', va='center', color=INK, fontsize=8, style='italic')
    fig.savefig(HERE / '05b_batchnorm_plan.svg', bbox_inches='tight')
    plt.close(fig)


if __name__ == '__main__':
    plan()
