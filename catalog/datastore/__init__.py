"""The DataStore: validated records of a resource, with an incremental change feed."""
