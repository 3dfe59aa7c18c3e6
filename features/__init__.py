"""Registry extracts in, enterprise profiles out.

- ``features.standards``: public coding standards (USCC, GB/T 4754, GB/T 2260, size classes).
- ``features.registries``: the data contract of each registry table, reading and validation.
- ``features.synthetic``: realistic generated registries for demos, tests and benchmarks.
- ``features.profiles``: point-in-time enterprise profiles and the fact catalogue.
"""
