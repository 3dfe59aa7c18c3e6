"""From profiles to one decision per enterprise and policy: pure frames in, frames out.

Stages, each vectorised over the whole population (loops run over policies
or ranks, never over enterprises):
1. eligibility and amount of every in-force policy (the rules' bulk back-end),
   and eligibility with thresholds eased by ``near_miss_margin`` (near misses);
2. what other runs already granted in the same entitlement period (or for the
   same certificate) is not due again;
3. the policy graph: ``supersedes`` drops the replaced policy (and its other
   notices for the enterprises the newer one covers), mutually exclusive
   benefits keep the highest amount (ties: the lower policy id; in a group with
   ``top_up`` a later higher award pays the difference), ``requires`` is met
   only by an eligible or already granted required policy;
   the delivery mode of each eligible benefit (fixed, or by condition);
4. budgets: when the amounts due exceed what is left of a policy's budget for
   the period, every amount is scaled pro rata (rounded down to the fen);
5. the evidence of each decision: the facts the policy read, the facts to ask
   for, the conditions missed with their gap.

Stage 1 is ``matcher.decide_candidates`` (one query), stage 5 ``matcher.evidence`` (the facts encoded beside
stage 1, in the background while stages 2–4 run; ``_cand`` takes each decision back to them). Statuses are numbers
(``_status``) until they are written. The rows stay grouped by
policy (``_policy``, in the order of ids) from the candidates to the evidence, so a step that concerns a few
policies (persons, supersedes, conflicts, top-ups) reads and rewrites their slices only (``_within``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise

import polars as pl

from matcher.amounts import MAX_AMOUNT_YUAN
from matcher.decide_candidates import DELIVERY_MODES, candidates, certificate_keys
from matcher.evidence import evidence
from matcher.ledger.statuses import DELIVERY_BY_MODE, PAYABLE_DECISIONS, DecisionStatus
from matcher.periods import UNKNOWN_CERTIFICATE, period_key
from matcher.persons import COUNTED, assign_persons, person_families
from policies.compiled import CompiledPolicy
from policies.graph import conflict_pairs

__all__ = [
    "AMOUNT_ERROR_REASONS",
    "DECIDED",
    "STANDING",
    "Decided",
    "Demand",
    "budget_scales",
    "decide",
    "person_pairs",
    "rescale",
]

# Statuses of a decision that reaches the enterprise; anything else is "not matched" and is only counted.
DECIDED = tuple(DecisionStatus)
_PAYABLE = [str(s) for s in PAYABLE_DECISIONS]
# The status of each ``_status``: a delivery mode's (numbered as ``_mode``), then needs data, near miss.
_STATUSES = (*(DELIVERY_BY_MODE[m] for m in DELIVERY_MODES), DecisionStatus.NEEDS_DATA, DecisionStatus.NEAR_MISS)
_STATUS_TEXT = pl.lit(pl.Series([str(s) for s in _STATUSES], dtype=pl.String))
_PAYABLE_CODES = pl.Series([c for c, s in enumerate(_STATUSES) if s in PAYABLE_DECISIONS], dtype=pl.UInt8).implode()
# Why an amount cannot be paid, in the order a policy's reasons are listed.
AMOUNT_ERROR_REASONS = (
    "unknown although every fact it reads is known (a division by zero?)",
    "not a finite number",
    "negative",
    f"over the ceiling of {MAX_AMOUNT_YUAN:,} yuan",
)
_SCHEMA = {
    "uscc": pl.String,
    "policy_id": pl.String,
    "policy_version": pl.Int32,
    "period_key": pl.String,
    "status": pl.String,
    "amount_fen": pl.Int64,
    "amount_full_fen": pl.Int64,
    "facts": pl.String,
    "unknown_facts": pl.String,
    "failing": pl.String,
    "failing_zh": pl.String,
}


@dataclass
class Decided:
    decisions: pl.DataFrame  # one row per (uscc, policy_id) that reaches the enterprise
    counts: dict[str, int] = field(default_factory=dict)  # also the ones that do not
    budgets: dict[str, dict] = field(default_factory=dict)
    # Per policy: enterprises whose amount cannot be paid (negative, not finite, absurd, x / 0). The rule's
    # mistake, shown to officers (run summary, impact); those enterprises get no decision until it is fixed.
    amount_errors: dict[str, dict] = field(default_factory=dict)
    # Per benefit other runs put in the ledger for this run's periods: what the rules say of it now
    # (eligible_now true / false / null = unknown, amount_now_fen before budget scaling) — matcher/ledger/review.
    standing: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=STANDING))
    # Benefits that top up an earlier, lower award of the same exclusive group (uscc, policy_id, period_key,
    # over_policy_id, over_fen): their amount is the difference; the ledger's journal says so.
    top_ups: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=TOP_UPS))
    # The persons each payable per-person benefit counts (family, person_id, uscc, policy_id, period_key): once
    # recorded, no later run counts them again in that family.
    persons: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=COUNTED_BY))
    # What the budgets were judged on, summed per policy: added up over partitions for a partitioned run.
    demand: Demand = field(default_factory=lambda: Demand({}, {}, {}))


@dataclass(frozen=True)
class Demand:
    """Per policy, in fen: the payable amounts due before any budget scaling, what other runs spent in this
    run's periods, and under any key (per certificate). Each is a sum over enterprises, so the demand of a
    population is the sum of its partitions' (the budgets' global step)."""

    demanded: dict[str, int]
    spent_now: dict[str, int]
    spent_any: dict[str, int]

    def __add__(self, other: Demand) -> Demand:
        def add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
            return {k: a.get(k, 0) + b.get(k, 0) for k in sorted(a.keys() | b.keys())}

        return Demand(
            add(self.demanded, other.demanded),
            add(self.spent_now, other.spent_now),
            add(self.spent_any, other.spent_any),
        )


STANDING = {
    "uscc": pl.String,
    "policy_id": pl.String,
    "period_key": pl.String,
    "eligible_now": pl.Boolean,
    "amount_now_fen": pl.Int64,
}
TOP_UPS = {
    "uscc": pl.String,
    "policy_id": pl.String,
    "period_key": pl.String,
    "over_policy_id": pl.String,
    "over_fen": pl.Int64,
}
_PRIOR = {"uscc": pl.String, "policy_id": pl.String, "period_key": pl.String, "amount_fen": pl.Int64}
_PRIOR_KEYS = {"policy_id": pl.String, "period_key": pl.String}
COUNTED_BY = {
    "family": pl.String,
    "person_id": pl.String,
    "uscc": pl.String,
    "policy_id": pl.String,
    "period_key": pl.String,
}


def _top_up_groups(policies: Sequence[CompiledPolicy]) -> dict[str, str]:
    """Policy id → its exclusive group, for the groups whose members say ``top_up``."""
    return {
        p.id: str(p.policy.relations.exclusive_group)
        for p in policies
        if p.policy.relations.top_up and p.policy.relations.exclusive_group
    }


def _group_prior(prior: pl.DataFrame, groups: dict[str, str]) -> pl.DataFrame:
    """Per enterprise and top-up group: the highest award other runs granted (over_fen) and its policy."""
    return (
        prior.filter(pl.col("policy_id").is_in(list(groups)))
        .with_columns(group=pl.col("policy_id").replace_strict(groups, return_dtype=pl.String))
        .sort("amount_fen", "policy_id", descending=[True, False])
        .group_by("uscc", "group", maintain_order=True)
        .agg(over_fen=pl.col("amount_fen").first(), over_policy_id=pl.col("policy_id").first())
    )


def _standing(
    prior: pl.DataFrame, cand: pl.DataFrame, groups: dict[str, str], per_person: frozenset[str] = frozenset()
) -> pl.DataFrame:
    """The rules' view today of each benefit already in the ledger: a benefit that is no candidate any more
    (not eligible, not unknown, not nearly eligible) is not eligible; one whose amount cannot be computed is
    unknown. A top-up is owed its award less the other awards of its group the enterprise was granted; a benefit
    that counts each person once keeps the amount of the persons it counted (later hires are a later benefit)."""
    if prior.height == 0:  # nothing in the ledger to judge
        return pl.DataFrame(schema=STANDING)
    # One join: on two text keys each costs about 12 ms for 67,000 benefits. A candidate is one enterprise's of one
    # policy, so a benefit in the ledger meets one row at most, and keeps its own amount beside it.
    seen = cand.select("uscc", "policy_id", "eligible", "amount_full_fen", "amount_error", _seen=pl.lit(True))
    joined = prior.select("uscc", "policy_id", "period_key", "amount_fen").join(
        seen, on=["uscc", "policy_id"], how="left"
    )
    eligible = (
        pl.when(pl.col("_seen").is_null())
        .then(pl.lit(False))
        .when(pl.col("amount_error"))
        .then(pl.lit(None, dtype=pl.Boolean))
        .otherwise(pl.col("eligible"))
    )
    if groups:  # the group's highest award now, when already in the ledger, owes it less the others granted
        joined = (
            joined.with_columns(_group=pl.col("policy_id").replace_strict(groups, default=None, return_dtype=pl.String))
            .with_columns(
                _top=pl.struct(-pl.col("amount_full_fen").fill_null(0), "policy_id")
                .rank("ordinal")
                .over("uscc", "_group")
                == 1,
                _others=pl.col("amount_fen").sum().over("uscc", "_group") - pl.col("amount_fen"),
            )
            .with_columns(
                amount_full_fen=pl.when(pl.col("_group").is_not_null() & pl.col("_top"))
                .then(pl.col("amount_full_fen") - pl.col("_others"))
                .otherwise(pl.col("amount_full_fen"))
            )
        )
    if per_person:
        joined = joined.with_columns(
            amount_full_fen=pl.when(pl.col("policy_id").is_in(list(per_person)))
            .then(pl.col("amount_fen"))
            .otherwise(pl.col("amount_full_fen"))
        )
    return joined.select(
        "uscc",
        "policy_id",
        "period_key",
        eligible.alias("eligible_now"),
        pl.when(eligible).then(pl.col("amount_full_fen")).alias("amount_now_fen"),
    ).cast(STANDING)


def _amount_errors(errors: pl.DataFrame, examples: int = 5) -> dict[str, dict]:
    """Per policy: how many enterprises got an amount that cannot be paid, why, and a few of them."""
    out: dict[str, dict] = {}
    for (policy_id,), rows in errors.sort("policy_id", "uscc").group_by("policy_id", maintain_order=True):
        amounts = rows["amount_yuan"]
        found = (
            amounts.is_null().any(),
            (amounts.is_not_null() & ~amounts.is_finite()).any(),
            (amounts < 0).any(),
            (amounts > MAX_AMOUNT_YUAN).any(),
        )
        reasons = [reason for reason, there in zip(AMOUNT_ERROR_REASONS, found, strict=True) if there]
        out[str(policy_id)] = {
            "enterprises": rows.height,
            "reasons": reasons,
            "examples": [
                {"uscc": u, "amount_yuan": None if a is None or a != a or abs(a) == float("inf") else a}
                for u, a in rows.select("uscc", "amount_yuan").head(examples).iter_rows()
            ],
        }
    return out


def _resolve_conflicts(eligible: pl.DataFrame, prior: pl.DataFrame, pairs: set[tuple[str, str]]) -> pl.DataFrame:
    """Among mutually exclusive eligible benefits keep the highest amount; ties go to the lower policy id.

    Greedy by rank within each enterprise: the candidate ranked r is kept unless a
    conflicting benefit is already kept (ranked higher, or granted by an earlier run).
    Returns the (uscc, policy_id) pairs that lose.
    """
    if not pairs or eligible.height == 0:
        return eligible.select("uscc", "policy_id").head(0)
    conflicts = pl.DataFrame(list(pairs), schema={"policy_id": pl.String, "other": pl.String}, orient="row")
    involved = eligible.join(conflicts.select("policy_id").unique(), on="policy_id", how="semi")
    ranked = involved.with_columns(
        rank=pl.struct(-pl.col("amount_full_fen"), "policy_id").rank("ordinal").over("uscc").cast(pl.Int32)
    )
    kept = prior.select("uscc", "policy_id")
    losers = []
    for r in range(1, (ranked["rank"].max() or 0) + 1):
        at = ranked.filter(pl.col("rank") == r).select("uscc", "policy_id")
        blocked = at.join(conflicts, on="policy_id").join(
            kept.rename({"policy_id": "other"}), on=["uscc", "other"], how="semi"
        )
        blocked = blocked.select("uscc", "policy_id").unique()
        losers.append(blocked)
        kept = pl.concat([kept, at.join(blocked, on=["uscc", "policy_id"], how="anti")])
    # No exclusive benefit eligible at all (an early as-of date): nobody loses.
    return pl.concat(losers) if losers else eligible.select("uscc", "policy_id").head(0)


def _within(
    frame: pl.DataFrame, chosen: Collection[int], change: Callable[[pl.DataFrame], pl.DataFrame]
) -> pl.DataFrame:
    """``frame`` (rows grouped by ``_policy``, ascending) with ``change`` made to the rows of the ``chosen``
    policies only: the other policies' rows are neither read nor copied. ``change`` keeps the rows' order."""
    frame = _grouped(frame)
    spans = _spans(frame)
    picked = [i for i in spans if i in chosen]
    if not picked:
        return frame
    changed = _grouped(change(pl.concat([frame.slice(*spans[i]) for i in picked])))
    now = _spans(changed)
    pieces = [
        changed.slice(*now[i]) if i in chosen else frame.slice(*spans[i]) for i in spans if i in now or i not in chosen
    ]
    return pl.concat(pieces) if pieces else frame.head(0)


def _rows_of(frame: pl.DataFrame, chosen: Collection[int]) -> pl.DataFrame:
    """The rows of the ``chosen`` policies in ``frame`` (grouped by ``_policy``), as slices: nothing else is read."""
    frame = _grouped(frame)
    spans = _spans(frame)
    picked = [frame.slice(*spans[i]) for i in sorted(chosen) if i in spans]
    return pl.concat(picked) if picked else frame.head(0)


def _grouped(frame: pl.DataFrame) -> pl.DataFrame:
    """Joins and filters keep the left order, so rows stay grouped by policy; should one not, regroup (stable)."""
    return frame if frame["_policy"].is_sorted() else frame.sort("_policy", maintain_order=True)


def _spans(frame: pl.DataFrame) -> dict[int, tuple[int, int]]:
    """Policy index → (offset, length) of its rows in ``frame``, grouped by ``_policy`` in ascending order."""
    column = frame["_policy"]
    if column.is_empty():
        return {}
    ids = pl.Series(range(int(column.max()) + 1), dtype=column.dtype)  # by bisection: the rows are not read
    starts = [*column.search_sorted(ids, side="left").to_list(), len(column)]
    return {i: (a, b - a) for i, (a, b) in enumerate(pairwise(starts)) if b > a}


class _Laps:
    """Seconds per stage into ``timings`` (bench/decide.py), when asked for."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings, self.last = timings, time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[stage] = self.timings.get(stage, 0.0) + now - self.last
        self.last = now


