"""The Alembic migrations build exactly the tables the code declares."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from matcher.db import metadata


def test_migrations_match_the_models(engine):
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    # Comments are not compared on SQLite; anything else missing or extra is a migration to write.
    assert [d for d in diff if not (isinstance(d, tuple) and d[0].startswith("modify_comment"))] == []


def test_migration_0022_turns_rank_feature_rows_into_parquet_pieces_and_back(database_url):
    """Upgrade → downgrade → upgrade: the ranker's rows of two runs become part 0's pieces (features as typed
    columns, nulls and scores kept), the downgrade gives the same rows back, and the upgrade again the same pieces."""
    import polars as pl
    from alembic import command
    from polars.testing import assert_frame_equal
    from sqlalchemy import MetaData, Table, inspect, select

    from matcher.db import make_engine, upgrade
    from matcher.db.engine import alembic_config
    from matcher.ranking.features import FEATURES
    from matcher.ranking.parts import read_pairs

    engine = make_engine(database_url)
    upgrade(engine, "0021")
    text = [",".join(["1.0", "0.5", "", "NaN", "-2.25", *["3.0"] * (len(FEATURES) - 5)]), ",".join(["2.0"] * 25)]
    old = pl.DataFrame(
        {
            "uscc": ["91000000000000000B", "91000000000000000A", "91000000000000000A"],
            "policy_id": ["p1", "p2", "p1"],
            "run_id": ["r" * 32, "r" * 32, "s" * 32],
            "feature_set": ["v1"] * 3,
            "features": [text[0], text[1], text[0]],
            "score": [0.25, None, -1.5],
            "position": [1, 2, 1],
            "wave": [0, 1, 0],
            "holdout": [False, True, False],
        }
    )
    with engine.begin() as connection:
        table = Table("rank_features", MetaData(), autoload_with=connection)
        connection.execute(table.insert(), old.to_dicts())

    def rows() -> pl.DataFrame:
        with engine.connect() as connection:
            table = Table("rank_features", MetaData(), autoload_with=connection)
            found = connection.execute(select(table)).all()
        return pl.DataFrame(found, schema=old.schema, orient="row").sort("run_id", "uscc", "policy_id")

    def pieces() -> pl.DataFrame:
        return read_pairs(engine).sort("run_id", "uscc", "policy_id")

    upgrade(engine, "0022")
    assert "rank_features" not in inspect(engine).get_table_names()
    first = pieces()
    assert first.height == 3 and first["run_id"].to_list() == ["r" * 32, "r" * 32, "s" * 32]
    a = first.row(1, named=True)  # run r, enterprise B, policy p1
    assert (a["policy_category"], a["policy_level"], a["delivery"]) == (1.0, 0.5, None)
    assert a["period"] != a["period"] and a["status"] == -2.25 and a["past_same_policy"] == 3.0  # NaN kept
    assert first["score"].to_list() == [None, 0.25, -1.5] and first["holdout"].to_list() == [True, False, False]

    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0021")
    assert "rank_feature_parts" not in inspect(engine).get_table_names()
    assert_frame_equal(rows(), old.sort("run_id", "uscc", "policy_id"))

    upgrade(engine, "0022")
    assert_frame_equal(pieces(), first)
    engine.dispose()
