"""Commands that need an optional extra say which, in one line, and exit 2 when it is missing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from harness import extras

pytestmark = pytest.mark.unit


def test_a_missing_extra_is_named_with_the_install_command(monkeypatch):
    monkeypatch.setitem(extras.EXTRAS, "load", ("no_such_module_for_faultline",))
    assert extras.missing("load") == ["no_such_module_for_faultline"]
    with pytest.raises(extras.MissingExtra) as info:
        extras.require("load", "faultline load")
    assert str(info.value) == ("faultline load needs the load extra: pip install 'faultline[load]'")
    assert info.value.exit_code == 2


def test_an_installed_extra_passes():
    extras.require("contracts", "faultline contracts")  # installed with .[all]


# The command line as it runs where pact and Schemathesis are not installed: the lookup of
# those modules finds nothing.
WITHOUT_CONTRACTS = textwrap.dedent(
    """
    import importlib.util, sys
    real = importlib.util.find_spec
    hidden = {"pact", "schemathesis"}
    importlib.util.find_spec = lambda name, *a: None if name in hidden else real(name, *a)
    sys.argv = ["faultline", *sys.argv[1:]]
    from faultline.cli import main
    main()
    """
)


@pytest.mark.parametrize("command", [["contracts"], ["fuzz", "--service", "users"]])
def test_commands_of_the_contracts_extra_refuse_in_one_line_without_it(tmp_path, command):
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_CONTRACTS, *command],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"faultline: faultline {command[0]} needs the contracts extra: "
        "pip install 'faultline[contracts]'"
    ]
    assert not (tmp_path / "reports").exists()
