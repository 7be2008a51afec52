"""Cross-document rules: names, references, cycles, fleets and waves -> DesiredState.

Every rule that involves more than one document lives here, with the position of the
offending key. Problems are collected, never raised one at a time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from reconciler.config.desired import (
    DEFAULT_POLL,
    DEFAULT_RATE_LIMITS,
    DEFAULT_RETRY,
    DEFAULT_WAVE,
    AssetRef,
    AutoGenerate,
    CustomerFilter,
    DesiredState,
    FleetSource,
    HealthSpec,
    ManifestSpec,
    PollSettings,
    RateLimits,
    RetrySettings,
    RolloutSpec,
    SafetySpec,
    Share,
    SourceSpec,
    StateSpec,
    TargetSpec,
    WaveSpec,
    WorkspaceSpec,
    target_address,
)
from reconciler.config.kinds import (
    DATA_CENTERS,
    KNOWN_ASSET_TYPES,
    FleetCustomerModel,
    FleetDoc,
    FleetSelectModel,
    ManifestDoc,
    QuotaModel,
    RateLimitsModel,
    RolloutDoc,
    SourceDoc,
    StateDoc,
    TargetDoc,
    WaveModel,
    WorkspaceDoc,
)
from reconciler.config.validation import Parsed, did_you_mean
from reconciler.errors import ConfigError, Location

__all__ = ["Resolution", "resolve"]

_SETTINGS = ("restart_recipes", "include_tags", "folder_id_for_home_assets")


@dataclass
class Resolution:
    """The outcome of resolving: a DesiredState when there are no errors."""

    desired: DesiredState | None = None
    errors: list[ConfigError] = field(default_factory=list)
    warnings: list[ConfigError] = field(default_factory=list)


@dataclass(frozen=True)
class _Draft:
    """A target before checks, with a way to point at where each setting was written."""

    spec: TargetSpec
    parsed: Parsed
    entry: tuple[str | int, ...]  # () for a Target, ("customers", i) for a fleet entry
    label: str
    implicit_wave: bool = False  # an environment's own wave (no Rollout needs to list it)

    def path(self, key: str) -> tuple[str | int, ...]:
        if self.entry and self.parsed.has(*self.entry, key):
            return (*self.entry, key)
        if self.parsed.has(key):
            return (key,)
        return self.entry

    def at(self, key: str, *more: str | int) -> Location:
        return self.parsed.at(*self.path(key), *more)

    def error(self, message: str, location: Location) -> ConfigError:
        return ConfigError(f"{self.label}: {message}", location)


def resolve(
    parsed: Sequence[Parsed],
    files: Sequence[str],
    config_path: str,
    broken: Mapping[str, set[str]] | None = None,
) -> Resolution:
    """Cross-check the valid documents. `broken` names, per kind, documents that failed
    validation: references to them are not reported again as unknown."""
    return _Resolver(list(parsed), tuple(files), config_path, broken or {}).run()


class _Resolver:
    def __init__(
        self,
        parsed: list[Parsed],
        files: tuple[str, ...],
        config_path: str,
        broken: Mapping[str, set[str]],
    ) -> None:
        self.parsed = parsed
        self.files = files
        self.config_path = config_path
        self.broken = broken
        self.out = Resolution()

    def of(self, kind: type[object]) -> list[Parsed]:
        return [p for p in self.parsed if isinstance(p.model, kind)]

    def error(self, error: ConfigError) -> None:
        self.out.errors.append(error)

    def run(self) -> Resolution:
        workspaces = self.workspaces()
        source = self.source(workspaces)
        manifests = self.manifests()
        acyclic = self.check_cycles(manifests)
        rollout = self.rollout()
        drafts = self.targets(workspaces, manifests, acyclic)
        generated = self.fleet_sources(manifests, acyclic)
        templates = [d for _, ds in generated for d in ds]
        rollout = self.implicit_waves([*drafts, *templates], rollout)
        self.check_waves([*drafts, *templates], rollout)
        self.check_gates([*drafts, *templates], rollout)
        self.check_folders(drafts)
        state = self.state()
        if not self.out.errors:
            self.out.desired = DesiredState(
                workspaces=workspaces,
                source=source,
                manifests=manifests,
                targets={d.spec.address: d.spec for d in drafts},
                rollout=rollout,
                files=self.files,
                fleet_sources=tuple(f for f, _ in generated),
                state=state,
            )
        return self.out

    def implicit_waves(self, drafts: list[_Draft], rollout: RolloutSpec) -> RolloutSpec:
        """Without a Rollout, environments' waves follow the default one, in list order."""
        if rollout.location is not None:
            return rollout
        extra = [d.spec.wave for d in drafts if d.implicit_wave]
        if not extra:
            return rollout
        return replace(rollout, waves=tuple(dict.fromkeys([*rollout.waves, *extra])))

    # -- names ---------------------------------------------------------------------------

    def unique(self, seen: dict[str, Location], name: str, what: str, where: Location) -> bool:
        if name in seen:
            first = seen[name]
            self.error(ConfigError(f"{what}: duplicate name (first at {first})", where))
            return False
        seen[name] = where
        return True

    def known(
        self, p: Parsed | _Draft, name: str, choices: Sequence[str], what: str, where: Location
    ) -> bool:
        if name in choices:
            return True
        if name in self.broken.get(what.capitalize(), set()):
            return False  # that document's own errors are reported already
        hint = did_you_mean(name, choices)
        self.error(p.error(f'unknown {what} "{name}"{hint}', where))
        return False

    # -- workspaces and source -----------------------------------------------------------

    def workspaces(self) -> dict[str, WorkspaceSpec]:
        out: dict[str, WorkspaceSpec] = {}
        seen: dict[str, Location] = {}
        for p in self.of(WorkspaceDoc):
            model = p.model
            assert isinstance(model, WorkspaceDoc)
            spec = self.workspace(p, model)
            if self.unique(seen, model.name, p.label, p.at("name")) and spec is not None:
                out[model.name] = spec
        return out

    def workspace(self, p: Parsed, model: WorkspaceDoc) -> WorkspaceSpec | None:
        api = model.api
        base_url = self.base_url(p, model)
        if api.auth == "legacy" and api.email_env is None:
            self.error(p.error('auth "legacy" needs email_env', p.at("api", "auth")))
        rate_limits = _rate_limits(api.rate_limits)
        poll = DEFAULT_POLL
        if api.poll is not None:
            poll = PollSettings(**{k: v for k, v in api.poll.model_dump().items() if v is not None})
            if poll.interval > poll.max_interval:
                where = p.at("api", "poll")
                self.error(p.error("api.poll: interval is longer than max_interval", where))
        retry = DEFAULT_RETRY
        if api.retry is not None:
            given = {k: v for k, v in api.retry.model_dump().items() if v is not None}
            retry = RetrySettings(**given)
        if base_url is None:
            return None
        return WorkspaceSpec(
            name=model.name,
            base_url=base_url,
            auth=api.auth,
            token_env=api.token_env,
            email_env=api.email_env,
            rate_limits=rate_limits,
            request_timeout=api.timeout if api.timeout is not None else 40.0,
            request_deadline=api.deadline if api.deadline is not None else 120.0,
            max_answer_bytes=(
                api.max_answer_bytes if api.max_answer_bytes is not None else 64 * 1024 * 1024
            ),
            poll=poll,
            retry=retry,
            max_package_bytes=int((api.max_package_mb or 100) * 1024 * 1024),
            location=p.doc.location,
        )

    def base_url(self, p: Parsed, model: WorkspaceDoc) -> str | None:
        api = model.api
        if api.base_url is not None and api.data_center is not None:
            where = p.key_at("api", "data_center")
            self.error(p.error("api: give base_url or data_center, not both", where))
            return None
        if api.data_center is not None:
            return DATA_CENTERS[api.data_center]
        if api.base_url is None:
            self.error(p.error("api: needs base_url or data_center", p.at("api")))
            return None
        url = api.base_url.rstrip("/") if not api.base_url.startswith("sim://") else api.base_url
        if url.startswith("sim://"):
            return self.sim_url(p, url)
        if url in {"http://", "https://"}:
            self.error(p.error("api.base_url: has no host", p.at("api", "base_url")))
            return None
        return url

    def sim_url(self, p: Parsed, url: str) -> str | None:
        """sim://DIR: a relative DIR is relative to the directory of this YAML file."""
        directory = url.removeprefix("sim://")
        if not directory:
            where = p.at("api", "base_url")
            self.error(p.error("api.base_url: sim:// needs a directory (sim://DIR)", where))
            return None
        base = Path(p.doc.file).resolve().parent
        return "sim://" + os.path.normpath(base / directory)

    def source(self, workspaces: dict[str, WorkspaceSpec]) -> SourceSpec:
        sources = self.of(SourceDoc)
        for extra in sources[1:]:
            first = sources[0].doc.location
            self.error(extra.error(f"only one Source is allowed (first at {first})", extra.at()))
        if not sources:
            if self.of(ManifestDoc) or self.of(TargetDoc) or self.of(FleetDoc):
                message = "no Source document: add `kind: Source` naming the source workspace"
                self.error(ConfigError(message, Location(self.config_path)))
            return SourceSpec(workspace=next(iter(workspaces), ""))
        p = sources[0]
        model = p.model
        assert isinstance(model, SourceDoc)
        names = [w.model.name for w in self.of(WorkspaceDoc) if isinstance(w.model, WorkspaceDoc)]
        self.known(p, model.workspace, names, "workspace", p.at("workspace"))
        return SourceSpec(model.workspace, model.managed_user, p.doc.location)

    # -- manifests -----------------------------------------------------------------------

    def manifests(self) -> dict[str, ManifestSpec]:
        out: dict[str, ManifestSpec] = {}
        seen: dict[str, Location] = {}
        docs = self.of(ManifestDoc)
        names = [p.model.name for p in docs if isinstance(p.model, ManifestDoc)]
        for p in docs:
            model = p.model
            assert isinstance(model, ManifestDoc)
            if not self.unique(seen, model.name, p.label, p.at("name")):
                continue
            self.check_contents(p, model)
            self.check_depends_on(p, model, names)
            out[model.name] = ManifestSpec(
                name=model.name,
                folder_id=model.folder_id,
                include_tags=model.include_tags,
                depends_on=tuple(dict.fromkeys(model.depends_on)),
                assets=self.assets(p, model),
                auto_generate=(
                    AutoGenerate(**model.auto_generate.model_dump())
                    if model.auto_generate is not None
                    else None
                ),
                location=p.doc.location,
            )
        return out

    def check_contents(self, p: Parsed, model: ManifestDoc) -> None:
        if model.assets is not None and model.auto_generate is not None:
            where = p.key_at("auto_generate")
            self.error(p.error("give either assets or auto_generate, not both", where))
        elif model.assets is None and model.auto_generate is None:
            self.error(p.error("needs assets or auto_generate", p.at()))

    def assets(self, p: Parsed, model: ManifestDoc) -> tuple[AssetRef, ...] | None:
        if model.assets is None:
            return None
        refs: list[AssetRef] = []
        seen: dict[tuple[str, str], int] = {}
        for i, asset in enumerate(model.assets):
            where = p.at("assets", i)
            if asset.type not in KNOWN_ASSET_TYPES:
                message = f'assets[{i}]: unknown asset type "{asset.type}" (passed on as is)'
                hint = did_you_mean(asset.type, sorted(KNOWN_ASSET_TYPES))
                self.out.warnings.append(p.error(message + hint, p.at("assets", i, "type")))
            key = (asset.type, asset.name)
            if key in seen:
                message = f'assets[{i}]: {asset.type} "{asset.name}" is listed twice'
                self.error(p.error(message + f" (also assets[{seen[key]}])", where))
            seen.setdefault(key, i)
            refs.append(AssetRef(asset.type, asset.name, asset.version, where))
        return tuple(refs)

    def check_depends_on(self, p: Parsed, model: ManifestDoc, names: list[str]) -> None:
        seen: set[str] = set()
        for i, dep in enumerate(model.depends_on):
            where = p.at("depends_on", i)
            if dep == model.name:
                self.error(p.error("depends on itself", where))
            elif dep in seen:
                self.error(p.error(f'depends_on lists "{dep}" twice', where))
            else:
                self.known(p, dep, names, "manifest", where)
            seen.add(dep)

    def check_cycles(self, manifests: dict[str, ManifestSpec]) -> bool:
        """Report each depends_on cycle once, as `a -> b -> a`; True when there are none."""
        state: dict[str, str] = {}  # name -> "open" | "done"
        reported: set[frozenset[str]] = set()
        stack: list[str] = []

        def visit(name: str) -> None:
            state[name] = "open"
            stack.append(name)
            for dep in manifests[name].depends_on:
                if dep not in manifests or dep == name:
                    continue
                if state.get(dep) == "open":
                    cycle = [*stack[stack.index(dep) :], dep]
                    self.report_cycle(cycle, manifests, reported)
                elif dep not in state:
                    visit(dep)
            stack.pop()
            state[name] = "done"

        for name in manifests:
            if name not in state:
                visit(name)
        return not reported

    def report_cycle(
        self, cycle: list[str], manifests: dict[str, ManifestSpec], reported: set[frozenset[str]]
    ) -> None:
        members = frozenset(cycle)
        if members in reported:
            return
        reported.add(members)
        first = manifests[cycle[0]]
        where = first.location or Location(self.config_path)
        text = " -> ".join(cycle)
        self.error(ConfigError(f'manifest "{cycle[0]}": depends_on cycle: {text}', where))

    # -- targets -------------------------------------------------------------------------

    def targets(
        self,
        workspaces: dict[str, WorkspaceSpec],
        manifests: dict[str, ManifestSpec],
        acyclic: bool,
    ) -> list[_Draft]:
        order = self.order(manifests) if acyclic else list(manifests)
        drafts = self.drafts()
        seen: dict[str, Location] = {}
        out: list[_Draft] = []
        names = [w.model.name for w in self.of(WorkspaceDoc) if isinstance(w.model, WorkspaceDoc)]
        for draft in drafts:
            spec = draft.spec
            where = draft.parsed.at(*draft.entry) if draft.entry else draft.parsed.at()
            if not self.unique(seen, spec.address, draft.label, where):
                continue
            self.known(draft, spec.workspace, names, "workspace", draft.at("workspace"))
            listed = self.check_target_manifests(draft, manifests)
            ordered = tuple(name for name in order if name in listed)
            out.append(
                _Draft(
                    _replace_manifests(spec, ordered),
                    draft.parsed,
                    draft.entry,
                    draft.label,
                    draft.implicit_wave,
                )
            )
        return out

    def folder_of(
        self, p: Parsed, path: tuple[str | int, ...], folder_id: int | None, folder: str | None
    ) -> tuple[int, str | None] | None:
        """(folder_id, folder path) of a target: exactly one of the two keys."""
        if folder_id is not None and folder is not None:
            self.error(p.error("give folder_id or folder, not both", p.key_at(*path, "folder")))
            return None
        if folder_id is None and folder is None:
            self.error(p.error("needs folder_id or folder (a path)", p.at(*path)))
            return None
        return (folder_id or 0), folder

    def environment_of(self, p: Parsed, model: TargetDoc | FleetDoc) -> str | list[str] | None:
        """`environment` (one or a list) or `environments` (a list), not both."""
        if model.environment is not None and model.environments is not None:
            where = p.key_at("environments")
            self.error(p.error("give environment or environments, not both", where))
        if model.environments is not None:
            return list(model.environments)
        return (
            model.environment
            if isinstance(model.environment, str | None)
            else list(model.environment)
        )

    def target_drafts(self, p: Parsed, model: TargetDoc) -> list[_Draft]:
        folder = self.folder_of(p, (), model.folder_id, model.folder)
        if folder is None:
            return []
        folder_id, path = folder
        envs, own_waves = _environments(self.environment_of(p, model))
        if (model.environment or model.environments) and model.customer is None:
            where = p.key_at("environment")
            self.error(p.error("environment needs a customer (an Embedded customer)", where))
            return []
        drafts = []
        for env in envs:
            address = target_address(model.name, model.customer, path or folder_id, env)
            spec = TargetSpec(
                address=address,
                workspace=model.workspace,
                folder_id=folder_id,
                manifests=tuple(model.manifests),
                customer=model.customer,
                restart_recipes=model.restart_recipes,
                include_tags=model.include_tags,
                folder_id_for_home_assets=model.folder_id_for_home_assets,
                wave=_env_wave(model.wave, env, own_waves),
                recipes=model.recipes,
                location=p.doc.location,
                folder_path=path,
                create_folders=model.create_folders,
                environment=env,
            )
            drafts.append(_Draft(spec, p, (), f'target "{address}"', own_waves and env is not None))
        return drafts

    def fleet_drafts(self, p: Parsed, model: FleetDoc) -> list[_Draft]:
        if model.customers is None:
            self.error(p.error("needs customers, or from_workato to list them", p.at()))
            return []
        drafts: list[_Draft] = []
        for i, entry in enumerate(model.customers):
            drafts.extend(self.fleet_entry(p, model, entry, ("customers", i)))
        return drafts

    def fleet_entry(
        self,
        p: Parsed,
        model: FleetDoc,
        entry: FleetCustomerModel,
        path: tuple[str | int, ...],
        fleet: str | None = None,
    ) -> list[_Draft]:
        if entry.folder_id is not None or entry.folder is not None:
            folder = self.folder_of(p, path, entry.folder_id, entry.folder)
        else:
            folder = self.folder_of(p, (), None, model.folder)
        if folder is None:
            return []
        folder_id, folder_path = folder
        envs, own_waves = _environments(self.environment_of(p, model))
        drafts = []
        for env in envs:
            address = target_address(entry.name, entry.customer, folder_path or folder_id, env)
            spec = TargetSpec(
                address=address,
                workspace=model.workspace,
                folder_id=folder_id,
                manifests=tuple(
                    entry.manifests if entry.manifests is not None else model.manifests
                ),
                customer=entry.customer,
                restart_recipes=_pick(entry.restart_recipes, model.restart_recipes),
                include_tags=_pick(entry.include_tags, model.include_tags),
                folder_id_for_home_assets=entry.folder_id_for_home_assets,
                wave=_env_wave(entry.wave or model.wave, env, own_waves),
                recipes=entry.recipes or model.recipes,
                location=p.at(*path),
                folder_path=folder_path,
                create_folders=model.create_folders,
                environment=env,
                fleet=fleet,
            )
            label = f'{p.label}: target "{address}"'
            drafts.append(_Draft(spec, p, path, label, own_waves and env is not None))
        return drafts

    def fleet_sources(
        self, manifests: dict[str, ManifestSpec], acyclic: bool
    ) -> list[tuple[FleetSource, list[_Draft]]]:
        """Fleets listed from Workato: a template target (checked like a target) each, one
        per environment, and the YAML's entries as overrides by customer."""
        out: list[tuple[FleetSource, list[_Draft]]] = []
        order = self.order(manifests) if acyclic else list(manifests)
        names = [w.model.name for w in self.of(WorkspaceDoc) if isinstance(w.model, WorkspaceDoc)]
        for p in self.of(FleetDoc):
            model = p.model
            assert isinstance(model, FleetDoc)
            if model.from_workato is None:
                continue
            if model.folder is None:
                where = p.key_at("from_workato")
                message = "from_workato needs a folder: a path in every customer's workspace"
                self.error(p.error(message, where))
                continue
            template = FleetCustomerModel.model_validate({"customer": "0", "folder": model.folder})
            drafts = self.fleet_entry(p, model, template, (), fleet=model.name)
            checked = [self.checked_template(d, p, manifests, order, names) for d in drafts]
            if not checked:
                continue
            overrides: dict[str, tuple[TargetSpec, ...]] = {}
            for i, entry in enumerate(model.customers or ()):
                entry_path: tuple[str | int, ...] = ("customers", i)
                specs = [
                    self.checked_template(d, d.parsed, manifests, order, names, d.label).spec
                    for d in self.fleet_entry(p, model, entry, entry_path, fleet=model.name)
                ]
                overrides.setdefault(entry.customer, tuple(specs))
            source = FleetSource(
                name=model.name,
                template=checked[0].spec,
                select=_select(model.from_workato),
                overrides=overrides,
                environments=tuple(d.spec.environment for d in checked if d.spec.environment),
                waves=tuple(d.spec.wave for d in checked),
                location=p.doc.location,
            )
            out.append((source, checked))
        return out

    def checked_template(
        self,
        draft: _Draft,
        p: Parsed,
        manifests: dict[str, ManifestSpec],
        order: list[str],
        names: list[str],
        label: str | None = None,
    ) -> _Draft:
        """A generated fleet's template (or override): references checked, manifests in
        dependency order."""
        checking = _Draft(draft.spec, p, draft.entry, label or p.label, draft.implicit_wave)
        self.known(checking, draft.spec.workspace, names, "workspace", checking.at("workspace"))
        listed = self.check_target_manifests(checking, manifests)
        spec = _replace_manifests(draft.spec, tuple(n for n in order if n in listed))
        return _Draft(spec, p, draft.entry, checking.label, draft.implicit_wave)

    def order(self, manifests: dict[str, ManifestSpec]) -> list[str]:
        known = {
            name: ManifestSpec(
                name=m.name,
                folder_id=m.folder_id,
                depends_on=tuple(d for d in m.depends_on if d in manifests),
            )
            for name, m in manifests.items()
        }
        empty = SourceSpec(workspace="")
        return DesiredState(
            workspaces={}, source=empty, manifests=known, targets={}
        ).manifest_order()

    def drafts(self) -> list[_Draft]:
        drafts: list[_Draft] = []
        for p in self.parsed:
            if isinstance(p.model, TargetDoc):
                drafts.extend(self.target_drafts(p, p.model))
            elif isinstance(p.model, FleetDoc) and p.model.from_workato is None:
                drafts.extend(self.fleet_drafts(p, p.model))
        seen: dict[str, Location] = {}
        for p in self.of(FleetDoc):
            assert isinstance(p.model, FleetDoc)
            self.unique(seen, p.model.name, p.label, p.at("name"))
        return drafts

    def check_target_manifests(self, draft: _Draft, manifests: dict[str, ManifestSpec]) -> set[str]:
        listed = draft.spec.manifests
        for i, name in enumerate(listed):
            where = draft.at("manifests", i)
            if name in listed[:i]:
                self.error(draft.error(f'manifests lists "{name}" twice', where))
            elif self.known(draft, name, list(manifests), "manifest", where):
                for dep in manifests[name].depends_on:
                    if dep in manifests and dep not in listed:
                        message = (
                            f'manifest "{name}" depends on "{dep}", which this target does not list'
                        )
                        self.error(draft.error(message, where))
        return set(listed)

    def check_waves(self, drafts: list[_Draft], rollout: RolloutSpec) -> None:
        if "Rollout" in self.broken:
            return  # the Rollout's own errors are reported; its waves are unknown
        declared = rollout.location is not None
        for draft in drafts:
            wave = draft.spec.wave
            if wave in rollout.waves:
                continue
            wave_path = draft.path("wave")
            has_key = bool(wave_path) and wave_path[-1] == "wave"
            where = draft.parsed.at(*wave_path) if has_key else draft.parsed.at(*draft.entry)
            if not declared:
                message = (
                    f'wave "{wave}" needs a Rollout that lists it '
                    f'(without a Rollout every target is in wave "{DEFAULT_WAVE}")'
                )
            elif not has_key:
                message = (
                    f'has no wave, so it is in wave "{DEFAULT_WAVE}", '
                    f"which the Rollout does not list ({', '.join(rollout.waves)})"
                )
            else:
                hint = did_you_mean(wave, rollout.waves)
                message = (
                    f'unknown wave "{wave}"{hint}: the Rollout lists {", ".join(rollout.waves)}'
                )
            self.error(draft.error(message, where))

    def check_folders(self, drafts: list[_Draft]) -> None:
        """Two targets may share a folder only with the same settings and other manifests."""
        claimed: dict[tuple[str, str | None, str | None, int | str], _Draft] = {}
        for draft in drafts:
            spec = draft.spec
            folder = spec.folder_path if spec.folder_path is not None else spec.folder_id
            key = (spec.workspace, spec.customer, spec.environment, folder)
            first = claimed.setdefault(key, draft)
            if first is draft:
                continue
            where = draft.parsed.at(*draft.entry) if draft.entry else draft.at("folder_id")
            other = f'target "{first.spec.address}" ({first.spec.location})'
            differing = [s for s in _SETTINGS if getattr(spec, s) != getattr(first.spec, s)]
            if differing:
                message = (
                    f"folder {spec.folder_label} is also {other} with different "
                    f"{', '.join(differing)}"
                )
                self.error(draft.error(message, where))
            for name in sorted(set(spec.manifests) & set(first.spec.manifests)):
                message = f'folder {spec.folder_label} already gets manifest "{name}" from {other}'
                self.error(draft.error(message, where))
        self.check_customer_spellings(drafts)

    def check_customer_spellings(self, drafts: list[_Draft]) -> None:
        """A numeric id and an `E...` external id may be one customer: only Workato knows,
        so two targets in the same folder id written both ways are a warning."""
        seen: dict[tuple[str, int, bool], _Draft] = {}
        for draft in drafts:
            spec = draft.spec
            if spec.customer is None:
                continue
            numeric = spec.customer.isdigit()
            seen.setdefault((spec.workspace, spec.folder_id, numeric), draft)
            other = seen.get((spec.workspace, spec.folder_id, not numeric))
            if other is None or seen[(spec.workspace, spec.folder_id, numeric)] is not draft:
                continue
            ids = sorted([spec.customer, str(other.spec.customer)], key=str.isdigit)
            where = draft.parsed.at(*draft.entry) if draft.entry else draft.at("customer")
            message = (
                f'folder {spec.folder_id} is also target "{other.spec.address}" '
                f"({other.spec.location}): if {ids[1]} is the numeric id of {ids[0]}, both are "
                "one folder (rlcm cannot tell offline); write each customer one way"
            )
            self.out.warnings.append(draft.error(message, where))

    # -- rollout -------------------------------------------------------------------------

    def rollout(self) -> RolloutSpec:
        rollouts = self.of(RolloutDoc)
        for extra in rollouts[1:]:
            first = rollouts[0].doc.location
            self.error(extra.error(f"only one Rollout is allowed (first at {first})", extra.at()))
        if not rollouts:
            return RolloutSpec()
        p = rollouts[0]
        model = p.model
        assert isinstance(model, RolloutDoc)
        names = [w if isinstance(w, str) else w.name for w in model.waves]
        gates: list[WaveSpec] = []
        for i, wave in enumerate(model.waves):
            name = names[i]
            if name in names[:i]:
                self.error(p.error(f'waves lists "{name}" twice', p.at("waves", i)))
            elif isinstance(wave, WaveModel):
                gates.append(_wave_spec(wave, p.at("waves", i)))
                self.check_batches(p, i, wave)
        return RolloutSpec(
            waves=tuple(dict.fromkeys(names)),
            max_parallel=model.max_parallel,
            halt_after_failures=model.halt_after_failures,
            safety=_safety(model),
            location=p.doc.location,
            gates=tuple(gates),
        )

    def check_batches(self, p: Parsed, index: int, wave: WaveModel) -> None:
        """Batch sizes are cumulative: each one of the same form must be larger."""
        sizes = wave.batches or []
        for i in range(1, len(sizes)):
            before, now = sizes[i - 1], sizes[i]
            if type(before) is not type(now):
                continue  # a count and a percentage compare only once the wave is known
            if _share_value(now) <= _share_value(before):
                message = (
                    f"waves[{index}].batches[{i}]: {now} is not larger than {before}: batch "
                    "sizes are cumulative (1, 10%, 50%, 100%)"
                )
                self.error(p.error(message, p.at("waves", index, "batches", i)))

    def check_gates(self, drafts: list[_Draft], rollout: RolloutSpec) -> None:
        """Warn of a threshold that can never trigger (the config still works)."""
        if rollout.location is None:
            return
        sizes = {w: 0 for w in rollout.waves}
        for draft in drafts:
            if draft.spec.wave in sizes:
                sizes[draft.spec.wave] += 1
        rollout_at = next(p for p in self.of(RolloutDoc)).at
        for index, wave in enumerate(rollout.waves):
            gate = rollout.gate(wave)
            size = sizes[wave]
            # the gate is asked after each batch, except at the very end of the rollout
            ends = gate.batch_sizes(size)[: -1 if index == len(rollout.waves) - 1 else None]
            budget = gate.max_failures
            if gate.location is not None and size and all(budget.budget(n) >= n for n in ends):
                later = "a later batch or wave" if gate.batches else "a later wave"
                message = (
                    f"Rollout: wave {wave}: max_failures {budget} can never stop {later}: "
                    f"the wave has {_targets(size)}"
                )
                self.out.warnings.append(ConfigError(message, gate.location))
            if gate.bake is not None and index == len(rollout.waves) - 1 and gate.location:
                message = (
                    f"Rollout: wave {wave}: its bake can never delay anything: it is the last "
                    "wave (a bake waits before the next wave)"
                )
                self.out.warnings.append(ConfigError(message, gate.location))
            if index == 0 and len(rollout.waves) > 1:
                self.check_brake(rollout, wave, size, rollout_at("halt_after_failures"))
        total = sum(sizes.values())
        brake = rollout.halt_after_failures
        if brake is not None and total and brake > total:
            message = (
                f"Rollout: halt_after_failures {brake} can never trigger: the config has "
                f"{_targets(total)}"
            )
            self.out.warnings.append(ConfigError(message, rollout_at("halt_after_failures")))

    def check_brake(self, rollout: RolloutSpec, first: str, size: int, where: Location) -> None:
        """The shape from before wave gates: plain wave names and an emergency brake larger
        than the first wave, as if the brake decided whether the next wave starts."""
        brake = rollout.halt_after_failures
        if rollout.gates or brake is None or brake <= size:
            return
        message = (
            f"Rollout: halt_after_failures {brake} can never trigger in wave {first} "
            f"({_targets(size)}): it is the emergency brake of the whole apply; whether "
            f"the next wave starts is wave {first}'s gate, max_failures (default 0); write "
            f"the wave as {{name: {first}, max_failures: N}} to choose it"
        )
        self.out.warnings.append(ConfigError(message, where))

    # -- state -------------------------------------------------------------------------

    def state(self) -> StateSpec:
        docs = self.of(StateDoc)
        for extra in docs[1:]:
            first = docs[0].doc.location
            self.error(extra.error(f"only one State is allowed (first at {first})", extra.at()))
        return state_spec(docs[0], self.error) if docs else StateSpec()


