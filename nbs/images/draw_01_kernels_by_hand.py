"Draws lesson 01's picture: `python nbs/images/draw_01_kernels_by_hand.py` writes the SVG next to this file."
from drawing import plt, HERE   # the SVG backend and font settings every script shares
from matplotlib.patches import Rectangle, FancyArrowPatch

INK, MUTED, PATCH = '#444444', '#888888', '#e69500'


def grid(ax, x0, y0, vals, cell=0.9, cmap=None, fmt='{:g}', hl=None, fontsize=8, text_color=None):
    "A table of numbers as shaded cells, top row first; `hl` = (row, col, size) draws a frame."
    n, m = len(vals), len(vals[0])
    for r in range(n):
        for c in range(m):
            v = vals[r][c]
            fc = cmap(v) if cmap else 'white'
            ax.add_patch(Rectangle((x0 + c * cell, y0 + (n - 1 - r) * cell), cell, cell, fc=fc, ec='#bbbbbb', lw=0.5))
            if fmt: ax.text(x0 + (c + .5) * cell, y0 + (n - 1 - r + .5) * cell, fmt.format(v), ha='center', va='center',
                            fontsize=fontsize, color=text_color(v) if text_color else INK)
    if hl:
        r, c, k = hl
        ax.add_patch(Rectangle((x0 + c * cell, y0 + (n - r - k) * cell), k * cell, k * cell, fill=False, ec=PATCH, lw=1.8))


def arrow(ax, a, b):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle='-|>', mutation_scale=10, color=INK, lw=0.9, shrinkA=0, shrinkB=0))


def patch_times_kernel():
    "A patch of a digit times the top-edge kernel, summed, gives one pixel of the edge map."
    fig, ax = plt.subplots(figsize=(9.6, 3.2))
    ax.set_xlim(0, 27); ax.set_ylim(-1.2, 7.4); ax.axis('off')
    img = [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, .5, 1, 1, .9, 0], [0, .9, 1, 1, 1, .3], [0, 0, 0, .2, 1, .6],
           [0, 0, 0, .8, 1, .2]]
    grays = lambda v: plt.cm.gray(0.1 + 0.85 * v)   # as the lesson shows digits: ink bright, paper black
    grid(ax, 0.2, 0.8, img, cmap=grays, fmt='{:.1f}', hl=(1, 1, 3), text_color=lambda v: 'white' if v < 0.5 else 'black')
    ax.text(2.9, 6.6, 'part of a handwritten 3', ha='center', color=INK, fontsize=9)
    ax.text(7.0, 3.4, '×', ha='center', va='center', fontsize=16, color=INK)
    kernel = [[-1, -1, -1], [0, 0, 0], [1, 1, 1]]
    grid(ax, 8.0, 2.1, kernel, cmap=lambda v: plt.cm.RdBu_r(0.5 + 0.35 * v), fmt='{:g}', text_color=lambda v: 'white' if v else INK)
    ax.text(9.35, 5.2, 'top_edge kernel', ha='center', color=INK, fontsize=9)
    ax.text(9.35, 1.4, 'dark above, bright below', ha='center', color=MUTED, fontsize=8)
    arrow(ax, (11.2, 3.45), (12.6, 3.45))
    ax.text(16.4, 4.2, 'multiply the 3x3 patch (orange frame)\nby the kernel, cell by cell, and add\n(the middle row counts 0):', ha='center',
            va='center', color=INK, fontsize=8.5)
    ax.text(16.4, 2.5, '-(0 + 0 + 0) + (0.9 + 1 + 1) = 2.9', ha='center', color=INK, fontsize=8.5)
    ax.text(16.4, 1.6, 'large: a top edge is here', ha='center', color=INK, fontsize=8.5)
    arrow(ax, (20.2, 3.45), (21.4, 3.45))
    out = [[sum(kernel[i][j] * img[r + i][c + j] for i in range(3) for j in range(3)) for c in range(4)] for r in range(4)]
    grid(ax, 21.6, 1.6, out, cmap=lambda v: plt.cm.RdBu_r(0.5 + 0.15 * v), fmt='{:.1f}', hl=(1, 1, 1), fontsize=7.5,
         text_color=lambda v: 'white' if abs(v) > 2 else INK)
    ax.text(23.4, 5.6, 'the edge map: one sum\nper position, (h-2) x (w-2)', ha='center', color=INK, fontsize=8.5)
    ax.text(13.5, -0.9, 'slide the frame one pixel at a time over the whole image: every position gives one output pixel',
            ha='center', color=MUTED, fontsize=8.5)
    fig.savefig(HERE / '01_kernels_by_hand_patch.svg', bbox_inches='tight')
    plt.close(fig)


if __name__ == '__main__':
    patch_times_kernel()
