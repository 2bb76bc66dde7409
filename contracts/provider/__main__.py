"""`python -m contracts.provider <name>`: serve a provider and its provider states for the
`pact verifier` command line, print that command line, and wait for Ctrl-C."""

from __future__ import annotations

import os
import shlex
import signal
import sys
import threading

from contracts.provider.standalone import (
    PROVIDERS,
    http_pact_files,
    provider_for_cli,
    verifier_argv,
)
from contracts.sandbox import Sandbox


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in PROVIDERS:
        print(f"usage: python -m contracts.provider {{{','.join(PROVIDERS)}}}", file=sys.stderr)
        return 2
    name = argv[0]

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # A `kill` cleans up like Ctrl-C: the databases and broker names go with the provider.
    signal.signal(signal.SIGTERM, stop)
    sandbox = Sandbox()
    try:
        with provider_for_cli(name, sandbox) as provider:
            print(f"{name} on {provider.url}, provider states on {provider.states_url}")
            print("verify it with:")
            argv = verifier_argv(provider, http_pact_files(name))
            print("  " + shlex.join(os.path.relpath(a) if os.path.isabs(a) else a for a in argv))
            print("Ctrl-C stops it and drops its database.", flush=True)
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
