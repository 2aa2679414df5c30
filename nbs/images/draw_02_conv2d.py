"Draws lesson 02's pictures: `python nbs/images/draw_02_conv2d.py` writes the SVGs next to this file."
from drawing import plt, HERE   # the SVG backend and font settings every script shares
from matplotlib.patches import Rectangle, FancyArrowPatch

INK, GRID = '#444444', '#bbbbbb'
CH = ['#f4cccc', '#d9ead3', '#cfe2f3']               # input channels (red, green, blue)
KER = ['#fce5cd', '#ead1dc', '#d9d2e9', '#fff2cc']   # one colour per kernel = per output channel
PATCH, ROW = '#e69138', '#8e7cc3'                    # one patch (and its column), one kernel (and its row)


def rect(ax, x, y, w, h, fc, ec=INK, lw=0.8, **kw):
    ax.add_patch(Rectangle((x, y), w, h, fc=fc, ec=ec, lw=lw, **kw))


def stack(ax, x, y, s, colors, d=0.22, ec=INK, grid=0):
    "Squares of side `s` drawn back to front, each `d` up and right of the one in front; (x, y) is the front one."
    n = len(colors)
    for i, c in reversed(list(enumerate(colors))):
        rect(ax, x + i * d, y + i * d, s, s, c, ec=ec)
    if grid:  # a pixel grid on the front square
        for t in range(1, grid):
            ax.plot([x + t * s / grid] * 2, [y, y + s], color=GRID, lw=0.4)
            ax.plot([x, x + s], [y + t * s / grid] * 2, color=GRID, lw=0.4)
    return x + (n - 1) * d + s, y + (n - 1) * d + s   # top right corner of the back square


