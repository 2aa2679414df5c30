"Draws lesson 05a's picture: `python nbs/images/draw_05a_hooks.py` writes the SVG next to this file."
from drawing import plt, HERE   # the SVG backend and font settings every script shares
from matplotlib.patches import FancyBboxPatch, FancyArrowPatch

BLOCK, HOOK, STATS, INK = '#cfe2f3', '#fce5cd', '#fff2cc', '#444444'
DEAD, ALIVE = '#cc4125', '#3d85c6'


def box(ax, x, y, w, h, color, text, size=8.5, bold=False):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle='round,pad=0.02,rounding_size=0.12', fc=color, ec=INK, lw=0.7))
    ax.text(x + w / 2, y + h / 2, text, ha='center', va='center', color=INK, fontsize=size,
            weight='bold' if bold else 'normal')


def arrow(ax, a, b, **kw):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle='-|>', mutation_scale=9, color=INK, lw=0.8, **kw))


def plan():
    "A hook on every block of the net sends a few numbers per batch to ActivationStats; its plot shows the death."
    fig, ax = plt.subplots(figsize=(10, 3.4))
    ax.set_xlim(0, 20); ax.set_ylim(0, 6.8); ax.axis('off')
    names = ['block 0\n8 ch', 'block 1\n16 ch', 'block 2\n32 ch', 'block 3\n64 ch', 'logits\n10']
    box(ax, 0.1, 0.8, 1.3, 1.1, '#ffffff', 'digit\n28x28', size=8)
    for i, n in enumerate(names):
        x = 1.9 + 1.85 * i
        arrow(ax, (x - 0.45, 1.35), (x - 0.05, 1.35))
        box(ax, x, 0.8, 1.4, 1.1, BLOCK, n, size=8)
        box(ax, x + 0.15, 3.0, 1.1, 0.55, HOOK, 'hook', size=7.5)          # a hook reads the block's output
        arrow(ax, (x + 0.7, 1.95), (x + 0.7, 2.95))
        arrow(ax, (x + 0.7, 3.6), (x + 0.7, 4.35))
    box(ax, 1.9, 4.4, 9.0, 1.0, STATS, 'ActivationStats keeps, per block and batch:\nmean, std, % near zero, a histogram', size=8)
    ax.text(6.4, 6.1, 'Why does a plain CNN at a high learning rate learn nothing?', ha='center', va='center',
            color=INK, fontsize=10, weight='bold')
    arrow(ax, (11.0, 4.9), (12.2, 4.2))
    # a sketch (not data) of what the plot shows: the plain net's layer dies, 1cycle keeps it alive
    ax.plot([12.4, 12.4, 19.6], [5.6, 1.0, 1.0], color=INK, lw=0.8)
    ax.text(12.2, 5.6, '100%', ha='right', va='center', color=INK, fontsize=7)
    ax.text(12.2, 1.0, '0', ha='right', va='center', color=INK, fontsize=7)
    ax.text(16.0, 0.6, 'training batch', ha='center', va='center', color=INK, fontsize=7.5)
    ax.text(11.9, 3.3, '% near zero', ha='center', va='center', color=INK, fontsize=7.5, rotation=90)
    ax.plot([12.4, 12.9, 13.3, 19.6], [2.6, 1.6, 5.5, 5.5], color=DEAD, lw=1.6)
    ax.text(14.0, 5.9, 'bs 64, constant lr: dead', color=DEAD, fontsize=8, va='center')
    ax.plot([12.4, 13.5, 15.0, 19.6], [2.6, 3.0, 4.0, 4.3], color=ALIVE, lw=1.6)
    ax.text(15.6, 3.5, '1cycle: alive', color=ALIVE, fontsize=8, va='center')
    fig.savefig(HERE / '05a_hooks_plan.svg', bbox_inches='tight')
    plt.close(fig)


if __name__ == '__main__':
    plan()
