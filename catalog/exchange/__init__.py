"""Catalog exchange: the compilation spreadsheet (编制表) out and in, DCAT-AP 3 out, DCAT harvesting in.

``layout`` derives the spreadsheet columns from the metadata profile; ``xlsx`` writes and reads the
workbook; ``dcat`` builds the DCAT-AP graph; ``harvest`` applies rows read by the ``dcat`` connector
source; ``views`` and ``actions`` offer them over HTTP; the CLI group is ``catalog exchange``.
"""
