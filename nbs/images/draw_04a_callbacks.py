"Draws lesson 04a's picture: `python nbs/images/draw_04a_callbacks.py` writes the SVG next to this file."
from drawing import plt, HERE   # the SVG backend and font settings every script shares
from matplotlib.patches import FancyBboxPatch, FancyArrowPatch

LEVELS = ['#f3f3f3', '#cfe2f3', '#d9ead3', '#fce5cd']   # fit, epoch, pass, batch
EVENT, CB, INK = '#ead1dc', '#fff2cc', '#444444'


def frame(ax, x, y, w, h, color, title):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle='round,pad=0.02,rounding_size=0.15', fc=color, ec=INK, lw=0.7))
    ax.text(x + 0.15, y + h - 0.25, title, ha='left', va='center', color=INK, fontsize=8.5, weight='bold')


def event(ax, x, y, text, w=None):
    w = w or 0.12 * len(text) + 0.3
    ax.add_patch(FancyBboxPatch((x, y - 0.17), w, 0.34, boxstyle='round,pad=0.01,rounding_size=0.08',
                                fc=EVENT, ec=INK, lw=0.5))
    ax.text(x + w / 2, y, text, ha='center', va='center', color=INK, fontsize=7.5, family='monospace')
    return x + w


def work(ax, x, y, text):
    ax.text(x, y, text, ha='left', va='center', color=INK, fontsize=8, style='italic')
    return x + 0.105 * len(text) + 0.12


def loop():
    "The Learner's loop: four nested levels, each announcing before_/after_ events; callbacks listen."
    fig, ax = plt.subplots(figsize=(10.8, 4.4))
    ax.set_xlim(0, 22); ax.set_ylim(0, 9); ax.axis('off')
    frame(ax, 0.2, 0.3, 16.2, 8.4, LEVELS[0], 'fit')
    event(ax, 0.5, 7.95, 'before_fit'); event(ax, 0.5, 0.75, 'after_fit')
    frame(ax, 0.6, 1.2, 15.5, 6.3, LEVELS[1], 'epoch (x n_epoch)')
    event(ax, 0.9, 6.85, 'before_epoch'); event(ax, 0.9, 1.6, 'after_epoch')
    for y0, name, steps in [(4.15, 'training pass', ['pred', 'loss', 'backward', 'step']),
                            (2.05, 'validation pass (no gradients)', ['pred', 'loss'])]:
        frame(ax, 1.0, y0, 14.8, 2.1 if name.startswith('t') else 1.85, LEVELS[2], name)
        before, after = ('before_train', 'after_train') if name.startswith('t') else ('before_validate', 'after_validate')
        yb = y0 + (1.2 if name.startswith('t') else 1.0)
        x = event(ax, 1.25, yb, before) + 0.25
        frame(ax, x, yb - 0.55, 9.3 if name.startswith('t') else 7.1, 1.1, LEVELS[3], '')
        ax.text(x + 0.12, yb + 0.4, 'batch (x n_iter)', ha='left', va='center', color=INK, fontsize=7.5, weight='bold')
        xx = event(ax, x + 0.1, yb - 0.1, 'before_batch') + 0.1
        for s in steps: xx = work(ax, xx, yb - 0.1, s); xx = event(ax, xx, yb - 0.1, f'after_{s}') + 0.08
        xx = event(ax, xx, yb - 0.1, 'after_batch') if name.startswith('t') else event(ax, xx, yb - 0.1, 'after_batch')
        event(ax, 1.25, y0 + 0.32, after)
    # the callbacks, listening
    frame(ax, 16.9, 0.3, 4.9, 8.4, '#ffffff', 'callbacks (act on events)')
    cbs = [('TrainEval', 'train mode / eval mode'), ('Recorder', 'losses, lrs, history'),
           ('ProgressCallback', 'bars and the table'), ('OneCycle', 'steps the schedule'),
           ('LRFinder', 'grows the lr, stops'), ('yours...', 'any event you need')]
    for i, (n, what) in enumerate(cbs):
        y = 7.5 - 1.15 * i
        ax.add_patch(FancyBboxPatch((17.2, y - 0.42), 4.3, 0.84, boxstyle='round,pad=0.01,rounding_size=0.1',
                                    fc=CB, ec=INK, lw=0.5))
        ax.text(19.35, y + 0.15, n, ha='center', va='center', color=INK, fontsize=8.5, weight='bold')
        ax.text(19.35, y - 0.2, what, ha='center', va='center', color=INK, fontsize=7.5)
    ax.add_patch(FancyArrowPatch((16.45, 4.6), (17.15, 4.6), arrowstyle='-|>', mutation_scale=10, color=INK, lw=0.9))
    ax.text(16.8, 4.95, 'each\nevent', ha='center', va='bottom', color=INK, fontsize=7)
    fig.savefig(HERE / '04a_callbacks_loop.svg', bbox_inches='tight')
    plt.close(fig)


if __name__ == '__main__':
    loop()
