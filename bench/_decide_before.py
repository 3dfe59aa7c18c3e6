"""Bench only: ``matcher.decide`` as it was before issue 17, for bench/decide.py to time and compare against.

From profiles to one decision per enterprise and policy: pure frames in, frames out.

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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from features.profiles.catalogue import fact as catalogue_fact
from matcher.amounts import MAX_AMOUNT_YUAN
from matcher.ledger.statuses import DELIVERY_BY_MODE, PAYABLE_DECISIONS, DecisionStatus
from matcher.periods import CERTIFICATES, UNKNOWN_CERTIFICATE, certificate_key, legacy_certificate_key, period_key
from matcher.persons import COUNTED, assign_persons, person_families
from policies.compiled import CompiledPolicy
from policies.conditions import leaves
from policies.evaluate import evaluate_policies
from policies.graph import conflict_pairs
from policies.language import ast
from policies.language.compile import to_polars
from policies.language.evaluate import evaluate
from policies.render import OPERATOR_WORDS, format_value

__all__ = ["DECIDED", "STANDING", "Decided", "decide"]

# Statuses of a decision that reaches the enterprise; anything else is "not matched" and is only counted.
DECIDED = tuple(DecisionStatus)
_PAYABLE = [str(s) for s in PAYABLE_DECISIONS]
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


def _candidates(profiles: pl.DataFrame, policies: Sequence[CompiledPolicy], as_of: date, margin: float) -> pl.DataFrame:
    """One row per (enterprise, policy) that is eligible, unknown or nearly eligible.

    ``_row`` is the enterprise's row in ``profiles``: evidence is gathered by it, not
    joined. Rows come policy by policy, by USCC within a policy: the order decisions
    are written in, which keeps inserts into the (uscc, …) unique index local.
    """

    def all_known(p: CompiledPolicy) -> pl.Expr:
        read = sorted(_amount_facts(p) & set(profiles.columns))
        return pl.all_horizontal([pl.col(f).is_not_null() for f in read]) if read else pl.repeat(True, pl.len())

    conditional = [p for p in policies if len(p.delivery_rules) > 1]
    per_person = [p for p in policies if p.policy.benefit.persons]
    known = profiles.lazy().select(
        *(all_known(p).alias(f"{p.id}:amount_known") for p in policies),
        *(to_polars(p.amount.node, p.kinds, as_of).cast(pl.Float64).alias(f"{p.id}:unit") for p in per_person),
        *(p.delivery_expr(as_of).alias(f"{p.id}:mode") for p in conditional),
    )
    wide = pl.concat(
        [evaluate_policies(profiles, policies, as_of, near_miss_margin=margin), known], how="horizontal"
    ).with_columns(
        _row=pl.int_range(pl.len(), dtype=pl.UInt32),
        _order=pl.col("uscc").rank("ordinal").cast(pl.UInt32),
    )
    parts = []
    for p in sorted(policies, key=lambda p: p.id):
        amount, eligible = pl.col(f"{p.id}:amount"), pl.col(f"{p.id}:eligible")
        # An amount that is not a sane number of yuan, or that is unknown although every fact it reads is
        # known (x / 0), is the rule's mistake: reported to the officer, never turned into a decision.
        insane = ~amount.is_finite() | (amount < 0) | (amount > MAX_AMOUNT_YUAN)
        error = (amount.is_not_null() & insane).fill_null(False) | (
            eligible.fill_null(False) & amount.is_null() & pl.col(f"{p.id}:amount_known")
        )
        parts.append(
            wide.select(
                "uscc",
                "_row",
                "_order",
                pl.lit(p.id).alias("policy_id"),
                eligible.alias("eligible"),
                pl.col(f"{p.id}:near").alias("near"),
                pl.when(error).then(None).otherwise(amount * 100).round(0).cast(pl.Int64).alias("amount_full_fen"),
                amount.alias("amount_yuan"),
                error.alias("amount_error"),
                (pl.col(f"{p.id}:mode") if p in conditional else pl.lit(p.policy.delivery_default)).alias("mode"),
                (pl.col(f"{p.id}:unit") if p in per_person else pl.lit(None, pl.Float64)).alias("unit"),
            )
            .filter(pl.col("eligible").is_null() | pl.col("eligible") | pl.col("near").fill_null(False))
            .sort("_order")
            .drop("_order")
        )
    return pl.concat(parts).collect()


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


def _certificate_keys(
    profiles: pl.DataFrame, policies: Sequence[CompiledPolicy], rows: pl.DataFrame, *, legacy: bool = False
) -> pl.Series:
    """The period key of each of ``rows`` (policy_id, _row: the enterprise's row in ``profiles``) of a
    per-certificate policy: the certificate the enterprise holds now, by its number (null when unknown, or not
    such a policy). ``legacy``: the key benefits of that certificate got before, by the start of its validity."""
    key = pl.lit(None, dtype=pl.String)
    for p in policies:
        if number := p.policy.benefit.certificate:
            fact = CERTIFICATES[number] if legacy else number
            held = pl.lit(profiles[fact].gather(rows["_row"]))
            now = legacy_certificate_key(held) if legacy else certificate_key(held)
            key = pl.when(pl.col("policy_id") == p.id).then(now).otherwise(key)
    return rows.select(key.alias("_cert")).to_series()


def _standing(
    prior: pl.DataFrame, cand: pl.DataFrame, groups: dict[str, str], per_person: frozenset[str] = frozenset()
) -> pl.DataFrame:
    """The rules' view today of each benefit already in the ledger: a benefit that is no candidate any more
    (not eligible, not unknown, not nearly eligible) is not eligible; one whose amount cannot be computed is
    unknown. A top-up is owed its award less the other awards of its group the enterprise was granted; a benefit
    that counts each person once keeps the amount of the persons it counted (later hires are a later benefit)."""
    seen = cand.select("uscc", "policy_id", "eligible", "amount_full_fen", "amount_error", _seen=pl.lit(True))
    joined = prior.select("uscc", "policy_id", "period_key").join(seen, on=["uscc", "policy_id"], how="left")
    eligible = (
        pl.when(pl.col("_seen").is_null())
        .then(pl.lit(False))
        .when(pl.col("amount_error"))
        .then(pl.lit(None, dtype=pl.Boolean))
        .otherwise(pl.col("eligible"))
    )
    if groups:  # the group's highest award now, when already in the ledger, owes it less the others granted
        joined = (
            joined.join(prior.select("uscc", "policy_id", "amount_fen"), on=["uscc", "policy_id"], how="left")
            .with_columns(_group=pl.col("policy_id").replace_strict(groups, default=None, return_dtype=pl.String))
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
        joined = joined.join(
            prior.select("uscc", "policy_id", _ledger_fen="amount_fen"), on=["uscc", "policy_id"], how="left"
        ).with_columns(
            amount_full_fen=pl.when(pl.col("policy_id").is_in(list(per_person)))
            .then(pl.col("_ledger_fen"))
            .otherwise(pl.col("amount_full_fen"))
        )
    return joined.select(
        "uscc",
        "policy_id",
        "period_key",
        eligible.alias("eligible_now"),
        pl.when(eligible).then(pl.col("amount_full_fen")).alias("amount_now_fen"),
    ).cast(STANDING)


def _amount_facts(policy: CompiledPolicy) -> frozenset[str]:
    return policy.amount.facts | (policy.count.facts if policy.count else frozenset())


def _amount_errors(errors: pl.DataFrame, examples: int = 5) -> dict[str, dict]:
    """Per policy: how many enterprises got an amount that cannot be paid, why, and a few of them."""
    out: dict[str, dict] = {}
    for (policy_id,), rows in errors.sort("policy_id", "uscc").group_by("policy_id", maintain_order=True):
        amounts = rows["amount_yuan"]
        reasons = []
        if amounts.is_null().any():
            reasons.append("unknown although every fact it reads is known (a division by zero?)")
        if (amounts.is_not_null() & ~amounts.is_finite()).any():
            reasons.append("not a finite number")
        if (amounts < 0).any():
            reasons.append("negative")
        if (amounts > MAX_AMOUNT_YUAN).any():
            reasons.append(f"over the ceiling of {MAX_AMOUNT_YUAN:,} yuan")
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


def _value_text(value: pl.Expr, unit: str | None) -> pl.Expr:
    if unit == "ratio":
        return pl.format("{}%", (value * 100).round(2))
    return value.round(2).cast(pl.String) if unit in ("yuan", "10k yuan", "years") else value.cast(pl.String)


def _evidence(decisions: pl.DataFrame, profiles: pl.DataFrame, policy: CompiledPolicy, as_of: date) -> pl.DataFrame:
    """Facts read (JSON), facts missing (names) and thresholds missed (zh, en) for one policy's rows."""
    names = sorted(policy.facts)
    mine = decisions.filter(pl.col("policy_id") == policy.id)
    # The decision's own status is set aside: a policy may read the profile fact called `status`.
    rows = profiles.select(pl.col(names).gather(mine["_row"])).with_columns(_decision=mine["status"])

    def listing(parts: list[pl.Expr]) -> pl.Expr:
        return pl.concat_str(parts, separator="; ", ignore_nulls=True) if parts else pl.lit(None, pl.String)

    missing = listing([pl.when(pl.col(n).is_null()).then(pl.lit(n)) for n in names])
    missed: dict[str, list[pl.Expr]] = {"zh": [], "en": []}
    for leaf in leaves(policy.eligibility):
        node = leaf.expr.node
        if not (isinstance(node, ast.Compare) and isinstance(node.left, ast.FactRef) and ast.is_constant(node.right)):
            continue
        f = catalogue_fact(node.left.name)
        fails = ~to_polars(node, policy.kinds, as_of)
        value = _value_text(pl.col(f.name), f.unit)
        threshold = evaluate(node.right, {}, as_of)
        need = {lang: f"{OPERATOR_WORDS[node.op]} {format_value(threshold, f, lang)}" for lang in ("zh", "en")}
        label = leaf.label
        missed["zh"].append(
            pl.when(fails).then(
                pl.format(f"{label.zh if label else leaf.expr.text}（{f.zh}为{{}}，要求{need['zh']}）", value)
            )
        )
        missed["en"].append(
            pl.when(fails).then(
                pl.format(f"{label.en if label else leaf.expr.text} ({f.en} is {{}}, needs {need['en']})", value)
            )
        )
    near = pl.col("_decision") == str(DecisionStatus.NEAR_MISS)
    unknown = pl.col("_decision") == str(DecisionStatus.NEEDS_DATA)
    evidence = rows.select(
        pl.struct(names).struct.json_encode().alias("facts"),
        pl.when(unknown).then(missing).alias("unknown_facts"),
        pl.when(near).then(listing(missed["zh"])).alias("failing_zh"),
        pl.when(near).then(listing(missed["en"])).alias("failing"),
    )
    return pl.concat([mine, evidence], how="horizontal")


def decide(
    profiles: pl.DataFrame,
    policies: Sequence[CompiledPolicy],
    as_of: date,
    *,
    prior: pl.DataFrame | None = None,
    near_miss_margin: float = 0.1,
    persons: pl.DataFrame | None = None,
    counted: pl.DataFrame | None = None,
) -> Decided:
    """Decisions for ``profiles`` as of ``as_of``.

    ``prior`` holds benefits other runs granted (uscc, policy_id, period_key, amount_fen):
    they are not due again, block conflicting benefits, satisfy ``requires`` and use budget.
    ``persons`` (uscc, person_id, hire_date, fact: ``matcher.persons.PERSONS``) are the persons behind the hire
    counts, and ``counted`` (family, person_id) those other runs counted: a policy that counts each person once
    pays only for persons not counted before (without ``persons``, its count fact is taken as it stands).
    """
    if not policies:  # nothing in force: no decision, but the frame keeps its columns for the writers
        counts = dict.fromkeys(map(str, DECIDED), 0) | {"enterprises": profiles.height, "amount_error": 0}
        return Decided(pl.DataFrame(schema=_SCHEMA), counts, {})  # nothing in force: nothing to judge either
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
        now = _certificate_keys(profiles, policies, held)
        before = _certificate_keys(profiles, policies, held, legacy=True)
        held = held.filter((pl.col("period_key") == now) | (pl.col("period_key") == before)).drop("_row")
    prior = pl.concat([given.join(key_frame, on=["policy_id", "period_key"], how="semi"), held])
    counts: dict[str, int] = {}
    groups = _top_up_groups(policies)

    cand = _candidates(profiles, policies, as_of, near_miss_margin).with_columns(
        period_key=pl.col("policy_id").replace_strict(keys, default=None, return_dtype=pl.String)
    )
    if per_certificate:
        cand = (
            cand.with_columns(_cert=_certificate_keys(profiles, policies, cand))
            .with_columns(
                # Eligible, but the certificate that keys the benefit unknown: it cannot be paid; asked for instead.
                eligible=pl.when(pl.col("period_key").is_null() & pl.col("_cert").is_null() & pl.col("eligible"))
                .then(None)
                .otherwise(pl.col("eligible")),
                period_key=pl.coalesce("period_key", "_cert", pl.lit(UNKNOWN_CERTIFICATE)),
            )
            .drop("_cert")
        )
    standing = _standing(prior, cand, groups, frozenset(person_families(policies)))
    errors = cand.filter(pl.col("amount_error"))
    amount_errors = _amount_errors(errors)
    counts["amount_error"] = errors.height
    cand = cand.filter(~pl.col("amount_error")).drop("amount_error", "amount_yuan")
    due = cand.join(prior, on=["uscc", "policy_id"], how="anti") if prior.height else cand
    counts["already_granted"] = cand.height - due.height
    # Eligible with an unknown amount cannot be paid: the missing fact is asked for instead.
    due = due.with_columns(
        eligible=pl.when(pl.col("eligible") & pl.col("amount_full_fen").is_null())
        .then(None)
        .otherwise(pl.col("eligible"))
    )
    is_eligible = pl.col("eligible").fill_null(False)

    # each person once: the count is the persons no other run counted in the policy's family
    families = person_families(policies)
    assigned = pl.DataFrame(
        schema={"uscc": pl.String, "policy_id": pl.String, "family": pl.String, "person_id": pl.String}
    )
    if families and persons is not None:
        mine = pl.col("policy_id").is_in(list(families))
        assigned = assign_persons(
            due.filter(mine & is_eligible).select("uscc", "policy_id"),
            persons,
            counted if counted is not None else pl.DataFrame(schema=COUNTED),
            families,
        )
        fresh = assigned.group_by("uscc", "policy_id").agg(_fresh=pl.len().cast(pl.Int64))
        due = due.join(fresh, on=["uscc", "policy_id"], how="left", maintain_order="left").with_columns(
            _fresh=pl.col("_fresh").fill_null(0)
        )
        before = due.height
        due = (
            due.filter(~(mine & is_eligible & (pl.col("_fresh") == 0)))
            .with_columns(
                amount_full_fen=pl.when(mine & is_eligible)
                .then((pl.col("unit") * pl.col("_fresh") * 100).round(0).cast(pl.Int64))
                .otherwise(pl.col("amount_full_fen"))
            )
            .drop("_fresh")
        )
        counts["already_granted"] += before - due.height

    # supersedes: while the newer policy is eligible, the one it replaces is not paid; and where the newer one
    # covers the enterprise (its region), the replaced one asks for no data and raises no near miss either.
    for p in policies:
        for old in p.policy.relations.supersedes:
            # ... or already granted by an earlier run: the replaced one is not due then either
            newer = pl.concat(
                [
                    due.filter((pl.col("policy_id") == p.id) & is_eligible).select("uscc"),
                    prior.filter(pl.col("policy_id") == p.id).select("uscc"),
                ]
            )
            covered = profiles.filter(p.in_region_expr().fill_null(False)).select("uscc")
            before = due.height
            due = due.filter(
                ~(
                    (pl.col("policy_id") == old)
                    & (
                        pl.col("uscc").is_in(newer["uscc"].implode())
                        | (~is_eligible & pl.col("uscc").is_in(covered["uscc"].implode()))
                    )
                )
            )
            counts["superseded"] = counts.get("superseded", 0) + before - due.height

    # top_up groups: an earlier, lower award of the group blocks nothing higher; the higher pays the difference
    group_prior = _group_prior(prior, groups) if groups else None
    blocking = prior
    if group_prior is not None:
        in_group = pl.col("policy_id").replace_strict(groups, default=None, return_dtype=pl.String)
        higher = (
            due.filter(is_eligible)
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
    losers = _resolve_conflicts(due.filter(is_eligible), blocking, pairs)
    due = due.join(losers, on=["uscc", "policy_id"], how="anti")
    counts["excluded"] = losers.height
    if pairs:  # no point asking for data, or raising a near miss, for a benefit excluded by one already kept
        kept = pl.concat([due.filter(is_eligible).select("uscc", "policy_id"), blocking.select("uscc", "policy_id")])
        conflicts = pl.DataFrame(list(pairs), schema={"policy_id": pl.String, "other": pl.String}, orient="row")
        blocked = (
            due.filter(~is_eligible)
            .join(conflicts, on="policy_id")
            .join(kept.rename({"policy_id": "other"}), on=["uscc", "other"], how="semi")
            .select("uscc", "policy_id")
            .unique()
        )
        due = due.join(blocked, on=["uscc", "policy_id"], how="anti")
        counts["excluded"] += blocked.height

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

    top_ups = pl.DataFrame(schema=TOP_UPS)
    if group_prior is not None:  # the kept higher award owes what the earlier one did not pay
        in_group = pl.col("policy_id").replace_strict(groups, default=None, return_dtype=pl.String)
        rising = (
            due.filter(is_eligible)
            .with_columns(group=in_group)
            .join(group_prior, on=["uscc", "group"])
            .filter(pl.col("amount_full_fen") > pl.col("over_fen"))
        )
        top_ups = rising.select(*TOP_UPS)
        due = (
            due.join(
                top_ups.select("uscc", "policy_id", "over_fen"),
                on=["uscc", "policy_id"],
                how="left",
                maintain_order="left",
            )
            .with_columns(amount_full_fen=pl.col("amount_full_fen") - pl.col("over_fen").fill_null(0))
            .drop("over_fen")
        )
        counts["top_up"] = top_ups.height

    policy_id = pl.col("policy_id")
    decided = due.with_columns(
        policy_version=policy_id.replace_strict({p.id: p.version for p in policies}, return_dtype=pl.Int32),
        status=pl.when(pl.col("eligible"))
        .then(pl.col("mode").replace_strict({m: str(s) for m, s in DELIVERY_BY_MODE.items()}, return_dtype=pl.String))
        .when(pl.col("eligible").is_null())
        .then(pl.lit(str(DecisionStatus.NEEDS_DATA)))
        .otherwise(pl.lit(str(DecisionStatus.NEAR_MISS))),
    )

    budgets: dict[str, dict] = {}
    scale: dict[str, float] = {}
    for p in policies:
        if p.policy.budget is None:
            continue
        budget = round(p.policy.budget * 100)
        spent = int(
            (given if p.policy.benefit.certificate else prior).filter(pl.col("policy_id") == p.id)["amount_fen"].sum()
            or 0
        )
        demanded = int(
            decided.filter((pl.col("policy_id") == p.id) & pl.col("status").is_in(_PAYABLE))["amount_full_fen"].sum()
            or 0
        )
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
    factor = pl.col("policy_id").replace_strict(scale, default=1.0, return_dtype=pl.Float64)
    decided = decided.with_columns(
        amount_fen=pl.when(pl.col("status").is_in(_PAYABLE) & (factor < 1.0))
        .then((pl.col("amount_full_fen").cast(pl.Float64) * factor).floor().cast(pl.Int64))
        .otherwise(pl.col("amount_full_fen"))
    )

    parts = [_evidence(decided, profiles, p, as_of) for p in sorted(policies, key=lambda p: p.id)]
    decisions = pl.concat(parts).select(*_SCHEMA)
    for status in DECIDED:
        counts[str(status)] = int((decisions["status"] == status).sum())
    counts["enterprises"] = profiles.height
    counted_by = (
        assigned.join(
            decisions.filter(pl.col("status").is_in(_PAYABLE)).select("uscc", "policy_id", "period_key"),
            on=["uscc", "policy_id"],
        )
        .select(*COUNTED_BY)
        .sort("family", "person_id")
    )
    return Decided(decisions, counts, budgets, amount_errors, standing, top_ups, counted_by)