def _wave_spec(model: WaveModel, where: Location) -> WaveSpec:
    return WaveSpec(
        name=model.name,
        max_failures=Share.parse(model.max_failures),
        batches=tuple(Share.parse(size) for size in model.batches or ()),
        bake=_seconds(model.bake) if model.bake is not None else None,
        health=(
            HealthSpec(**model.health.model_dump())
            if model.health is not None
            else (HealthSpec() if model.bake is not None else None)
        ),
        location=where,
    )


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _seconds(text: str) -> float:
    """`1h30m` -> 5400.0 (the pattern was checked by the schema)."""
    import re

    return sum(float(n) * _UNITS[unit] for n, unit in re.findall(r"([0-9.]+)(ms|s|m|h)", text))


def _share_value(size: int | str) -> float:
    return float(size.rstrip("%")) if isinstance(size, str) else float(size)


def _targets(count: int) -> str:
    return f"{count} target" if count == 1 else f"{count} targets"


def state_spec(p: Parsed, error: Callable[[ConfigError], None]) -> StateSpec:
    """The StateSpec of a valid `kind: State` document; its inconsistencies go to `error`."""
    model = p.model
    assert isinstance(model, StateDoc)
    if model.backend == "postgres" and model.postgres is None:
        error(p.error("backend postgres needs a postgres: {dsn_env: VARIABLE} block", p.at()))
    if model.backend == "file" and model.postgres is not None:
        where = p.key_at("postgres")
        error(p.error("a postgres block needs backend: postgres (the backend is file)", where))
    if model.backend == "file" and model.lock_timeout:
        where = p.key_at("lock_timeout")
        error(p.error("lock_timeout applies to backend: postgres only", where))
    pg = model.postgres
    return StateSpec(
        backend=model.backend,
        dsn_env=pg.dsn_env if pg else None,
        key=pg.key if pg else "default",
        schema=pg.schema_name if pg else "rlcm",
        history=model.history,
        lock_timeout=float(model.lock_timeout),
        location=p.doc.location,
    )


