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

from features.standards.uscc import as_sort_key, ranks, uscc_arg_sort, uscc_sort_key
from matcher.amounts import MAX_AMOUNT_YUAN
from matcher.evidence import evidence_columns
from matcher.ledger.statuses import DELIVERY_BY_MODE
from matcher.periods import CERTIFICATES, certificate_key, legacy_certificate_key
from policies.compiled import CompiledPolicy
from policies.language.compile import to_polars

__all__ = ["DELIVERY_MODES", "amount_facts", "candidates", "certificate_keys"]

# The delivery modes, numbered by ``_mode`` (their place here).
DELIVERY_MODES = tuple(DELIVERY_BY_MODE)


def amount_facts(policy: CompiledPolicy) -> frozenset[str]:
    return policy.amount.facts | (policy.count.facts if policy.count else frozenset())


def candidates(
    profiles: pl.DataFrame,
    policies: Sequence[CompiledPolicy],
    as_of: date,
    margin: float,
    *,
    granted: pl.DataFrame | None = None,
    evidence: bool = True,
) -> tuple[pl.DataFrame, pl.DataFrame, Future[pl.DataFrame] | None]:
    """One row per (enterprise, policy) that is eligible, unknown or nearly eligible, less those other runs
    ``granted`` (uscc, policy_id); those, apart, with the same columns; and, when ``evidence``, the
    ``matcher.evidence.evidence_columns`` of the rows not granted, computed in the background (encoding the facts
    is the costliest step of ``decide``: the caller's next steps run meanwhile), policy by policy in profile
    order; ``_cand`` is each candidate's row there. Splitting the granted off in the query that keeps the
    candidates spares a pass that would copy every candidate.

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
    key = uscc_sort_key(wide["uscc"])
    by_uscc = uscc_arg_sort(wide["uscc"], key)
    # The USCCs in their order, read once at random: each policy's candidates, by USCC, then read them in order.
    usccs = wide["uscc"].gather(by_uscc)
    granted_rows = _granted_rows(key.gather(by_uscc), by_uscc, granted)
    wide = wide.drop("uscc").with_columns(_order=ranks(by_uscc), **granted_rows)
    # The facts read, beside (not copied into) the computed columns.
    read = sorted(set().union(*(p.facts for p in ordered)) - set(wide.columns))
    with_facts = pl.concat([wide, profiles.select(read)], how="horizontal") if evidence else wide
    parts, granted_parts, evidence_parts = [], [], []
    modes = {mode: code for code, mode in enumerate(DELIVERY_MODES)}
    for i, p in enumerate(ordered):
        amount, eligible, near = (pl.col(f"{p.id}:{c}") for c in ("amount", "eligible", "near"))
        # An amount that is not a sane number of yuan, or that is unknown although every fact it reads is
        # known (x / 0), is the rule's mistake: reported to the officer, never turned into a decision.
        insane = ~amount.is_finite() | (amount < 0) | (amount > MAX_AMOUNT_YUAN)
        error = (amount.is_not_null() & insane).fill_null(False) | (
            eligible.fill_null(False) & amount.is_null() & pl.col(f"{p.id}:amount_known")
        )
        candidate = [
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
        ]
        kept = eligible.is_null() | eligible | near.fill_null(False)
        if f"{p.id}:granted" in wide.columns:
            given = kept & pl.col(f"{p.id}:granted")
            granted_parts.append(wide.lazy().filter(given).sort("_order").select(candidate))
            kept = kept & ~pl.col(f"{p.id}:granted")
        # _at: the candidate's place (from 1) among its policy's in profile order, where its evidence is.
        at = kept.cast(pl.UInt32).cum_sum()
        parts.append(wide.lazy().with_columns(_at=at).filter(kept).sort("_order").select(*candidate, "_at"))
        # The same rows' evidence, encoded and left in profile order: putting the text in USCC order would copy
        # every byte of it (the candidates' order is a gather of 16-byte views by _cand instead).
        evidence_parts.append(with_facts.lazy().filter(kept).select(evidence_columns(p, i)))
    found = _in_background(lambda: pl.concat(evidence_parts).collect().rechunk()) if evidence else None
    # The granted are few: collected beside the candidates, from the same reads.
    due, given = pl.collect_all([pl.concat(parts), pl.concat(granted_parts or [parts[0].head(0)])])
    # _cand: the candidate's row of the evidence, whose policies come in the same order with as many rows each.
    starts = due["_policy"].search_sorted(pl.Series(range(len(ordered)), dtype=pl.UInt16), side="left")
    due = due.with_columns(_cand=pl.lit(starts).gather("_policy") + pl.col("_at") - 1).drop("_at")
    return due, given, found


def _granted_rows(keys: pl.Series, by_uscc: pl.Series, granted: pl.DataFrame | None) -> dict[str, pl.Series]:
    """Per policy other runs granted: ``{id}:granted``, whether each profile's row is of an enterprise granted it.
    ``keys`` are the profiles' USCCs' ``uscc_sort_key`` in USCC order (``by_uscc`` the rows they are at): the
    few granted USCCs are found by bisection (of numbers, for standard USCCs), not by hashing a million USCCs."""
    if granted is None or granted.height == 0:
        return {}
    out = {}
    for (policy_id,), rows in granted.group_by("policy_id", maintain_order=True):
        wanted = as_sort_key(rows["uscc"], keys).drop_nulls()
        low, high = keys.search_sorted(wanted, side="left"), keys.search_sorted(wanted, side="right")
        at = pl.select(pl.int_ranges(pl.lit(low), pl.lit(high)).explode().drop_nulls()).to_series()
        none = pl.repeat(False, keys.len(), dtype=pl.Boolean, eager=True)  # scattered into in place
        out[f"{policy_id}:granted"] = none.scatter(by_uscc.gather(at), True)
    return out


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
