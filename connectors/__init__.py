"""The sync engine: sources read, the engine maps, validates, batches and reports, targets write.

It knows nothing of ``catalog``: the catalog hands :func:`run_sync` a :class:`Target` that writes
into its DataStore. See ``connectors.base`` for the contracts and ``connectors.engine`` for a run.
"""
from .base import (Checkpoint, Deletion, Rejected, Row, Source, SourceError, Stream, Target, TargetError,
                   TransientSourceError, WriteCounts)
from .engine import RunReport, run_sync
from .mapping import Mapping, MappingConfigError

__all__ = ["Checkpoint", "Deletion", "Mapping", "MappingConfigError", "Rejected", "Row", "RunReport", "Source",
           "SourceError", "Stream", "Target", "TargetError", "TransientSourceError", "WriteCounts", "run_sync"]
