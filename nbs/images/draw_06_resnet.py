"Draws lesson 06's pictures: `python nbs/images/draw_06_resnet.py` writes the SVGs next to this file."
from drawing import plt, HERE   # the SVG backend and font settings every script shares
from matplotlib.patches import FancyBboxPatch, FancyArrowPatch

CONV, BN, ACT, SHORT, ADD, INK = '#cfe2f3', '#fce5cd', '#d9ead3', '#ead1dc', '#ffffff', '#444444'


def box(ax, x, y, text, color, w=3.6, h=0.55):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle='round,pad=0.02,rounding_size=0.12',
                                fc=color, ec=INK, lw=0.8))
    ax.text(x, y, text, ha='center', va='center', color=INK, fontsize=9)


def arrow(ax, a, b, style='-|>', conn='arc3', **kw):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle=style, mutation_scale=10, color=INK, lw=0.9,
                                 connectionstyle=conn, shrinkA=0, shrinkB=0, **kw))


def block(ax, x0, title, top, bottom, convs, shortcut):
    "One residual block drawn from top (input) to bottom (output), main path on the left, shortcut on the right."
    ax.text(x0 + 1.6, 9.55, title, ha='center', va='center', weight='bold', color=INK)
    ax.text(x0, 9.0, top, ha='center', va='center', color=INK, style='italic')
    ys = [8.0, 7.1, 6.2, 5.3, 4.4]
    arrow(ax, (x0, 8.75), (x0, ys[0] + 0.28))
    for (txt, col), y, y2 in zip(convs, ys, ys[1:] + [None]):
        box(ax, x0, y, txt, col)
        if y2 is not None: arrow(ax, (x0, y - 0.28), (x0, y2 + 0.28))
    yadd = 3.35
    arrow(ax, (x0, ys[-1] - 0.28), (x0, yadd + 0.25))
    ax.add_patch(plt.Circle((x0, yadd), 0.25, fc=ADD, ec=INK, lw=0.9))
    ax.text(x0, yadd, '+', ha='center', va='center', color=INK, fontsize=13)
    xs = x0 + 3.7
    arrow(ax, (x0, 8.6), (xs, 8.6), style='-')
    if shortcut is None:
        arrow(ax, (xs, 8.6), (xs, yadd), style='-')
        ax.text(xs + 0.15, 6.2, 'identity:\nx itself', ha='left', va='center', color=INK)
    else:
        arrow(ax, (xs, 8.6), (xs, 6.2 + 0.28))
        box(ax, xs, 6.2, shortcut, SHORT, w=2.9, h=0.8)
        arrow(ax, (xs, 6.2 - 0.4), (xs, yadd), style='-')
    arrow(ax, (xs, yadd), (x0 + 0.25, yadd))
    box(ax, x0, 2.45, 'ReLU', ACT, w=1.4)
    arrow(ax, (x0, yadd - 0.25), (x0, 2.45 + 0.28))
    arrow(ax, (x0, 2.45 - 0.28), (x0, 1.6))
    ax.text(x0, 1.3, bottom, ha='center', va='center', color=INK, style='italic')


def residual_blocks():
    fig, ax = plt.subplots(figsize=(9.6, 4.6))
    ax.set_xlim(-0.2, 15.4); ax.set_ylim(0.1, 10); ax.axis('off')
    same = [('3x3 conv, 64 → 64', CONV), ('batchnorm', BN), ('ReLU', ACT), ('3x3 conv, 64 → 64', CONV),
            ('batchnorm, scale 0', BN)]
    down = [('3x3 conv stride 2, 64 → 128', CONV), ('batchnorm', BN), ('ReLU', ACT), ('3x3 conv, 128 → 128', CONV),
            ('batchnorm, scale 0', BN)]
    block(ax, 1.8, 'identity shortcut', 'x: 64 x 16 x 16', 'out: 64 x 16 x 16', same, None)
    block(ax, 9.2, 'projection shortcut', 'x: 64 x 16 x 16', 'out: 128 x 8 x 8', down,
          '1x1 conv, stride 2\n64 → 128, batchnorm')
    ax.text(7.5, 0.35, 'f(x), the main path, starts at 0 (last batchnorm scale 0): the left block starts as relu(x), '
            'the right one as relu(bn(conv1x1(x)))', ha='center', va='center', color=INK, fontsize=8.5)
    fig.savefig(HERE / '06_resnet_blocks.svg', bbox_inches='tight')
    plt.close(fig)


# Final training loss of the notebook's depth study ("Deeper still"), 2,000 images, 2 epochs, batches of 32: the mean
# over seeds 0 and 1 (1 thread) on the course's CPU (AMD EPYC with AVX-512 BF16). Redraw it from new
# numbers if the study changes.
DEPTHS = (8, 16, 24)
PLAIN_LOSS, RESIDUAL_LOSS = (1.88, 2.21, 2.32), (1.94, 1.93, 1.91)


def depth_study():
    fig, ax = plt.subplots(figsize=(4.6, 2.8))
    ax.plot(DEPTHS, PLAIN_LOSS, 'o-', color='#cc4125', label='plain net')
    ax.plot(DEPTHS, RESIDUAL_LOSS, 'o-', color='#3d85c6', label='residual net (same layers + shortcuts)')
    ax.axhline(2.303, ls=':', color='gray', lw=1)
    ax.text(DEPTHS[0], 2.303, 'ln 10: guessing', va='bottom', ha='left', color='gray', fontsize=8)
    ax.set(xlabel='conv layers', ylabel='final training loss', xticks=DEPTHS, ylim=(1.7, 2.42))
    ax.set_title('deeper plain nets train worse; residual nets do not', fontsize=9, color=INK)
    ax.spines[['top', 'right']].set_visible(False)
    ax.legend(fontsize=8, frameon=False, loc='lower right')
    fig.savefig(HERE / '06_resnet_depth.svg', bbox_inches='tight')
    plt.close(fig)


if __name__ == '__main__':
    residual_blocks()
    depth_study()
