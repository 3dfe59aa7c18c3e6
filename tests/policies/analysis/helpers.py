"""Policy files built to trip one check each, loaded like any policy file."""

from __future__ import annotations

from pathlib import Path

from policies.compiled import CompiledPolicy
from policies.load import load_catalogue, load_policy_text

_EXAMPLES = """\
examples:
  - {name: one, facts: {}, expect: {eligible: unknown}}
  - {name: two, facts: {}, expect: {eligible: unknown}}
  - {name: three, facts: {}, expect: {eligible: unknown}}
"""


def policy_text(
    eligibility: str,
    *,
    policy_id: str = "test-policy",
    amount: str = "1000",
    count: str | None = None,
    region: str = "[]",
    relations: str = "{}",
    analysis: str = "",
    effective: str = "{from: 2025-01-01, to: 2025-12-31}",
    version: int = 1,
) -> str:
    """A policy file whose ``eligibility`` is the given YAML block (indented two spaces)."""
    counted = f'  per: person\n  count: "{count}"\n' if count else ""
    return (
        f"id: {policy_id}\nversion: {version}\ntitle: {{zh: 测试政策{policy_id}, en: Test policy {policy_id}}}\n"
        "authority: {zh: 测试局, en: Test bureau, level: district}\nbasis: 测〔2025〕1号\n"
        f"effective: {effective}\ndelivery: automatic\ncategory: employment\nregion: {region}\n"
        f'benefit:\n  form: cash\n  amount: "{amount}"\n{counted}  period: once\n'
        f"eligibility:\n{eligibility}\nrelations: {relations}\n{analysis}{_EXAMPLES}"
    )


def compile_text(text: str, file: str = "policy.yaml") -> CompiledPolicy:
    return load_policy_text(text, file)[0]


def write_catalogue(tmp_path: Path, **texts: str) -> list[CompiledPolicy]:
    for name, text in texts.items():
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    return list(load_catalogue(tmp_path).policies)
