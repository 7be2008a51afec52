"""A Workato-compatible simulator of the three RLCM API families (see SPEC.md).

`Simulator(DIR)` is the Python API; `transport.SimTransport(DIR)` serves it to httpx
in process (`sim://DIR`); `serve.running_server(DIR)` and `rlcm sim serve` over HTTP.
"""

from __future__ import annotations

from reconciler.simulator.core import RequestRecord, Simulator

__all__ = ["RequestRecord", "Simulator"]
