"""Departments (CKAN organizations) and their members."""
