#!/usr/bin/python3
"""seedstats.py - the statistics and the report of a multi-seed comparison of noise modes.

The Python twin of examples/ddpm's stats.c and compare.c: train_ddpm.py --compare uses it, and
it prints the same report as `imm-ddpm --compare --seeds N` from either program's CSV:

    python3 seedstats.py compare.csv         # the report of a finished study, C or PyTorch

(several CSVs concatenated, e.g. seeds run on different machines, are one study.)

Standard library only. The Student-t quantile is computed here (bisection on the t CDF, from
the regularized incomplete beta function), not taken from scipy, so that the report needs
neither scipy nor a table; the tests check it against high-precision reference values and, when
scipy is installed, against scipy.stats.t.

Conventions (the same in C):
  * sd is the sample standard deviation (divisor n - 1); intervals are two-sided 95 % Student t
    intervals of the mean, mean -+ t(0.975, n - 1) * sd / sqrt(n); none with one seed.
  * The paired difference of a mode is FD(mode) - FD(vanilla) of the same seed.
  * Verdicts come from the interval of the paired difference: entirely below 0 -> "faster",
    entirely above 0 -> "slower", otherwise "no detectable difference at this budget".
  * Steps to reach vanilla's final FD: per seed, the first step at which the mode's FD is <=
    vanilla's FD at the last checkpoint of the same seed, interpolated linearly between the two
    checkpoints around the crossing (the first checkpoint if it is already there). A run that
    never gets there is censored and counted as the last step, which understates its steps: with
    censored runs only "slower" is concluded.
"""

import csv
import math
import sys
from collections import namedtuple

LEVEL = 0.95
CSV_HEADER = ["mode", "k", "seed", "step", "fd", "final_loss", "ms_per_step", "assign_ms"]

Summary = namedtuple("Summary", "n mean sd half lo hi")


# ---- statistics ---------------------------------------------------------------------------------

def _incbeta_cf(a, b, x):
    """Continued fraction of I_x(a, b) (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) >= tiny else tiny)
    f = d
    for m in range(1, 10001):
        m2 = 2.0 * m
        for num in (m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)),
                    -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0))):
            d = 1.0 + num * d
            c = 1.0 + num / c
            d = 1.0 / (d if abs(d) >= tiny else tiny)
            c = c if abs(c) >= tiny else tiny
            delta = d * c
            f *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return f


def incbeta(a, b, x):
    """Regularized incomplete beta function I_x(a, b), a, b > 0, 0 <= x <= 1."""
    if not (a > 0 and b > 0 and 0 <= x <= 1):
        return math.nan
    if x in (0, 1):
        return float(x)
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x)
                 + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _incbeta_cf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _incbeta_cf(b, a, 1.0 - x) / b


def t_cdf(t, df):
    """Student-t CDF P(T <= t), df > 0."""
    if not df > 0 or math.isnan(t):
        return math.nan
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    tail = 0.5 * incbeta(0.5 * df, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p, df):
    """The p-quantile of Student's t with df > 0 degrees of freedom (bisection to the last bit)."""
    if not (0 < p < 1 and df > 0):
        return math.nan
    if p == 0.5:
        return 0.0
    q = min(p, 1.0 - p)
    lo, hi = 0.0, 1.0   # x = df / (df + t^2); I_x(df/2, 1/2) = 2q is increasing in x
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if incbeta(0.5 * df, 0.5, mid) < 2.0 * q:
            lo = mid
        else:
            hi = mid
    x = 0.5 * (lo + hi)
    t = math.sqrt(df * (1.0 - x) / x)
    return t if p > 0.5 else -t


def summarize(values, level=LEVEL):
    """Summary(n, mean, sd, half, lo, hi) of the values: the two-sided t-interval of the mean."""
    x = [float(v) for v in values]
    n = len(x)
    if n < 1 or not all(math.isfinite(v) for v in x) or not 0 < level < 1:
        raise ValueError("summarize: needs at least one finite value and a level in (0, 1)")
    mean = sum(x) / n
    if n == 1:
        return Summary(1, mean, 0.0, math.nan, math.nan, math.nan)
    sd = math.sqrt(sum((v - mean) ** 2 for v in x) / (n - 1))
    half = t_quantile(0.5 + 0.5 * level, n - 1) * sd / math.sqrt(n)
    return Summary(n, mean, sd, half, mean - half, mean + half)