def _sums(frame: pl.DataFrame, column: str, index: dict[str, int] | None = None) -> dict[str, int]:
    """Per policy id, the sum of ``column``; by ``_policy`` (its place in ``index``) when given, over the rows
    that are ``_payable`` (summed where they are: a filter first would copy the millions of decisions)."""
    if index is None:
        return {str(k): int(v or 0) for k, v in frame.group_by("policy_id").agg(pl.col(column).sum()).iter_rows()}
    ids, payable = list(index), pl.col("_payable")
    sums = frame.group_by("_policy").agg(pl.col(column).filter(payable).sum(), _any=payable.any())
    return {ids[k]: int(v or 0) for k, v, there in sums.iter_rows() if there}


def budget_scales(policies: Sequence[CompiledPolicy], demand: Demand) -> tuple[dict[str, dict], dict[str, float]]:
    """Per budgeted policy: what the budget, the spending and the demand are (the run's ``budgets``), and the
    factor every payable amount is scaled by when the demand exceeds what is left (pro rata)."""
    budgets: dict[str, dict] = {}
    scale: dict[str, float] = {}
    for p in policies:
        if p.policy.budget is None:
            continue
        budget = round(p.policy.budget * 100)
        # Per certificate, every certificate's benefits spend the budget, not only those of the one held now.
        spent = int((demand.spent_any if p.policy.benefit.certificate else demand.spent_now).get(p.id) or 0)
        demanded = int(demand.demanded.get(p.id) or 0)
        remaining = max(budget - spent, 0)
        factor = 1.0 if demanded <= remaining else remaining / demanded
        scale[p.id] = factor
        budgets[p.id] = {
            "budget_fen": budget,
            "spent_before_fen": spent,
            "demanded_fen": demanded,
            "remaining_fen": remaining,
            "scale": factor,
        }
    return budgets, scale


