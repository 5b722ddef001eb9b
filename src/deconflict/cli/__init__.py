"""The ``deconflict`` command line: thin typer commands over the layers below."""
