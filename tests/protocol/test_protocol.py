"""The few-shot protocol on a tiny model: baselines and searches on the same splits, merging."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest

from promptsearch.exceptions import ConfigError
from promptsearch.models import LoadedModel
from promptsearch.search import ProtocolResult, load_search_space, run_protocol
from tests._toy import sentiment_examples


@pytest.fixture(scope="module")
def toy_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "toy.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for ex in sentiment_examples(30, seed=3):
            writer.writerow([ex.inputs["text"], ex.label])
    return path


def test_protocol_runs_baselines_and_searches_per_seed(
    toy_csv: Path, tiny_causal: LoadedModel, tmp_path: Path
) -> None:
    base = load_search_space("search_spaces/generic-classification.yaml")
    space = replace(
        base,
        split=replace(base.split, k=4),
        templates=replace(base.templates, n_initial=4, grammar=None),
        verbalizers=replace(base.verbalizers, candidates=("negative,positive", "bad,good"),
                            auto=replace(base.verbalizers.auto, enabled=False)),
        evolution=replace(base.evolution, generations=1),
        final=replace(base.final, top=2, test_limit=10),
    )
    result = run_protocol(space, seeds=[13, 21], out_dir=tmp_path, task=str(toy_csv), model=tiny_causal,
                          n_trials=3, n_demos_icl=2)
    names = [m.method for m in result.methods]
    assert names == ["zero-shot manual", "best manual", "in-context (best manual + demos)", "promptsearch"]
    assert result.seeds == (13, 21) and result.test_n == 10
    for m in result.methods:
        assert set(m.per_seed) == {13, 21} and all(0.0 <= v <= 1.0 for v in m.per_seed.values())
    # the in-context baseline is the best manual prompt plus demonstrations from train
    icl = result.methods[2].prompts[13]
    assert icl["template"] == result.methods[1].prompts[13]["template"] and len(icl["demonstrations"]) == 2
    saved = json.loads((tmp_path / "protocol.json").read_text())
    assert ProtocolResult.from_dict(saved) == result
    assert "| promptsearch |" in (tmp_path / "protocol.md").read_text()
    assert all((tmp_path / f"seed{s}" / "leaderboard.md").is_file() for s in (13, 21))

    # seeds run by separate processes merge into one table
    halves = [ProtocolResult.from_dict({**saved, "seeds": [s], "methods": [
        {**m, "per_seed": {str(s): m["per_seed"][str(s)]}, "prompts": {}} for m in saved["methods"]
    ]}) for s in (13, 21)]
    merged = ProtocolResult.merge(halves)
    assert merged.seeds == (13, 21)
    assert [m.per_seed for m in merged.methods] == [m.per_seed for m in result.methods]
    assert merged.markdown().splitlines()[2:] == result.markdown().splitlines()[2:]
    with pytest.raises(ConfigError, match="several results"):
        ProtocolResult.merge([halves[0], halves[0]])
    with pytest.raises(ConfigError, match="different setups"):
        ProtocolResult.merge([halves[0], replace(halves[1], k=8)])