def _safety(model: RolloutDoc) -> SafetySpec:
    if model.safety is None:
        return SafetySpec()
    return SafetySpec(
        max_first_wave_share=model.safety.max_first_wave_share,
        min_existing_targets=model.safety.min_existing_targets,
    )


def _environments(value: str | Sequence[str] | None) -> tuple[list[str | None], bool]:
    """The environments a Target or Fleet names, and whether each gets a wave of its own."""
    if value is None:
        return [None], False
    if isinstance(value, str):
        return [value], False
    envs: list[str | None] = list(dict.fromkeys(value))
    return envs, len(envs) > 1


def _env_wave(wave: str | None, environment: str | None, own: bool) -> str:
    if not own or environment is None:
        return wave or DEFAULT_WAVE
    return f"{wave}-{environment}" if wave else environment


def _globs(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _select(model: FleetSelectModel) -> CustomerFilter:
    return CustomerFilter(
        external_id=_globs(model.external_id),
        name=_globs(model.name),
        plan_id=_globs(model.plan_id),
        exclude=_globs(model.exclude),
    )


def _pick(override: bool | None, default: bool) -> bool:
    return default if override is None else override


def _replace_manifests(spec: TargetSpec, manifests: tuple[str, ...]) -> TargetSpec:
    return replace(spec, manifests=manifests)


_STATED_QUOTAS = ("imports", "import_status", "other", "dev_imports")  # minute or hour


def _rate_limits(limits: RateLimitsModel | None) -> RateLimits:
    """The stated quotas as requests per minute, and which are hourly or fixed windows."""
    if limits is None:
        return DEFAULT_RATE_LIMITS
    given: dict[str, float] = {}
    hourly: set[str] = set()
    fixed: set[str] = set()
    for bucket in _STATED_QUOTAS:
        value = getattr(limits, bucket)
        if isinstance(value, QuotaModel):
            per_hour = value.per == "hour"
            given[bucket] = value.requests / 60 if per_hour else value.requests
            if per_hour:
                hourly.add(bucket)
            if value.window == "fixed":
                fixed.add(bucket)
        elif value is not None:
            given[bucket] = value
    # the buckets stated only per minute (customers, folders, recipes, ...), and the settings
    for name in type(limits).model_fields:
        if name not in given and name not in _STATED_QUOTAS and getattr(limits, name) is not None:
            given[name] = getattr(limits, name)
    return RateLimits(**given, hourly=frozenset(hourly), fixed=frozenset(fixed))
