"""Static analysis of policies with z3: what a rule can never or always do, and what a new version changes.

``analyse`` runs every check on a list of compiled policies (``CompiledPolicy``:
the loaded policy with its parsed conditions, which is what a formula is built
from; ``Policy`` alone holds only the raw text). ``diff_versions`` compares two
versions of one policy. See docs/policies.md, "Static analysis".

    smt.py       conditions and amounts as z3 formulas over (known, value) facts, Kleene's logic
    domains.py   what each fact can take, from the fact catalogue
    checks.py    the checks on one policy and on related pairs; acknowledgements
    diff.py      the semantic diff of two versions
    findings.py  findings, regions and witnesses
"""

from policies.analysis.checks import analyse, analyse_draft
from policies.analysis.diff import diff_versions
from policies.analysis.findings import ERRORS, Finding, Region, SemanticDiff

__all__ = ["ERRORS", "Finding", "Region", "SemanticDiff", "analyse", "analyse_draft", "diff_versions"]
