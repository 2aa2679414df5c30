"Draws lesson 04b's pictures: `python nbs/images/draw_04b_learner.py` writes the SVGs next to this file."
from drawing import plt, HERE   # the SVG backend and font settings every script shares
from matplotlib.patches import FancyBboxPatch, FancyArrowPatch, Rectangle

MODEL, DATA, OPT, CB, METH, TEST, INK = '#cfe2f3', '#d9ead3', '#fce5cd', '#fff2cc', '#ead1dc', '#f4cccc', '#444444'


def box(ax, x, y, w, h, title, lines=(), color='#ffffff', fs=8):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle='round,pad=0.02,rounding_size=0.12', fc=color, ec=INK, lw=0.7))
    ax.text(x + w / 2, y + h - 0.3, title, ha='center', va='center', color=INK, fontsize=8.5, weight='bold')
    for i, t in enumerate(lines):
        ax.text(x + w / 2, y + h - 0.72 - 0.36 * i, t, ha='center', va='center', color=INK, fontsize=fs)


def arrow(ax, a, b, text=''):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle='-|>', mutation_scale=10, color=INK, lw=0.8, shrinkA=0, shrinkB=0))
    if text: ax.text((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 + 0.15, text, ha='center', va='bottom', color=INK, fontsize=7.5)


def parts():
    "What a Learner holds, and what you ask of it."
    fig, ax = plt.subplots(figsize=(10, 3.9))
    ax.set_xlim(0, 20); ax.set_ylim(0, 8); ax.axis('off')
    ax.add_patch(FancyBboxPatch((0.2, 0.3), 13.6, 7.3, boxstyle='round,pad=0.02,rounding_size=0.2',
                                fc='#f7f7f7', ec=INK, lw=0.9))
    ax.text(7.0, 7.2, 'Learner(model, dls, loss_func, metrics, opt_func, cbs, splitter)', ha='center', va='center',
            color=INK, fontsize=9.5, weight='bold', family='monospace')
    box(ax, 0.6, 4.2, 3.9, 2.4, 'dls', ['train: shuffled batches', 'valid: for choosing', '(the test set is not here)'], DATA)
    box(ax, 5.0, 4.2, 3.9, 2.4, 'model', ['moved to the device', 'of the data', 'simple_cnn, ...'], MODEL)
    box(ax, 9.4, 4.2, 4.0, 2.4, 'loss_func, metrics', ['cross-entropy,', 'accuracy', '(averaged by Meter)'], '#ffffff')
    box(ax, 0.6, 0.7, 5.6, 2.8, 'splitter -> opt_func -> opt', ['parameter groups,', 'a learning rate each', '(a number or a slice);',
                                                               'default: SGD, momentum 0.9'], OPT)
    box(ax, 6.7, 0.7, 6.7, 2.8, 'cbs (04a), found by name', ['learn.train_eval: the modes', 'learn.recorder: losses, history',
                                                            'learn.progress: bars', '+ OneCycle, LRFinder, yours'], CB)
    ys = [6.6, 5.4, 4.2, 3.0, 1.8]
    for y, (m, what) in zip(ys, [('fit(n, lr)', 'train n epochs'), ('fit_one_cycle(n, lr_max)', 'the same, 1cycle'),
                                 ('lr_find()', 'suggest a learning rate'), ('validate(dl)', 'loss and metrics'),
                                 ('get_preds(dl)', 'outputs and targets')]):
        box(ax, 15.0, y - 0.45, 4.7, 1.0, m, [what], METH, fs=7.5)
        arrow(ax, (14.95, y + 0.05), (13.9, y + 0.05))
    ax.text(17.35, 7.55, 'what you ask of it', ha='center', va='center', color=INK, fontsize=8.5, style='italic')
    fig.savefig(HERE / '04b_learner_parts.svg', bbox_inches='tight')
    plt.close(fig)


def splits():
    "Training data cut into train and validation; the test set kept apart."
    fig, ax = plt.subplots(figsize=(10, 2.2))
    ax.set_xlim(0, 20); ax.set_ylim(0, 4.2); ax.axis('off')
    n_tr, n_va, n_te = 9917, 2479, 2038
    scale = 17.0 / (n_tr + n_va + n_te)
    x = 0.4
    for n, col, name, job in [(n_tr, DATA, f'train: {n_tr:,}', 'fits the weights'),
                              (n_va, CB, f'validation: {n_va:,}', 'chooses: lr, epochs, model'),
                              (n_te, TEST, f'test: {n_te:,}', 'measured once, at the end')]:
        w = n * scale + (0.6 if col == TEST else 0)
        if col == TEST: x += 0.6
        ax.add_patch(Rectangle((x, 1.6), w, 1.0, fc=col, ec=INK, lw=0.7))
        ax.text(x + w / 2, 2.1, name, ha='center', va='center', color=INK, fontsize=8.5, weight='bold')
        ax.text(x + w / 2, 1.2, job, ha='center', va='center', color=INK, fontsize=8)
        x += w
    ax.annotate('', (0.4, 3.0), (0.4 + (n_tr + n_va) * scale, 3.0), arrowprops=dict(arrowstyle='<->', color=INK, lw=0.8))
    ax.text(0.4 + (n_tr + n_va) * scale / 2, 3.35, "mnist_sample()'s training digits, random_split(x, y, valid_pct=0.2)",
            ha='center', va='center', color=INK, fontsize=8)
    ax.text(x - (n_te * scale + 0.6) / 2, 3.35, 'its other digits', ha='center', va='center', color=INK, fontsize=8)
    ax.text(10, 0.45, 'every choice is made on the validation split; the test figure is the one we report, read once',
            ha='center', va='center', color=INK, fontsize=8.5, style='italic')
    fig.savefig(HERE / '04b_learner_splits.svg', bbox_inches='tight')
    plt.close(fig)


if __name__ == '__main__':
    parts()
    splits()