def rescale(decisions: pl.DataFrame, scale: dict[str, float]) -> pl.DataFrame:
    """``amount_fen`` of each decision: its full amount, scaled (rounded down to the fen) when it is payable and
    its policy is over budget. Recomputed from ``amount_full_fen``, so it may be applied again with other
    factors (a partition's decisions, once the whole population's demand is known)."""
    scaled = {i: f for i, f in scale.items() if f < 1.0}
    return _scaled(decisions, pl.col("policy_id").replace_strict(scaled, default=1.0, return_dtype=pl.Float64), scaled)


def _scaled(decisions: pl.DataFrame, factor: pl.Expr, scaled: dict[str, float]) -> pl.DataFrame:
    """``rescale`` with each row's ``factor`` given."""
    payable = pl.col("_payable") if "_payable" in decisions.columns else pl.col("status").is_in(_PAYABLE)
    if scaled:
        amount_fen = (
            pl.when(payable & (factor < 1.0))
            .then((pl.col("amount_full_fen").cast(pl.Float64) * factor).floor().cast(pl.Int64))
            .otherwise(pl.col("amount_full_fen"))
        )
    else:  # nothing over budget: every amount as due
        amount_fen = pl.col("amount_full_fen")
    return decisions.with_columns(amount_fen=amount_fen)


