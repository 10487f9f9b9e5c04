"""Runs layer: run records, the run-folder protocol, the index (a cache), lineage, OpenLineage."""
