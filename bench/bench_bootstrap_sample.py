"""How many units the evaluation's bootstrap replicates need: the m-out-of-n bootstrap of
``hte_engine.uplift.evaluation`` (vars hte_uplift_bootstrap_max_units, hte_targeting_bootstrap_max_units) against the
bootstrap on every unit, on one simulated comparison with a known heterogeneous effect.

    .venv/bin/python bench/bench_bootstrap_sample.py                    # 300,000 units: about 30 s
    .venv/bin/python bench/bench_bootstrap_sample.py --units 60000 --samples 15000,6000

For each sample size m it reports, per learner with a ranking (t: close to the true effect, s: noisier), the ratio
of the standard errors of the Qini coefficient, AUUC, AUTOC and RATE-Qini to those of the bootstrap on every unit,
and the CPU time of the evaluation. Point estimates are every unit's whatever m (checked here). With 200
replicates a standard error is itself uncertain by about 5%, so ratios within about 0.9-1.1 are agreement.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hte_engine.uplift.crossfit import CrossFitResult
from hte_engine.uplift.evaluation import EvaluationConfig, evaluate_learners

FIGURES = ("qini_coefficient", "auuc", "autoc", "rate_qini")


def comparison(n: int, seed: int) -> CrossFitResult:
    """A binary outcome, half the units treated, effect 0.02 + 0.02 x (x standard normal); the doubly-robust
    scores use the true nuisances, and two learners rank with more or less noise around the true effect."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = rng.integers(0, 2, n)
    tau = 0.02 + 0.02 * x
    y = (rng.random(n) < np.clip(0.1 + tau * t, 0, 1)).astype(float)
    mu0, mu1 = np.full(n, 0.1), 0.1 + tau
    fold = rng.integers(0, 5, n)  # drawn before the scores, as the figures of docs/uplift.md were
    scores = {
        "t": np.round(tau + rng.normal(0, 0.01, n), 4),
        "s": np.round(0.02 + 0.01 * x + rng.normal(0, 0.02, n), 4),
        "constant": 0.02,
    }
    unit_id = [f"u{i:09d}" for i in range(n)]
    return CrossFitResult.from_nuisances(unit_id, fold, y, t, 0.5, mu0, mu1, scores, {0: n})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=300_000)
    parser.add_argument("--samples", default="200000,50000,20000", help="sample sizes m, comma-separated")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = comparison(args.units, args.seed)
    samples = [int(m) for m in args.samples.split(",") if int(m) < args.units]

    def evaluated(m):
        started = time.process_time()
        table = evaluate_learners(result, EvaluationConfig(bootstrap_max_units=m), binary=True, parts=("learners",))
        return table.learners.set_index("learner"), time.process_time() - started

    full, full_cpu = evaluated(None)
    print(f"{args.units:,} units, 200 replicates; the bootstrap on every unit took {full_cpu:.1f} CPU s\n")
    print("| replicates on | learner | " + " | ".join(f"{f} SE ratio" for f in FIGURES) + " | CPU s |")
    print("|---:|---|" + "---:|" * (len(FIGURES) + 1))
    for m in samples:
        bounded, cpu = evaluated(m)
        if not np.allclose(bounded[list(FIGURES)], full[list(FIGURES)], rtol=0, atol=0):
            raise SystemExit(f"point estimates differ at m = {m}: they must be every unit's")
        for learner in ("t", "s"):
            ratios = [bounded.loc[learner, f"{f}_se"] / full.loc[learner, f"{f}_se"] for f in FIGURES]
            units = int(bounded.loc[learner, "bootstrap_units"])
            print(f"| {units:,} | {learner} | " + " | ".join(f"{r:.3f}" for r in ratios) + f" | {cpu:.1f} |")


if __name__ == "__main__":
    main()
