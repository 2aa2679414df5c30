"Draws lesson 06b's picture: `python nbs/images/draw_06b_training_fast.py` writes the SVG next to this file."
from draw_09_transfer import plt, HERE, INK, BODY, HEAD, box, arrow   # lesson 09's boxes and arrows, same style


def two_levers():
    "A fixed budget of seconds, and the ingredients that buy more steps per second or more learning per step."
    fig, ax = plt.subplots(figsize=(9.6, 3.3))
    ax.set_xlim(0, 25); ax.set_ylim(0, 8.4); ax.axis('off')
    box(ax, 0.2, 3.3, 4.6, 1.8, 'a budget of\n15 s (MNIST) or\n15 min (CIFAR-10)', '#eeeeee', fontsize=9)
    arrow(ax, (4.9, 4.8), (6.3, 6.1)); arrow(ax, (4.9, 3.6), (6.3, 2.3))
    steps = ['a net that does little work per image', 'batches that cost nothing to make',
             'channels-last, bfloat16 if the CPU has it']
    learned = ['a schedule that follows the clock', 'weight decay on the weights only',
               'an average of the weights', 'CIFAR-10: a whitened first layer']
    ax.text(6.4, 7.9, 'more steps per second', color=INK, fontsize=9.5, weight='bold')
    for i, t in enumerate(steps): box(ax, 6.4, 6.6 - i * 1.05, 8.6, 0.85, t, BODY, fontsize=8.5)
    ax.text(6.4, 3.05, 'more learned per step', color=INK, fontsize=9.5, weight='bold')
    for i, t in enumerate(learned):
        col, row = divmod(i, 2)
        box(ax, 6.4 + col * 8.9, 1.75 - row * 1.05, 8.6, 0.85, t, HEAD, fontsize=8.5)
    box(ax, 16.3, 5.15, 7.9, 1.8, 'bench/mnist.py and bench/cifar.py:\nthe same parts, full length', '#ffffff', fontsize=8.5)
    arrow(ax, (15.1, 6.0), (16.2, 6.0)); arrow(ax, (20.25, 2.75), (20.25, 5.05))
    fig.savefig(HERE / '06b_training_fast_levers.svg', bbox_inches='tight')
    plt.close(fig)


if __name__ == '__main__':
    two_levers()
