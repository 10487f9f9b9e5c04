"""Bottom layer: atomic writes, hashing, SQLite connection, processes, provenance, paths, errors."""
