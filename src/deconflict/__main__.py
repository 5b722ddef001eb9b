"""``python -m deconflict`` runs the command line."""

from deconflict.cli.main import main

if __name__ == "__main__":
    main()
