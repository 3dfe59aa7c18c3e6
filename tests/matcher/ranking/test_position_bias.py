"""Position bias: the simulator's responses depend on where a notice was pushed; training and evaluation undo it."""

from datetime import UTC, date, datetime

import numpy as np
import polars as pl

from matcher.ranking.features import CODES, FEATURES
from matcher.ranking.labels import load_feedback
from matcher.ranking.model import fit_ranker, matrix
from matcher.ranking.propensity import examination
from matcher.ranking.simulate import ATTENTION, CATEGORIES, preference, respond

SEED = 3
SECTIONS = ("C", "F", "G", "I", "M", "H")


def _logged(enterprises: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Six notices per enterprise pushed under an earlier order that put national policies first — a feature the
    simulated enterprises do not care about — with the simulator's responses; and their profiles."""
    rng = np.random.default_rng(seed)
    n = enterprises * 6
    usccs = [f"91440300{seed:02d}{i:08d}" for i in range(enterprises)]
    shown = (
        pl.DataFrame(
            {
                "notice_id": np.arange(n),
                "uscc": np.repeat(usccs, 6),
                "policy_id": [f"policy-{i % 6}" for i in range(n)],
                "period_key": ["2025"] * n,
                "kind": rng.choice(np.array(CODES["status"]), n),
                "amount_fen": np.round(10 ** rng.uniform(3, 6, n) * 100).astype(np.int64),
                "category": rng.choice(np.array(CATEGORIES), n),
                "level": rng.integers(0, 4, n),
                "tie": rng.random(n),
                "due": [datetime(2025, 7, 1, tzinfo=UTC)] * n,
            }
        )
        .sort("uscc", "level", "tie")
        .with_columns(position=(pl.int_range(pl.len()).over("uscc") + 1).cast(pl.Int32))
        .with_columns(wave=((pl.col("position") - 1) // 3).cast(pl.Int32))
    )
    profiles = pl.DataFrame(
        {
            "uscc": usccs,
            "industry_section": rng.choice(np.array(SECTIONS), enterprises),
            "size_class": rng.choice(np.array(CODES["size_class"]), enterprises),
            "employees_last_year": rng.integers(3, 500, enterprises),
        }
    )
    return shown, profiles


def _features(shown: pl.DataFrame, profiles: pl.DataFrame) -> pl.DataFrame:
    def code(name: str, column: str) -> pl.Expr:
        return pl.col(column).replace_strict({v: i for i, v in enumerate(CODES[name])}, return_dtype=pl.Float64)

    rows = shown.join(profiles, on="uscc", maintain_order="left").with_columns(
        code("policy_category", "category").alias("policy_category"),
        pl.col("level").cast(pl.Float64).alias("policy_level"),
        code("status", "kind").alias("status"),
        (pl.col("amount_fen") / 100 + 1).log10().alias("log_amount"),
        code("size_class", "size_class").alias("size_class"),
        code("industry_section", "industry_section").alias("industry_section"),
        pl.col("employees_last_year").cast(pl.Float64).log1p().alias("log_employees"),
        truth=preference(shown.join(profiles, on="uscc", maintain_order="left"), seed=SEED),
        as_of=pl.lit(date(2025, 6, 30)),
    )
    return rows.with_columns([pl.lit(None, pl.Float64).alias(f) for f in FEATURES if f not in rows.columns])


def test_ranker_when_trained_on_logged_feedback_relearns_the_logging_order_unless_corrected_for_position():
    shown, profiles = _logged(4_000, seed=1)
    answers = respond(shown, profiles, seed=SEED, day=date(2025, 6, 30))
    acted = answers.group_by("notice_id").agg(acted=pl.col("kind").is_in(["confirmed", "supplied_data"]).any())
    logged = _features(shown, profiles).join(acted, on="notice_id").with_columns(pl.col("acted").cast(pl.Int32))
    naive = fit_ranker(logged, position_bias=False)
    corrected = fit_ranker(logged)

    fresh = _features(*_logged(2_000, seed=2))
    agreement = {}
    for name, model in (("naive", naive), ("corrected", corrected)):
        per_enterprise = (
            fresh.with_columns(score=pl.Series(model.predict(matrix(fresh))))
            .group_by("uscc")
            .agg(
                truth=pl.corr("score", "truth", method="spearman"),
                logging=pl.corr("score", -pl.col("policy_level"), method="spearman"),
            )
            .fill_nan(None)
        )
        agreement[name] = {k: per_enterprise[k].mean() for k in ("truth", "logging")}
    # naive: mostly the order the feedback was logged under, little of what enterprises prefer
    assert agreement["naive"]["logging"] > 0.5 and agreement["naive"]["logging"] > agreement["naive"]["truth"]
    # corrected: the simulator's true preferences come through, the logging order much less
    assert agreement["corrected"]["truth"] > agreement["naive"]["truth"] + 0.2, agreement
    assert agreement["corrected"]["logging"] < agreement["naive"]["logging"] - 0.3, agreement
    assert agreement["corrected"]["truth"] > agreement["corrected"]["logging"] + 0.3, agreement


def test_examination_when_estimated_from_simulated_opens_matches_the_simulators_attention(simulated):
    found = {r["position_id"]: r["propensity"] for r in examination(load_feedback(simulated.engine)).to_dicts()}
    fatigue, per_wave = ATTENTION["fatigue"], ATTENTION["per_wave"]
    expected = {10: 1.0, 20: fatigue, 30: fatigue**2, 41: fatigue**3 * per_wave}  # push cap 3: the 4th waits
    for position_id, value in expected.items():
        assert abs(found[position_id] - value) < 0.06, (position_id, found[position_id], value)
