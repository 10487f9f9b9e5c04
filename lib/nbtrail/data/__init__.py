"""Data layer: the content-addressed object store, dataset versions, the stat cache, remotes."""
