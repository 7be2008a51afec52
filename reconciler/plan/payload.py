"""The applier's payload of each change (`Change.data`), checked when a saved plan is read.

A saved plan is a file anyone can edit. The steps read these fields with `int(...)` and
friends, so a field of the wrong type used to fail deep inside a step (and, before every
step failure was caught, hang the apply). It is refused here instead, naming the change
and the field. Unknown keys are kept: a newer rlcm may add some.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr, ValidationError

from reconciler.errors import PlanError

__all__ = ["check_payload"]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Stamp(_Payload):
    type: StrictStr
    name: StrictStr
    version: StrictInt | None = None


class _ManifestData(_Payload):
    body: dict[str, Any] | None = None
    spec_digest: StrictStr | None = None
    manifest_id: StrictInt | None = None
    workspace: StrictStr | None = None
    owner: StrictStr | None = None


class _ExportData(_Payload):
    manifest_id: StrictInt | None = None
    spec_digest: StrictStr | None = None
    asset_versions: list[_Stamp] = []
    resume_package_id: StrictInt | None = None


class _PackageRef(_Payload):
    id: StrictInt
    digest: StrictStr


class _ImportData(_Payload):
    workspace: StrictStr | None = None
    customer: StrictStr | None = None
    folder_id: StrictInt | None = None
    restart_recipes: StrictBool = False
    include_tags: StrictBool = False
    folder_id_for_home_assets: StrictInt | None = None
    package: _PackageRef | None = None
    resume_import_id: StrictInt | None = None
    poll_only: StrictBool = True
    first_import: StrictBool = False


_MODELS: dict[str, type[_Payload]] = {
    "manifest": _ManifestData,
    "export": _ExportData,
    "import": _ImportData,
}


def check_payload(address: str, kind: str, action: str, data: Mapping[str, Any]) -> None:
    """PlanError naming `address` and the first bad field, else nothing."""
    if kind == "import" and action == "forget":
        return  # only names: what to drop from state
    try:
        _MODELS[kind].model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "data"
        raise PlanError(f"change {address}: data.{where}: {first['msg']}") from None
