"""How long an apply of a plan will take at least, from the quotas rlcm believes.

Pure arithmetic over the plan's changes and the config (no I/O): `rlcm plan` shows it in
every format and `rlcm apply` says it before it starts, naming the bucket that binds
("3,000 imports at 500/hour: at least 6 h"). benchmarks/bound.py builds its lower bound
from the same `window_bound`.

A quota of q calls per window W lets the first q calls go at once; n calls then need at
least (ceil(n / q) - 1) * W between the first and the last (`window_bound`). An apply
makes, per workspace:

- imports: one POST per planned import (bucket `imports`, or `dev_imports` for an own
  workspace), and at least one status poll each (`import_status`, or `other`);
- "other" calls: one per manifest change, per export a start and at least one status poll
  (and the download, on the developer API);
- one recipe list per target (its drift baseline, after its last import), in the Recipes
  API's bucket (`recipes`, or `dev_recipes` for an own workspace);
- imports one after another per target folder and per target workspace (one import at a
  time into a workspace), at most `max_parallel` at once, each taking at least one poll
  interval to be seen done; exports first, one poll interval. Waves run one after another,
  and inside one the runner gives a free slot to a target under way before a new one,
  until the end of the wave is in sight, where the targets with most imports left go
  first (applier/slots.py, `_rounds`): 100 targets of 3 imports at 32 in parallel take
  the 10 rounds 300 / 32 gives, where depth first alone would take 4 x 3;
- a wave's `bake:` before a later wave of the plan: waited out between their jobs, so it
  adds to the jobs' term (`_bake_term`);
- the refresh `rlcm apply` makes before its first step (`reads`: a folder read per source
  folder and a view per manifest in state, "other"; a recipe list per refreshed target):
  no step starts before it is done, so its slowest bucket's term comes before the jobs
  and before every other bucket's calls, and a bucket it reads in (the scarce "other")
  counts its reads and the steps' calls together (`_quota_terms`). `rlcm plan` counts
  them; `rlcm apply` says its estimate once its refresh is done, so it does not.

The estimate is the largest of these terms: a lower bound, reached when every job
finishes on its first poll. When an import quota binds, its term also counts what must
come before the first import and after the last window opens (`_after_window`): the
exports (one poll interval), and the imports of that last window, `max_parallel` at a
time, each at least one poll interval. The quotas are the config's (a belief, corrected by
429s while the apply runs, see workato/limits.py), so a stricter Workato makes the apply
longer.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler.config.desired import DesiredState, QuotaBucket, RateLimits, quota_of
from reconciler.plan.model import Change
from reconciler.state.model import LearnedQuota

__all__ = ["Estimate", "Term", "estimate_apply", "format_duration", "last_window", "window_bound"]

_NOUNS: dict[str, str] = {
    "imports": "imports",
    "dev_imports": "developer-API imports",
    "import_status": "import status polls",
    "other": '"other" calls',
    "recipes": "recipe list reads",
    "dev_recipes": "developer-API recipe list reads",
}
_IMPORT_BUCKETS = ("imports", "dev_imports", "import_status")


def window_bound(calls: int, limit: int, window: float) -> float:
    """Seconds between the first and the last of `calls` at `limit` per `window`."""
    return max(0, math.ceil(calls / limit) - 1) * window


def last_window(calls: int, limit: int) -> int:
    """How many of `calls` at `limit` per window start in the last window (all of them
    start no earlier than `window_bound` after the first)."""
    return calls - max(0, math.ceil(calls / limit) - 1) * limit


@dataclass(frozen=True, slots=True)
class Term:
    """One reason the apply takes time: `calls` of a bucket at its quota, or the jobs."""

    seconds: float
    text: str  # "3,000 imports at 500/hour"
    last: int = 0  # of a quota's calls: those in its last window (`last_window`)


@dataclass(frozen=True, slots=True)
class Estimate:
    """The apply's duration at least, and the term that binds."""

    seconds: float
    binding: Term
    terms: tuple[Term, ...]

    @property
    def text(self) -> str:
        return f"{self.binding.text}: at least {format_duration(self.seconds)}"

    def to_dict(self) -> dict[str, object]:
        return {
            "seconds": round(self.seconds, 1),
            "binding": self.binding.text,
            "text": self.text,
            "terms": [{"text": t.text, "seconds": round(t.seconds, 1)} for t in self.terms],
        }


def format_duration(seconds: float) -> str:
    """`6 h`, `1 h 30 min`, `12 min`, `45 s`."""
    if seconds < 60:
        return f"{max(0, math.ceil(seconds))} s"
    minutes = math.ceil(round(seconds) / 60)  # "at least 3 h", not "3 h 1 min", for 3 h 0.1 s
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


