"""Synthetic registries: realistic extracts of every registry table, for demos, tests and benchmarks.

``generate(out, enterprises=N, seed=S)`` writes one file per table of the contract
(``features.registries.schema``) and a ``manifest.json``; with ``dirty`` it appends bad rows that
break each quarantine rule, and the manifest counts them.
"""

from features.synthetic.generate import STAGES, generate

__all__ = ["STAGES", "generate"]
