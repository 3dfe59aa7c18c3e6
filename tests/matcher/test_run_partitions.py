"""A run in partitions writes exactly what the whole-population run writes (issue 17: the partitioned pipeline).

The two global steps are exercised on purpose: a budget too small for the demand (scaled pro rata over all
partitions, not per partition), persons insured by enterprises of different partitions (each counted once over
the whole population), and benefits granted by an earlier run (read per partition). A scorer with a holdout
makes the holdout draw per enterprise, not per batch of enterprises ranked together.
"""

import json
from dataclasses import replace
from datetime import UTC, date, datetime

import numpy as np
import polars as pl
import pytest
from sqlalchemy import Integer, delete, func, select

from features.profiles import build_profiles
from features.profiles.social_insurance import hired_persons
from features.registries.partitions import Partitioning
from features.registries.validate import check_registry
from features.synthetic import generate
from matcher.db.models import metadata, rank_feature_parts
from matcher.decide import person_pairs
from matcher.persons import person_families
from matcher.ranking.parts import read_pairs
from matcher.ranking.serve import PushPlan
from matcher.run import run_matching
from policies.load import load_catalogue
from tests.api.test_cli import huiqi

DATES = (date(2025, 6, 30), date(2025, 9, 30))
NOW = datetime(2025, 10, 1, 9, 0, tzinfo=UTC)
HIRING = "one-off-hiring-subsidy"  # per person, each person once, with a budget


class SumScorer:
    """A stand-in champion: the score is the sum of the known features (any fixed function will do)."""

    version = "test-ranker/1"

    def score(self, features: np.ndarray) -> np.ndarray:
        return np.nan_to_num(features).sum(axis=1)


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """A generated registry, and one person hired the same day by two enterprises of different partitions that
    are both eligible for the hiring subsidy: whole or in partitions, the person is counted once."""
    out = tmp_path_factory.mktemp("registry")
    generate(out, enterprises=1_200, seed=5)
    first = check_registry(out)
    day, catalogue = DATES[0], policies(DATES[0], None)
    profiles = build_profiles({t: first.clean(t) for t in first.tables}, day).collect()
    eligible = person_pairs(profiles, catalogue, day).filter(pl.col("policy_id") == HIRING)
    cut = Partitioning.of_frame(pl.scan_parquet(out / "business.parquet"), 3)  # the run's partitions of it
    eligible = eligible.with_columns(part=cut.of()).sort("uscc")
    a, b = (eligible.filter(pl.col("part") == k)["uscc"][0] for k in (0, 1))
    fact = person_families(catalogue)[HIRING][1]
    counted = hired_persons(first.clean("si_hires").lazy(), day, [fact]).collect().filter(pl.col("uscc") == a)
    hires = pl.read_parquet(out / "si_hires.parquet")
    again = hires.filter((pl.col("uscc") == a) & (pl.col("person_id") == counted["person_id"][0])).head(1)
    pl.concat([hires, again.with_columns(uscc=pl.lit(b))]).write_parquet(out / "si_hires.parquet")
    # Rows set aside: one patent number delivered for enterprises of two partitions (both rows go, whichever
    # partition checks them), and a hire of an enterprise nobody registered.
    patents = pl.read_parquet(out / "patents.parquet").with_columns(part=cut.of()).sort("part")
    number = patents.filter(pl.col("part") == 0)["patent_no"][0]
    patents = patents.with_columns(
        patent_no=pl.when(pl.int_range(pl.len()) == pl.len() - 1).then(pl.lit(number)).otherwise("patent_no")
    )
    patents.drop("part").write_parquet(out / "patents.parquet")
    stranger = again.with_columns(uscc=pl.lit("91440300MA5G00000X"))
    pl.read_parquet(out / "si_hires.parquet").vstack(stranger).write_parquet(out / "si_hires.parquet")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["rows"]["si_hires"] += 2
    (out / "manifest.json").write_text(json.dumps(manifest))
    return check_registry(out)


def policies(day: date, budget_yuan: float | None):
    """The catalogue in force, the hiring subsidy's budget cut to ``budget_yuan`` (too small for its demand)."""
    out = []
    for p in load_catalogue().in_force(day):
        if p.id == HIRING and budget_yuan is not None:
            p = replace(p, policy=p.policy.model_copy(update={"budget": budget_yuan}))
        out.append(p)
    return out


def _surrogate(column) -> bool:
    return isinstance(column.type, Integer) and (column.name == "id" or column.name.endswith("_id"))


def written(engine) -> dict[str, list]:
    """Every row of every table, without surrogate integer ids (numbered in the order rows were written); the
    ranking features as the pairs they hold (a partitioned run stores them in one part per partition)."""
    out = {}
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            columns = [c for c in table.c if not _surrogate(c) and c.name != "timings"]  # timings: the clock's
            out[table.name] = sorted(connection.execute(select(*columns)).all(), key=repr)
    out[rank_feature_parts.name] = sorted(map(repr, read_pairs(engine).rows()))  # as text: NaN == NaN
    return out


def table_counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            t.name: connection.execute(select(func.count()).select_from(t)).scalar_one() for t in metadata.sorted_tables
        }


def emptied(engine, before: dict[str, int]) -> None:
    """The tables that were empty before the runs, empty again."""
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            if before[table.name] == 0:
                connection.execute(delete(table))


