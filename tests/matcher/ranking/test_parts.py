"""The ranker's stored pairs as Parquet pieces: exact round trip, exactly-once writes, one-pair lookups."""

import math
from datetime import UTC, date, datetime

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import func, insert, select

from matcher.db.models import rank_feature_parts, runs
from matcher.ranking import parts
from matcher.ranking.features import FEATURES
from matcher.ranking.parts import COLUMNS, forget_pairs, read_pair, read_pairs, write_pieces


def _pairs(n: int, *, seed: int = 0, scored: bool = True) -> pl.DataFrame:
    """``n`` pairs of about n/3 enterprises, features of every kind a run stores: codes, counts, fractions,
    nulls, NaN, infinities and -0.0."""
    rng = np.random.default_rng(seed)
    enterprises = np.array([f"91{i:016d}" for i in rng.choice(10**9, n // 3 + 1, replace=False)])
    uscc = np.repeat(enterprises, 3)[:n]
    frame = pl.DataFrame(
        {
            "uscc": uscc,
            "policy_id": [f"policy-{i % 3}" for i in range(n)],
            **{f: rng.integers(0, 6, n).astype(np.float64) for f in FEATURES},
        }
    ).with_columns(
        log_amount=pl.Series(rng.normal(4, 1, n)),
        amount_share=pl.Series(np.where(rng.random(n) < 0.1, np.nan, rng.random(n))),
        amount_to_revenue=pl.Series(rng.random(n)).set(pl.Series(rng.random(n) < 0.2), None),
        threshold_gap=pl.Series(rng.choice([-0.0, 1.0, -2.5, np.inf], n)),
        candidates=pl.Series(rng.integers(1, 40_000, n).astype(np.float64)),  # past Int8 and Int16
        past_same_policy=pl.lit(None, pl.Float64),
        score=pl.Series(rng.normal(0, 1, n)) if scored else pl.lit(None, pl.Float64),
        position=pl.int_range(pl.len(), dtype=pl.Int32) % 3 + 1,
        wave=pl.lit(0, pl.Int32),
        holdout=pl.Series(rng.random(n) < 0.1),
    )
    if scored:  # a model may return NaN: kept as NaN, not turned into "not scored"
        frame = frame.with_columns(score=pl.when(pl.int_range(pl.len()) == 7).then(float("nan")).otherwise("score"))
    return frame.select(COLUMNS).sample(fraction=1.0, shuffle=True, seed=seed)  # any order in: sorted when stored


def _exact(found: pl.DataFrame, expected: pl.DataFrame) -> None:
    """Every column exact: values, nulls, NaN, and the sign of zero."""
    expected = expected.sort("uscc", "policy_id")
    assert_frame_equal(found, expected, check_exact=True)
    for name in [*FEATURES, "score"]:
        signs = found[name].to_numpy(allow_copy=True)
        assert np.array_equal(np.signbit(signs), np.signbit(expected[name].to_numpy(allow_copy=True)))


def _run(engine, run_id: str, as_of: date, finished: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(runs).values(
                id=run_id,
                as_of=as_of,
                registry_fingerprint="r",
                catalogue_fingerprint="c",
                policy_versions={},
                status="completed",
                started_at=finished,
                finished_at=finished,
            )
        )


def test_pieces_when_read_back_give_every_column_exactly_as_written(engine):
    written = _pairs(7_000)
    assert write_pieces(engine, "a" * 32, written, piece_pairs=3_000) == 3
    found = read_pairs(engine, "a" * 32)
    assert found["run_id"].unique().to_list() == ["a" * 32]
    _exact(found.drop("run_id"), written)
    assert found["score"].is_nan().sum() == 1 and found["amount_to_revenue"].null_count() > 0
    assert found["past_same_policy"].null_count() == found.height
    # fallback order: no score at all is null, not NaN
    unscored = _pairs(500, seed=1, scored=False)
    write_pieces(engine, "b" * 32, unscored)
    assert read_pairs(engine, "b" * 32)["score"].null_count() == 500
    # some columns only, of several runs
    both = read_pairs(engine, ["a" * 32, "b" * 32], ["uscc", "wave"])
    assert both.columns == ["run_id", "uscc", "wave"] and both.height == 7_500


def test_pieces_store_whole_number_features_in_a_narrow_type_and_fractions_as_float64(engine):
    import io

    write_pieces(engine, "a" * 32, _pairs(3_000))
    with engine.connect() as connection:
        data = connection.execute(select(rank_feature_parts.c.parquet)).scalar_one()
    schema = pl.read_parquet_schema(io.BytesIO(data))
    assert schema["status"] == pl.Int8 and schema["candidates"] == pl.Int32
    assert schema["log_amount"] == schema["threshold_gap"] == schema["amount_share"] == pl.Float64


def test_pieces_when_the_run_is_rerun_skip_what_is_stored_and_write_the_rest(engine, monkeypatch):
    written = _pairs(10_000)
    calls = []
    real = parts._insert_missing

    def killed_after_two(engine, row):
        if len(calls) == 2:
            raise KeyboardInterrupt  # the run is killed while storing
        calls.append(row["piece"])
        real(engine, row)

    monkeypatch.setattr(parts, "_insert_missing", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        write_pieces(engine, "a" * 32, written, piece_pairs=2_000)
    monkeypatch.setattr(parts, "_insert_missing", real)
    assert calls == [0, 1]
    # the rerun: same pieces (same split of the same pairs), only the three missing written
    assert write_pieces(engine, "a" * 32, written.sample(fraction=1.0, shuffle=True, seed=3), piece_pairs=2_000) == 3
    assert write_pieces(engine, "a" * 32, written, piece_pairs=2_000) == 0
    with engine.connect() as connection:
        pieces = connection.execute(
            select(rank_feature_parts.c.piece, rank_feature_parts.c.pairs).order_by(rank_feature_parts.c.piece)
        ).all()
    assert [tuple(p) for p in pieces] == [(i, 2_000) for i in range(5)]
    _exact(read_pairs(engine, "a" * 32).drop("run_id"), written)
    # a second part of the same run is its own pieces
    assert write_pieces(engine, "a" * 32, _pairs(100, seed=2), part=1) == 1
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(rank_feature_parts)).scalar_one() == 6


def test_read_pair_finds_pairs_at_piece_and_row_group_boundaries(engine):
    written = _pairs(9_000)
    write_pieces(engine, "a" * 32, written, piece_pairs=4_000)
    _run(engine, "a" * 32, date(2025, 6, 30), datetime(2025, 7, 1, tzinfo=UTC))
    stored = written.sort("uscc", "policy_id")
    # first and last of each piece, around each row group's edge, and the very last pair
    at = sorted({0, 3_999, 4_000, 7_999, 8_000, 8_999, parts.ROW_GROUP - 1, parts.ROW_GROUP, 4_000 + parts.ROW_GROUP})
    for i in at:
        expected = stored.row(i, named=True)
        found = read_pair(engine, expected["uscc"], expected["policy_id"])
        assert found is not None and found.pop("run_id") == "a" * 32
        for name, value in expected.items():
            same = found[name] == value or (isinstance(value, float) and math.isnan(value) and math.isnan(found[name]))
            assert same, (i, name, found[name], value)
        assert all(found[f] is None or type(found[f]) is float for f in FEATURES)  # float64 back, however stored
    assert read_pair(engine, stored["uscc"][0], "no-such-policy") is None
    assert read_pair(engine, "91" + "9" * 16, "policy-0") is None


def test_read_pair_when_a_uscc_only_shares_a_prefix_with_a_stored_one_finds_nothing(engine):
    write_pieces(engine, "a" * 32, _pairs(3_000))
    _run(engine, "a" * 32, date(2025, 6, 30), datetime(2025, 7, 1, tzinfo=UTC))
    uscc = read_pairs(engine, "a" * 32, ["uscc"])["uscc"][1_000]
    assert read_pair(engine, uscc, "policy-0") is not None  # its group is decoded and cached now
    for other in (uscc[:-1], uscc + "0", uscc[:-1] + chr(ord(uscc[-1]) + 1), uscc.lower() + "é"):
        found = read_pair(engine, other, "policy-0")
        assert found is None or found["uscc"] == other, (other, found)  # never another enterprise's row


def test_read_pair_once_its_group_is_decoded_costs_one_query_and_stays_within_the_cache_bound(engine, monkeypatch):
    write_pieces(engine, "a" * 32, _pairs(9_000), piece_pairs=4_000)
    _run(engine, "a" * 32, date(2025, 6, 30), datetime(2025, 7, 1, tzinfo=UTC))
    stored = read_pairs(engine, "a" * 32).drop("run_id")
    first = stored.row(0, named=True)
    monkeypatch.setattr(parts, "_CACHE", parts._Cache(2**30, 2**30))
    read_pair(engine, first["uscc"], first["policy_id"])
    group = parts._CACHE._groups.currsize  # one decoded group of pairs
    cache = parts._Cache(piece_bytes=2**30, group_bytes=group * 5 // 2)  # two at a time
    monkeypatch.setattr(parts, "_CACHE", cache)
    statements, decoded = [], []
    decode = parts._Group.decoded
    monkeypatch.setattr(parts._Group, "decoded", lambda data, at: decoded.append(at) or decode(data, at))

    def rows(statement, params):
        statements.append(statement)
        with engine.connect() as connection:
            return connection.execute(statement, params).all()

    expected = stored.row(4_500, named=True)
    assert read_pair(engine, expected["uscc"], expected["policy_id"], "a" * 32, rows=rows)["score"] == expected["score"]
    statements.clear()
    assert read_pair(engine, expected["uscc"], expected["policy_id"], "a" * 32, rows=rows)["score"] == expected["score"]
    assert len(statements) == 1 and len(decoded) == 1  # the lookup of the pieces that may hold it; the pair from memory
    for i in [*range(0, stored.height, 500)] * 2:  # every group of pairs, twice
        expected = stored.row(i, named=True)
        found = read_pair(engine, expected["uscc"], expected["policy_id"], "a" * 32, rows=rows)
        assert found["uscc"] == expected["uscc"] and found["position"] == expected["position"]
        assert 0 < cache._groups.currsize <= cache._groups.maxsize
    assert len(decoded) > 1 + 5  # 5 groups in all, 2 kept at a time: some decoded again after they were let go


def test_read_pair_takes_the_latest_run_that_ranked_the_pair_or_the_run_asked_for(engine):
    old, new = _pairs(300), _pairs(300).with_columns(position=pl.col("position") + 10)
    write_pieces(engine, "a" * 32, old)
    write_pieces(engine, "b" * 32, new.filter(pl.col("policy_id") != "policy-2"))
    _run(engine, "a" * 32, date(2025, 3, 31), datetime(2025, 4, 1, tzinfo=UTC))
    _run(engine, "b" * 32, date(2025, 6, 30), datetime(2025, 7, 1, tzinfo=UTC))
    uscc = old["uscc"].sort()[0]
    assert read_pair(engine, uscc, "policy-0")["run_id"] == "b" * 32
    assert read_pair(engine, uscc, "policy-0", "a" * 32)["run_id"] == "a" * 32
    assert read_pair(engine, uscc, "policy-2")["run_id"] == "a" * 32  # the later run did not rank it


def test_read_pair_when_partitions_overlap_in_uscc_range_decodes_only_the_pairs_of_the_part_holding_it(
    engine, monkeypatch
):
    for part in range(4):  # hash partitions: each part's enterprises span the whole USCC range
        write_pieces(engine, "a" * 32, _pairs(3_000, seed=part), part=part)
    _run(engine, "a" * 32, date(2025, 6, 30), datetime(2025, 7, 1, tzinfo=UTC))
    monkeypatch.setattr(parts, "_CACHE", parts._Cache(2**30, 2**30))
    decoded = []
    decode = parts._Group.decoded
    monkeypatch.setattr(parts._Group, "decoded", lambda data, at: decoded.append(at) or decode(data, at))
    expected = _pairs(3_000, seed=2).sort("uscc", "policy_id").row(1_500, named=True)
    found = read_pair(engine, expected["uscc"], expected["policy_id"])
    assert found["uscc"] == expected["uscc"] and found["score"] == expected["score"]
    assert len(decoded) == 1  # four pieces cover its USCC; three are passed over without decoding


def test_forget_pairs_rewrites_the_pieces_that_held_them(engine):
    written = _pairs(6_000)
    write_pieces(engine, "a" * 32, written, piece_pairs=2_500)
    _run(engine, "a" * 32, date(2025, 6, 30), datetime(2025, 7, 1, tzinfo=UTC))
    stored = written.sort("uscc", "policy_id")
    gone = stored[[0, 2_500, 5_999]].select("uscc", "policy_id")
    assert read_pair(engine, gone["uscc"][1], gone["policy_id"][1]) is not None  # cached now
    assert forget_pairs(engine, "a" * 32, gone) == 3
    for uscc, policy_id in gone.iter_rows():
        assert read_pair(engine, uscc, policy_id) is None  # not served from the cache either
    _exact(read_pairs(engine, "a" * 32).drop("run_id"), stored.join(gone, on=["uscc", "policy_id"], how="anti"))


def test_write_pieces_when_a_column_is_missing_says_which(engine):
    with pytest.raises(ValueError, match=r"missing \['holdout'\]"):
        write_pieces(engine, "a" * 32, _pairs(10).drop("holdout"))


def test_write_pieces_when_a_pair_comes_twice_names_it(engine):
    pairs = _pairs(10)
    with pytest.raises(ValueError, match=r"expected each \(uscc, policy_id\) pair once, found \[\("):
        write_pieces(engine, "a" * 32, pl.concat([pairs, pairs.head(1)]))


def test_write_pieces_when_the_part_holds_other_pairs_refuses_instead_of_losing_them(engine):
    """Two partitions written under the same part number: the second would be skipped as "already there"."""
    write_pieces(engine, "a" * 32, _pairs(900, seed=1), piece_pairs=400)
    with pytest.raises(ValueError, match=r"part 0: piece 0 is stored with USCCs .* needs its own part number"):
        write_pieces(engine, "a" * 32, _pairs(900, seed=2), piece_pairs=400)
    assert write_pieces(engine, "a" * 32, _pairs(900, seed=2), part=1, piece_pairs=400) == 3
    assert read_pairs(engine, "a" * 32, ["uscc"]).height == 1_800
