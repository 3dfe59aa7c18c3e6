"""Hypothesis strategies for hostile policy text, shared by the fuzz test and bench/fuzz_policies.py.

Inputs are a good policy cut and spliced with fragments an attacker (or a
careless paste) brings: anchors and aliases, tags, brackets, control
characters, huge numbers, deep nesting and long repetitions up to 1 MB.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hypothesis import strategies as st

from policies.conditions import compile_expression
from policies.errors import PolicyError
from policies.load import FACT_TYPES, load_policy_text
from policies.source import Positions
from tests.policies.test_load import GOOD

__all__ = ["MAX_INPUT", "Probe", "expression_texts", "policy_texts", "probe_expression", "probe_policy"]

KINDS = ("bool", "int", "number", "str", "date")
MAX_INPUT = 1_000_000  # characters: inputs up to 1 MB must be answered within a second

YAML_FRAGMENTS = [
    "&a ", "*a", "&b [*a, *a, *a, *a]", "<<: *a\n", "!!python/object:os.system ", "!foo ", "! ", "!!binary ",
    "[", "]", "{", "}", "- ", ": ", "? ", ", ", "\n", "  ", "\t", "'", '"', "#", "|\n", ">-\n", "---\n", "...\n",
    "%TAG ! tag:x,2000:\n", "1e400", "1.0e+400", ".nan", "-.inf", "9" * 400, "0x" + "f" * 300, "2025-13-01",
    "~", "null", "yes", "-1", "\x00", "\x07", "\ufeff", "\u2028", "eligibility:", "examples: []", "all:", "not:",
]  # fmt: skip
EXPRESSION_FRAGMENTS = [
    "ui_paid_months", "serious_dishonesty", "size_class", "established_on", "as_of", "unknown_fact", "12", "5.5%",
    "9" * 400, "1" * 400 + ".5", "'small'", '"x"', "true", "false", "date('2025-02-30')", "date('2025-01-01')",
    "round(", "min(", "if(", "starts_with(", "years_between(", "nosuch(", "(", ")", "[", "]", ",", "and", "or",
    "not", "in", "between", "is", "null", ">=", "==", "=>", "<", "+", "-", "*", "/", "%", "&&", "\n", "\x00",
]  # fmt: skip


# Mostly short runs, sometimes the sizes that broke the loader: thousands deep, up to 1 MB.
_TIMES = st.one_of(st.integers(1, 64), st.sampled_from([100, 1_000, 5_000, 50_000, MAX_INPUT]))


def _runs(fragments: list[str]) -> st.SearchStrategy[str]:
    """A unit of fragments repeated: deep, wide or just long, at most ``MAX_INPUT`` characters."""

    def repeat(unit: list[str], times: int) -> str:
        text = "".join(unit)
        return (text * min(times, MAX_INPUT // len(text) + 1))[:MAX_INPUT] if text else ""

    return st.builds(repeat, st.lists(st.sampled_from(fragments), min_size=1, max_size=4), _TIMES)


def _spliced(base: str, pasted: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``base`` with a span cut out and text pasted in at a random place."""
    return st.builds(
        lambda at, cut, text: base[:at] + text + base[at + cut :],
        st.integers(0, len(base)),
        st.integers(0, 40),
        pasted,
    )


def _alias_bombs() -> st.SearchStrategy[str]:
    """Nested aliases, each level listing the previous one ``width`` times."""

    def bomb(levels: int, width: int) -> str:
        lines = [f"  l0: &l0 [{', '.join(['lol'] * width)}]"]
        lines += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
        return "lol:\n" + "\n".join(lines) + "\n"

    return st.builds(bomb, st.integers(1, 12), st.integers(1, 12))


def policy_texts() -> st.SearchStrategy[str]:
    fragments = st.lists(st.sampled_from(YAML_FRAGMENTS), max_size=30).map("".join)
    return st.one_of(
        _spliced(GOOD, fragments),
        _spliced(GOOD, _runs(YAML_FRAGMENTS)),
        _runs(YAML_FRAGMENTS),
        _alias_bombs().map(lambda bomb: GOOD + bomb),
        st.text(max_size=300),
        expression_texts().map(lambda e: GOOD.replace('"ui_paid_months >= 12"', json.dumps(e))),
    )


def expression_texts() -> st.SearchStrategy[str]:
    return st.one_of(
        st.lists(st.sampled_from(EXPRESSION_FRAGMENTS), max_size=40).map(" ".join),
        _runs([f" {f} " for f in EXPRESSION_FRAGMENTS]),
        _spliced("ui_paid_months >= 12 and not serious_dishonesty", _runs(EXPRESSION_FRAGMENTS)),
        st.text(max_size=100),
    )


@dataclass
class Probe:
    """What feeding inputs to the loader found: inputs tried, the slowest, and anything but a PolicyError."""

    tried: int = 0
    slowest: float = 0.0
    slowest_input: str = ""
    failures: list[tuple[str, str]] = field(default_factory=list)  # (error, the input's start)

    def feed(self, load: Callable[[str], object], text: str) -> float:
        start = time.perf_counter()
        try:
            load(text)
        except PolicyError:
            pass
        except Exception as err:  # anything else escaping is the finding
            self.failures.append((f"{type(err).__name__}: {err}"[:300], text[:200]))
        took = time.perf_counter() - start
        self.tried += 1
        if took > self.slowest:
            self.slowest, self.slowest_input = took, text[:200]
        return took


def probe_policy(text: str) -> None:
    load_policy_text(text, "fuzz.yaml")


def probe_expression(text: str) -> None:
    compile_expression(text, FACT_TYPES, file="fuzz.yaml", positions=Positions(), path=(), want=KINDS)
