"""Fuzz: no text makes the policy loader raise anything but its own located errors, or take over a second.

A longer run: `.venv/bin/python bench/fuzz_policies.py --seconds 600` (docs/limits.md).
"""

from datetime import timedelta

from hypothesis import HealthCheck, given, settings

from tests.policies.hostile import Probe, expression_texts, policy_texts, probe_expression, probe_policy

FUZZ = settings(
    max_examples=200,
    deadline=timedelta(seconds=1),  # the bound for any input up to 1 MB
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(policy_texts())
def test_load_policy_text_when_fed_hostile_yaml_raises_only_policy_errors(text):
    probe = Probe()
    probe.feed(probe_policy, text)
    assert not probe.failures, probe.failures


@FUZZ
@given(expression_texts())
def test_compile_expression_when_fed_hostile_text_raises_only_policy_errors(text):
    probe = Probe()
    probe.feed(probe_expression, text)
    assert not probe.failures, probe.failures
