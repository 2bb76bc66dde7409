"""One module per area of the command line, each with a Typer `app` of its own commands.

A new area is a module here plus one line in `faultline.cli.COMMANDS`. A command parses its
flags, calls the layer that does the work (imported inside the command, so `faultline --help`
stays fast and needs no optional extra) and renders the result.
"""
