"""What every bench shares: JSON lines on stdout, the machine a figure comes from, its load, and timing.

The benches import it as `from common import ...` (Python puts the script's folder, bench/, on the path).
"""
import json, os, statistics, time

import torch

from convnb.inspection import cpu_generation, cpu_has_bf16, cpu_name


def rounded(v):
    "A float to 4 decimals, or to 4 significant digits if smaller than 0.01 (errors such as 2.4e-06)."
    if not isinstance(v, float): return v
    return round(v, 4) if abs(v) >= 0.01 or v == 0 else float(f'{v:.4g}')


def emit(**kw):
    "One JSON line on stdout (top-level floats `rounded`), flushed so a reader sees progress."
    print(json.dumps({k: rounded(v) for k, v in kw.items()}), flush=True)


def load() -> float:
    "The 1-minute load average: how busy the machine was (-1 where the OS has none)."
    try: return round(os.getloadavg()[0], 4)
    except (AttributeError, OSError): return -1.


def loads() -> list:
    "The 1, 5 and 15-minute load averages, to 2 decimals ([] where the OS has none)."
    try: return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError): return []


def machine() -> dict:
    "What a speed figure depends on: CPU model (and generation), bf16 units, cores, torch threads and version."
    return dict(cpu=cpu_name(), cpu_generation=cpu_generation(), cpu_bf16=cpu_has_bf16(), cpus=os.cpu_count(),
                threads=torch.get_num_threads(), torch=torch.__version__)


def timed(f) -> float:
    "Seconds one call of `f()` takes."
    t0 = time.perf_counter(); f(); return time.perf_counter() - t0


def summary(times) -> dict:
    "Median, min and quartiles of a list of seconds, in milliseconds."
    q = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
    return dict(median_ms=1e3 * statistics.median(times), min_ms=1e3 * min(times), q1_ms=1e3 * q[0], q3_ms=1e3 * q[2],
                reps=len(times))
