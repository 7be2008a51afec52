"""The sequential baseline: how single-target tools roll out, with rlcm's own client.

For each target, for each of its manifests: export, poll, download, import, poll. No
package is shared between targets and nothing runs concurrently. The manifests are
created once first (the peers expect them to exist). Run as its own process:

    python -m benchmarks.baseline CONFIG_DIR
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from reconciler.cli.connect import open_client
from reconciler.config import load_desired
from reconciler.config.desired import DesiredState


async def roll_out(desired: DesiredState) -> dict[str, object]:
    from reconciler.workato.models import ManifestBody

    source = desired.source
    client = open_client(desired.workspaces[source.workspace])
    owner = source.managed_user
    ids: dict[str, int] = {}
    failed = 0
    async with client:
        for name, spec in desired.manifests.items():
            body = ManifestBody(name=name, folder_id=spec.folder_id, auto_generate_assets=True)
            ids[name] = (await client.create_manifest(owner, body)).id
        for target in desired.targets.values():
            for name in target.manifests:
                started = await client.start_export(owner, ids[name])
                job = await client.wait_export(owner, started.id)
                package = await client.download_package(owner, job)
                begun = await client.start_import(
                    target.customer,
                    target.folder_id,
                    package,
                    restart_recipes=target.restart_recipes,
                    include_tags=target.include_tags,
                    folder_id_for_home_assets=target.folder_id_for_home_assets,
                )
                done = await client.wait_import(target.customer, begun.id)
                failed += done.status != "completed"
    stats = client.stats
    return {"failed": failed, "requests": dict(stats.requests), "429": stats.rate_limited}


def main(argv: list[str]) -> int:
    desired = load_desired(Path(argv[0]))
    print(json.dumps(asyncio.run(roll_out(desired))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
