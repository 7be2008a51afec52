"""The planner's edges: what it imports, and the live fingerprint it records."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import asdict
from typing import Any

from planner_world import in_sync

from reconciler.live import LiveAsset


def test_planner_drift_and_renderers_do_not_import_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "import reconciler.plan.planner, reconciler.drift\n"
        "import reconciler.render.plan_text, reconciler.render.plan_json\n"
        "import reconciler.render.plan_markdown, reconciler.render.drift_text\n"
        "import reconciler.render.drift_json, reconciler.render.drift_markdown\n"
        "print(','.join(m for m in ('deepdiff', 'httpx', 'rich', 'ruamel') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_live_fingerprint_is_the_digest_of_everything_read() -> None:
    # live.py builds asset dicts by hand for speed; they must stay equal to asdict().
    _, _, live = in_sync()

    def assets(items: tuple[LiveAsset, ...]) -> list[dict[str, Any]]:
        rows = (asdict(a) for a in items)
        return sorted(rows, key=lambda a: (a["type"], a["name"], a["id"]))

    expected = {
        "source_folders": {str(k): assets(v) for k, v in live.source_folders.items()},
        "manifests": {k: asdict(v) for k, v in live.manifests.items()},
        "target_folders": {k: assets(v) for k, v in (live.target_folders or {}).items()},
        # recipes without their job counts, which move with every job they run
        "target_recipes": {
            k: sorted([r.id, r.name, r.version, r.folder_id, r.running] for r in v)
            for k, v in (live.target_recipes or {}).items()
        },
    }
    text = json.dumps(expected, sort_keys=True, separators=(",", ":"), default=str)
    assert live.fingerprint() == "sha256:" + hashlib.sha256(text.encode()).hexdigest()
