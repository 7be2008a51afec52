"""Package zips: inspect and check them (package.py), keep them by digest (cache.py),
compare two of them recipe by recipe (diff.py), and preview a planned export (preview.py).

Import from the submodules: this file imports nothing, so that loading it stays cheap
(diff.py pulls in deepdiff).
"""
