"""Stage glue: the decisions and loops each stage notebook calls, kept out of its cells."""
