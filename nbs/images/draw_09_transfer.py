"Draws lesson 09's picture: `python nbs/images/draw_09_transfer.py` writes the SVG next to this file."
from drawing import plt, HERE   # the SVG backend and font settings every script shares
from matplotlib.patches import FancyBboxPatch, FancyArrowPatch

INK, MUTED = '#444444', '#999999'
BODY, HEAD, OLD = '#cfe2f3', '#fce5cd', '#eeeeee'


def box(ax, x, y, w, h, text, fc, ec=INK, ls='-', color=INK, fontsize=8.5):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle='round,pad=0.02,rounding_size=0.12', fc=fc, ec=ec, lw=0.9, ls=ls))
    ax.text(x + w / 2, y + h / 2, text, ha='center', va='center', color=color, fontsize=fontsize)


def arrow(ax, a, b, color=INK):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle='-|>', mutation_scale=10, color=color, lw=0.9, shrinkA=0, shrinkB=0))


def body_and_head():
    "The pretrained body kept, ImageNet's head cut off, a new head on; then the learning rates of the two phases."
    fig, ax = plt.subplots(figsize=(9.6, 3.9))
    ax.set_xlim(0, 25); ax.set_ylim(0, 9.6); ax.axis('off')
    ax.text(0.2, 9.1, 'SqueezeNet, trained on ImageNet', color=INK, fontsize=10, weight='bold')
    blocks = ['conv\n96', 'Fire\n128', 'Fire\n256', 'Fire\n384', 'Fire\n512']
    for i, t in enumerate(blocks):
        box(ax, 0.3 + i * 2.15, 5.6, 1.8, 2.4, t, BODY)
        if i: arrow(ax, (0.3 + i * 2.15 - 0.35, 6.8), (0.3 + i * 2.15, 6.8))
    ax.text(5.6, 5.0, 'the body: edges, textures, parts, objects (kept)', ha='center', color=INK, fontsize=8.5)
    # the cut, ImageNet's head (dropped) and the new head
    ax.plot([11.25, 11.25], [4.6, 8.6], color='#cc0000', lw=1.2, ls='--')
    ax.text(11.25, 8.75, 'cut', ha='center', color='#cc0000', fontsize=8.5)
    box(ax, 12.0, 7.2, 8.2, 1.1, "ImageNet's head (1000 classes): dropped", OLD, ec=MUTED, ls='--', color=MUTED)
    head = ['avg + max\npool', 'flatten', 'batch\nnorm', 'dropout', 'linear\n10']
    for i, t in enumerate(head):
        box(ax, 11.8 + i * 2.6, 4.9, 2.2, 1.8, t, HEAD, fontsize=8)
        if i: arrow(ax, (11.8 + i * 2.6 - 0.4, 5.8), (11.8 + i * 2.6, 5.8))
    arrow(ax, (10.9, 6.3), (11.8, 5.8))
    ax.text(18.0, 4.3, 'the new head: our 10 CIFAR-10 classes (random at first)', ha='center', color=INK, fontsize=8.5)
    # the two phases
    ax.text(0.2, 3.0, '1. freeze', color=INK, fontsize=9.5, weight='bold')
    ax.text(3.0, 3.0, 'body frozen (learning rate 0), only the head trains', color=INK, fontsize=8.5)
    ax.text(0.2, 1.3, '2. unfreeze', color=INK, fontsize=9.5, weight='bold')
    ax.text(3.6, 1.3, 'everything trains; smaller learning rates for early layers:', color=INK, fontsize=8.5)
    for i in range(5):
        h = 0.25 + 0.22 * i
        ax.add_patch(FancyBboxPatch((15.6 + i * 0.9, 0.9), 0.55, h, boxstyle='square,pad=0', fc=BODY, ec=INK, lw=0.6))
    ax.add_patch(FancyBboxPatch((20.1, 0.9), 0.55, 1.6, boxstyle='square,pad=0', fc=HEAD, ec=INK, lw=0.6))
    ax.text(20.9, 1.3, 'learning rate\nof each part', color=INK, fontsize=8, va='center')
    fig.savefig(HERE / '09_transfer_body_head.svg', bbox_inches='tight')
    plt.close(fig)


if __name__ == '__main__':
    body_and_head()
