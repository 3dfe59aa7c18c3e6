"""Matching runs: eligibility, amounts, policy graph, budgets, ranking, notices and ledger."""
