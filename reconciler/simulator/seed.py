"""The demo world of the brief: a template managed user, customers, an own workspace.

Ids, names, folders and versions are fixed; tests and the examples rely on them.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from typing import Any

from reconciler.simulator.model import add_folder, new_workspace, set_asset_body
from reconciler.simulator.store import OWN, Store, workspace_key

__all__ = ["CUSTOMERS", "seed_demo"]

Json = dict[str, Any]

# (managed user reference, numeric id, target folder, home-assets folder)
CUSTOMERS: list[tuple[str, int, int, int | None]] = [
    ("E-acme-001", 92001, 1827, 1830),
    ("E-globex", 92002, 2211, None),
    ("91928", 91928, 77, 78),
    ("E-initech", 92004, 2301, None),
    ("E-umbrella", 92005, 2401, None),
    ("E-hooli", 92006, 2501, None),
    ("E-vandelay", 92007, 2601, None),
    ("E-wonka", 92008, 2701, None),
    ("E-stark", 92009, 2801, None),
    ("E-wayne", 92010, 2901, None),
    ("E-tyrell", 92011, 3001, None),
    ("E-cyberdyne", 92012, 3101, None),
    ("E-soylent", 92013, 3201, None),
]
TEMPLATE_ID = 91000


def _step(
    number: int,
    keyword: str,
    provider: str | None,
    name: str,
    alias: str,
    input_: Json,
    block: list[Json] | None = None,
) -> Json:
    step: Json = {
        "number": number,
        "keyword": keyword,
        "provider": provider,
        "name": name,
        "as": alias,
        "input": input_,
        "uuid": "",  # filled in by _code, stable per recipe and step
    }
    if block is not None:
        step["block"] = block
    return step


def _uuid(text: str) -> str:
    digest = hashlib.md5(text.encode()).hexdigest()  # a stable id, not security
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _code(steps: list[Json], recipe: str) -> Json:
    """Give every step a stable uuid derived from the recipe name and step number."""

    def fix(step: Json) -> None:
        step["uuid"] = _uuid(f"{recipe}/{step['number']}")
        for child in step.get("block", []):
            fix(child)

    trigger = steps[0]
    trigger["block"] = steps[1:]
    fix(trigger)
    return trigger


def _config(*providers: tuple[str, str | None]) -> list[Json]:
    return [
        {
            "keyword": "application",
            "provider": provider,
            "skip_validation": False,
            "account_id": {"name": conn} if conn else None,
        }
        for provider, conn in providers
    ]


def _recipe(name: str, description: str, steps: list[Json], config: list[Json]) -> Json:
    return {
        "name": name,
        "description": description,
        "version": 1,
        "private": True,
        "concurrency": 1,
        "code": _code(steps, name),
        "config": config,
    }


def sync_accounts(version: int) -> Json:
    sobject_fields = "Id,Name,BillingCountry,Industry" + (",AnnualRevenue" if version >= 4 else "")
    steps = [
        _step(
            0,
            "trigger",
            "salesforce",
            "updated_custom_object",
            "trigger",
            {"sobject_name": "Account", "since": "2024-01-01T00:00:00Z"},
        ),
        _step(
            1,
            "action",
            "lookup_table",
            "lookup_entry",
            "region",
            {
                "lookup_table_id": {"name": "Region codes"},
                "parameters": {"country": "#{_('data.salesforce.trigger.BillingCountry')}"},
            },
        ),
        _step(
            2,
            "if",
            None,
            "",
            "has_region",
            {
                "type": "compound",
                "operand": "and",
                "conditions": [
                    {"lhs": "#{_('data.lookup_table.region.code')}", "operand": "present"}
                ],
            },
            block=[
                _step(
                    3,
                    "action",
                    "salesforce",
                    "search_sobjects",
                    "search",
                    {
                        "sobject_name": "Account",
                        "fields": sobject_fields,
                        "limit": 10 if version < 3 else 25,
                    },
                ),
                _step(
                    4,
                    "action",
                    "salesforce",
                    "update_sobject",
                    "update",
                    {
                        "sobject_name": "Account",
                        "id": "#{_('data.salesforce.search.Id')}",
                        "Region__c": "#{_('data.lookup_table.region.code')}",
                    },
                ),
            ],
        ),
    ]
    recipe = _recipe(
        "Sync accounts",
        f"Keeps Salesforce accounts in step with the customer's CRM (rev {version}).",
        steps,
        _config(("salesforce", "Salesforce"), ("lookup_table", None)),
    )
    return recipe


def sync_contacts(version: int) -> Json:
    steps = [
        _step(
            0, "trigger", "salesforce", "new_custom_object", "trigger", {"sobject_name": "Contact"}
        ),
        _step(
            1,
            "foreach",
            None,
            "",
            "emails",
            {"source": "#{_('data.salesforce.trigger.Emails')}"},
            block=[
                _step(
                    2,
                    "action",
                    "salesforce",
                    "upsert_sobject",
                    "upsert",
                    {
                        "sobject_name": "Contact",
                        "external_id_field": "Email",
                        "Email": "#{_('data.foreach.emails.value')}",
                    },
                ),
            ],
        ),
    ]
    return _recipe(
        "Sync contacts",
        f"Upserts new contacts (rev {version}).",
        steps,
        _config(("salesforce", "Salesforce")),
    )


def alert_recipe(name: str, event: str, channel: str, version: int) -> Json:
    steps = [
        _step(0, "trigger", "workato_webhooks", "new_event", "trigger", {"event_name": event}),
        _step(
            1,
            "if",
            None,
            "",
            "is_live",
            {
                "type": "compound",
                "operand": "and",
                "conditions": [
                    {"lhs": "#{_('data.workato_webhooks.trigger.livemode')}", "operand": "is_true"}
                ],
            },
            block=[
                _step(
                    2,
                    "action",
                    "slack",
                    "post_message",
                    "post",
                    {
                        "channel": channel,
                        "text": f"{name}: #{{_('data.workato_webhooks.trigger.invoice_id')}}",
                    },
                ),
            ],
        ),
    ]
    return _recipe(
        name,
        f"{name} to Slack (rev {version}).",
        steps,
        _config(("workato_webhooks", None), ("slack", "Slack")),
    )


RECIPES: dict[str, Callable[[int], Json]] = {
    "Sync accounts": sync_accounts,
    "Sync contacts": sync_contacts,
    "Invoice overdue alert": lambda v: alert_recipe(
        "Invoice overdue alert", "invoice.overdue", "#billing", v
    ),
    "Payment failed alert": lambda v: alert_recipe(
        "Payment failed alert", "payment.failed", "#billing-urgent", v
    ),
    "Nightly export": lambda v: alert_recipe("Nightly export", "schedule.nightly", "#ops", v),
}


def add_asset(
    store: Store,
    ws: Json,
    asset_type: str,
    name: str,
    folder_id: int,
    body: Json,
    versions: int = 1,
) -> Json:
    asset = {
        "id": store.next_id("asset"),
        "type": asset_type,
        "name": name,
        "folder_id": folder_id,
        "version": 0,
        "running": False,
        "body": {},
        "history": {},
    }
    ws["assets"][str(asset["id"])] = asset
    if asset_type == "recipe" and name in RECIPES:
        for version in range(1, versions + 1):
            set_asset_body(asset, RECIPES[name](version), version)
    else:
        set_asset_body(asset, body, 1 if asset_type == "lookup_table" else None)
    return asset


def connection(name: str, provider: str) -> Json:
    return {"name": name, "provider": provider}


def lookup_table(name: str, columns: list[str], rows: list[list[str]]) -> Json:
    return {
        "name": name,
        "schema": [{"label": c.title(), "name": c} for c in columns],
        "rows": [dict(zip(columns, r, strict=True)) for r in rows],
    }


def _template(store: Store) -> Json:
    ws = new_workspace(workspace_key(TEMPLATE_ID), TEMPLATE_ID)
    add_folder(ws, 110, "Shared connections")
    add_folder(ws, 112, "CRM sync")
    add_folder(ws, 113, "Mappings", 112)
    add_folder(ws, 114, "Billing alerts")
    add_asset(store, ws, "connection", "Salesforce", 110, connection("Salesforce", "salesforce"))
    add_asset(store, ws, "connection", "Slack", 110, connection("Slack", "slack"))
    add_asset(
        store,
        ws,
        "lookup_table",
        "Region codes",
        110,
        lookup_table(
            "Region codes",
            ["country", "code"],
            [["DE", "EMEA"], ["FR", "EMEA"], ["US", "AMER"], ["JP", "APAC"]],
        ),
    )
    add_asset(store, ws, "recipe", "Sync accounts", 112, {}, versions=4)
    add_asset(store, ws, "recipe", "Sync contacts", 112, {}, versions=2)
    add_asset(
        store,
        ws,
        "lookup_table",
        "Account mappings",
        113,
        lookup_table(
            "Account mappings", ["source", "target"], [["Name", "name"], ["Industry", "industry"]]
        ),
    )
    add_asset(store, ws, "recipe", "Invoice overdue alert", 114, {}, versions=3)
    add_asset(store, ws, "recipe", "Payment failed alert", 114, {}, versions=1)
    return ws


def _customer(store: Store, user_id: int, folder_id: int, home_id: int | None, name: str) -> Json:
    ws = new_workspace(workspace_key(user_id), user_id)
    add_folder(ws, folder_id, f"{name} integrations")
    if home_id is not None:
        add_folder(ws, home_id, "Home assets")
    return ws


def _own(store: Store) -> Json:
    ws = new_workspace(OWN, None)
    add_folder(ws, 510, "Integrations")
    add_folder(ws, 610, "Staging")
    add_folder(ws, 620, "Production")
    add_asset(store, ws, "connection", "Salesforce", 510, connection("Salesforce", "salesforce"))
    add_asset(store, ws, "recipe", "Nightly export", 510, {}, versions=2)
    return ws


def seed_demo(store: Store, customers: int = 0) -> None:
    """(Re)create the demo world in `store`, replacing what was there; inside `store.locked()`."""
    store.reset()
    users: Json = {"users": {}}

    def user(user_id: int, external: str | None, name: str) -> None:
        users["users"][str(user_id)] = {"id": user_id, "external_id": external, "name": name}

    user(TEMPLATE_ID, "-template", "template")
    store.save_workspace(_template(store))
    for ref, user_id, folder_id, home_id in CUSTOMERS:
        name = ref[2:] if ref.startswith("E-") else ref
        user(user_id, ref[1:] if ref.startswith("E") else None, name)
        ws = _customer(store, user_id, folder_id, home_id, name)
        if ref == "E-umbrella":
            # The demo's deliberate failure: an older, RUNNING "Sync accounts" in the target.
            running = add_asset(store, ws, "recipe", "Sync accounts", folder_id, {}, versions=3)
            running["running"] = True
        store.save_workspace(ws)
    for index in range(1, customers + 1):
        ref = f"E-cust-{index:04d}"
        user(100_000 + index, ref[1:], ref[2:])
        store.save_workspace(_customer(store, 100_000 + index, 50_000 + index, None, ref[2:]))
    store.save_workspace(_own(store))
    store.write("users.json", users)
    meta = store.read("meta.json")
    meta["auth"] = copy.deepcopy(
        {"tokens": ["demo-token"], "legacy": {"ops@partner.example": "demo-token"}}
    )
    store.write("meta.json", meta)
