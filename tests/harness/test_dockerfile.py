"""The Dockerfile: clean under hadolint, and built the way the seed asks (multi-stage, pinned
base, non-root, nothing used to build in the final image). There is no Docker engine here, so the
file is read by the linter and a parser, not built."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
HADOLINT = Path(sys.executable).with_name("hadolint")
PINNED = re.compile(r"^[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}$")
BUILD_TOOLS = ("gcc", "g++", "make", "build-essential", "python3-dev", "libpq-dev", "git")


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    # Failure threshold "info": even the mildest finding fails the test.
    return subprocess.run(
        [str(HADOLINT), "--no-color", "--failure-threshold", "info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def stages() -> list[list[dict]]:
    """The instructions of each stage, in order."""
    out: list[list[dict]] = []
    for item in DockerfileParser(path=str(DOCKERFILE)).structure:
        if item["instruction"] == "FROM":
            out.append([])
        if out:
            out[-1].append(item)
    return out


def test_hadolint_finds_nothing():
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_flags_what_the_old_single_stage_root_pattern_did(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM python\nRUN apt-get update && apt-get install -y gcc\nUSER root\nCMD python -m app\n"
    )
    result = hadolint(bad)
    assert result.returncode == 1
    for rule in ("DL3006", "DL3008", "DL3002", "DL3025"):  # untagged, unpinned, root, shell CMD
        assert rule in result.stdout


def test_wheels_are_built_in_one_stage_and_installed_offline_in_a_clean_final_one():
    build, final = stages()[0], stages()[-1]
    assert len(stages()) >= 2
    build_runs = " ".join(i["value"] for i in build if i["instruction"] == "RUN")
    assert "pip wheel" in build_runs
    final_runs = " ".join(i["value"] for i in final if i["instruction"] == "RUN")
    assert "--no-index" in final_runs and "from=build" in final_runs
    # Nothing of the source tree or the build toolchain reaches the final stage.
    assert not [i for i in final if i["instruction"] in ("COPY", "ADD")]
    assert "apt-get" not in final_runs and "apk " not in final_runs
    for tool in BUILD_TOOLS:
        assert not re.search(rf"\b{re.escape(tool)}\b", final_runs), tool


def test_every_stage_starts_from_a_base_pinned_by_tag_and_digest():
    for stage in stages():
        image = stage[0]["value"].split()[0]
        assert PINNED.match(image), image


def test_the_image_runs_as_a_numeric_non_root_user():
    users = [i["value"] for i in stages()[-1] if i["instruction"] == "USER"]
    assert users, "the final stage sets no USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) > 0 and (not gid or int(gid) > 0)


def test_nothing_is_added_from_a_url_and_cmd_is_exec_form():
    parser = DockerfileParser(path=str(DOCKERFILE))
    for item in parser.structure:
        if item["instruction"] == "ADD":
            assert "://" not in item["value"]
    cmd = [i for i in parser.structure if i["instruction"] == "CMD"][-1]
    assert cmd["value"].startswith("[")


def test_the_build_copies_every_package_the_distribution_ships():
    # A package added to pyproject.toml but not copied would be missing from the image.
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    copied = {
        i["value"].split()[0]
        for i in stages()[0]
        if i["instruction"] == "COPY" and "--from" not in i["value"]
    }
    assert "pyproject.toml" in copied
    for pattern in include:
        assert pattern.rstrip("*") in copied, pattern


def test_dockerignore_keeps_local_state_out_of_the_build_context():
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".faultline", "reports"} <= ignored