def _rate_text(rates: RateLimits, bucket: QuotaBucket) -> str:
    limit, window, fixed = quota_of(rates, bucket)  # the config's own units
    per = "hour" if window >= 3600 else "minute"
    return f"{limit:,}/{per}" + (" (fixed window)" if fixed else "")


def estimate_apply(
    desired: DesiredState,
    changes: Sequence[Change],
    learned: Mapping[str, LearnedQuota] | None = None,
    reads: Mapping[tuple[str, QuotaBucket], int] | None = None,
) -> Estimate | None:
    """The estimate of applying `changes` (None when there is nothing to apply).

    `learned`: rates an earlier apply's 429s taught (state's `quotas`); a bucket counts
    with the lower of its learned and its configured rate. `reads`: the calls of the
    refresh `rlcm apply` makes before its first step, per (workspace, bucket)
    (live/refresh.py `refresh_reads`; none when the refresh is already done)."""
    work = [c for c in changes if c.action != "forget"]
    if not work:
        return None
    reads = {key: n for key, n in (reads or {}).items() if n}
    learned = learned or {}
    calls: Counter[tuple[str, QuotaBucket]] = Counter()
    source = desired.source.workspace
    own_source = desired.source.managed_user is None
    exports = 0
    per_folder: Counter[str] = Counter()
    per_workspace: Counter[tuple[str, str | None]] = Counter()
    per_wave: dict[str, Counter[str]] = {}
    first_import: dict[str, Change] = {}  # each target's first import: its workspace
    for change in work:
        data = change.data
        if change.kind == "manifest":
            calls[(data.get("workspace") or source, "other")] += 1
        elif change.kind == "export":
            exports += 1
            calls[(source, "other")] += 3 if own_source else 2
        elif change.kind == "import":
            ws, customer = str(data["workspace"]), data.get("customer")
            if not data.get("poll_only"):
                calls[(ws, "imports" if customer else "dev_imports")] += 1
            calls[(ws, "import_status" if customer else "other")] += 1
            per_folder[str(change.target)] += 1
            first_import.setdefault(str(change.target), change)
            per_workspace[(ws, customer)] += 1
            per_wave.setdefault(change.wave or "", Counter())[str(change.target)] += 1
    for change in first_import.values():
        ws, customer = str(change.data["workspace"]), change.data.get("customer")
        # the baseline read after the target's last import: the Recipes API's list
        calls[(ws, "recipes" if customer else "dev_recipes")] += 1
    parallel = max(1, desired.rollout.max_parallel)
    # an import is seen done one poll interval after it starts, at the earliest
    poll = min((w.poll.interval for w in desired.workspaces.values()), default=2.0)
    lead = poll if exports else 0.0  # the exports run before the first import
    refresh, terms = _quota_terms(desired, calls, reads, learned, (lead, poll, parallel))
    jobs = _job_term(desired, exports, per_folder, per_workspace, per_wave)
    if refresh.seconds:  # the refresh comes first
        jobs = Term(refresh.seconds + jobs.seconds, f"{jobs.text}, after {refresh.text}")
    terms.append(jobs)
    terms.extend(_bake_term(desired, jobs, per_wave))
    binding = max(terms, key=lambda t: t.seconds)
    return Estimate(binding.seconds, binding, tuple(terms))


def _quota_terms(
    desired: DesiredState,
    calls: Mapping[tuple[str, QuotaBucket], int],
    reads: Mapping[tuple[str, QuotaBucket], int],
    learned: Mapping[str, LearnedQuota],
    timing: tuple[float, float, int],
) -> tuple[Term, list[Term]]:
    """The refresh's term (its slowest bucket; zero without reads) and each bucket's term
    for the steps' calls. The refresh comes first: a bucket it reads in goes on from its
    reads, every other one starts after it. `timing`: (lead, poll, parallel)."""
    lead, poll, parallel = timing
    refresh = max(
        (
            _quota_term(desired, ws, b, n, learned.get(f"{ws}/{b}"), " (the refresh's reads)")
            for (ws, b), n in reads.items()
        ),
        key=lambda t: t.seconds,
        default=Term(0.0, ""),
    )
    terms = []
    for (ws, bucket), n in sorted(calls.items()):
        rate = learned.get(f"{ws}/{bucket}")
        term = _quota_term(desired, ws, bucket, n, rate)
        if bucket in _IMPORT_BUCKETS and term.seconds > 0:
            term = Term(term.seconds + _after_window(term, lead, poll, parallel), term.text)
        first = reads.get((ws, bucket), 0)
        if first:
            note = f" ({first:,} of them the refresh's reads)"
            shared = _quota_term(desired, ws, bucket, first + n, rate, note)
            term = Term(max(shared.seconds, refresh.seconds + term.seconds), shared.text)
        elif term.seconds > 0 and refresh.seconds:
            term = Term(refresh.seconds + term.seconds, f"{term.text}, after {refresh.text}")
        terms.append(term)
    return refresh, terms


