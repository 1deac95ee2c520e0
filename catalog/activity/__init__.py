"""The activity stream."""
