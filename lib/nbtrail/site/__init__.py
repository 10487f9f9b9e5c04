"""The static site of a workspace (``nbtrail publish``): runs, decisions, reports, lineage.

Modules, one concept each:

- ``build``: the publish, incremental (:func:`publish`), and the ``--out`` checks;
- ``single``: one run as one self-contained HTML file (:func:`publish_single`);
- ``content``: what the site shows, gathered from the index, run folders, registry, history;
- ``freshness``: the keys that tell a republish what changed;
- ``writer``: files written only when their bytes change, and the site's state file;
- ``escaping``: autoescaped templates, JSON for scripts, cleaned notebook HTML;
- ``assets``: the stylesheet, script and the one copy of Evidently's bundle;
- ``notebook_html``: executed notebooks rendered by nbconvert, reports cut out as slots;
- ``report_pages``: Evidently report pages rewritten for the site (shared bundle, packed data);
- ``svg``, ``dag_svg``, ``lineage_svg``: the pictures, drawn offline;
- ``pages/``: one module per page (home, runs, run, compare, models) and what they share.
"""

from __future__ import annotations

from nbtrail.site.build import PublishReport, check_out_dir, publish
from nbtrail.site.single import SingleReport, publish_single

__all__ = ["PublishReport", "SingleReport", "check_out_dir", "publish", "publish_single"]