def arrow(ax, a, b, text='', **kw):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle='-|>', mutation_scale=11, color=INK, lw=0.9, shrinkA=0, shrinkB=0))
    if text: ax.text((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 + 0.25, text, ha='center', va='bottom', color=INK, **kw)


def label(ax, x, y, text, **kw):
    ax.text(x, y, text, ha='center', va='center', color=INK, **kw)


def shapes():
    "Which axis of the data meets which axis of the weights, and what comes out."
    fig, ax = plt.subplots(figsize=(9.6, 3.8))
    ax.set_xlim(0, 24); ax.set_ylim(-0.8, 9); ax.axis('off')
    # the data: N = 2 images shown, each with C_in = 3 channels
    for i, y in enumerate([4.6, 1.0]):
        stack(ax, 0.6, y, 2.6, CH, d=0.3, grid=6)
        rect(ax, 0.6, y + 2.6 - 3 * 2.6 / 6, 3 * 2.6 / 6, 3 * 2.6 / 6, 'none', ec=PATCH, lw=1.6)  # where a kernel sits
        label(ax, 4.75, y + 1.4, f'image {i}', fontsize=8.5)
    label(ax, 2.6, 8.5, 'x: (N, C_in, H, W)', weight='bold')
    label(ax, 2.6, 0.05, 'N images, each with\nC_in channels of H x W', fontsize=8.5)
    # the weights: C_out = 4 kernels, each with C_in = 3 slices of kH x kW
    label(ax, 6.3, 4.5, 'with', fontsize=9, style='italic')
    label(ax, 10.3, 8.5, 'w: (C_out, C_in, kH, kW)', weight='bold')
    for j, (x, y) in enumerate([(7.7, 5.0), (10.7, 5.0), (7.7, 2.1), (10.7, 2.1)]):
        rect(ax, x - 0.25, y - 0.25, 2.45, 2.45, KER[j], ec=INK, lw=0.6)
        stack(ax, x + 0.1, y + 0.1, 1.2, CH, d=0.28, grid=3)
        label(ax, x + 0.95, y - 0.55, f'kernel {j}', fontsize=8.5)
    label(ax, 10.3, 0.05, 'C_out kernels, each with one kH x kW\nslice per input channel (same colours)', fontsize=8.5)
    # the output: N images, each with C_out channels, one per kernel
    arrow(ax, (14.0, 4.5), (17.8, 4.5))
    label(ax, 15.9, 6.4, 'slice c meets\nchannel c;\nall C_in summed', fontsize=8.5)
    label(ax, 15.9, 2.9, 'kH x kW slides\nover H x W:\noh x ow places', fontsize=8.5)
    for i, y in enumerate([4.6, 1.0]):
        stack(ax, 18.6, y + 0.1, 2.1, KER, d=0.28, grid=4)
        label(ax, 22.6, y + 1.4, f'image {i}', fontsize=8.5)
    label(ax, 20.2, 8.5, 'out: (N, C_out, oh, ow)', weight='bold')
    label(ax, 20.2, 0.05, 'still N images; channel j\nis made by kernel j', fontsize=8.5)
    fig.savefig(HERE / '02_conv2d_shapes.svg', bbox_inches='tight')
    plt.close(fig)


def matrix(ax, x, y, w, h, fc, rows=0, cols=0):
    rect(ax, x, y, w, h, fc)
    for t in range(1, cols): ax.plot([x + t * w / cols] * 2, [y, y + h], color=GRID, lw=0.4)
    for t in range(1, rows): ax.plot([x, x + w], [y + t * h / rows] * 2, color=GRID, lw=0.4)


def im2col():
    "The patches as the columns of one matrix, the kernels as its rows' partners: one multiply."
    fig, ax = plt.subplots(figsize=(10.4, 3.3))
    ax.set_xlim(0, 31); ax.set_ylim(-0.6, 9); ax.axis('off')
    # 1. one image, a 3x3 patch through all channels
    stack(ax, 0.5, 2.6, 3.0, CH, d=0.32, grid=6)
    for i in reversed(range(3)): rect(ax, 0.5 + i * 0.32 + 0.5, 2.6 + i * 0.32 + 1.5, 1.5, 1.5, 'none', ec=PATCH, lw=1.4)
    label(ax, 2.6, 8.3, 'x: (N, C, H, W)', weight='bold')
    label(ax, 2.6, 1.5, 'a k x k patch\nthrough all C channels', fontsize=8.5)
    arrow(ax, (4.6, 6.1), (13.8, 6.1), 'im2col: patches to columns', fontsize=9)
    # 2. the weights (C_out, C*k*k) @ the patches (N, C*k*k, L)
    for r in range(4): rect(ax, 7.6, 3.6 + (3 - r) * 0.4, 5.0, 0.4, KER[r], ec=GRID, lw=0.3)
    matrix(ax, 7.6, 3.6, 5.0, 1.6, 'none', rows=4, cols=9)
    rect(ax, 7.6, 3.6 + 0.8, 5.0, 0.4, 'none', ec=ROW, lw=2.0)
    label(ax, 10.1, 8.3, 'w: (C_out, C*k*k)', weight='bold')
    label(ax, 10.1, 2.9, 'a row: one kernel,\nflattened', fontsize=8.5)
    label(ax, 13.25, 4.4, '@', fontsize=15)
    matrix(ax, 13.9, 1.9, 5.2, 5.0, '#f3f3f3', rows=9, cols=12)
    rect(ax, 13.9 + 3 * 5.2 / 12, 1.9, 5.2 / 12, 5.0, PATCH, ec=INK, alpha=0.8)
    label(ax, 16.5, 8.3, 'cols: (N, C*k*k, L)', weight='bold')
    label(ax, 16.5, 0.9, 'a column: one patch;\nL = oh*ow columns per image', fontsize=8.5)
    label(ax, 19.8, 4.4, '=', fontsize=15)
    # 3. the product (N, C_out, L), then a free view to (N, C_out, oh, ow)
    matrix(ax, 20.5, 3.6, 5.2, 1.6, '#ffffff', rows=4, cols=12)
    for r in range(4): rect(ax, 20.5, 3.6 + (3 - r) * 0.4, 5.2, 0.4, KER[r], ec=GRID, lw=0.3)
    rect(ax, 20.5 + 3 * 5.2 / 12, 3.6 + 0.8, 5.2 / 12, 0.4, INK, ec=ROW, lw=2.0)
    label(ax, 23.1, 8.3, 'out: (N, C_out, L)', weight='bold')
    label(ax, 23.1, 2.6, 'row . column:\none output pixel', fontsize=8.5)
    arrow(ax, (26.0, 4.4), (27.6, 4.4), 'view', fontsize=9)
    stack(ax, 28.0, 3.0, 2.0, KER, d=0.25, grid=4)
    label(ax, 29.3, 8.3, '(N, C_out, oh, ow)', weight='bold')
    label(ax, 29.3, 1.9, 'no copy:\nalready\nchannels first', fontsize=8.5)
    ax.text(15.5, -0.5, 'CIFAR-10 example: x (64, 3, 32, 32), 16 kernels 3x3, padding 1 -> cols (64, 27, 1024), '
            'w (16, 27), out (64, 16, 1024) -> (64, 16, 32, 32)', ha='center', va='center', color=INK, fontsize=8.5)
    fig.savefig(HERE / '02_conv2d_im2col.svg', bbox_inches='tight')
    plt.close(fig)


if __name__ == '__main__':
    shapes()
    im2col()
