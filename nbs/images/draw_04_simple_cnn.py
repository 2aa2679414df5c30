"Draws lesson 04's picture: `python nbs/images/draw_04_simple_cnn.py` writes the SVG next to this file."
from drawing import plt, HERE   # the SVG backend and font settings every script shares
from matplotlib.patches import Rectangle, FancyBboxPatch, FancyArrowPatch

CONV, BN, ACT, POOL, MAP, INK = '#cfe2f3', '#fce5cd', '#d9ead3', '#ead1dc', '#fff2cc', '#444444'


def arrow(ax, a, b):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle='-|>', mutation_scale=10, color=INK, lw=0.9, shrinkA=0, shrinkB=0))


def box(ax, x, y, text, color, w=1.9, h=0.42):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle='round,pad=0.02,rounding_size=0.1',
                                fc=color, ec=INK, lw=0.7))
    ax.text(x, y, text, ha='center', va='center', color=INK, fontsize=8)


def tensor(ax, x, y, side, n, color):
    "A feature map as a stack of `n` squares (at most 6 drawn) of side `side`, centred on (x, y)."
    d, shown = 0.09, min(n, 6)
    x0, y0 = x - (side + (shown - 1) * d) / 2, y - (side + (shown - 1) * d) / 2
    for i in reversed(range(shown)):
        ax.add_patch(Rectangle((x0 + i * d, y0 + i * d), side, side, fc=color, ec=INK, lw=0.6))


def pipeline():
    "simple_cnn(n_out=2) on one digit: five conv blocks, each halving the grid, then PoolFlatten."
    fig, ax = plt.subplots(figsize=(10.5, 3.4))
    ax.set_xlim(-0.3, 21.3); ax.set_ylim(-0.2, 6.9); ax.axis('off')
    stages = [  # (shape text, grid side drawn, channels, blocks of the layer that makes it)
        ('(1, 28, 28)\na digit', 2.2, 1, None),
        ('(8, 14, 14)', 1.55, 8, ('conv 5x5, stride 2', 'batchnorm', 'ReLU')),
        ('(16, 7, 7)', 1.1, 16, ('conv 3x3, stride 2', 'batchnorm', 'ReLU')),
        ('(32, 4, 4)', 0.8, 32, ('conv 3x3, stride 2', 'batchnorm', 'ReLU')),
        ('(64, 2, 2)', 0.55, 64, ('conv 3x3, stride 2', 'batchnorm', 'ReLU')),
        ('(2, 1, 1)', 0.3, 2, ('conv 3x3, stride 2', 'no batchnorm', 'no ReLU')),
        ('(2,)\nscores for 3, 7', 0.3, 1, ('PoolFlatten:', 'average the grid,', 'flatten')),
    ]
    xs = [1.2 + 3.2 * i for i in range(len(stages))]
    for i, ((shape, side, n, layer), x) in enumerate(zip(stages, xs)):
        if i == len(stages) - 1:
            for j, t in enumerate(('3', '7')):
                ax.add_patch(Rectangle((x - 0.45 + 0.5 * j, 1.65), 0.4, 0.4, fc=POOL, ec=INK, lw=0.6))
                ax.text(x - 0.25 + 0.5 * j, 1.3, t, ha='center', va='center', color=INK, fontsize=8)
        else: tensor(ax, x, 1.9, side, n, '#eeeeee' if i == 0 else MAP)
        ax.text(x, 0.35, shape, ha='center', va='center', color=INK, fontsize=8.5, weight='bold')
        if layer is None: continue
        xm = (xs[i - 1] + x) / 2
        arrow(ax, (xs[i - 1] + 0.95, 1.9), (x - 0.95 + (0.35 if i > 3 else 0), 1.9))
        for k, (t, col) in enumerate(zip(layer, (CONV, BN, ACT) if i < 6 else (POOL, POOL, POOL))):
            if t.startswith('no '): col = '#ffffff'
            box(ax, xm, 5.9 - 0.6 * k, t, col, w=2.75)
        ax.plot([xm, xm], [5.9 - 0.6 * 2 - 0.22, 2.35], color=INK, lw=0.5, ls=':')
    ax.text(10.5, 6.65, 'simple_cnn(n_out=2): every block halves the grid, 28 -> 14 -> 7 -> 4 -> 2 -> 1; '
            'the channels grow 8 -> 64, then 2 class scores', ha='center', va='center', color=INK, fontsize=9)
    fig.savefig(HERE / '04_simple_cnn_pipeline.svg', bbox_inches='tight')
    plt.close(fig)


if __name__ == '__main__':
    pipeline()
