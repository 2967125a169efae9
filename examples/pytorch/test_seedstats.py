#!/usr/bin/python3
"""test_seedstats.py - seedstats.py against known values (the references of
examples/ddpm/tests/test_stats.c), against scipy.stats.t when scipy is installed, and its CSV
round trip and verdicts. Standard library only; run: python3 test_seedstats.py"""

import io
import math
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seedstats as S  # noqa: E402

failures = 0


def check(what, got, want, rel=1e-12):
    global failures
    ok = abs(got - want) <= rel * max(1.0, abs(want))
    print(f"{'ok' if ok else 'FAIL'}: {what} = {got!r}" + ("" if ok else f", expected {want!r}"))
    failures += not ok


def expect(what, cond):
    global failures
    print(f"{'ok' if cond else 'FAIL'}: {what}")
    failures += not cond


# t quantiles t(0.975, df): mpmath 1.2 at 30 digits (see test_stats.c for how).
T975 = {1: 12.7062047361747046, 2: 4.30265272974946385, 3: 3.18244630528370959,
        4: 2.77644510519779436, 5: 2.57058183563631551, 6: 2.44691185114496997,
        7: 2.36462425159278534, 9: 2.26215716279820554, 10: 2.22813885198627475,
        19: 2.09302405440830977, 29: 2.04522964213270430, 30: 2.04227245630123831,
        60: 2.00029782201426050, 100: 1.98397151852355229, 1000: 1.96233908082640849}
for df, q in T975.items():
    check(f"t_quantile(0.975, {df})", S.t_quantile(0.975, df), q)
    check(f"t_quantile(0.025, {df})", S.t_quantile(0.025, df), -q)
check("t_quantile(0.95, 4)", S.t_quantile(0.95, 4), 2.1318467863266503)
check("t_quantile(0.9, 2.5)", S.t_quantile(0.9, 2.5), 1.7302509288071766)
check("t_cdf(2, 3) (scipy)", S.t_cdf(2.0, 3), 0.9303370157205785)
check("t_cdf(1, 1) (Cauchy)", S.t_cdf(1.0, 1), 0.75)
check("incbeta(2, 3, 0.4)", S.incbeta(2, 3, 0.4), 0.5248)
expect("t_quantile(1, 3) is nan", math.isnan(S.t_quantile(1.0, 3)))

try:
    from scipy import stats as sps
except ImportError:
    print("skipped: scipy is not installed (the cross-check against scipy.stats.t)")
else:
    # scipy's ppf is accurate to ~3e-9 relative only (see test_stats.c); its cdf to ~1e-16.
    for df in (1, 2, 3, 4, 7, 10, 30, 100):
        check(f"t_quantile(0.975, {df}) vs scipy ppf", S.t_quantile(0.975, df),
              sps.t.ppf(0.975, df), 1e-8)
        check(f"t_cdf(1.7, {df}) vs scipy cdf", S.t_cdf(1.7, df), sps.t.cdf(1.7, df), 1e-13)

s = S.summarize([2, 4, 4, 4, 5, 5, 7, 9])
check("mean", s.mean, 5.0)
check("sd", s.sd, 2.138089935299395)
check("lo", s.lo, 3.2125120817637891)
check("hi", s.hi, 6.7874879182362109)
g1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
g2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
d = S.paired(g2, g1)   # Student's sleep data, R: t.test(g2, g1, paired = TRUE)
check("paired mean", d.mean, 1.58)
check("paired lo", d.lo, 0.70011423672301720)
check("paired hi", d.hi, 2.4598857632769828)
expect("paired above 0 -> slower", S.verdict(d) == "slower")
expect("reversed below 0 -> faster", S.verdict(S.paired(g1, g2)) == "faster")
expect("covers 0", S.verdict(S.summarize([-1, 0, 1])) == "no detectable difference at this budget")
one = S.summarize([3.5])
expect("one value: no interval", one.sd == 0 and math.isnan(one.lo) and
       S.interval_sign(one) is None)
steps = [100, 200, 300, 400]
expect("first_reach 16", S.first_reach(steps, [40, 20, 12, 10], 16) == (True, 250.0))
expect("first_reach 50", S.first_reach(steps, [40, 20, 12, 10], 50) == (True, 100.0))
expect("first_reach 9 censored", S.first_reach(steps, [40, 20, 12, 10], 9) == (False, 400.0))

# A study where assign is clearly ahead and knn is not: verdicts and CSV round trip.
st = S.Study(["vanilla", "assign", "knn"], [1, 2, 3], [100, 200, 300], k=4)
van = {1: [30, 20, 15], 2: [32, 21, 16], 3: [29, 19, 14]}
for seed in (1, 2, 3):
    st.add("vanilla", seed, van[seed], 0.1, 25.0, 0.0)
    st.add("assign", seed, [v - 5 - 0.1 * seed for v in van[seed]], 0.09, 26.0, 0.7)
    st.add("knn", seed, [v + (-1) ** seed for v in van[seed]], 0.09, 27.0, 0.8)
out = io.StringIO()
st.report(out)
text = out.getvalue()
print(text)
for step in (100, 200, 300):
    expect(f"verdict FD@{step}", f"verdict FD@{step}: assign faster; knn k=4 no detectable "
           "difference at this budget" in text)
expect("steps-to-reach verdict: assign faster",
       "verdict steps to reach vanilla's final FD: assign faster;" in text)
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "compare.csv")
    st.write_csv(path)
    again = io.StringIO()
    S.Study.read_csv(path).report(again)
    expect("CSV round trip gives the same report", again.getvalue() == text)
    with open(path) as f:
        lines = f.read().splitlines(keepends=True)
    seed1 = [ln for ln in lines[1:] if ln.split(",")[2] == "1"]
    rest = [ln for ln in lines[1:] if ln.split(",")[2] != "1"]
    merged = os.path.join(tmp, "merged.csv")
    with open(merged, "w") as f:
        f.writelines([lines[0]] + seed1 + [lines[0]] + rest)   # two files, headers repeated
    again = io.StringIO()
    S.Study.read_csv(merged).report(again)
    expect("concatenated per-seed CSVs give the same report", again.getvalue() == text)

if failures:
    print(f"{failures} failure(s)")
    sys.exit(1)
print("seedstats tests passed")
