"""Reading a search space is bounded: file size and alias expansion, each with a limit to raise."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from promptsearch.exceptions import ConfigError
from promptsearch.space import load_search_space


def _bomb(levels: int) -> str:
    names = "abcdefghijklmnop"[:levels]
    text = "version: 1\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for prev, name in itertools.pairwise(names):
        text += f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]\n"
    return text


@pytest.mark.timeout(30)
@pytest.mark.parametrize("levels", [9, 14])
def test_an_alias_bomb_fails_at_once(tmp_path: Path, levels: int) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb(levels))
    with pytest.raises(
        ConfigError, match=r"expands to more than 100,000 values.*PROMPTSEARCH_MAX_YAML_NODES"
    ):
        load_search_space(path)


def test_the_limits_can_be_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "small-bomb.yaml"
    path.write_text(_bomb(6))  # 9**5 lists of 9: ~600,000 values
    with pytest.raises(ConfigError, match="expands to more than"):
        load_search_space(path)
    monkeypatch.setenv("PROMPTSEARCH_MAX_YAML_NODES", "10000000")
    with pytest.raises(ConfigError, match="unknown key"):  # read, then refused as a space
        load_search_space(path)
    monkeypatch.setenv("PROMPTSEARCH_MAX_YAML_BYTES", "100")
    with pytest.raises(ConfigError, match=r"more than the limit of 100 .*PROMPTSEARCH_MAX_YAML_BYTES"):
        load_search_space(path)
    monkeypatch.setenv("PROMPTSEARCH_MAX_YAML_BYTES", "lots")
    with pytest.raises(
        ConfigError, match="PROMPTSEARCH_MAX_YAML_BYTES='lots' must be a positive whole number"
    ):
        load_search_space(path)


def test_a_duplicate_key_behind_an_alias_is_still_found(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("version: 1\nx: &x {k: 1, k: 2}\ny: *x\n")
    with pytest.raises(ConfigError, match=r"dup.yaml: x.k: duplicate key \(line 2\)"):
        load_search_space(path)
