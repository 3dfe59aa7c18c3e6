"""Policy rules as code: the policy format, the rule language and the shipped catalogue."""
