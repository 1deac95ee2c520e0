"""Sharing rules: share requests and grants, field masking and the tamper-evident access log."""