def paired(a, b, level=LEVEL):
    """Summary of the differences a[i] - b[i]."""
    if len(a) != len(b):
        raise ValueError("paired: samples of different sizes")
    return summarize([u - v for u, v in zip(a, b)], level)


def interval_sign(s):
    """-1: interval below 0, +1: above, 0: covers 0, None: no interval."""
    if s.n < 2 or math.isnan(s.lo):
        return None
    return -1 if s.hi < 0 else 1 if s.lo > 0 else 0


def verdict(s):
    return {-1: "faster", 1: "slower", 0: "no detectable difference at this budget",
            None: "no verdict (one seed: no interval)"}[interval_sign(s)]


def first_reach(steps, y, target):
    """(reached, step): the first step at which y <= target, linear between checkpoints; when
    never reached, (False, steps[-1])."""
    for i, v in enumerate(y):
        if v <= target:
            if i == 0:
                return True, float(steps[0])
            f = (y[i - 1] - target) / (y[i - 1] - v)
            return True, steps[i - 1] + f * (steps[i] - steps[i - 1])
    return False, float(steps[-1])


# ---- the study ----------------------------------------------------------------------------------

class Study:
    """Results of modes x seeds, every run evaluated at the same steps.

    runs[(mode, seed)] = dict(fd=[...], final_loss=..., ms_step=..., assign_ms=...);
    modes in report order, vanilla first when present (the paired reference)."""

    def __init__(self, modes, seeds, steps, k=4):
        self.modes, self.seeds, self.steps, self.k = list(modes), list(seeds), list(steps), k
        self.runs = {}

    def label(self, mode):
        return f"knn k={self.k}" if mode == "knn" else mode

    def add(self, mode, seed, fd, final_loss, ms_step, assign_ms):
        if len(fd) != len(self.steps):
            raise ValueError(f"{mode} seed {seed}: {len(fd)} checkpoints, expected "
                             f"{len(self.steps)}")
        self.runs[(mode, seed)] = dict(fd=list(fd), final_loss=final_loss, ms_step=ms_step,
                                       assign_ms=assign_ms)

    def column(self, mode, e):
        return [self.runs[(mode, s)]["fd"][e] for s in self.seeds]

    # -- CSV, the format of imm-ddpm's compare.csv --
    def write_csv(self, path):
        with open(path, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(CSV_HEADER)
            for m in self.modes:
                for s in self.seeds:
                    r = self.runs[(m, s)]
                    for step, fd in zip(self.steps, r["fd"]):
                        w.writerow([m, self.k if m == "knn" else 1, s, step] +
                                   [repr(float(v)) for v in (fd, r["final_loss"], r["ms_step"],
                                                             r["assign_ms"])])

    @classmethod
    def read_csv(cls, path):
        rows = {}
        modes, seeds, steps, k = [], [], [], 4
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames != CSV_HEADER:
                raise ValueError(f"{path}: header {reader.fieldnames}, expected {CSV_HEADER}")
            for row in reader:
                if row["mode"] == "mode":        # the header of a concatenated file
                    continue
                m, s, step = row["mode"], int(row["seed"]), int(row["step"])
                if m == "knn":
                    k = int(row["k"])
                for lst, v in ((modes, m), (seeds, s), (steps, step)):
                    if v not in lst:
                        lst.append(v)
                r = rows.setdefault((m, s), dict(fd={}, final_loss=float(row["final_loss"]),
                                                 ms_step=float(row["ms_per_step"]),
                                                 assign_ms=float(row["assign_ms"])))
                r["fd"][step] = float(row["fd"])
        order = {"vanilla": 0, "assign": 1, "knn": 2}
        modes.sort(key=lambda m: order.get(m, 3))
        steps.sort()
        study = cls(modes, sorted(seeds), steps, k)
        for (m, s), r in rows.items():
            study.add(m, s, [r["fd"][step] for step in steps], r["final_loss"], r["ms_step"],
                      r["assign_ms"])
        missing = [(m, s) for m in modes for s in study.seeds if (m, s) not in study.runs]
        if missing:
            raise ValueError(f"{path}: runs missing: {missing}")
        return study

    # -- the report, line for line the format of imm-ddpm's --
    def report(self, out=sys.stdout):
        p = lambda *a, **kw: print(*a, file=out, **kw)
        ns, ne, modes = len(self.seeds), len(self.steps), self.modes
        labels = [self.label(m) for m in modes]
        paired_ok = modes[0] == "vanilla" and len(modes) > 1

        def cell(st, d, sign):
            f = f"{{:{'+' if sign else ''}.{d}f}}"
            text = f.format(st.mean)
            if st.n > 1:
                text += f" +- {st.sd:.{d}f} [{f.format(st.lo)}, {f.format(st.hi)}]"
            return text

        def cols(cells, width):
            return "".join(f"  {c:<{width if i + 1 < len(cells) else 0}}"
                           for i, c in enumerate(cells))

        p(f"\n== Comparison: {len(modes)} mode{'s' if len(modes) > 1 else ''} x {ns} "
          f"seed{'s' if ns > 1 else ''} (seeds {self.seeds[0]}..{self.seeds[-1]}), FD at step "
          + ", ".join(str(s) for s in self.steps) + ("" if ne else " (none: --evals 0)") + " ==")
        if ns > 1:
            p(f"Intervals: 95% two-sided Student t, mean -+ t * sd / sqrt(n), n = {ns} seeds, "
              f"t(0.975, df = {ns - 1}) = {t_quantile(0.975, ns - 1):.4f}. sd: sample standard "
              "deviation (n - 1).")
        else:
            p("One seed: no standard deviation, no interval, no verdict (--seeds 2 or more for "
              "those).")

        p("\nPer run (FD; lower is better)")
        p(f"{'mode':<10} {'seed':>5}" + "".join(f" {'FD@' + str(s):>9}" for s in self.steps)
          + f" {'final loss':>10} {'ms/step':>9} {'assign ms':>10}")
        for m, lab in zip(modes, labels):
            for s in self.seeds:
                r = self.runs[(m, s)]
                p(f"{lab:<10} {s:>5}" + "".join(f" {v:9.4f}" for v in r["fd"])
                  + f" {r['final_loss']:10.5f} {r['ms_step']:9.2f} {r['assign_ms']:10.3f}")

        if ne == 0:
            return self._report_cost(p)
        p(f"\nFD per checkpoint: mean +- sd [95% interval of the mean] over {ns} "
          f"seed{'s' if ns > 1 else ''}")
        p(f"{'step':>6}" + cols(labels, 34))
        for e, step in enumerate(self.steps):
            p(f"{step:6d}" + cols([cell(summarize(self.column(m, e)), 2, False) for m in modes],
                                  34))

        if paired_ok:
            p("\nPaired difference to vanilla: FD(mode) - FD(vanilla) of the same seed, mean +- sd "
              "[95% interval]; < 0: lower FD")
            p(f"{'step':>6}" + cols(labels[1:], 38))
            for e, step in enumerate(self.steps):
                van = self.column("vanilla", e)
                p(f"{step:6d}" + cols([cell(paired(self.column(m, e), van), 2, True)
                                       for m in modes[1:]], 38))
            p("\nVerdict per checkpoint (decided by the 95% interval of the paired difference: "
              "entirely below 0 = faster, entirely above 0 = slower):")
            for e, step in enumerate(self.steps):
                van = self.column("vanilla", e)
                p(f"verdict FD@{step}:" + ";".join(
                    f" {lab} {verdict(paired(self.column(m, e), van))}"
                    for m, lab in zip(modes[1:], labels[1:])))
        if paired_ok:
            last = self.steps[-1]
            steps_to, reached = {}, {}
            for m in modes:
                res = [first_reach(self.steps, self.runs[(m, s)]["fd"],
                                   self.runs[("vanilla", s)]["fd"][-1]) for s in self.seeds]
                reached[m] = sum(r for r, _ in res)
                steps_to[m] = [v for _, v in res]
            p(f"\nSteps to reach vanilla's final FD (the paper's speed-up metric). Per seed the "
              f"target is vanilla's FD@{last} of that\nseed; a run's value is the first step at "
              "which its FD <= target, interpolated linearly between the checkpoints around\nthe "
              "crossing (the first checkpoint if it is already there). A run that never gets "
              f"there is censored and counted\nas {last}, which understates its steps: with "
              "censored runs only \"slower\" is concluded (it then holds a fortiori).")
            p(f"{'mode':<10} {'reached':>8}  {'steps: mean +- sd [95%]':<34}  "
              f"{'minus vanilla: mean +- sd [95%]':<38} {'speed-up':>8}")
            van = summarize(steps_to["vanilla"])
            diffs = {}
            for m, lab in zip(modes, labels):
                # With censored runs the numbers are bounds: ">=" steps, "<=" speed-up.
                ge, le = (">=", "<=") if reached[m] < ns else ("", "")
                st = summarize(steps_to[m])
                dtext = "-"
                if m != "vanilla":
                    diffs[m] = paired(steps_to[m], steps_to["vanilla"])
                    dtext = ge + cell(diffs[m], 0, True)
                speed = f"{le}{van.mean / st.mean:.2f}x"
                p(f"{lab:<10} {f'{reached[m]}/{ns}':>8}  {ge + cell(st, 0, False):<34}  "
                  f"{dtext:<38} {speed:>8}")
            p("speed-up: vanilla's mean steps / the mode's mean steps (a point estimate; the "
              "verdict uses the paired interval).\n>= / <=: bounds, where runs are censored.")
            parts = []
            for m, lab in zip(modes[1:], labels[1:]):
                if reached[m] < ns and interval_sign(diffs[m]) != 1:
                    parts.append(f" {lab} not decided ({ns - reached[m]} of {ns} runs never "
                                 f"reached the target within {last} steps: their steps are "
                                 "unknown)")
                else:
                    parts.append(f" {lab} {verdict(diffs[m])}")
            p("verdict steps to reach vanilla's final FD:" + ";".join(parts))
        self._report_cost(p)

    def _report_cost(self, p):
        ns, modes = len(self.seeds), self.modes
        labels = [self.label(m) for m in modes]
        p(f"\nTime per training step (evaluation excluded)"
          f"{', mean +- sd over seeds' if ns > 1 else ''}")
        p(f"{'mode':<10} {'ms/step':<20} {'assignment ms':<20} share of the step")
        for m, lab in zip(modes, labels):
            ms = summarize([self.runs[(m, s)]["ms_step"] for s in self.seeds])
            am = summarize([self.runs[(m, s)]["assign_ms"] for s in self.seeds])
            share = summarize([100 * self.runs[(m, s)]["assign_ms"] / self.runs[(m, s)]["ms_step"]
                               for s in self.seeds])
            c1 = f"{ms.mean:.2f} +- {ms.sd:.2f}" if ns > 1 else f"{ms.mean:.2f}"
            c2 = f"{am.mean:.3f} +- {am.sd:.3f}" if ns > 1 else f"{am.mean:.3f}"
            p(f"{lab:<10} {c1:<20} {c2:<20} {share.mean:.1f}%")

    def plot(self, path, subtitle=""):
        """FD vs step, mean and 95 % band per mode, with matplotlib when installed.
        @return True when written."""
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return False
        colours = {"vanilla": "#3c3c3c", "assign": "#d62728", "knn": "#1f77b4"}
        fig, ax = plt.subplots(figsize=(9, 5.6))
        for m in self.modes:
            sts = [summarize(self.column(m, e)) for e in range(len(self.steps))]
            ax.plot(self.steps, [s.mean for s in sts], "o-", color=colours.get(m),
                    label=self.label(m))
            if len(self.seeds) > 1:
                ax.fill_between(self.steps, [s.lo for s in sts], [s.hi for s in sts],
                                color=colours.get(m), alpha=0.22, linewidth=0)
        ax.set_xlabel("training step")
        ax.set_ylabel("FD (lower is better)")
        ax.set_title(f"FD vs step: mean and 95% interval, {len(self.seeds)} seeds\n{subtitle}",
                     fontsize=10)
        ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return True


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print("usage: seedstats.py COMPARE.csv   (imm-ddpm's or train_ddpm.py's per-seed CSV)",
              file=sys.stderr)
        return 2
    Study.read_csv(argv[0]).report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
