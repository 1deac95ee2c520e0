"""Sync jobs: connectors bring departments' systems into the DataStore, validated and resumable."""
