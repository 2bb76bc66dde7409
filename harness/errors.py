"""Errors a user can act on: the CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """Bad input or a missing dependency (server, file, flag) that the user must fix."""

    exit_code = 2
