"""Targets that depend on Workato: generated fleets, folders by path, Environments.

Before a plan, the config's targets are completed from live answers:
- a Fleet with `from_workato` lists the partner's customers (GET /api/managed_users, one
  paged read per workspace, bucket `customers`) and becomes one target per matching
  customer (and environment), its YAML entries overriding settings by customer;
- a target with `environment: test|prod` addresses the customer's suffixed workspace
  (`E-acme_test`), as docs.workato.com/oem/embedded-environments/embedded-environments-api
  documents; a customer without Environments is a plan error for test and prod (dev is
  then the customer's only workspace);
- a target with `folder: A/B` gets the id of that folder in its workspace, walked one
  level at a time through GET /api/managed_users/:id/folders?parent_id= (bucket
  `folders`); a missing folder is created by apply when `create_folders` is true.

What was resolved is cached in state (`State.targets`, written by apply and adopt): a
target found there is not looked up again, so a steady-state plan of a generated fleet
costs the customer list only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from reconciler.config.desired import (
    CustomerFilter,
    DesiredState,
    FleetSource,
    TargetSpec,
    target_address,
)
from reconciler.errors import PlanError
from reconciler.state.model import ResolvedTarget, State

if TYPE_CHECKING:
    from reconciler.workato.client import WorkatoClient
    from reconciler.workato.models import Customer

__all__ = ["TargetReads", "ensure_folder", "resolve_targets", "resolved_record"]

log = logging.getLogger(__name__)
MAX_ERRORS = 10  # shown in one error; the rest are counted


@dataclass
class TargetReads:
    """What resolving targets read (for verbose output, docs and the benchmark)."""

    customer_lists: int = 0
    folder_lists: int = 0
    cached: int = 0
    warnings: list[str] = field(default_factory=list)


async def resolve_targets(
    desired: DesiredState, state: State, clients: Mapping[str, WorkatoClient]
) -> tuple[DesiredState, TargetReads]:
    """The config's targets, completed from Workato; PlanError lists what cannot be."""
    reads = TargetReads()
    if not desired.needs_live_targets:
        return desired, reads
    resolver = _Resolver(desired, state, clients, reads)
    targets = await resolver.run()
    if resolver.errors:
        shown = resolver.errors[:MAX_ERRORS]
        more = len(resolver.errors) - len(shown)
        raise PlanError("; ".join(shown) + (f"; and {more} more" if more > 0 else ""))
    return replace(desired, targets=targets, targets_resolved=True), reads


def resolved_record(target: TargetSpec, folder_id: int) -> ResolvedTarget:
    """What state keeps of a resolved target."""
    return ResolvedTarget(
        workspace=target.workspace,
        customer=target.customer,
        folder_path=target.folder_path,
        folder_id=folder_id,
        fleet=target.fleet,
    )


async def ensure_folder(client: WorkatoClient, owner: str, path: str, *, create: bool) -> int:
    """The id of folder `path` in `owner`'s workspace, creating missing levels if `create`.

    Each level is listed before anything is created, so a rerun after a crash finds what
    the first run made instead of making it twice."""
    parent: int | None = None
    for name in path.split("/"):
        found = next((f for f in await client.list_folders(owner, parent) if f.name == name), None)
        if found is None:
            if not create:
                where = f"under {parent}" if parent is not None else "at the top level"
                raise PlanError(f"folder {path!r} of {owner}: no folder {name!r} {where}")
            found = await client.create_folder(owner, name, parent)
            log.info(
                "folder: created owner=%s name=%s parent=%s id=%s", owner, name, parent, found.id
            )
        parent = found.id
    assert parent is not None  # a path has at least one name (config/kinds.py FOLDER_PATTERN)
    return parent


