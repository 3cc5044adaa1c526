"""Use cases: every operation once, tenant-scoped and permission-checked.

The REST API, the dialects, the CLI and the web UI are thin adapters over this package.
"""
