"""Facts about Workato that several layers need, stated once.

Config validation, the client, the planner and the reports all need to know the data
centers, the asset types and which `import_result` values mean success. They depend on
nothing of ours but this module and `errors`. The simulator keeps its own copies on
purpose: it is written from the documents, so a test of one against the other checks both.
"""

from __future__ import annotations

__all__ = ["DATA_CENTERS", "IMPORT_RESULT_FAILURES", "IMPORT_RESULT_SUCCESSES", "KNOWN_ASSET_TYPES"]

# Base URLs published by Workato; "trial" is the developer sandbox.
DATA_CENTERS: dict[str, str] = {
    "us": "https://www.workato.com",
    "eu": "https://app.eu.workato.com",
    "jp": "https://app.jp.workato.com",
    "sg": "https://app.sg.workato.com",
    "au": "https://app.au.workato.com",
    "il": "https://app.il.workato.com",
    "kr": "https://app.kr.workato.com",
    "cn": "https://app.workatoapp.cn",
    "trial": "https://app.trial.workato.com",
}

# Types the documents list today; Workato adds more over time, and those are passed
# through with a warning, never refused.
KNOWN_ASSET_TYPES = frozenset(
    {
        "recipe",
        "connection",
        "lookup_table",
        "workato_db_table",
        "account_property",
        "project_property",
        "workato_schema",
        "workato_template",
        "lcap_app",
        "lcap_page",
        "custom_adapter",
        "topic",
        "api_group",
        "api_endpoint",
    }
)

# The documents spell the first success `no_update_or_update_without_restart`; Workato's
# OpenAPI description and real answers say `..._updated_...`. Both mean success. Any
# other value, known failure or not, counts as a failure and is shown verbatim.
IMPORT_RESULT_SUCCESSES = frozenset(
    {"no_update_or_update_without_restart", "no_update_or_updated_without_restart", "restarted"}
)
IMPORT_RESULT_FAILURES = frozenset({"not_found", "stop_failed", "stopped", "restart_failed"})
