"""Accounts, API tokens and the authorization rules."""