def person_pairs(
    profiles: pl.DataFrame,
    policies: Sequence[CompiledPolicy],
    as_of: date,
    *,
    prior: pl.DataFrame | None = None,
    near_miss_margin: float = 0.1,
) -> pl.DataFrame:
    """(uscc, policy_id) of the enterprises ``decide`` would share persons out to: eligible for a per-person
    policy and not granted it already. A person may be insured by enterprises of different partitions, so a
    partitioned run gathers these from every partition and shares the persons out once (``assign_persons``)."""
    families = person_families(policies)
    mine = [p for p in policies if p.id in families]
    if not mine:
        return pl.DataFrame(schema={"uscc": pl.String, "policy_id": pl.String})
    due = _front(profiles, mine, as_of, prior, near_miss_margin, _Laps(None), evidence=False).due
    return due.filter(pl.col("eligible").fill_null(False)).select("uscc", "policy_id")


@dataclass
class _Front:
    """Stages 1–2: the candidates, less what other runs already granted."""

    prior: pl.DataFrame  # the ledger's benefits in this run's periods (per certificate: the one held now)
    given: pl.DataFrame  # the ledger's benefits of these policies under any key
    due: pl.DataFrame
    counts: dict[str, int]
    standing: pl.DataFrame
    amount_errors: dict[str, dict]
    evidence: Future[pl.DataFrame] | None  # the candidates' evidence columns, by _cand, once computed


