"""Freshness: whether each dataset is updated as often as its update cycle promises (issue 8)."""