def runs(engine, checked, partitions: int, budget_yuan: float) -> list:
    plan = PushPlan(scorer=SumScorer(), cap=2, holdout=0.3)
    # A run in partitions checks the registry per partition, from its files.
    registry = checked if partitions == 1 else checked.directory
    return [
        run_matching(
            engine, registry, day, policies(day, budget_yuan), push=plan, partitions=partitions, now=lambda: NOW
        )
        for day in DATES
    ]


def test_run_in_partitions_writes_what_the_whole_run_writes(engine, checked):
    before = table_counts(engine)

    whole = runs(engine, checked, 1, budget_yuan=5_000)
    assert whole[0].budgets[HIRING]["scale"] < 1  # the budget binds: amounts scaled over the whole demand
    assert whole[1].counts["already_granted"] > 0  # the later run reads what the first granted
    assert whole[0].quarantined == 3
    expected = written(engine)
    assert expected["benefit_persons"] and expected["rank_feature_parts"]

    emptied(engine, before)
    parted = runs(engine, checked, 3, budget_yuan=5_000)
    for a, b in zip(whole, parted, strict=True):
        assert (b.run_id, b.counts, b.budgets, b.amount_errors) == (a.run_id, a.counts, a.budgets, a.amount_errors)
        assert b.quarantined == a.quarantined  # each partition checked its own rows: the same rows set aside
    assert written(engine) == expected


def test_run_with_a_partition_count_out_of_range_is_refused_before_it_starts(engine, checked):
    with pytest.raises(ValueError, match="partitions: expected 1 to 4096, found 0"):
        run_matching(engine, checked, DATES[0], policies(DATES[0], None), partitions=0)
    with pytest.raises(ValueError, match="checks the registry per partition: pass its directory"):
        run_matching(engine, checked, DATES[0], policies(DATES[0], None), partitions=2)


def test_cli_run_in_partitions_is_the_same_run_as_the_whole(tmp_path):
    registry = tmp_path / "registry"
    assert huiqi("generate", "--enterprises", "200", "--seed", "8", "--out", str(registry)).returncode == 0
    env = {"HUIQI_DATA_DIR": str(tmp_path / "data")}
    spill = tmp_path / "spill"
    spill.mkdir()
    parted = huiqi(
        "run",
        "--registry",
        str(registry),
        "--as-of",
        "2025-06-30",
        "--partitions",
        "4",
        "--spill",
        str(spill),
        "--json",
        env=env,
    )
    assert parted.returncode == 0, parted.stderr
    assert "(partition 4 of 4)" in parted.stderr  # the progress names the part
    assert not list(spill.iterdir())  # the run's folder went with the run
    whole = huiqi("run", "--registry", str(registry), "--as-of", "2025-06-30", env=env)
    assert whole.returncode == 0 and "already completed earlier: nothing changed" in whole.stderr
    refused = huiqi("run", "--registry", str(registry), "--as-of", "2025-06-30", "--partitions", "0", env=env)
    assert refused.returncode == 2 and "--partitions" in refused.stderr and "Traceback" not in refused.stderr


def test_run_in_partitions_keeps_its_files_in_the_spill_folder_and_removes_them(engine, checked, tmp_path):
    spill, seen = tmp_path / "spill", []
    spill.mkdir()

    def look(stage: str) -> None:  # what the spill folder holds as each stage starts
        seen.append(sorted(str(p.relative_to(spill)) for p in spill.glob("huiqi-run-*/*")))

    day = DATES[0]
    run_matching(engine, checked.directory, day, policies(day, None), partitions=2, spill=spill, progress=look)
    held = {name.split("/", 1)[1] for names in seen for name in names}
    assert "registry" in held and "profiles-0.parquet" in held  # the split registry, the frames between passes
    assert not list(spill.iterdir())


def test_pass_3_on_one_machine_ranks_the_next_partition_while_one_is_written(monkeypatch):
    # write_parts_overlapped: the same results, in partition order, as one partition after another would give;
    # partition k + 1's ranking starts while partition k is being written (one after another, the write below
    # would wait for it in vain); an error in a ranking ends the pass before that partition is written.
    import threading

    from matcher import run_passes

    started = [threading.Event() for _ in range(3)]
    written: list[int] = []

    def rank_part(part, k, scale, earlier):
        started[k].set()
        if part == "failing" and k == 2:
            raise RuntimeError("ranking failed")
        return run_passes.PartRanked(ranked=None, timings={"ranking": float(k)})

    def write_ranked(part, k, ranking):
        if k + 1 < 3:
            assert started[k + 1].wait(10), f"partition {k + 1} was not ranked while partition {k} was written"
        written.append(k)
        return f"model {k}", ranking.timings

    monkeypatch.setattr(run_passes, "rank_part", rank_part)
    monkeypatch.setattr(run_passes, "write_ranked", write_ranked)
    finished: list[int] = []
    out = run_passes.write_parts_overlapped([("p", k, {}, None) for k in range(3)], finished.append)
    assert out == [(f"model {k}", {"ranking": float(k)}) for k in range(3)]
    assert written == [0, 1, 2] and finished == [1, 2, 3]
    for event in started:
        event.clear()
    written.clear()
    with pytest.raises(RuntimeError, match="ranking failed"):
        run_passes.write_parts_overlapped([("failing", k, {}, None) for k in range(3)], finished.append)
    assert written == [0, 1]
