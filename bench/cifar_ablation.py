"""Takes the CIFAR-10 recipe apart: one short run of bench/cifar.py per ingredient left out, all on a validation split.

Each run trains for `--minutes` (default 2.5; the bf16 and channels-last runs, which measure images per second,
`--speed-minutes`) on 45,000 training images and reports on the 5,000 held out (never the
test set), with the same seed; its JSON lines go to `--out/NAME.jsonl` (default bench/results/ablation). A run that
exists already is skipped, so an interrupted study picks up where it stopped. Lesson 06b reads the files back.

    python bench/cifar_ablation.py                 # the whole recipe, then each ingredient left out
    python bench/cifar_ablation.py --only no-smoothing --minutes 5
"""
import argparse, subprocess, sys
from pathlib import Path

HERE = Path(__file__).parent
VARIANTS = {                      # name: the flags that leave one ingredient out of the default recipe
    'recipe': [],
    'no-whitening': ['--no-whitening'],
    'no-augmentation': ['--no-flip', '--max-shift', '0'],
    'random-flips': ['--flips', 'random'],
    'no-smoothing': ['--label-smoothing', '0'],
    'no-bf16': ['--bf16', 'off'],
    'no-channels-last': ['--no-channels-last'],
    'no-lookahead': ['--no-lookahead'],
    'no-identity-init': ['--no-dirac'],
    'trained-bn-scales': ['--bn-scale'],
    'no-bias-decay': ['--no-bias-decay'],
    'muon-filters': ['--muon-lr', '0.03'],   # not a leave-out: Muon in place of SGD for the 3x3 filters
}
SPEED_ONLY = {'no-bf16', 'no-channels-last'}   # what these buy is speed: a short run measures it


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--minutes', type=float, default=2.5)
    ap.add_argument('--speed-minutes', type=float, default=0.75, help='budget of the runs that measure speed only')
    ap.add_argument('--valid', type=int, default=5000)
    ap.add_argument('--out', type=Path, default=HERE / 'results' / 'ablation')
    ap.add_argument('--only', nargs='+', choices=list(VARIANTS), help='run only these variants')
    ap.add_argument('extra', nargs='*', help='more flags for every run, after --')
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    for name in a.only or VARIANTS:
        path = a.out / f'{name}.jsonl'
        if path.exists(): print(f'{path} exists: skipped', file=sys.stderr); continue
        minutes = a.speed_minutes if name in SPEED_ONLY else a.minutes
        cmd = [sys.executable, str(HERE / 'cifar.py'), '--minutes', str(minutes), '--valid', str(a.valid),
               '--eval-every', '1', *VARIANTS[name], *a.extra]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode: sys.exit(f'{name} failed:\n{out.stderr[-2000:]}')
        tmp = path.with_suffix('.tmp'); tmp.write_text(out.stdout); tmp.replace(path)   # never half-written
        print(out.stdout.strip().splitlines()[-1], flush=True)


if __name__ == '__main__': main()
