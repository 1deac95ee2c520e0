"""Database-independent search helpers: text analysis (text) and fq/sort parsing (query)."""
