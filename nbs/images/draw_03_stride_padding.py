"Draws lesson 03's picture: `python nbs/images/draw_03_stride_padding.py` writes the SVG next to this file."
from drawing import plt, HERE   # the SVG backend and font settings every script shares
from draw_02_conv2d import INK, GRID, rect, arrow, label   # lesson 02's pieces, same style

PAD = '#e6e6e6'
MAPS = ['#cfe2f3', '#d9ead3', '#fff2cc', '#fce5cd', '#ead1dc']   # one colour per layer: its map and its window
RF = ['#6fa8dc', '#6aa84f', '#bf9000', '#e69138']


def overview():
    "Sizes shrink layer by layer (the formula) while what one pixel sees grows (the receptive field)."
    fig, ax = plt.subplots(figsize=(10.4, 3.6))
    ax.set_xlim(0, 31); ax.set_ylim(-1.2, 10); ax.axis('off')
    # left: the 28x28 digit in its padding, with the receptive fields of one pixel of each layer
    s, x0, y0 = 0.25, 1.2, 1.0                       # 0.25 units per pixel
    rect(ax, x0 - s, y0 - s, 30 * s, 30 * s, PAD, ec=GRID)   # padding 1 all round
    rect(ax, x0, y0, 28 * s, 28 * s, '#ffffff')
    for t in range(4, 28, 4):
        ax.plot([x0 + t * s] * 2, [y0, y0 + 28 * s], color=GRID, lw=0.3)
        ax.plot([x0, x0 + 28 * s], [y0 + t * s] * 2, color=GRID, lw=0.3)
    cx, cy = x0 + 14 * s, y0 + 14 * s
    for rf, c in zip((3, 7, 15, 31), RF):
        rect(ax, cx - rf * s / 2, cy - rf * s / 2, rf * s, rf * s, 'none', ec=c, lw=1.6)
    label(ax, cx, 9.4, 'what one pixel sees', weight='bold')
    label(ax, cx, 0.0, 'a 28x28 digit, padding in grey; a centre pixel\nafter 1, 2, 3, 4 layers sees 3, 7, 15, 31 pixels', fontsize=8.5)
    # right: the maps shrink, (n + 2p - k)//s + 1 at every layer
    label(ax, 20.5, 9.4, 'how big each map is', weight='bold')
    x, sizes = 11.0, [28, 14, 7, 4, 2]
    for i, n in enumerate(sizes):
        w = n * 0.17
        rect(ax, x, 4.6 - w / 2, w, w, MAPS[i], ec=INK if i == 0 else RF[i - 1], lw=0.8 if i == 0 else 1.6)
        label(ax, x + w / 2, 4.6 - w / 2 - 0.45, f'{n}x{n}', fontsize=8.5)
        if i < len(sizes) - 1:
            arrow(ax, (x + w + 0.2, 4.6), (x + w + 1.8, 4.6))
            if i == 0: label(ax, x + w + 1.0, 5.6, '3x3\nstride 2\npad 1', fontsize=7.5)
            x += w + 2.0
    label(ax, 18.5, 0.6, 'out = (n + 2p - d(k-1) - 1) // s + 1\n28 -> 14 -> 7 -> 4 -> 2', fontsize=9)
    # the end of a classifier: global average pooling to one number per channel, then the class scores
    arrow(ax, (x + 0.6, 4.6), (x + 2.3, 4.6))
    label(ax, x + 1.45, 6.1, 'global\naverage\npool', fontsize=7.5)
    rect(ax, x + 2.5, 4.45, 0.3, 0.3, MAPS[-1])
    label(ax, x + 2.65, 3.7, '1x1', fontsize=8.5)
    arrow(ax, (x + 3.0, 4.6), (x + 4.2, 4.6))
    label(ax, x + 4.8, 4.6, 'class\nscores', fontsize=8.5)
    fig.savefig(HERE / '03_stride_padding_overview.svg', bbox_inches='tight')
    plt.close(fig)


if __name__ == '__main__':
    overview()
