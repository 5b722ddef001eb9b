"""``python -m deconflict`` runs the command line."""

from deconflict.cli.main import main

main()
