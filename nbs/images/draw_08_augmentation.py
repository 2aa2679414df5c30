"Draws lesson 08's opening picture: `python nbs/images/draw_08_augmentation.py` writes the SVG next to this file."
import numpy as np
from drawing import plt, HERE   # the SVG backend and font settings every script shares
import matplotlib.colors
from matplotlib.patches import Rectangle, Polygon, FancyArrowPatch

INK = '#444444'
BG, FUR, EAR, EYE = '#d9ead3', '#f6b26b', '#e69138', '#444444'   # grass, cat, ears, eyes
MIRROR = '#c9dcc0'                                               # the mirrored outside: the same scene, paler


def cat_shapes():
    "A toy cat face in the unit square (x right, y up): polygons as (points, colour)."
    t = np.linspace(0, 2 * np.pi, 40)
    head = np.c_[0.5 + 0.26 * np.cos(t), 0.42 + 0.22 * np.sin(t)]
    ears = [np.array([[0.28, 0.52], [0.3, 0.82], [0.45, 0.62]]), np.array([[0.72, 0.52], [0.66, 0.84], [0.55, 0.62]])]
    eyes = [np.c_[x + 0.03 * np.cos(t), 0.47 + 0.04 * np.sin(t)] for x in (0.41, 0.59)]
    tail = np.array([[0.76, 0.3], [0.93, 0.42], [0.95, 0.62], [0.9, 0.63], [0.88, 0.45], [0.75, 0.36]])
    return [(tail, EAR), (ears[0], EAR), (ears[1], EAR), (head, FUR), (eyes[0], EYE), (eyes[1], EYE)]


def view(ax, x0, y0, s, m=np.eye(3), light=1.0, title=''):
    "The toy cat in an `s`-sized frame at (x0, y0), drawn as it looks after the 3x3 matrix `m` (on centred coordinates)."
    frame = Rectangle((x0, y0), s, s, fc=MIRROR if not np.allclose(m, np.eye(3)) else BG, ec=INK, lw=0.9)
    ax.add_patch(frame)
    inner = Polygon(place(np.array([[0, 0], [1, 0], [1, 1], [0, 1.]]), m, x0, y0, s), fc=BG, ec='none', clip_path=frame)
    ax.add_patch(inner); inner.set_clip_path(frame)
    for pts, c in cat_shapes():
        rgb = np.clip(np.array(matplotlib.colors.to_rgb(c)) * light, 0, 1)
        p = Polygon(place(pts, m, x0, y0, s), fc=rgb, ec='none'); ax.add_patch(p); p.set_clip_path(frame)
    if title: ax.text(x0 + s / 2, y0 - 0.25, title, ha='center', va='top', color=INK, fontsize=9)


def place(pts, m, x0, y0, s):
    "Unit-square points moved by `m` about the centre, then into the frame."
    c = np.c_[pts - 0.5, np.ones(len(pts))] @ m.T
    return (c[:, :2] / c[:, 2:]) * s + 0.5 * s + np.array([x0, y0])


def arrow(ax, a, b):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle='-|>', mutation_scale=12, color=INK, lw=1.0))


def opening():
    fig, ax = plt.subplots(figsize=(9.6, 3.3))
    ax.set_xlim(0, 24); ax.set_ylim(0, 8.2); ax.axis('off'); ax.set_aspect('equal')
    view(ax, 0.5, 2.6, 3.0, title='one training photo: "cat"')
    arrow(ax, (3.8, 4.1), (5.6, 4.1))
    ax.text(4.7, 4.5, 'random\nper image', ha='center', va='bottom', fontsize=8.5, color=INK)
    r = np.deg2rad(20)
    turn = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    zoom = np.diag([1.35, 1.35, 1.]); zoom[:2, 2] = [0.08, -0.05]
    tilt = np.eye(3); tilt[2, 0] = 0.45
    mirror = np.diag([-1., 1, 1])
    views = [(turn, 1, 'turned'), (zoom, 1, 'zoomed'), (tilt, 1, 'tilted'), (mirror, 0.75, 'mirrored, darker')]
    for i, (m, light, name) in enumerate(views):
        view(ax, 6.0 + i * 2.9, 2.9, 2.4, m, light, name)
    ax.text(11.65, 6.3, 'new images, same label: a new view of every photo in every epoch', ha='center', fontsize=9, color=INK)
    ax.text(11.65, 1.55, 'one 3x3 matrix per image says where each output pixel reads;\n'
            'the corners are filled by reflecting the photo (paler here)', ha='center', va='top', fontsize=8.5, color=INK)
    arrow(ax, (17.7, 4.1), (19.2, 4.1))
    ax.add_patch(Rectangle((19.4, 3.0), 4.2, 2.2, fc='#cfe2f3', ec=INK, lw=0.9))
    ax.text(21.5, 4.1, 'a network that\nlearns what stays\nthe same', ha='center', va='center', fontsize=9, color=INK)
    ax.text(21.5, 2.7, 'test time: average its\nanswers over a few views', ha='center', va='top', fontsize=8.5, color=INK)
    fig.savefig(HERE / '08_augmentation_views.svg', bbox_inches='tight'); plt.close(fig)


if __name__ == '__main__':
    opening()
