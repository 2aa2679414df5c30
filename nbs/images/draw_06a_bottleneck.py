"Draws lesson 06a's picture: `python nbs/images/draw_06a_bottleneck.py` writes the SVG next to this file."
from draw_06_resnet import plt, HERE, CONV, BN, ACT, INK, block   # lesson 06's block drawing, same style


def bottleneck_vs_resblock():
    "ResBlock(256, 256) next to Bottleneck(256, 256), with their convolution weights."
    fig, ax = plt.subplots(figsize=(9.6, 4.6))
    ax.set_xlim(-0.2, 15.4); ax.set_ylim(0.1, 10); ax.axis('off')
    basic = [('3x3 conv, 256 → 256', CONV), ('batchnorm', BN), ('ReLU', ACT), ('3x3 conv, 256 → 256', CONV),
             ('batchnorm, scale 0', BN)]
    neck = [('1x1 conv, 256 → 64', CONV), ('batchnorm, ReLU', BN), ('3x3 conv, 64 → 64', CONV),
            ('batchnorm, ReLU', BN), ('1x1, 64 → 256; bn 0', CONV)]
    block(ax, 1.8, 'ResBlock(256, 256)', 'x: 256 x 14 x 14', 'out: 256 x 14 x 14', basic, None)
    block(ax, 9.2, 'Bottleneck(256, 256)', 'x: 256 x 14 x 14', 'out: 256 x 14 x 14', neck, None)
    ax.text(7.3, 8.0, 'squeeze', ha='right', va='center', color=INK, fontsize=8.5, style='italic')
    ax.text(7.3, 4.4, 'expand', ha='right', va='center', color=INK, fontsize=8.5, style='italic')
    ax.text(7.5, 0.35, 'conv weights: 2 x 3·3·256·256 = 1,179,648 on the left; 256·64 + 3·3·64·64 + 64·256 = 69,632 '
            'on the right (17 times fewer); "bn 0": its batchnorm starts at scale 0', ha='center', va='center', color=INK, fontsize=8.5)
    fig.savefig(HERE / '06a_bottleneck_block.svg', bbox_inches='tight')
    plt.close(fig)


if __name__ == '__main__':
    bottleneck_vs_resblock()
