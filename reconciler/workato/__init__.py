"""The Workato RLCM API client (all three API families).

Import from the submodules (`reconciler.workato.client`, `.models`, ...): this package
file imports nothing so that loading it stays cheap.

Layers, outermost first (one concern each):

    client.py    one method per endpoint: path, quota bucket, retry rule, answer model
    retry.py     which failures may be retried for which call, backoff, Retry-After
    limits.py    client-side quota buckets shared by every client of one workspace
    download.py  package download: redirects without credentials, size cap, zip check
    auth.py      credentials from the environment, headers, the legacy-auth warning
    paths.py     URL paths of the embedded and developer API families
    models.py    pydantic models of the answers (the edge), tolerant of documented quirks
"""
