"""`python -m chaos.toxiproxy [--host H] [--port P] [--seed N]`."""

from chaos.toxiproxy.cli import main

main()
