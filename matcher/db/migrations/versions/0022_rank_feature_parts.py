"""rank_feature_parts: the ranker's features of a run as Parquet pieces, replacing one rank_features row per pair

Revision ID: 0022
Revises: 0021

A run ranks millions of pairs; a row per pair cost ~15 µs each to write (issue 17). The pairs are now stored
per run and part as zstd Parquet pieces of at most 50,000 pairs (``matcher.ranking.parts``). Existing rows are
converted, one truth: each run's rows become part 0's pieces (sorted by uscc, policy_id), their comma-separated
``features`` text as one float64 column per feature of feature set v1, then ``rank_features`` is dropped. The
downgrade rebuilds ``rank_features`` from the pieces (the features as text again, rounded to 6 decimals as the
old code wrote them).

Self-contained on purpose: the feature names of v1 and the Parquet layout are frozen here, so later changes to
the ranking code cannot change what this migration does.
"""

import io

import polars as pl
import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

PIECE_PAIRS = 50_000
ROW_GROUP = 2_000
# The only feature set rows were ever written with: its names in the order the text holds them.
V1 = (
    "policy_category",
    "policy_level",
    "delivery",
    "period",
    "status",
    "log_amount",
    "amount_share",
    "amount_to_revenue",
    "conditions_met_share",
    "conditions_unknown",
    "threshold_gap",
    "size_class",
    "industry_section",
    "log_employees",
    "log_revenue",
    "age_years",
    "patents_invention",
    "high_tech",
    "candidates",
    "past_notices",
    "past_engaged_share",
    "past_acted",
    "past_declined",
    "past_same_category_acted",
    "past_same_policy",
)
TAIL = ("score", "position", "wave", "holdout")

parts = sa.table(
    "rank_feature_parts",
    sa.column("run_id", sa.String),
    sa.column("part", sa.Integer),
    sa.column("piece", sa.Integer),
    sa.column("first_uscc", sa.String),
    sa.column("last_uscc", sa.String),
    sa.column("feature_set", sa.String),
    sa.column("pairs", sa.Integer),
    sa.column("parquet", sa.LargeBinary),
)
rows = sa.table(
    "rank_features",
    sa.column("uscc", sa.String),
    sa.column("policy_id", sa.String),
    sa.column("run_id", sa.String),
    sa.column("feature_set", sa.String),
    sa.column("features", sa.Text),
    sa.column("score", sa.Float),
    sa.column("position", sa.Integer),
    sa.column("wave", sa.Integer),
    sa.column("holdout", sa.Boolean),
)


def _rank_features_table() -> None:
    """rank_features as migrations 0003 and 0009 left it."""
    op.create_table(
        "rank_features",
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("policy_id", sa.String(length=80), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False, comment="runs.id"),
        sa.Column(
            "feature_set", sa.String(length=16), nullable=False, comment="version of the feature list the values follow"
        ),
        sa.Column(
            "features",
            sa.Text(),
            nullable=False,
            comment="comma-separated values in the feature set's order; empty = null",
        ),
        sa.Column("score", sa.Float(), nullable=True, comment="the model's score; null under the fallback order"),
        sa.Column(
            "position", sa.Integer(), nullable=False, comment="1 = first among the enterprise's notices of the run"
        ),
        sa.Column(
            "wave", sa.Integer(), nullable=False, comment="0 = pushed with the run; n = pushed n × wave_days later"
        ),
        sa.Column(
            "holdout",
            sa.Boolean(),
            nullable=False,
            server_default="0",
            comment="the enterprise was in the run's holdout: its notices follow the fallback order, not the model's",
        ),
        sa.PrimaryKeyConstraint("uscc", "policy_id", "run_id", name=op.f("pk_rank_features")),
    )


