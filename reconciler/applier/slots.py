"""Import slots: at most `max_parallel` imports at once, and who gets a slot that frees up.

Each target runs its imports one after another (applier/runner.py, `_chain`), so the order
in which waiting targets get slots decides both when targets finish and how long the
wave takes:

- **Depth first.** A target already under way is served before one not yet started, and
  keeps its slot for its next import. A plain FIFO semaphore makes every target do its
  first import before any does its second: at 1,000 targets x 3 manifests the first target
  finished (and its baseline read started) only after two thirds of all imports, and an
  apply stopped half-way left every target half-imported.
- **Longest first at the end.** Depth first alone leaves a tail: 100 targets x 3 at 32 in
  parallel run as 4 groups of 3 rounds, the last group 4 targets on 4 slots, 12 rounds
  where 300 / 32 needs 10. So once the imports not yet started fit in as many full rounds
  as the longest waiting target still has imports (`ceil(left / size) <= longest`), the
  waiter with the most imports left goes first, and a target under way hands its slot to
  such a waiter between two of its imports (`should_yield`). That is Hu's rule (highest
  level first), which finishes chains of unit jobs in the fewest rounds; at equal chains
  the wave takes `max(ceil(imports / size), chain)` rounds. plan/estimate.py counts alike.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math

__all__ = ["Slots"]

_Entry = tuple[int, int, int, "asyncio.Future[None]"]


class Slots:
    def __init__(self, size: int) -> None:
        self._size = max(1, size)
        self._free = self._size
        # every waiter is in both heaps; an entry whose future is done is stale
        self._by_rank: list[_Entry] = []  # (rank, 0, order): depth first
        self._by_left: list[_Entry] = []  # (-left, rank, order): longest first
        self._order = itertools.count()
        self._left = 0  # imports expected and not yet started

    def expect(self, imports: int) -> None:
        """`imports` more will ask for slots (a batch of targets about to start)."""
        self._left += imports

    def spent(self, imports: int = 1) -> None:
        """`imports` of those expected started, or will not run (skipped, braked)."""
        self._left = max(0, self._left - imports)

    async def acquire(self, rank: int, left: int) -> None:
        """A slot for a target's next import: `rank` -k for its k-th import (lower first,
        depth first), `left` its imports from this one on (more first, at the end)."""
        if self._free > 0:  # (a waiter exists only while no slot is free)
            self._free -= 1
            return
        slot = asyncio.get_running_loop().create_future()
        order = next(self._order)
        heapq.heappush(self._by_rank, (rank, 0, order, slot))
        heapq.heappush(self._by_left, (-left, rank, order, slot))
        try:
            await slot
        except asyncio.CancelledError:
            if slot.done() and not slot.cancelled():
                self.release()  # handed over just as we were cancelled: pass it on
            raise

    def release(self) -> None:
        heap = self._by_left if self._endgame() else self._by_rank
        while heap:
            slot = heapq.heappop(heap)[-1]
            if not slot.done():
                slot.set_result(None)
                return
        self._free += 1

    def should_yield(self, left: int) -> bool:
        """Whether a target holding a slot, with `left` imports to go, should hand it to a
        waiter with more: only at the end of the wave's work (see the module)."""
        longest = self._longest_waiting()
        return longest is not None and longest > left and self._endgame()

    def _endgame(self) -> bool:
        longest = self._longest_waiting()
        return longest is not None and math.ceil(self._left / self._size) <= longest

    def _longest_waiting(self) -> int | None:
        heap = self._by_left
        while heap and heap[0][-1].done():
            heapq.heappop(heap)
        return -heap[0][0] if heap else None
