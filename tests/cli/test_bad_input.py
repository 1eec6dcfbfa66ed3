"""Bad input fails cleanly: exit status 2, one message naming the problem and the fix, no traceback,
nothing already written lost. The cases live in ``tests/cli/bad_input_cases.py``, which also
generates the README's Troubleshooting section.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptsearch.cli import main
from promptsearch.models import LoadedModel
from tests._tiny import save_loaded
from tests.backends.openai_server import FakeServer, serve
from tests.cli.bad_input_cases import CASES, FILES, MODEL, Case, markdown

ROOT = Path(__file__).resolve().parents[2]
FAST_S = 15.0  # every case fails before any real work: loading the tiny model at most


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_causal: LoadedModel) -> Path:
    return save_loaded(tiny_causal, tmp_path_factory.mktemp("bad-input") / MODEL)


def _snapshot(folder: Path) -> dict[str, str]:
    """Content hash of every file under ``folder`` (the linked model folder left out)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).parts[0] != MODEL
    }


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # usage errors exit through argparse
        return int(exc.code or 0)


def test_there_are_enough_distinct_cases() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
    assert all(name in FILES for c in CASES for name in c.files)


@pytest.fixture(scope="module")
def server(tiny_causal: LoadedModel) -> Iterator[FakeServer]:
    with serve(tiny_causal) as state:
        yield state


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_fails_cleanly(
    case: Case,
    model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    argv = case.argv
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    if case.server is not None:
        state: FakeServer = request.getfixturevalue("server")
        for key, value in case.server:
            monkeypatch.setattr(state, key, list(value) if isinstance(value, list) else value)
        argv = case.argv_for(state.url)
    monkeypatch.chdir(tmp_path)
    (tmp_path / MODEL).symlink_to(model_dir, target_is_directory=True)
    for name in case.files:
        FILES[name](tmp_path)
    before = _snapshot(tmp_path)
    capsys.readouterr()
    started = time.perf_counter()
    code = _run(["-q", *argv])
    elapsed = time.perf_counter() - started
    out, err = capsys.readouterr()
    assert code == 2, f"exit status {code}; stderr:\n{err}"
    assert "Traceback" not in err and "Traceback" not in out
    lines = [line for line in err.splitlines() if line.strip()]
    # One message: the first line of stderr is the error, and nothing else is logged or printed.
    assert lines and lines[0].startswith(f"promptsearch {case.argv[0]}") and ": error: " in lines[0], err
    assert sum(line.startswith("promptsearch ") for line in lines) == 1, err
    assert not any(line.startswith(("WARNING", "ERROR", "INFO")) for line in lines), err
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not warnings, f"logged before the error: {warnings}"
    assert case.expect in err, f"expected {case.expect!r} in:\n{err}"
    if case.secret is not None:
        assert case.secret not in err + out
    assert elapsed < FAST_S, f"took {elapsed:.1f} s"
    after = _snapshot(tmp_path)
    assert {k: after.get(k) for k in before} == before, "a file that existed before was changed or removed"


def test_readme_troubleshooting_is_generated_from_the_cases() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.find("\n## Troubleshooting\n")
    assert start >= 0, (
        "README.md has no '## Troubleshooting' section; insert the output of "
        "`python -m tests.cli.bad_input_cases --markdown`"
    )
    end = readme.find("\n## ", start + 1)
    section = readme[start + 1 : end if end >= 0 else len(readme)]
    assert section.strip() == markdown().strip(), (
        "README.md's Troubleshooting section differs from the cases; regenerate it with "
        "`python -m tests.cli.bad_input_cases --markdown`"
    )
    assert readme.index("## Troubleshooting") < readme.index("## Development")