def upgrade() -> None:
    op.create_table(
        "rank_feature_parts",
        sa.Column("run_id", sa.String(length=32), nullable=False, comment="runs.id"),
        sa.Column(
            "part", sa.Integer(), nullable=False, comment="the run's partition of enterprises (0: unpartitioned)"
        ),
        sa.Column("piece", sa.Integer(), nullable=False, comment="0, 1, … within the part, in USCC order"),
        sa.Column(
            "first_uscc",
            sa.String(length=18),
            nullable=False,
            comment="the piece's pairs span first_uscc … last_uscc",
        ),
        sa.Column("last_uscc", sa.String(length=18), nullable=False),
        sa.Column(
            "feature_set", sa.String(length=16), nullable=False, comment="version of the feature list the values follow"
        ),
        sa.Column("pairs", sa.Integer(), nullable=False, comment="rows in the piece"),
        sa.Column(
            "parquet",
            sa.LargeBinary(),
            nullable=False,
            comment="zstd Parquet sorted by uscc, policy_id: uscc, policy_id, the features, score, position, wave,"
            " holdout",
        ),
        sa.PrimaryKeyConstraint("run_id", "part", "piece", name=op.f("pk_rank_feature_parts")),
    )
    op.create_index(op.f("ix_rank_feature_parts_run_id_last_uscc"), "rank_feature_parts", ["run_id", "last_uscc"])

    bind = op.get_bind()
    found = bind.execute(sa.select(rows.c.run_id, rows.c.feature_set).distinct()).all()
    other = sorted({f for _, f in found} - {"v1"})
    if other:
        raise RuntimeError(
            f"rank_features holds rows of feature sets {other}: expected only 'v1', the one this migration knows"
            " the names of; add those names to migration 0022 before upgrading"
        )
    schema = {
        "uscc": pl.String,
        "policy_id": pl.String,
        "features": pl.String,
        "score": pl.Float64,
        "position": pl.Int32,
        "wave": pl.Int32,
        "holdout": pl.Boolean,
    }
    for run_id in sorted({r for r, _ in found}):  # one run in memory at a time
        query = sa.select(
            rows.c.uscc, rows.c.policy_id, rows.c.features, rows.c.score, rows.c.position, rows.c.wave, rows.c.holdout
        ).where(rows.c.run_id == run_id)
        text = pl.DataFrame(bind.execute(query).all(), schema=schema, orient="row")
        split = pl.col("features").str.split(",")
        frame = (
            text.with_columns(
                [split.list.get(i, null_on_oob=True).cast(pl.Float64, strict=False).alias(n) for i, n in enumerate(V1)]
            )
            .select("uscc", "policy_id", *V1, *TAIL)
            .sort("uscc", "policy_id")
        )
        for piece, start in enumerate(range(0, frame.height, PIECE_PAIRS)):
            chunk = frame.slice(start, PIECE_PAIRS)
            out = io.BytesIO()
            chunk.write_parquet(out, compression="zstd", statistics=True, row_group_size=ROW_GROUP)
            bind.execute(
                parts.insert().values(
                    run_id=run_id,
                    part=0,
                    piece=piece,
                    first_uscc=chunk["uscc"][0],
                    last_uscc=chunk["uscc"][-1],
                    feature_set="v1",
                    pairs=chunk.height,
                    parquet=out.getvalue(),
                )
            )
    op.drop_table("rank_features")


def downgrade() -> None:
    _rank_features_table()
    bind = op.get_bind()
    keys = bind.execute(
        sa.select(parts.c.run_id, parts.c.part, parts.c.piece).order_by(parts.c.run_id, parts.c.part, parts.c.piece)
    ).all()
    for run_id, part, piece in keys:  # one piece in memory at a time
        feature_set, data = bind.execute(
            sa.select(parts.c.feature_set, parts.c.parquet).where(
                parts.c.run_id == run_id, parts.c.part == part, parts.c.piece == piece
            )
        ).one()
        frame = pl.read_parquet(data)
        features = [c for c in frame.columns if c not in ("uscc", "policy_id", *TAIL)]  # in the set's order
        text = pl.concat_str(
            [pl.col(f).cast(pl.Float64).round(6).cast(pl.String).fill_null("") for f in features], separator=","
        )
        back = frame.select(
            "uscc",
            "policy_id",
            pl.lit(run_id).alias("run_id"),
            pl.lit(feature_set).alias("feature_set"),
            text.alias("features"),
            *TAIL,
        )
        bind.execute(rows.insert(), back.to_dicts())
    op.drop_index(op.f("ix_rank_feature_parts_run_id_last_uscc"), table_name="rank_feature_parts")
    op.drop_table("rank_feature_parts")
