"""The notebook API: ``nbtrail.start(...)`` and the :class:`Run` object."""