class _Resolver:
    def __init__(
        self,
        desired: DesiredState,
        state: State,
        clients: Mapping[str, WorkatoClient],
        reads: TargetReads,
    ) -> None:
        self.desired, self.state, self.clients, self.reads = desired, state, clients, reads
        self.errors: list[str] = []
        self._customers: dict[str, asyncio.Task[list[Customer]]] = {}
        self._folders: dict[tuple[str, str, int | None], asyncio.Task[list[tuple[str, int]]]] = {}

    async def run(self) -> dict[str, TargetSpec]:
        targets = dict(self.desired.targets)
        for source in self.desired.fleet_sources:
            for spec in await self.expand(source):
                if spec.address in targets:
                    self.reads.warnings.append(
                        f"fleet {source.name}: customer {spec.customer} is also a target of "
                        f"its own ({spec.address}): that one is kept"
                    )
                    continue
                targets[spec.address] = spec
        self.report_gone(targets)
        resolved = await asyncio.gather(*(self.resolve(t) for t in targets.values()))
        return {t.address: t for t in resolved if t is not None}

    # -- customers -----------------------------------------------------------------------

    async def customers(self, workspace: str) -> list[Customer]:
        """One listing per workspace, shared by every target that needs it."""
        task = self._customers.get(workspace)
        if task is None:
            self.reads.customer_lists += 1
            task = asyncio.ensure_future(self.clients[workspace].list_customers())
            self._customers[workspace] = task
        return await task

    async def expand(self, source: FleetSource) -> list[TargetSpec]:
        template = source.template
        listed = [c for c in await self.customers(template.workspace) if _matches(c, source.select)]
        out: list[TargetSpec] = []
        used: set[str] = set()
        for customer in listed:
            key = next((k for k in (customer.ref, str(customer.id)) if k in source.overrides), None)
            if key is not None:
                used.add(key)
                out.extend(replace(s, customer=customer.ref) for s in source.overrides[key])
                continue
            for i, env in enumerate(source.environments or (None,)):
                path = template.folder_path or str(template.folder_id)
                out.append(
                    replace(
                        template,
                        address=target_address(None, customer.ref, path, env),
                        customer=customer.ref,
                        environment=env,
                        wave=source.waves[i] if source.waves else template.wave,
                    )
                )
        for key in sorted(set(source.overrides) - used):
            self.reads.warnings.append(
                f"fleet {source.name}: customers lists {key}, which Workato's customer list "
                "does not (or the filter leaves out): its entry is not used"
            )
        return out

    def report_gone(self, targets: Mapping[str, TargetSpec]) -> None:
        """Customers a generated fleet listed before and no longer does: kept, reported."""
        fleets = {f.name for f in self.desired.fleet_sources}
        for address, record in sorted(self.state.targets.items()):
            if record.fleet in fleets and address not in targets:
                imported = [r.manifest for r in self.state.imports.values() if r.target == address]
                what = f" (imported: {', '.join(sorted(imported))})" if imported else ""
                self.reads.warnings.append(
                    f"fleet {record.fleet}: customer {record.customer} is no longer in Workato's "
                    f"customer list (or the filter leaves it out): target {address}{what} is "
                    "kept and not touched; `--prune` forgets its records"
                )

    # -- one target ----------------------------------------------------------------------

    async def resolve(self, target: TargetSpec) -> TargetSpec | None:
        cached = self.state.targets.get(target.address)
        if target.environment is None and target.folder_path is None:
            return target
        if cached is not None and self._fits(target, cached):
            self.reads.cached += 1
            return replace(target, customer=cached.customer, folder_id=cached.folder_id)
        try:
            target = await self.environment(target)
            return await self.folder(target)
        except PlanError as exc:
            self.errors.append(f"target {target.address}: {exc.message}")
            return None

    @staticmethod
    def _fits(target: TargetSpec, cached: ResolvedTarget) -> bool:
        if cached.workspace != target.workspace or cached.folder_path != target.folder_path:
            return False
        if target.folder_path is None and cached.folder_id != target.folder_id:
            return False
        base = target.customer or ""
        return cached.customer in (base, f"{base}_{target.environment}") and cached.folder_id > 0

    async def environment(self, target: TargetSpec) -> TargetSpec:
        env, base = target.environment, target.customer
        if env is None or base is None:
            return target
        listed = {c.ref: c for c in await self.customers(target.workspace)}
        listed.update({str(c.id): c for c in listed.values()})
        customer = listed.get(base)
        if customer is None:
            raise PlanError(f"customer {base} is not in Workato's customer list")
        if not customer.has_environments:
            if env != "dev":
                raise PlanError(
                    f"environment {env}: customer {base} has no Embedded Environments "
                    "provisioned (provision them in Workato, or drop `environment`)"
                )
            return target  # without Environments, the one workspace is DEV
        return replace(target, customer=f"{base}_{env}")

    async def folder(self, target: TargetSpec) -> TargetSpec:
        if target.folder_path is None:
            return target
        owner = target.customer
        if owner is None:
            raise PlanError("a folder path needs a customer")
        parent: int | None = None
        for name in target.folder_path.split("/"):
            children = await self.children(target.workspace, owner, parent)
            found = next((i for n, i in children if n == name), None)
            if found is None:
                if target.create_folders:
                    return replace(target, customer=owner, folder_id=0)  # apply creates it
                where = f"in folder {parent}" if parent is not None else "at the top level"
                raise PlanError(
                    f"folder {target.folder_path!r} does not exist in {owner} (no {name!r} "
                    f"{where}); create it, or set create_folders: true"
                )
            parent = found
        assert parent is not None
        return replace(target, customer=owner, folder_id=parent)

    async def children(
        self, workspace: str, owner: str, parent: int | None
    ) -> list[tuple[str, int]]:
        """(name, id) of the folders under `parent`, listed once per run."""
        key = (workspace, owner, parent)
        task = self._folders.get(key)
        if task is None:
            self.reads.folder_lists += 1

            async def listing() -> list[tuple[str, int]]:
                folders = await self.clients[workspace].list_folders(owner, parent)
                return [(f.name, f.id) for f in folders]

            task = self._folders[key] = asyncio.ensure_future(listing())
        return await task


def _matches(customer: Customer, select: CustomerFilter) -> bool:
    def any_of(value: str | None, globs: Sequence[str]) -> bool:
        return not globs or (value is not None and any(fnmatchcase(value, g) for g in globs))

    if not any_of(customer.external_id, select.external_id):
        return False
    if not any_of(customer.name, select.name) or not any_of(customer.plan_id, select.plan_id):
        return False
    names = (customer.ref, str(customer.id), customer.name or "")
    return not any(fnmatchcase(n, g) for n in names for g in select.exclude)
