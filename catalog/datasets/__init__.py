"""Datasets (data resources) and their resources."""
