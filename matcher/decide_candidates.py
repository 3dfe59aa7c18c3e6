"""Stage 1 of ``matcher.decide``: every (enterprise, policy) that is eligible, unknown or nearly eligible.

One lazy query over the profiles computes every policy's eligibility, near miss, amount, delivery mode and
unit in a single pass (the bulk back-end's expressions, shared reads), orders the profiles by USCC once, and
keeps each policy's candidates with a filter on that one cached frame: one ``collect`` for the catalogue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date

import polars as pl

from matcher.amounts import MAX_AMOUNT_YUAN
from matcher.evidence import evidence_columns
from matcher.ledger.statuses import DELIVERY_BY_MODE
from matcher.periods import CERTIFICATES, certificate_key, legacy_certificate_key
from policies.compiled import CompiledPolicy
from policies.language.compile import to_polars

__all__ = ["DELIVERY_MODES", "amount_facts", "candidates", "certificate_keys", "uscc_order"]

# The delivery modes, numbered by ``_mode`` (their place here).
DELIVERY_MODES = tuple(DELIVERY_BY_MODE)


def amount_facts(policy: CompiledPolicy) -> frozenset[str]:
    return policy.amount.facts | (policy.count.facts if policy.count else frozenset())


def uscc_order(uscc: pl.Series) -> pl.Series:
    """The rank of each USCC in byte order (ties by position), as ``uscc.rank("ordinal")``, without sorting text.

    A USCC is 18 characters of 0-9 and A-Z: read in base 36, its order as a number is its order as text (digits
    sort before capitals in ASCII), and a 128-bit integer holds it whole. Anything else is ranked as text.
    """
    if uscc.null_count():  # a null has no rank
        return uscc.rank("ordinal").cast(pl.UInt32)
    return _ranks(_by_uscc(uscc)).alias(uscc.name)


def _by_uscc(uscc: pl.Series) -> pl.Series:
    """The positions of ``uscc`` in USCC order (``uscc_order``'s, stable; nulls first): the permutation that
    sorts it."""
    standard = uscc.null_count() == 0 and bool(uscc.str.contains("^[0-9A-Z]{18}$").all())
    key = uscc.str.to_integer(base=36, dtype=pl.UInt128) if standard else uscc
    return key.to_frame("key").select(pl.arg_sort_by("key", maintain_order=True)).to_series()


def _ranks(permutation: pl.Series) -> pl.Series:
    """The rank (from 1) of each position in the order ``permutation`` puts them in: its inverse, plus one."""
    n = permutation.len()
    return (
        pl.Series("rank", [], pl.UInt32)
        .extend_constant(0, n)
        .scatter(permutation, pl.int_range(1, n + 1, dtype=pl.UInt32, eager=True))
    )


def candidates(
    profiles: pl.DataFrame,
    policies: Sequence[CompiledPolicy],
    as_of: date,
    margin: float,
    *,
    evidence: bool = True,
) -> tuple[pl.DataFrame, Future[pl.DataFrame] | None]:
    """One row per (enterprise, policy) that is eligible, unknown or nearly eligible; and, when ``evidence``, the
    ``matcher.evidence.evidence_columns`` of the same rows, computed in the background (encoding the facts is
    the costliest step of ``decide``: the caller's next steps run meanwhile).

    ``_row`` is the enterprise's row in ``profiles``: rare evidence is gathered by it, not joined. Rows come
    policy by policy (by id), by USCC within a policy: the order decisions are written in, which keeps inserts
    into the (uscc, …) unique index local. ``_policy`` numbers the policies in that order, ``_mode`` the delivery
    modes (``DELIVERY_MODES``).
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
    # One chunk per column: gathering from a frame read in pieces (a Parquet file's row groups) costs many times more.
    wide = profiles.lazy().with_row_index("_row").select(columns).collect().rechunk()
    by_uscc = _by_uscc(wide["uscc"])
    # The USCCs in their order, read once at random: each policy's candidates, by USCC, then read them in order.
    usccs = wide["uscc"].gather(by_uscc)
    wide = wide.drop("uscc").with_columns(_order=_ranks(by_uscc))
    # The facts read, beside (not copied into) the computed columns.
    read = sorted(set().union(*(p.facts for p in ordered)) - set(wide.columns))
    with_facts = pl.concat([wide, profiles.select(read)], how="horizontal") if evidence else wide
    parts, evidence_parts = [], []
    modes = {mode: code for code, mode in enumerate(DELIVERY_MODES)}
    for i, p in enumerate(ordered):
        amount, eligible, near = (pl.col(f"{p.id}:{c}") for c in ("amount", "eligible", "near"))
        # An amount that is not a sane number of yuan, or that is unknown although every fact it reads is
        # known (x / 0), is the rule's mistake: reported to the officer, never turned into a decision.
        insane = ~amount.is_finite() | (amount < 0) | (amount > MAX_AMOUNT_YUAN)
        error = (amount.is_not_null() & insane).fill_null(False) | (
            eligible.fill_null(False) & amount.is_null() & pl.col(f"{p.id}:amount_known")
        )
        kept = eligible.is_null() | eligible | near.fill_null(False)
        parts.append(
            wide.lazy()
            .filter(kept)
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
                (
                    pl.col(f"{p.id}:mode").replace_strict(modes, return_dtype=pl.UInt8)
                    if len(p.delivery_rules) > 1
                    else pl.lit(modes[p.policy.delivery_default], pl.UInt8)
                ).alias("_mode"),
                (pl.col(f"{p.id}:unit") if p.policy.benefit.persons else pl.lit(None, pl.Float64)).alias("unit"),
            )
        )
        # The same rows, their evidence encoded in profile order (the facts are read in order) then put in theirs.
        evidence_parts.append(
            with_facts.lazy()
            .filter(kept)
            .with_columns(evidence_columns(p, i))
            .sort("_order")
            .select("facts", "_unknown")
        )
    if not evidence:
        return pl.concat(parts).collect(), None
    found = _in_background(lambda: pl.concat(evidence_parts).collect().rechunk())  # gathered from by row
    return pl.concat(parts).collect(), found


def _in_background(work: Callable[[], pl.DataFrame]) -> Future[pl.DataFrame]:
    """``work`` in a thread of its own: polars leaves Python's lock while it computes, so the caller goes on."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="huiqi-decide")
    try:
        return pool.submit(work)
    finally:
        pool.shutdown(wait=False)  # the thread ends once the work is done


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
