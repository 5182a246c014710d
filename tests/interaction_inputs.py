"""Inputs with overlapping experiments and a known truth, for hte_experiment_interactions (issue 17).

Four experiments in the fixture project's shape (tests/fixtures.py): segment_a, segment_b, score; metrics
conversion (binary) and revenue (continuous, with a pre-period).

- exp_a (control / treatment, 50/50), units 0 .. n-1, assigned 1-7 March;
- exp_b (control / variant_1 / variant_2, 40/30/30), units 5% of n .. n + 5% of n - 1, assigned 3-10 March: the
  two overlap in time and share 95% of the units; each also has units of its own, which must not count;
- exp_c (control / treatment), the first 3,000 units of exp_a again, assigned in May: shares units with exp_a
  and exp_b but not their assignment period, so it pairs with neither;
- exp_d (control / treatment), the first 150 units (in exp_a, not in exp_b), assigned 2-4 March: overlaps exp_a
  with cells far under the minimum size (status too_small), and shares no unit with exp_b.

Planted truth on the shared units, the same outcome values in every experiment's outcome rows:
    P(conversion) = 0.20 + 0.03 A + 0.02 B1 + 0.01 B2 + `interaction` · A · B1     (A: exp_a treatment, B1/B2: variants)
    revenue       = Gamma(2, 10) + 1.5 A + 1.0 B1 (no interaction: additive effects only)
so the lift of exp_a's treatment on conversion is 0.03 within exp_b's control and variant_2 and 0.03 + interaction
within variant_1, and revenue has no interaction at all. exp_c and exp_d have no effect.

Conversion rows of exp_a are left out where the unit did not convert: a unit without an outcome row counts as 0,
which the SQL must apply (exp_b keeps its zero rows, so the two experiments' outcome rows differ in shape).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

START = pd.Timestamp("2026-03-01 00:00:00")


def _times(rng, n: int, first: pd.Timestamp, days: float) -> pd.Series:
    return first + pd.to_timedelta(np.floor(rng.random(n) * days * 86400), unit="s")


def overlap_inputs(seed: int = 17, n_units: int = 40_000, interaction: float = 0.05) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    offset = n_units // 20
    ids = np.array([f"u{i:06d}" for i in range(n_units + offset)])
    in_a = np.arange(n_units + offset) < n_units
    in_b = np.arange(n_units + offset) >= offset
    total = n_units + offset
    arm_a = np.where(rng.random(total) < 0.5, "treatment", "control")
    arm_b = rng.choice(["control", "variant_1", "variant_2"], p=[0.4, 0.3, 0.3], size=total)
    a = (in_a & (arm_a == "treatment")).astype(float)
    b1 = (in_b & (arm_b == "variant_1")).astype(float)
    b2 = (in_b & (arm_b == "variant_2")).astype(float)
    conversion = (rng.random(total) < 0.20 + 0.03 * a + 0.02 * b1 + 0.01 * b2 + interaction * a * b1).astype(float)
    spend_level = rng.gamma(2.0, 10.0, size=total)
    revenue = spend_level + 1.5 * a + 1.0 * b1
    # the pre-period tracks the unit's spend level, as real pre-periods do (CUPED then removes a real share of the
    # variance; an unrelated pre-period would leave cuped_variance_reduction a difference of two numbers near 1)
    pre_revenue = (0.8 * spend_level + rng.gamma(2.0, 3.0, size=total)).round(2)
    segment_a = rng.choice(["north", "south", "east"], size=total)
    segment_b = rng.choice(["new", "returning"], size=total)
    score = rng.normal(size=total)

    n_c, n_d = 3_000, 150
    arm_c = np.where(rng.random(n_c) < 0.5, "treatment", "control")
    arm_d = np.where(rng.random(n_d) < 0.5, "treatment", "control")
    members = {
        "exp_a": (np.flatnonzero(in_a), arm_a[in_a], _times(rng, int(in_a.sum()), START, 7)),
        "exp_b": (np.flatnonzero(in_b), arm_b[in_b], _times(rng, int(in_b.sum()), START + pd.Timedelta(days=2), 8)),
        "exp_c": (np.arange(n_c), arm_c, _times(rng, n_c, pd.Timestamp("2026-05-01"), 7)),
        "exp_d": (np.arange(n_d), arm_d, _times(rng, n_d, START + pd.Timedelta(days=1), 3)),
    }
    assignments, features, outcomes = [], [], []
    for experiment, (index, arms, assigned_at) in members.items():
        units = ids[index]
        assigned_at = pd.Series(assigned_at).reset_index(drop=True)
        assignments.append(
            pd.DataFrame({"experiment_id": experiment, "unit_id": units, "arm": arms, "assigned_at": assigned_at})
        )
        features.append(
            pd.DataFrame(
                {
                    "experiment_id": experiment,
                    "unit_id": units,
                    "features_at": assigned_at - pd.Timedelta(days=1),
                    "segment_a": segment_a[index],
                    "segment_b": segment_b[index],
                    "score": score[index],
                }
            )
        )
        conv = pd.DataFrame(
            {
                "experiment_id": experiment,
                "unit_id": units,
                "metric": "conversion",
                "value": conversion[index],
                "pre_value": np.nan,
            }
        )
        if experiment == "exp_a":  # non-converters have no row: they count as 0
            conv = conv[conv["value"] > 0]
        outcomes += [
            conv,
            pd.DataFrame(
                {
                    "experiment_id": experiment,
                    "unit_id": units,
                    "metric": "revenue",
                    "value": revenue[index],
                    "pre_value": pre_revenue[index],
                }
            ),
        ]
    experiments = pd.DataFrame(
        {
            "experiment_id": ["exp_a", "exp_a", "exp_b", "exp_b", "exp_b", "exp_c", "exp_c", "exp_d", "exp_d"],
            "arm": [
                "control",
                "treatment",
                "control",
                "variant_1",
                "variant_2",
                "control",
                "treatment",
                "control",
                "treatment",
            ],
            "is_control": [True, False, True, False, False, True, False, True, False],
            "expected_share": [0.5, 0.5, 0.4, 0.3, 0.3, 0.5, 0.5, 0.5, 0.5],
        }
    )
    return {
        "assignments": pd.concat(assignments, ignore_index=True),
        "unit_features": pd.concat(features, ignore_index=True),
        "outcomes": pd.concat(outcomes, ignore_index=True),
        "experiments": experiments,
    }
