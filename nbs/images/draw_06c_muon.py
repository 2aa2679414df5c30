"Draws lesson 06c's picture: `python nbs/images/draw_06c_muon.py` writes the SVG next to this file."
import numpy as np
from draw_09_transfer import plt, HERE, INK, BODY, HEAD, box, arrow   # lesson 09's boxes and arrows, same style


def two_steps():
    "The singular values of an SGD step (a few large ones) and of a Muon step (all near 1), and what turns one into the other."
    fig, (left, mid, right) = plt.subplots(1, 3, figsize=(9.6, 2.9), gridspec_kw=dict(width_ratios=[4, 3, 4]))
    k = np.arange(1, 25)
    sgd = 1 / k ** 1.1                                   # a made-up gradient spectrum: a few strong directions
    muon = 1 + 0.15 * np.sin(k * 1.7) * np.exp(-k / 30)   # near 1, as five Newton-Schulz steps leave it
    for ax, vals, fc, title in [(left, sgd, BODY, 'SGD step: the gradient G = U S Vᵀ'),
                                (right, muon, HEAD, 'Muon step: U map(S) Vᵀ')]:
        ax.bar(k, vals, color=fc, edgecolor=INK, lw=0.5)
        ax.set_title(title, color=INK, fontsize=9.5)
        ax.set_ylim(0, 1.3); ax.set_xticks([]); ax.set_yticks([])
        ax.set_xlabel('its directions, strongest first', color=INK, fontsize=8.5)
        for s in ('top', 'right'): ax.spines[s].set_visible(False)
    left.set_ylabel('how far the step\nmoves along each', color=INK, fontsize=8.5)
    mid.set_xlim(0, 10); mid.set_ylim(0, 10); mid.axis('off')
    box(mid, 0.6, 5.4, 8.8, 3.2, 'divide by the norm, then 5 times\nX ← aX + b(XXᵀ)X + c(XXᵀ)²X', '#eeeeee', fontsize=8)
    arrow(mid, (0.6, 3.9), (9.4, 3.9))
    mid.text(5, 2.4, 'same directions (U, V),\nevery singular value near 1:\nmatrix products only, no SVD',
             ha='center', va='top', color=INK, fontsize=8)
    fig.tight_layout()
    fig.savefig(HERE / '06c_muon_steps.svg', bbox_inches='tight')
    plt.close(fig)


if __name__ == '__main__':
    two_steps()
