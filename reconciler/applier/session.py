"""One apply from start to end: wire state, clients and cache, run, report.

The CLI takes the lock, decides whether the plan may run (confirmation, staleness,
safety) and renders the report; this module only executes.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from reconciler.applier.gates import Gates
from reconciler.applier.recorder import Recorder, now_iso
from reconciler.applier.runner import RunSettings, run_plan
from reconciler.applier.steps import StepContext
from reconciler.content.cache import PackageCache
from reconciler.plan import Plan
from reconciler.render.progress import ApplyProgress
from reconciler.report import ApplyReport
from reconciler.state.model import LearnedQuota

if TYPE_CHECKING:
    from reconciler.state.inputs import Inputs
    from reconciler.workato.client import WorkatoClient

__all__ = ["BATCH_WINDOW", "COMMIT_WINDOW", "apply_plan"]

# seconds of finished imports that share one state write (recorder.py: group commit)
BATCH_WINDOW = 0.2
# seconds of job ids that share one state write; the steps that started them wait for it,
# so a started job is never left unrecorded for longer than this (recorder.py)
COMMIT_WINDOW = 0.05


async def apply_plan(
    inputs: Inputs,
    clients: dict[str, WorkatoClient],
    plan: Plan,
    *,
    progress: ApplyProgress | None = None,
    stop: asyncio.Event | None = None,
    deadline: float | None = None,
    max_duration: str = "",
) -> ApplyReport:
    desired = inputs.desired
    ctx = StepContext(
        clients=clients,
        recorder=Recorder(
            inputs.store, inputs.state, batch_window=BATCH_WINDOW, commit_window=COMMIT_WINDOW
        ),
        cache=PackageCache(inputs.cache_dir),
        source_workspace=desired.source.workspace,
        source_owner=desired.source.managed_user,
        stop=stop or asyncio.Event(),
        subjects={
            **{f"manifest {m.name}": m.subject for m in desired.manifests.values()},
            **{f"target {t.address}": t.subject for t in desired.targets.values()},
        },
    )
    members = {
        wave: [t.address for t in desired.targets_in_wave(wave)] for wave in desired.rollout.waves
    }
    settings = RunSettings(
        max_parallel=desired.rollout.max_parallel,
        gates=Gates.of(desired.rollout, members),
        deadline=deadline,
        max_duration=max_duration,
    )
    try:
        return await run_plan(plan, ctx, settings, progress)
    finally:
        ctx.recorder.quotas_learned(_learned(clients))


def _learned(clients: dict[str, WorkatoClient]) -> dict[str, LearnedQuota | None]:
    """What the apply's 429s taught each bucket: its rate, when below the configured one
    (None for a bucket that throttled but climbed back)."""
    from reconciler.workato.limits import BUCKETS

    out: dict[str, LearnedQuota | None] = {}
    for name, client in clients.items():
        scale = client.settings.rate_limits.time_scale
        for bucket in BUCKETS:
            limiter = client.limiters.bucket(bucket)
            if not limiter.throttles:
                continue
            key = f"{name}/{bucket}"
            if limiter.limit >= limiter.ceiling or limiter.learned is None:
                out[key] = None
                continue
            limit, window = limiter.learned
            out[key] = LearnedQuota(
                workspace=name,
                bucket=bucket,
                limit=limit,
                window=window * scale,
                learned_at=now_iso(),
            )
    return out
