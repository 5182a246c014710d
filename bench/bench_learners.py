"""Benchmark dbt_hte's cross-fitted uplift learners against causalml's and EconML's, in one run.

    /tmp/uplift/bench/bin/python bench/bench_learners.py                         # 100k and 1M units, default scenario
    /tmp/uplift/bench/bin/python bench/bench_learners.py --sizes 100000 --scenarios heavy_tail small_treated
    /tmp/uplift/bench/bin/python bench/bench_learners.py --sizes 1000000 --contenders econml_forest_dr --timeout 2700

Run it with a Python that has causalml, econml and lightgbm installed beside this repository's requirements
(a separate bench environment: they are not dependencies of the package); contenders whose library is missing
are reported as skipped. ``--timeout`` stops a contender after that many seconds of wall time and reports it as
"did not finish". A run replaces only its own contenders' rows in the results file, so slow contenders can run
separately (in the background) and land beside the others.

Data: simulated with a known per-unit effect, 10 features (7 numeric, 3 categorical), randomised treatment.
Scenarios:
  continuous     y = mu0(x) + T tau(x) + N(0, 1), a smooth non-linear tau.
  heavy_tail     revenue-like: P(buy | x, T) x lognormal basket (mostly zeros, long right tail); tau(x) is the
                 exact difference of expectations.
  small_treated  the continuous scenario with 10% of units treated.

Contenders, each in a fresh subprocess so that peak memory (resident set size) and CPU time are its own:
  hte_*          hte_engine.uplift.crossfit.cross_fit with all five learners (constant, t, s, x, dr;
                 HistGradientBoosting, one thread) and the package's default settings, then the held-out choice of
                 hte_engine.uplift.evaluation. Scores are out of fold. hte_chosen is the learner the evaluation
                 chooses; its time is the whole run (all learners and the choice), since choosing needs them all.
                 heavy_tail scenario only: hte_direct* without winsorising, hte_two_part* without winsorising and
                 with outcome_model two_part.
  causalml_*     causalml's T-, S-, X- and DR-learners with LightGBM regressors (one thread each, as ours), fit on
                 all units, in-sample predictions: an advantage over our out-of-fold scores.
  econml_*       EconML's ForestDRLearner and CausalForestDML (honest forests), LightGBM nuisances.

Figures: wall time and CPU time (user + system of the contender's process, from getrusage: on a shared machine
wall time measures the neighbours as much as the contender, so compare CPU seconds), peak RSS, PEHE =
sqrt(mean((tau_hat - tau)^2)) against the true effect, and the Qini coefficient on the observed outcomes
(hte_engine.uplift.metrics, scikit-uplift's normalisation), both over all units. Results:
bench/results/learners_<scenario>_<n>.json and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import queue as queue_module
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

N_FEATURES = 10
# Every contender gets one thread: on a shared 2-core machine LightGBM's and HistGradientBoosting's OpenMP threads
# spin-wait on each other and time becomes noise. Raise it (and hte_uplift_threads) on a dedicated machine.
THREADS = 1


def simulate(n: int, seed: int, scenario: str):
    rng = np.random.default_rng(seed)
    num = rng.normal(size=(n, 7))
    cat = np.stack([rng.choice(list("abc"), n), rng.choice(list("pqrs"), n), rng.choice(list("uv"), n)], axis=1)
    frame = pd.DataFrame(num, columns=[f"x{i}" for i in range(7)])
    for j in range(3):
        frame[f"c{j}"] = cat[:, j]
    share = 0.1 if scenario == "small_treated" else 0.5
    t = (rng.random(n) < share).astype(int)
    x0, x1, x2, x3 = num[:, 0], num[:, 1], num[:, 2], num[:, 3]
    a, p = cat[:, 0] == "a", cat[:, 1] == "p"
    if scenario == "heavy_tail":
        base = -1.2 + 0.5 * x2 + 0.3 * p
        lift = 0.4 * (x0 > 0) + 0.3 * a
        p0, p1 = 1 / (1 + np.exp(-base)), 1 / (1 + np.exp(-(base + lift)))
        log_mean = 3.0 + 0.4 * x3
        sigma = 1.2
        basket = np.exp(log_mean + sigma**2 / 2)
        tau = (p1 - p0) * basket
        buy = rng.random(n) < np.where(t == 1, p1, p0)
        y = np.where(buy, np.exp(log_mean + sigma * rng.normal(size=n)), 0.0)
    else:
        mu0 = np.sin(2 * x2) + 0.5 * x3**2 + 0.5 * p
        tau = 0.5 + 0.6 * np.tanh(x0) + 0.4 * (x1 > 0) + 0.3 * a
        y = mu0 + t * tau + rng.normal(size=n)
    return frame, t, y, tau, share


def _ours(frame, t, y, share, variant):
    from hte_engine.uplift.crossfit import CrossFitConfig, cross_fit
    from hte_engine.uplift.evaluation import EvaluationConfig, evaluate_learners
    from hte_engine.uplift.features import prepare_features

    X = prepare_features(frame, list(frame.columns))
    ids = np.array([f"u{i:08d}" for i in range(len(y))])
    # hte: the package's defaults; hte_direct turns winsorising off, hte_two_part also fits two-part outcome models.
    overrides = {
        "hte": {},
        "hte_direct": {"winsorize_quantile": None},
        "hte_two_part": {"winsorize_quantile": None, "outcome_model": "two_part"},
    }[variant]
    config = CrossFitConfig(**overrides)
    result = cross_fit(ids, X, y, t, np.full(len(y), share), False, config, "bench")
    # The choice needs the learner-level figures only; the bootstrap is not part of it.
    ev = evaluate_learners(result, EvaluationConfig(bootstrap_replicates=2), binary=False, parts=())
    order = np.argsort(ids, kind="stable")  # cross_fit returns units in unit-id order
    scores = {}
    for learner in result.learners:
        out = np.empty(len(y))
        out[order] = result.units[f"cate_{learner}"].to_numpy()
        scores[learner] = out
    # The constant learner's per-fold averages differ in the last digits; ranking by them would read fold noise
    # as a ranking, so its Qini is taken as one tie group, as the evaluation does.
    return scores, ev.chosen


def _causalml(name, frame, t, y):
    from causalml.inference.meta import BaseDRRegressor, BaseSRegressor, BaseTRegressor, BaseXRegressor
    from lightgbm import LGBMRegressor

    X = pd.get_dummies(frame, dtype=float).to_numpy()
    make = {"t": BaseTRegressor, "s": BaseSRegressor, "x": BaseXRegressor, "dr": BaseDRRegressor}[name]
    learner = make(learner=LGBMRegressor(verbose=-1, n_jobs=THREADS), control_name=0)
    arm = np.where(t == 1, 1, 0)
    return np.asarray(learner.fit_predict(X=X, treatment=arm, y=y)).ravel()


def _econml(name, frame, t, y):
    from econml.dml import CausalForestDML
    from econml.dr import ForestDRLearner
    from lightgbm import LGBMClassifier, LGBMRegressor

    X = pd.get_dummies(frame, dtype=float).to_numpy()
    if name == "forest_dr":
        est = ForestDRLearner(
            model_regression=LGBMRegressor(verbose=-1, n_jobs=THREADS),
            model_propensity=LGBMClassifier(verbose=-1, n_jobs=THREADS),
            n_jobs=THREADS,
            random_state=0,
        )
    else:
        est = CausalForestDML(
            model_y=LGBMRegressor(verbose=-1, n_jobs=THREADS),
            model_t=LGBMClassifier(verbose=-1, n_jobs=THREADS),
            discrete_treatment=True,
            n_jobs=THREADS,
            random_state=0,
        )
    est.fit(y, t, X=X)
    return np.asarray(est.effect(X)).ravel()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc; fields 14 and 15 of its stat line)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(contender, n, seed, scenario, queue):
    frame, t, y, tau, share = simulate(n, seed, scenario)
    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began, began_cpu = time.perf_counter(), _cpu_seconds()
    try:
        if contender.startswith("hte"):
            scores, chosen = _ours(frame, t, y, share, contender)
        elif contender.startswith("causalml_"):
            scores, chosen = {contender: _causalml(contender.split("_", 1)[1], frame, t, y)}, None
        else:
            scores, chosen = {contender: _econml(contender.split("_", 1)[1], frame, t, y)}, None
    except ImportError as error:
        queue.put({"contender": contender, "skipped": str(error)})
        return
    seconds, cpu_seconds = time.perf_counter() - began, _cpu_seconds() - began_cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    from hte_engine.uplift.metrics import qini_coefficient

    rows = []
    for name, score in scores.items():
        label = f"{contender}_{name}" if contender.startswith("hte") else name
        rows.append(
            {
                "contender": label,
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "peak_rss_mb": peak / 1024,
                "rss_growth_mb": (peak - start_rss) / 1024,
                "pehe": float(np.sqrt(np.mean((score - tau) ** 2))),
                "qini": 0.0 if name == "constant" else qini_coefficient(score, y, t, binary=False),
            }
        )
    if chosen is not None:
        best = next(r for r in rows if r["contender"] == f"{contender}_{chosen}")
        rows.append({**best, "contender": f"{contender}_chosen ({chosen})"})
    queue.put({"rows": rows})


CONTENDERS = [
    "hte",
    "hte_direct",
    "hte_two_part",
    "causalml_t",
    "causalml_s",
    "causalml_x",
    "causalml_dr",
    "econml_forest_dr",
    "econml_causal_forest",
]


def bench(n: int, seed: int, scenario: str, contenders: list[str], timeout: float | None) -> pd.DataFrame:
    ctx = mp.get_context("fork")
    rows = []
    for contender in contenders:
        if contender in ("hte_direct", "hte_two_part") and scenario != "heavy_tail":
            continue
        queue = ctx.Queue()
        proc = ctx.Process(target=_run, args=(contender, n, seed, scenario, queue))
        proc.start()
        try:
            out = queue.get(timeout=timeout)
        except queue_module.Empty:
            # The child is this run's own process: stop it and say so in the table rather than wait on. Its CPU
            # time so far says how much of the wall time it actually got on a shared machine.
            cpu_seconds = _process_cpu_seconds(proc.pid)
            proc.kill()
            proc.join()
            print(f"  {contender}: did not finish in {timeout:.0f} s ({cpu_seconds:.0f} s CPU)", flush=True)
            rows.append({"contender": contender, "did_not_finish_s": timeout, "cpu_seconds": cpu_seconds})
            continue
        proc.join()
        if "skipped" in out:
            print(f"  {contender}: skipped ({out['skipped']})", flush=True)
            continue
        for row in out["rows"]:
            print(
                f"  {row['contender']:<34} {row['seconds']:8.1f} s  {row['cpu_seconds']:8.1f} s CPU  "
                f"PEHE {row['pehe']:.4f}  Qini {row['qini']:.4f}",
                flush=True,
            )
        rows += out["rows"]
    table = pd.DataFrame(rows)
    table.insert(0, "scenario", scenario)
    table.insert(1, "n_units", n)
    return table


def _owner(label: str) -> str:
    """The contender a result row belongs to (hte rows are labelled <contender>_<learner>)."""
    return max((c for c in CONTENDERS if label == c or label.startswith(c + "_")), key=len, default=label)


def _merged(path: Path, table: pd.DataFrame, contenders: list[str]) -> list[dict]:
    """This run's rows, plus the rows of other contenders from an earlier run of the same scenario and size:
    slow contenders (the forests at 1M) can run separately, in the background, and land in the same file."""
    # A table mixing finished and unfinished contenders has NaN in the fields one of them lacks: leave them out.
    new = [
        {k: v for k, v in row.items() if not (isinstance(v, float) and np.isnan(v))} for row in table.to_dict("records")
    ]
    if not path.exists():
        return new
    old = [r for r in json.loads(path.read_text())["rows"] if _owner(r["contender"]) not in contenders]
    return old + new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--scenarios", nargs="+", default=["continuous"], choices=["continuous", "heavy_tail", "small_treated"]
    )
    parser.add_argument("--contenders", nargs="+", default=CONTENDERS, choices=CONTENDERS)
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds of wall time per contender; a contender still running is stopped and "
        "reported as 'did not finish'",
    )
    parser.add_argument("--load", default="", help="a note on other load on the machine, kept in the results")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = REPO / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    for scenario in args.scenarios:
        for n in args.sizes:
            print(f"{scenario}, {n} units", flush=True)
            table = bench(n, args.seed, scenario, args.contenders, args.timeout)
            # Rows of several runs can share a file (see _merged): each row keeps when and under what load.
            table["measured"] = time.strftime("%Y-%m-%d %H:%M")
            table["load"] = args.load
            meta = {
                "scenario": scenario,
                "n_units": n,
                "seed": args.seed,
                "machine": platform.platform(),
                "cpus": mp.cpu_count(),
                "python": sys.version.split()[0],
                "date": time.strftime("%Y-%m-%d %H:%M"),
                "load": args.load,
            }
            path = results / f"learners_{scenario}_{n}.json"
            rows = _merged(path, table, args.contenders)
            path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
            print(
                table.drop(columns=["scenario"]).to_string(index=False, float_format=lambda v: f"{v:.4f}"), flush=True
            )


if __name__ == "__main__":
    main()
