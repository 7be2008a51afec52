"""The lower bound of a run, from the quotas, the job durations, max_parallel and the chain.

A quota of q calls per sliding window W lets the first q calls go at once; n calls then
need at least (ceil(n / q) - 1) * W between the first and the last:

    window_bound(n, q) = (ceil(n / q) - 1) * W            (0 when n <= q)

Apply of M manifests to N targets, each target importing K of them (K = M, or a product's
K in a catalogue world of M = products x K manifests: benchmarks/world.py); d = job
duration, L = latency of one answer:

    T_src   = d + 4L          read source folders, create manifests, export, poll it done,
                              download the package
    T_imp   = d + L           one import: POST, job runs d, one status poll answers
    B_slots = max(ceil(N*K / P), K) * T_imp     P = max_parallel; a target's K imports
                                                 run one after another (depends_on, and
                                                 one import at a time per workspace)
    B_imp   = window_bound(N*K, 1000) + ceil(r / P) * T_imp
                              imports quota: the r = last_window(N*K, 1000) imports of the
                              last window start no earlier than window_bound after the
                              first, at most P at a time, and each runs T_imp
    B_stat  = window_bound(N*K, 1000)            >= one status poll per import
    B_jobs  = max(B_slots, B_imp, B_stat)
    O_r     = S + V           the apply's own refresh in the "other" bucket: S source folder
                              reads, V manifest views (the manifests state records)
    O_e     = 3M              its steps' "other" calls: per manifest create, export, export
                              status (a first apply; none when the packages are current):
                              O(manifests), whatever N
    B_oth   = window_bound(O_r + O_e, 60) + L + (T_imp + L   if O_e else   B_jobs + L)
                              the last "other" call starts no earlier than window_bound;
                              an apply refreshes first and creates, exports and polls in
                              that order per manifest, so that last call is an export's
                              status poll (after it, that manifest's imports run, T_imp,
                              then the target's baseline read) or, without exports, a
                              refresh read (the plan, and so every import, waits for it)
    R       = N               Recipes API reads: one list per target after its last import
                              (the drift baseline), in its own 2,000/minute bucket
    LB      = max(T_src + B_jobs + L,  B_oth,  window_bound(R, 2000) + L)

The package download goes to the storage host (no quota) and is taken as instantaneous.
A plan reads S source folders and V manifest views (by id in state) in the "other" bucket
and, with target refresh, one recipe list per target in the recipes bucket:
LB = max(window_bound(S + V, 60), window_bound(N, 2000)) + L. Drift reads the same, and
each target's other assets with folder_assets in the "other" bucket:
LB = max(window_bound(S + V + N, 60), window_bound(N, 2000)) + L.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from benchmarks.world import World
from reconciler.plan.estimate import last_window, window_bound  # the estimate counts alike

__all__ = ["Bound", "apply_bound", "plan_bound", "window_bound"]


@dataclass(frozen=True)
class Bound:
    seconds: float  # simulated (real Workato) seconds
    binding: str  # which term decides it
    other_calls: int
    recipe_calls: int = 0

    def as_dict(self, world: World) -> dict[str, float | str | int]:
        return {
            "real_equivalent_s": round(self.seconds, 2),
            "scaled_s": round(world.real(self.seconds), 3),
            "binding": self.binding,
            "other_calls": self.other_calls,
            "recipe_calls": self.recipe_calls,
        }


def apply_bound(targets: int, world: World, *, refreshed: int = 0, first: bool = True) -> Bound:
    """`refreshed`: targets the apply's own plan reads first (imported before: one recipe
    list each, in the recipes bucket); `first=False`: the manifests exist and their
    packages too (no create, no export: the plan reads each manifest once)."""
    n, k, d, lat, w = targets, world.manifests, world.job_duration, world.latency, world.window
    m = world.exported
    t_src = d + 4 * lat if first else lat
    t_imp = d + lat
    imports = n * k
    terms = {
        "max_parallel and job duration": max(math.ceil(imports / world.max_parallel), k) * t_imp,
        "imports quota": window_bound(imports, world.quota_imports, world.imports_window)
        + math.ceil(last_window(imports, world.quota_imports) / world.max_parallel) * t_imp
        if imports > world.quota_imports
        else 0.0,
        "import status quota": window_bound(imports, world.quota_import_status, w),
    }
    binding = max(terms, key=lambda key: terms[key])
    jobs = terms[binding]
    # per-target reads (the plan's refresh, the baseline after the imports) go through the
    # Recipes API: the "other" bucket carries only the source's and the manifests' calls,
    # the refresh's reads before the steps' creates, exports and status polls
    reads = world.source_folders + (0 if first else m)
    steps = 3 * m if first else 0
    after = t_imp + lat if steps else jobs + lat  # what follows the last "other" call
    recipes = n + refreshed
    whole = {
        binding: t_src + jobs + lat,
        f'"other" quota ({world.quota_other}/min)': window_bound(
            reads + steps, world.quota_other, w
        )
        + lat
        + after,
        "recipes quota (2,000/min)": window_bound(recipes, world.quota_recipes, w) + lat,
    }
    binding = max(whole, key=lambda key: whole[key])
    return Bound(whole[binding], binding, reads + steps, recipes)


def plan_bound(targets: int, world: World, *, views: int, refresh_targets: bool) -> Bound:
    other = world.source_folders + views
    recipes = targets if refresh_targets else 0
    terms = {
        '"other" quota (60/min)': window_bound(other, world.quota_other, world.window),
        "recipes quota (2,000/min)": window_bound(recipes, world.quota_recipes, world.window),
    }
    binding = max(terms, key=lambda k: terms[k])
    if terms[binding] == 0:
        binding = "latency"
    return Bound(max(terms.values()) + world.latency, binding, other, recipes)


def drift_bound(targets: int, world: World, *, views: int) -> Bound:
    other = world.source_folders + views + targets
    terms = {
        '"other" quota (60/min)': window_bound(other, world.quota_other, world.window),
        "recipes quota (2,000/min)": window_bound(targets, world.quota_recipes, world.window),
    }
    binding = max(terms, key=lambda k: terms[k])
    if terms[binding] == 0:
        binding = "latency"
    return Bound(max(terms.values()) + world.latency, binding, other, targets)
