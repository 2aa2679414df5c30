"Draws lesson 07's picture: `python nbs/images/draw_07_heatmaps.py` writes the SVG next to this file."
import numpy as np
from drawing import plt, HERE   # the SVG backend and font settings every script shares
from matplotlib.patches import Rectangle, FancyArrowPatch, Circle, Polygon

CONV, BN, ACT, POOL, MAP, INK = '#cfe2f3', '#fce5cd', '#d9ead3', '#ead1dc', '#fff2cc', '#444444'
N = 8  # the grid of the last feature maps, as in resnet_small on a 32x32 image


def arrow(ax, a, b, text=None):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle='-|>', mutation_scale=10, color=INK, lw=0.9, shrinkA=0, shrinkB=0))
    if text: ax.text((a[0] + b[0]) / 2, a[1] + 0.3, text, ha='center', va='bottom', color=INK, fontsize=8)


def blob(r, c, s=1.6):
    "An (N, N) map with one soft bump at row r, column c."
    i, j = np.mgrid[:N, :N]
    return np.exp(-((i - r) ** 2 + (j - c) ** 2) / (2 * s ** 2))


def grid(ax, m, x, y, side, cmap='magma', alpha=1.0):
    "Map `m` drawn as a square of side `side` with its lower left corner at (x, y)."
    ax.imshow(m, extent=(x, x + side, y, y + side), cmap=cmap, vmin=min(0, m.min()), vmax=m.max(), alpha=alpha,
              interpolation='nearest', zorder=2)
    ax.add_patch(Rectangle((x, y), side, side, fill=False, ec=INK, lw=0.7, zorder=3))


def photo(ax, x, y, side):
    "A schematic photo: a cat's head (circle, two ears) on a plain background."
    ax.add_patch(Rectangle((x, y), side, side, fc='#e8e8e8', ec=INK, lw=0.7, zorder=1))
    cx, cy, r = x + 0.62 * side, y + 0.55 * side, 0.2 * side
    for dx in (-1, 1):
        ax.add_patch(Polygon([(cx + dx * 0.95 * r, cy + 0.4 * r), (cx + dx * 0.25 * r, cy + 0.9 * r),
                              (cx + dx * 0.85 * r, cy + 1.55 * r)], fc='#b0a090', ec=INK, lw=0.6, zorder=1))
    ax.add_patch(Circle((cx, cy), r, fc='#c8b8a6', ec=INK, lw=0.6, zorder=1))


def cam_picture():
    "CAM: the last feature maps (C, h, w) times the class's row of the linear layer, summed over C, upsampled."
    fig, ax = plt.subplots(figsize=(10.5, 3.6))
    ax.set_xlim(-0.2, 21.2); ax.set_ylim(-0.9, 6.4); ax.axis('off')
    feats = [blob(2.5, 5), blob(6, 1.5), blob(3, 4.5, 1.2), blob(5.5, 6.5)]   # four of the C channels
    w = [1.3, -0.6, 0.9, 0.15]                                                 # the class's weights for them
    for k, (m, wk) in enumerate(zip(feats, w)):
        y = 4.6 - 1.45 * k
        grid(ax, m, 0.3, y, 1.2)
        ax.text(1.85, y + 0.6, '×', ha='center', va='center', color=INK, fontsize=12)
        ax.add_patch(Rectangle((2.35, y + 0.6), 0.9 * abs(wk), 0.3 if wk > 0 else -0.3, fc=ACT if wk > 0 else POOL,
                               ec=INK, lw=0.6))
        ax.text(2.4 + 0.9 * abs(wk) + 0.1, y + 0.6, f'w = {wk:+.2f}', va='center', color=INK, fontsize=8)
    ax.text(0.6, 6.05, 'feature maps A,\n4 of the C', ha='center', va='bottom', color=INK, fontsize=8.5,
            weight='bold')
    ax.text(3.5, 6.05, "the class's row of\nthe linear layer", ha='center', va='bottom', color=INK, fontsize=8.5,
            weight='bold')
    ax.text(0.9, -0.7, '(C, h, w)', ha='center', color=INK, fontsize=8.5)
    ax.text(3.1, -0.7, '(C,)', ha='center', color=INK, fontsize=8.5)
    arrow(ax, (4.9, 2.75), (7.3, 2.75), 'sum over C')
    cam = sum(wk * m for wk, m in zip(w, feats))
    grid(ax, cam, 7.6, 1.65, 2.2, cmap='RdBu_r' if cam.min() < 0 else 'magma')
    ax.text(8.7, 4.2, 'CAM: one (h, w) map\nΣ_k w_k A_k', ha='center', va='bottom', color=INK, fontsize=8.5,
            weight='bold')
    ax.text(8.7, 1.1, 'its mean + bias\n= the class score', ha='center', va='top', color=INK, fontsize=8)
    arrow(ax, (10.3, 2.75), (12.9, 2.75), 'stretch to the photo')
    photo(ax, 13.3, 0.9, 3.7)
    ax.imshow(np.clip(cam, 0, None), extent=(13.3, 17.0, 0.9, 4.6), cmap='magma', alpha=0.55, interpolation='bilinear', zorder=2)
    ax.text(15.15, 4.85, 'laid over the photo', ha='center', va='bottom', color=INK, fontsize=8.5, weight='bold')
    ax.text(18.0, 3.6, 'bright: the places\nthat add most to\nthe class score', ha='left', va='center', color=INK,
            fontsize=8)
    ax.text(18.0, 1.7, 'Grad-CAM: the same,\nwith w_k = the mean\ngradient of the score\nover the grid of A_k',
            ha='left', va='center', color=INK, fontsize=8)
    fig.savefig(HERE / '07_heatmaps_cam.svg', bbox_inches='tight')
    plt.close(fig)


if __name__ == '__main__':
    cam_picture()
