"""The ``jobplan`` command line (Typer)."""
