"""Finished runs read back: the report, two runs compared, the evaluation page.

    report          reading run folders and writing the report
    report_tables   the report's Markdown tables
    report_figures  the report's figures
    compare         paired bootstrap and McNemar test of two runs
    page            the evaluation page of a run: reading its folder, writing the page
    page_content    the evaluation page's records and HTML (pure functions)
"""

from ..common.exports import lazy_exports

# The names other stages and users import, each loaded with its module on first use (importing the package
# alone loads none of its modules).
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "report": ["read_run"],
    "report_tables": ["MISSING", "format_mean_sd", "format_wall_time", "mean_sd", "score_columns"],
})