def _per_policy(values: Sequence, dtype: pl.DataType) -> pl.Expr:
    """Each row's value of its policy: ``values`` in the order of policy ids, read by ``_policy``."""
    return pl.lit(pl.Series(values, dtype=dtype)).gather("_policy")


def _front(
    profiles: pl.DataFrame,
    policies: Sequence[CompiledPolicy],
    as_of: date,
    prior: pl.DataFrame | None,
    margin: float,
    lap: _Laps,
    *,
    evidence: bool = True,
    background: list[Future[pl.DataFrame]] | None = None,
) -> _Front:
    """``background`` receives the evidence's future as soon as its work starts (``decide`` waits for it when a
    later step raises)."""
    by_id = {p.id: p for p in policies}
    keys = {p.id: period_key(p.policy.benefit.period, as_of) for p in policies if not p.policy.benefit.certificate}
    key_frame = pl.DataFrame({"policy_id": list(keys), "period_key": list(keys.values())}, schema=_PRIOR_KEYS)
    given = (prior if prior is not None else pl.DataFrame(schema=_PRIOR)).filter(pl.col("policy_id").is_in(list(by_id)))
    # Per certificate, what counts is the certificate the enterprise holds now; the budget, every certificate's.
    per_certificate = [p.id for p in policies if p.policy.benefit.certificate]
    held = given.filter(pl.col("policy_id").is_in(per_certificate))
    if held.height:
        rows = profiles.select("uscc", _row=pl.int_range(pl.len(), dtype=pl.UInt32))
        held = held.join(rows, on="uscc")  # benefits of enterprises no longer profiled have no certificate now
        # A benefit keyed by the start of the certificate's validity (before numbers keyed them) is this one's too.
        now = certificate_keys(profiles, policies, held)
        before = certificate_keys(profiles, policies, held, legacy=True)
        held = held.filter((pl.col("period_key") == now) | (pl.col("period_key") == before)).drop("_row")
    prior = pl.concat([given.join(key_frame, on=["policy_id", "period_key"], how="semi"), held])
    counts: dict[str, int] = {}

    # Other runs' benefits are split off in the query that finds the candidates: not due again.
    granted = prior.select("uscc", "policy_id")
    cand, already, found = candidates(profiles, policies, as_of, margin, granted=granted, evidence=evidence)
    if found is not None and background is not None:
        background.append(found)
    period_keys = _per_policy([keys.get(i) for i in sorted(by_id)], pl.String)
    cand = cand.with_columns(period_key=period_keys)
    already = already.with_columns(period_key=period_keys)
    lap("candidates")
    if per_certificate:
        ids = sorted(by_id)

        def keyed(rows: pl.DataFrame) -> pl.DataFrame:
            return (
                rows.with_columns(_cert=certificate_keys(profiles, policies, rows))
                .with_columns(
                    # Eligible, but the certificate that keys the benefit unknown: it cannot be paid; asked for.
                    eligible=pl.when(pl.col("period_key").is_null() & pl.col("_cert").is_null() & pl.col("eligible"))
                    .then(None)
                    .otherwise(pl.col("eligible")),
                    period_key=pl.coalesce("period_key", "_cert", pl.lit(UNKNOWN_CERTIFICATE)),
                )
                .drop("_cert")
            )

        cand = _within(cand, {ids.index(i) for i in per_certificate}, keyed)
        already = keyed(already)  # a few rows: no policy's left out
    lap("certificates")
    standing = _standing(prior, already, _top_up_groups(policies), frozenset(person_families(policies)))
    lap("standing")
    errors = pl.concat([c.filter("amount_error").select("policy_id", "uscc", "amount_yuan") for c in (cand, already)])
    amount_errors = _amount_errors(errors)
    counts["amount_error"] = errors.height
    counts["already_granted"] = already.height - already["amount_error"].sum()
    if errors.height:
        cand = cand.filter(~pl.col("amount_error"))
    # Eligible with an unknown amount cannot be paid: the missing fact is asked for instead.
    due = cand.drop("amount_error", "amount_yuan").with_columns(
        eligible=pl.when(pl.col("eligible") & pl.col("amount_full_fen").is_null())
        .then(None)
        .otherwise(pl.col("eligible"))
    )
    return _Front(prior, given, due, counts, standing, amount_errors, found)


