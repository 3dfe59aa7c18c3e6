"""Stage 1 of ``matcher.decide``: every (enterprise, policy) that is eligible, unknown or nearly eligible.

One lazy query over the profiles computes every policy's eligibility, near miss, amount, delivery mode and
unit in a single pass (the bulk back-end's expressions, shared reads), orders the profiles by USCC once, and
keeps each policy's candidates with a filter on that one cached frame: one ``collect`` for the catalogue.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from matcher.amounts import MAX_AMOUNT_YUAN
from matcher.periods import CERTIFICATES, certificate_key, legacy_certificate_key
from policies.compiled import CompiledPolicy
from policies.language.compile import to_polars

__all__ = ["amount_facts", "candidates", "certificate_keys", "uscc_order"]


def amount_facts(policy: CompiledPolicy) -> frozenset[str]:
    return policy.amount.facts | (policy.count.facts if policy.count else frozenset())


def uscc_order(uscc: pl.Series) -> pl.Series:
    """The rank of each USCC in byte order (ties by position), as ``uscc.rank("ordinal")``, without sorting text.

    A USCC is 18 characters of 0-9 and A-Z: read in base 36, its order as a number is its order as text (digits
    sort before capitals in ASCII), and a 128-bit integer holds it whole. Anything else is ranked as text.
    """
    standard = uscc.null_count() == 0 and bool(uscc.str.contains("^[0-9A-Z]{18}$").all())
    key = uscc.str.to_integer(base=36, dtype=pl.UInt128) if standard else uscc
    return key.rank("ordinal").cast(pl.UInt32)


def candidates(profiles: pl.DataFrame, policies: Sequence[CompiledPolicy], as_of: date, margin: float) -> pl.DataFrame:
    """One row per (enterprise, policy) that is eligible, unknown or nearly eligible.

    ``_row`` is the enterprise's row in ``profiles``: evidence is gathered by it, not joined. Rows come policy
    by policy (by id), by USCC within a policy: the order decisions are written in, which keeps inserts into
    the (uscc, …) unique index local. ``_policy`` numbers the policies in that order.
    """
    ordered = sorted(policies, key=lambda p: p.id)
    columns: list[pl.Expr] = [pl.col("uscc"), pl.col("_row")]
    for p in ordered:
        read = sorted(amount_facts(p) & set(profiles.columns))
        columns += [
            p.eligible_expr(as_of).alias(f"{p.id}:eligible"),
            (p.eligible_expr(as_of, relax=margin) if margin else pl.lit(None, pl.Boolean)).alias(f"{p.id}:near"),
            p.amount_expr(as_of).alias(f"{p.id}:amount"),
            (pl.all_horizontal([pl.col(f).is_not_null() for f in read]) if read else pl.lit(True)).alias(
                f"{p.id}:amount_known"
            ),
        ]
        if len(p.delivery_rules) > 1:
            columns.append(p.delivery_expr(as_of).alias(f"{p.id}:mode"))
        if p.policy.benefit.persons:
            columns.append(to_polars(p.amount.node, p.kinds, as_of).cast(pl.Float64).alias(f"{p.id}:unit"))
    wide = profiles.lazy().with_row_index("_row").select(columns).collect()
    order = uscc_order(wide["uscc"])
    # The USCCs in their order, read once at random: each policy's candidates, by USCC, then read them in order.
    usccs = wide["uscc"].gather(order.arg_sort())
    wide = wide.drop("uscc").with_columns(_order=order)
    parts = []
    for i, p in enumerate(ordered):
        amount, eligible, near = (pl.col(f"{p.id}:{c}") for c in ("amount", "eligible", "near"))
        # An amount that is not a sane number of yuan, or that is unknown although every fact it reads is
        # known (x / 0), is the rule's mistake: reported to the officer, never turned into a decision.
        insane = ~amount.is_finite() | (amount < 0) | (amount > MAX_AMOUNT_YUAN)
        error = (amount.is_not_null() & insane).fill_null(False) | (
            eligible.fill_null(False) & amount.is_null() & pl.col(f"{p.id}:amount_known")
        )
        parts.append(
            wide.lazy()
            .filter(eligible.is_null() | eligible | near.fill_null(False))
            .sort("_order")
            .select(
                pl.lit(usccs).gather(pl.col("_order") - 1).alias("uscc"),
                "_row",
                pl.lit(i, pl.UInt16).alias("_policy"),
                pl.lit(p.id).alias("policy_id"),
                eligible.alias("eligible"),
                near.alias("near"),
                pl.when(error).then(None).otherwise(amount * 100).round(0).cast(pl.Int64).alias("amount_full_fen"),
                amount.alias("amount_yuan"),
                error.alias("amount_error"),
                (pl.col(f"{p.id}:mode") if len(p.delivery_rules) > 1 else pl.lit(p.policy.delivery_default)).alias(
                    "mode"
                ),
                (pl.col(f"{p.id}:unit") if p.policy.benefit.persons else pl.lit(None, pl.Float64)).alias("unit"),
            )
        )
    return pl.concat(parts).collect()


def certificate_keys(
    profiles: pl.DataFrame, policies: Sequence[CompiledPolicy], rows: pl.DataFrame, *, legacy: bool = False
) -> pl.Series:
    """The period key of each of ``rows`` (policy_id, _row: the enterprise's row in ``profiles``) of a
    per-certificate policy: the certificate the enterprise holds now, by its number (null when unknown, or not
    such a policy). ``legacy``: the key benefits of that certificate got before, by the start of its validity."""
    key = pl.Series("_cert", [], pl.String).extend_constant(None, rows.height)
    for p in policies:
        if number := p.policy.benefit.certificate:
            at = (rows["policy_id"] == p.id).arg_true()  # only this policy's rows read its certificate
            if not at.len():
                continue
            held = profiles[CERTIFICATES[number] if legacy else number].gather(rows["_row"].gather(at))
            now = legacy_certificate_key(pl.col("held")) if legacy else certificate_key(pl.col("held"))
            key = key.scatter(at, pl.DataFrame({"held": held}).select(now).to_series())
    return key
