"""Catalog review (编目审核; decree 809 arts. 13, 16-17): submission, the data authority's review, revisions."""
