"""Property: the analyser's answers hold on data, for random expressions of the rule grammar.

Whenever it proves a condition can never be true (or never false, never unknown), the compiled bulk
evaluation finds no such profile among random ones; whenever it gives a witness, the one-enterprise
evaluator (what the tracer runs on every leaf) gives the claimed value on it.

The solver computes exactly and the evaluator in float64, so a model can sit on a rounding boundary
(round(1.875, 1) is 1.9 exactly, 1.9000000000000001 in floats). The analyser never shows such a model: it
runs each witness through the evaluator and asks for another (``_confirmed``). So a raw model may disagree
only where the expression has a float rounding step (round(), a division, a decimal) or the model holds a
number no float holds exactly (2020/2099), and the witness the analyser then gives (if any) agrees.
"""

from __future__ import annotations

from fractions import Fraction

import polars as pl
import z3
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from policies.analysis.checks import _confirmed, solve
from policies.analysis.findings import witness_from_model
from policies.analysis.smt import Encoder, Unsupported
from policies.language.compile import to_polars
from policies.language.evaluate import evaluate
from policies.language.parse import parse
from tests.policies.test_agreement import AS_OF, DTYPES, KINDS, booleans, row

_WANTED = {"true": True, "false": False, "unknown": None}


def _sides(text: str):
    enc = Encoder(KINDS)
    enc.constraints.append(enc.as_of == AS_OF.toordinal())
    try:
        truth = enc.truth(parse(text))
    except Unsupported:
        assume(False)
    return enc, {"true": truth.true, "false": truth.false, "unknown": truth.unknown}


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=booleans(), rows=st.lists(row, min_size=1, max_size=30))
def test_analyser_when_it_proves_or_gives_a_witness_agrees_with_bulk_and_tracer(text, rows):
    enc, sides = _sides(text)
    node = parse(text)
    frame = pl.DataFrame(rows, schema={n: DTYPES[k] for n, k in KINDS.items()})
    bulk = frame.with_columns(v=to_polars(node, KINDS, AS_OF))["v"].to_list()
    for side, formula in sides.items():
        outcome, model = solve(enc, formula)
        if outcome == "unsat":
            assert _WANTED[side] not in bulk, f"{text!r}: proved never {side}, but a profile is"
        elif outcome == "sat":
            facts = {k: v for k, v in witness_from_model(model, enc).items() if k != "as_of"}
            if evaluate(node, facts, AS_OF) is not _WANTED[side]:
                assert _float_boundary(text) or _inexact(model, enc), f"{text!r} on {facts}: claimed {side}"

                def holds(w, side=side):
                    return evaluate(node, {k: v for k, v in w.items() if k != "as_of"}, AS_OF) is _WANTED[side]

                _, shown = _confirmed(enc, [formula], holds)
                assert shown is None or holds(shown)


def _inexact(model, enc) -> bool:
    """Whether the model gives a number no float holds exactly (2020/2099): the witness rounds it."""
    for var in enc.values.values():
        value = model.eval(var, model_completion=True)
        if isinstance(value, z3.RatNumRef):
            exact = value.as_fraction()
            if Fraction(float(exact)) != exact:
                return True
        elif isinstance(value, z3.AlgebraicNumRef):
            return True
    return False


def _float_boundary(text: str) -> bool:
    """Whether the expression computes with a float rounding step: round(), a division or a non-integer."""
    return "round(" in text or "/" in text or any(c == "." for c in text)


def test_analyser_on_a_known_contradiction_and_tautology():
    for text, never in [("i1 > 5 and i1 < 3", "true"), ("b1 or not b1", "false"), ("i1 is null or i1 >= 0", "unknown")]:
        enc, sides = _sides(text)
        assert solve(enc, sides[never])[0] == "unsat", text
        assert solve(enc, z3.Not(sides[never]))[0] == "sat", text