def decide(
    profiles: pl.DataFrame,
    policies: Sequence[CompiledPolicy],
    as_of: date,
    *,
    prior: pl.DataFrame | None = None,
    near_miss_margin: float = 0.1,
    persons: pl.DataFrame | None = None,
    counted: pl.DataFrame | None = None,
    shared: pl.DataFrame | None = None,
    timings: dict[str, float] | None = None,
) -> Decided:
    """Decisions for ``profiles`` as of ``as_of`` (``_decide``). The evidence is encoded in the background while
    the later stages run: when one of them raises, the call still returns only once that work is over, so it
    never outlives the call (holding memory, or a core, while the caller retries or moves on)."""
    background: list[Future[pl.DataFrame]] = []
    try:
        return _decide(
            profiles,
            policies,
            as_of,
            prior=prior,
            near_miss_margin=near_miss_margin,
            persons=persons,
            counted=counted,
            shared=shared,
            timings=timings,
            background=background,
        )
    except BaseException:
        for future in background:
            future.exception()  # waits; its own error, if any, is not the one to report
        raise


def _decide(
    profiles: pl.DataFrame,
    policies: Sequence[CompiledPolicy],
    as_of: date,
    *,
    prior: pl.DataFrame | None,
    near_miss_margin: float,
    persons: pl.DataFrame | None,
    counted: pl.DataFrame | None,
    shared: pl.DataFrame | None,
    timings: dict[str, float] | None,
    background: list[Future[pl.DataFrame]],
) -> Decided:
    """Decisions for ``profiles`` as of ``as_of``.

    ``prior`` holds benefits other runs granted (uscc, policy_id, period_key, amount_fen):
    they are not due again, block conflicting benefits, satisfy ``requires`` and use budget.
    ``persons`` (uscc, person_id, hire_date, fact: ``matcher.persons.PERSONS``) are the persons behind the hire
    counts, and ``counted`` (family, person_id) those other runs counted: a policy that counts each person once
    pays only for persons not counted before (without ``persons``, its count fact is taken as it stands).
    ``shared`` instead: the persons already shared out over a larger population than ``profiles`` (a partition
    of it: ``person_pairs`` of every partition, then ``assign_persons``), this one's enterprises' share.
    ``timings``, when given, receives the seconds each stage took (candidates, standing, graph, budgets, evidence).
    """
    lap = _Laps(timings)
    if not policies:  # nothing in force: no decision, but the frame keeps its columns for the writers
        counts = dict.fromkeys(map(str, DECIDED), 0) | {"enterprises": profiles.height, "amount_error": 0}
        return Decided(pl.DataFrame(schema=_SCHEMA), counts, {})  # nothing in force: nothing to judge either
    by_id = {p.id: p for p in policies}
    index = {p: i for i, p in enumerate(sorted(by_id))}  # _policy: the policy's place in the order of ids
    groups = _top_up_groups(policies)
    front = _front(profiles, policies, as_of, prior, near_miss_margin, lap, background=background)
    prior, given, due, counts = front.prior, front.given, front.due, front.counts
    standing, amount_errors = front.standing, front.amount_errors
    is_eligible = pl.col("eligible").fill_null(False)

    # each person once: the count is the persons no other run counted in the policy's family
    families = person_families(policies)
    assigned = pl.DataFrame(
        schema={"uscc": pl.String, "policy_id": pl.String, "family": pl.String, "person_id": pl.String}
    )
    if families and (persons is not None or shared is not None):
        assigned = (
            assign_persons(
                _rows_of(due, {index[i] for i in families}).filter(is_eligible).select("uscc", "policy_id"),
                persons,
                counted if counted is not None else pl.DataFrame(schema=COUNTED),
                families,
            )
            if shared is None
            else shared
        )
        fresh = assigned.group_by("uscc", "policy_id").agg(_fresh=pl.len().cast(pl.Int64))

        def count_fresh(rows: pl.DataFrame) -> pl.DataFrame:
            return (
                rows.join(fresh, on=["uscc", "policy_id"], how="left", maintain_order="left")
                .with_columns(_fresh=pl.col("_fresh").fill_null(0))
                .filter(~(is_eligible & (pl.col("_fresh") == 0)))
                .with_columns(
                    amount_full_fen=pl.when(is_eligible)
                    .then((pl.col("unit") * pl.col("_fresh") * 100).round(0).cast(pl.Int64))
                    .otherwise(pl.col("amount_full_fen"))
                )
                .drop("_fresh")
            )

        before = due.height
        due = _within(due, {index[i] for i in families}, count_fresh)
        counts["already_granted"] += before - due.height

    lap("persons")

    # supersedes: while the newer policy is eligible, the one it replaces is not paid; and where the newer one
    # covers the enterprise (its region), the replaced one asks for no data and raises no near miss either.
    for p in policies:
        for old in p.policy.relations.supersedes:
            # ... or already granted by an earlier run: the replaced one is not due then either
            newer = pl.concat(
                [
                    _rows_of(due, {index[p.id]}).filter(is_eligible).select("uscc"),
                    prior.filter(pl.col("policy_id") == p.id).select("uscc"),
                ]
            )["uscc"]
            covered = profiles.select(p.in_region_expr().fill_null(False)).to_series()

            def drop_replaced(
                rows: pl.DataFrame, newer: pl.Series = newer, covered: pl.Series = covered
            ) -> pl.DataFrame:
                return rows.filter(
                    ~(pl.col("uscc").is_in(newer.implode()) | (~is_eligible & covered.gather(rows["_row"])))
                )

            before = due.height
            due = _within(due, {index[old]} if old in index else set(), drop_replaced)
            counts["superseded"] = counts.get("superseded", 0) + before - due.height

    lap("supersedes")
    # top_up groups: an earlier, lower award of the group blocks nothing higher; the higher pays the difference
    group_prior = _group_prior(prior, groups) if groups else None
    blocking = prior
    if group_prior is not None and group_prior.height:
        in_group = pl.col("policy_id").replace_strict(groups, default=None, return_dtype=pl.String)
        higher = (
            _rows_of(due, {index[i] for i in groups})
            .filter(is_eligible)
            .with_columns(group=in_group)
            .join(group_prior, on=["uscc", "group"])
            .filter(pl.col("amount_full_fen") > pl.col("over_fen"))
            .select("uscc", "group")
            .unique()
        )
        blocking = prior.join(
            prior.with_columns(group=in_group)
            .join(higher, on=["uscc", "group"], how="semi")
            .select("uscc", "policy_id"),
            on=["uscc", "policy_id"],
            how="anti",
        )

    pairs = {(a, b) for a, b in conflict_pairs(policies) if a in by_id and b in by_id}
    counts["excluded"] = 0

    def exclude(rows: pl.DataFrame) -> pl.DataFrame:
        """The rows of the policies in a conflict, less those a kept benefit excludes."""
        losers = _resolve_conflicts(rows.filter(is_eligible), blocking, pairs)
        rows = rows.join(losers, on=["uscc", "policy_id"], how="anti")
        counts["excluded"] += losers.height
        # no point asking for data, or raising a near miss, for a benefit excluded by one already kept
        kept = pl.concat([rows.filter(is_eligible).select("uscc", "policy_id"), blocking.select("uscc", "policy_id")])
        conflicts = pl.DataFrame(list(pairs), schema={"policy_id": pl.String, "other": pl.String}, orient="row")
        blocked = (
            rows.filter(~is_eligible)
            .join(conflicts, on="policy_id")
            .join(kept.rename({"policy_id": "other"}), on=["uscc", "other"], how="semi")
            .select("uscc", "policy_id")
            .unique()
        )
        counts["excluded"] += blocked.height
        return rows.join(blocked, on=["uscc", "policy_id"], how="anti")

    # Only the policies in a conflict are read: a benefit excluded by another is of one of them.
    due = _within(due, {index[i] for pair in pairs for i in pair}, exclude)

    lap("conflicts")
    # requires: met only when the required policy is eligible (after the graph) or already granted
    for p in policies:
        for needed in p.policy.relations.requires:
            have = pl.concat(
                [
                    due.filter((pl.col("policy_id") == needed) & is_eligible).select("uscc"),
                    prior.filter(pl.col("policy_id") == needed).select("uscc"),
                ]
            )
            maybe = due.filter((pl.col("policy_id") == needed) & pl.col("eligible").is_null()).select("uscc")
            mine = pl.col("policy_id") == p.id
            has, unsure = pl.col("uscc").is_in(have["uscc"].implode()), pl.col("uscc").is_in(maybe["uscc"].implode())
            before = due.height
            due = due.with_columns(
                eligible=pl.when(mine & is_eligible & ~has & unsure).then(None).otherwise(pl.col("eligible"))
            ).filter(~(mine & is_eligible & ~has & ~unsure))
            counts["unmet_requirement"] = counts.get("unmet_requirement", 0) + before - due.height

    lap("requires")
    top_ups = pl.DataFrame(schema=TOP_UPS)
    if group_prior is not None and group_prior.height:  # the kept higher award owes what the earlier one did not pay
        in_group = pl.col("policy_id").replace_strict(groups, default=None, return_dtype=pl.String)
        rising = (
            _rows_of(due, {index[i] for i in groups})
            .filter(is_eligible)
            .with_columns(group=in_group)
            .join(group_prior, on=["uscc", "group"])
            .filter(pl.col("amount_full_fen") > pl.col("over_fen"))
        )
        top_ups = rising.select(*TOP_UPS)
        due = _within(
            due,
            {index[i] for i in groups},
            lambda rows: (
                rows.join(
                    top_ups.select("uscc", "policy_id", "over_fen"),
                    on=["uscc", "policy_id"],
                    how="left",
                    maintain_order="left",
                )
                .with_columns(amount_full_fen=pl.col("amount_full_fen") - pl.col("over_fen").fill_null(0))
                .drop("over_fen")
            ),
        )
        counts["top_up"] = top_ups.height
    elif group_prior is not None:  # no award of a top-up group in the ledger: nothing to top up
        counts["top_up"] = 0

    # The status as a number first (a delivery mode's, then needs data, near miss): compared, counted and
    # summed as numbers, written as text once.
    code = (
        pl.when(pl.col("eligible"))
        .then(pl.col("_mode"))
        .when(pl.col("eligible").is_null())
        .then(pl.lit(len(DELIVERY_MODES), pl.UInt8))
        .otherwise(pl.lit(len(DELIVERY_MODES) + 1, pl.UInt8))
    )
    decided = due.with_columns(
        policy_version=_per_policy([by_id[i].version for i in index], pl.Int32),
        _status=code,
    ).with_columns(status=_STATUS_TEXT.gather("_status"), _payable=pl.col("_status").is_in(_PAYABLE_CODES))

    lap("top-ups")
    demand = Demand(
        _sums(decided, "amount_full_fen", index),
        _sums(prior, "amount_fen"),
        _sums(given, "amount_fen"),
    )
    budgets, scale = budget_scales(policies, demand)
    scaled = {i: f for i, f in scale.items() if f < 1.0}
    decided = _scaled(decided, _per_policy([scaled.get(i, 1.0) for i in index], pl.Float64), scaled)

    lap("budgets")
    if front.evidence is not None:  # each decision's row of its candidate's evidence (rows kept in order)
        decided = pl.concat(
            [decided, front.evidence.result().select(pl.all().gather(decided["_cand"]))], how="horizontal"
        )
    decisions = evidence(decided, profiles, policies, as_of).select(*_SCHEMA)
    lap("evidence")
    by_status = dict(decided.select(pl.col("_status").value_counts()).unnest("_status").iter_rows())
    for status in DECIDED:
        counts[str(status)] = sum(int(by_status.get(c, 0)) for c, s in enumerate(_STATUSES) if s == status)
    counts["enterprises"] = profiles.height
    counted_by = (
        assigned.join(
            _rows_of(decided, {index[i] for i in families})
            .filter("_payable")
            .select("uscc", "policy_id", "period_key"),
            on=["uscc", "policy_id"],
        )
        .select(*COUNTED_BY)
        .sort("family", "person_id")
    )
    lap("counts")
    return Decided(decisions, counts, budgets, amount_errors, standing, top_ups, counted_by, demand)