def _bake_term(
    desired: DesiredState, jobs: Term, per_wave: Mapping[str, Counter[str]]
) -> list[Term]:
    """The bakes the apply waits out (a wave's, before a later wave it imports into:
    applier/runner.py), on top of the jobs: the waves run one after another around them."""
    rollout = desired.rollout
    used = [w for w in rollout.waves if per_wave.get(w)]
    baking = [(w, rollout.gate(w).bake or 0.0) for w in used[:-1] if rollout.gate(w).bake]
    if not baking:
        return []
    named = ", ".join(f"wave {w} ({format_duration(b)})" for w, b in baking)
    noun = "bake of" if len(baking) == 1 else "bakes of"
    seconds = jobs.seconds + sum(b for _, b in baking)
    return [Term(seconds, f"{jobs.text}, and the {noun} {named}")]


def _quota_term(
    desired: DesiredState,
    workspace: str,
    bucket: QuotaBucket,
    n: int,
    learned: LearnedQuota | None,
    note: str = "",
) -> Term:
    spec = desired.workspaces[workspace]
    rates = spec.rate_limits
    limit, window, _ = quota_of(rates, bucket, 60.0 / rates.time_scale)
    where = f" ({workspace})" if len(desired.workspaces) > 1 else ""
    rate = _rate_text(rates, bucket)
    if learned is not None and learned.limit / learned.window < limit / (window * rates.time_scale):
        limit, window = learned.limit, learned.window / rates.time_scale
        per = "hour" if learned.window >= 3600 else "minute"
        rate = f"{learned.limit:,}/{per} (learned from Workato's 429s)"
    text = f"{n:,} {_NOUNS[bucket]}{where}{note} at {rate}"
    return Term(window_bound(n, limit, window), text, last_window(n, limit))


def _after_window(term: Term, lead: float, poll: float, parallel: int) -> float:
    """What an import quota's term leaves out: the exports before the first import, and
    the imports of the last window, `parallel` at a time, each seen done a poll later."""
    return lead + math.ceil(term.last / parallel) * poll


def _job_term(
    desired: DesiredState,
    exports: int,
    per_folder: Counter[str],
    per_workspace: Counter[tuple[str, str | None]],
    per_wave: Mapping[str, Counter[str]],
) -> Term:
    imports = sum(per_folder.values())
    parallel = max(1, desired.rollout.max_parallel)
    poll = min((w.poll.interval for w in desired.workspaces.values()), default=2.0)
    rounds = max(
        sum(_rounds(list(chains.values()), parallel) for chains in per_wave.values()),
        max(per_workspace.values(), default=0),
    )
    seconds = (rounds + (1 if exports else 0)) * poll
    return Term(seconds, f"{imports:,} imports, {parallel} in parallel, each polled done")


def _rounds(chains: Sequence[int], parallel: int) -> int:
    """Rounds of one poll interval for targets with `chains` imports each (one after
    another), at most `parallel` at once, as the runner's `Slots` serve them
    (applier/slots.py): each round every target under way does its next import and the
    slots left go to targets not started yet, in plan order (depth first), until the
    imports left fit in as many full rounds as the longest waiting target has imports;
    from then on the targets with the most imports left go first (`_longest_first`)."""
    longest_after = [0] * (len(chains) + 1)  # the longest chain of chains[i:]
    for i in range(len(chains) - 1, -1, -1):
        longest_after[i] = max(chains[i], longest_after[i + 1])
    holding: list[int] = []  # imports left, of each target that holds a slot
    left, started, rounds = sum(chains), 0, 0
    while True:
        while len(holding) < parallel and started < len(chains):
            holding.append(chains[started])
            started += 1
        if not holding:
            return rounds
        if started < len(chains) and math.ceil(left / parallel) <= longest_after[started]:
            return rounds + _longest_first([*holding, *chains[started:]], parallel)
        rounds += 1
        left -= len(holding)
        holding = [n - 1 for n in holding if n > 1]


def _longest_first(chains: Sequence[int], parallel: int) -> int:
    """Rounds for targets with `chains` imports left when each round serves the
    `parallel` with most left (Hu's rule: the fewest rounds chains can take)."""
    count = Counter(chains)
    rounds = 0
    while count:
        free, taken = parallel, []
        for n in sorted(count, reverse=True):
            take = min(free, count[n])
            taken.append((n, take))
            free -= take
            if not free:
                break
        for n, take in taken:
            count[n] -= take
            if n > 1:
                count[n - 1] += take
        count = +count  # drop the zeros
        rounds += 1
    return rounds
