"""The pages of the site, one module each: ``home``, ``runs`` (the table and scatter),
``run`` (one run), ``compare`` (run comparisons), ``models`` (the registry); ``common``
holds what they share."""
