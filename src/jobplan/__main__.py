"""``python -m jobplan`` runs the CLI."""

from jobplan.cli.main import main

main()
