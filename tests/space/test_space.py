"""Tests of the declarative search space: shipped YAML files, strict validation, Python API."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptsearch.exceptions import ConfigError
from promptsearch.space import (
    DemoSpace,
    EvolutionSpec,
    GrammarSpec,
    OperatorsSpec,
    SearchSpace,
    SeedTemplate,
    SplitSpec,
    TaskSpec,
    TemplateSpace,
    VerbalizerSpace,
    load_search_space,
)
from promptsearch.tasks._catalog import CATALOG

SPACES = Path(__file__).resolve().parents[2] / "search_spaces"
SHIPPED = sorted(SPACES.glob("*.yaml"))
CATALOG_SPACES = ["movies", "movies-5", "rt-subjectivity", "bbc-news"]
SEED = "Review: {text}\nSentiment:{label}"


def movies_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((SPACES / "movies.yaml").read_text(encoding="utf-8"))
    return data


@pytest.fixture
def write(tmp_path: Path) -> Callable[[Any], Path]:
    """Write a mapping (or raw text) as ``space.yaml`` and return its path."""

    def _write(content: Any) -> Path:
        path = tmp_path / "space.yaml"
        text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    return _write


def load_error(write: Callable[[Any], Path], data: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load_search_space(write(data))
    message = str(info.value)
    assert "space.yaml" in message, message  # Every error names the file.
    return message


# --- shipped files -----------------------------------------------------------------------------


def test_all_expected_spaces_are_shipped() -> None:
    assert {p.stem for p in SHIPPED} >= {*CATALOG_SPACES, "generic-classification"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_space_loads_and_round_trips(path: Path, tmp_path: Path) -> None:
    space = load_search_space(path)
    assert space.name == path.stem
    assert SearchSpace.from_dict(space.to_dict()) == space
    out = tmp_path / "copy.yaml"
    text = space.to_yaml(out)
    assert out.read_text(encoding="utf-8") == text
    assert SearchSpace.from_yaml(out) == space
    assert hash(space) == hash(SearchSpace.from_yaml(out))
    assert space.to_dict() == yaml.safe_load(text)


@pytest.mark.parametrize("name", CATALOG_SPACES)
def test_catalog_space_fits_its_task(name: str) -> None:
    space = load_search_space(SPACES / f"{name}.yaml")
    entry = CATALOG.get(name)
    assert space.require_task().name_or_path == name
    assert space.require_task().loader_kwargs() == {}
    templates = [s.template for s in space.templates.seeds]
    assert entry.default_template in templates
    assert 5 <= len(templates) <= 7
    default_verbalizer = ",".join("|".join(entry.default_verbalizer[lab]) for lab in entry.labels)
    assert default_verbalizer in space.verbalizers.candidates
    grammar = space.templates.grammar
    assert grammar is not None and grammar.field == "text"
    assert all(4 <= len(getattr(grammar, slot)) <= 6 for slot in ("instruction", "answer_prefix"))
    assert space.operators.enabled() == ("delete", "swap", "add", "substitute", "crossover")
    assert space.operators["rewrite"] == {"enabled": False}
    assert (space.evolution.generations, space.budget.trials) == (3, 60)
    assert (space.sampler.name, space.sampler.seed) == ("tpe", 13)
    assert (space.pruner.name, dict(space.pruner.options)) == ("wilcoxon", {"p_threshold": 0.1})
    assert (space.final.top, space.final.test_limit) == (3, 1000)
    sel = space.selection
    assert (sel.examples, sel.rule, sel.level, sel.ensemble) == ("all", "paired", 0.2, 3)
    assert space.calibration == (False, True)


def test_movies_space_contents() -> None:
    space = load_search_space(SPACES / "movies.yaml")
    assert {"negative,positive", "bad,good", "terrible,great"} <= set(space.verbalizers.candidates)
    assert space.verbalizers.auto.enabled
    assert space.demonstrations.counts == (0, 1, 2, 4)
    assert "Sentiment:" in space.templates.grammar.answer_prefix  # type: ignore[union-attr]
    # The seeds double as the protocol's manual baseline (issue: six templates).
    assert len(space.templates.seeds) == 6 and not any(s.instruction for s in space.templates.seeds)
    assert any(space.templates.grammar.instruction)  # type: ignore[union-attr]


def test_long_text_space_cuts_articles_and_keeps_demonstrations_few() -> None:
    space = load_search_space(SPACES / "bbc-news.yaml")
    assert space.require_task().max_words is not None
    assert max(space.demonstrations.counts) <= 2


def test_task_max_words_is_checked_and_round_trips() -> None:
    spec = TaskSpec.from_dict({"name_or_path": "movies", "max_words": 50})
    assert spec.max_words == 50 and spec.loader_kwargs() == {}
    assert TaskSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ConfigError, match=r"task\.max_words: must be at least 1"):
        TaskSpec.from_dict({"name_or_path": "movies", "max_words": 0})
    with pytest.raises(ConfigError, match="max_words is allowed"):
        TaskSpec.from_dict({"name_or_path": "movies", "label_field": "y"})


def test_movies5_verbalizers_have_five_words() -> None:
    space = load_search_space(SPACES / "movies-5.yaml")
    assert "terrible,bad,okay,good,great" in space.verbalizers.candidates
    assert all(len(c.split(",")) == 5 for c in space.verbalizers.candidates)


# --- generic space and with_task ---------------------------------------------------------------


def test_generic_space_needs_a_task() -> None:
    space = load_search_space(SPACES / "generic-classification.yaml")
    assert space.task is None
    assert space.verbalizers.candidates == ()
    with pytest.raises(ConfigError, match="--task"):
        space.require_task()
    movies = space.with_task("movies")
    assert movies.require_task() == TaskSpec("movies")
    assert space.task is None  # with_task returns a copy.
    spec = {"name_or_path": "reviews.csv", "text_fields": {"review": "text"}, "label_field": "stars"}
    custom = space.with_task(spec).require_task()
    assert custom.loader_kwargs() == {
        "text_fields": {"review": "text"},
        "label_field": "stars",
        "label_names": None,
    }
    assert movies.require_task().loader_kwargs() == {}


def test_with_task_checks_template_fields() -> None:
    space = load_search_space(SPACES / "generic-classification.yaml")
    with pytest.raises(ConfigError, match=r"templates\.seeds\[0\].*'text'.*\['review'\]"):
        space.with_task({"name_or_path": "reviews.csv", "text_fields": ["review"]})


def test_with_task_checks_verbalizers_against_labels() -> None:
    space = load_search_space(SPACES / "movies.yaml")
    with pytest.raises(ConfigError, match=r"verbalizers\.candidates\[0\].*5 labels"):
        space.with_task("movies-5")


def test_catalog_task_takes_no_loading_options() -> None:
    with pytest.raises(ConfigError, match="no loading options"):
        TaskSpec("movies", label_field="stars")


# --- validation errors -------------------------------------------------------------------------


def test_unknown_nested_key_suggests(write: Callable[[Any], Path]) -> None:
    data = movies_data()
    data["templates"]["grammer"] = data["templates"].pop("grammar")
    message = load_error(write, data)
    assert "templates.grammer" in message and "did you mean 'grammar'?" in message.lower()


def test_unknown_deep_and_top_level_keys(write: Callable[[Any], Path]) -> None:
    data = movies_data()
    data["verbalizers"]["auto"]["enable"] = True
    assert "verbalizers.auto.enable: unknown key. Did you mean 'enabled'" in load_error(write, data)
    data = movies_data()
    data["budjet"] = data.pop("budget")
    assert "budjet: unknown key. Did you mean 'budget'" in load_error(write, data)


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("split", "k", "sixteen", "split.k: expected an integer, got 'sixteen' (str)"),
        ("split", "k", True, "split.k: expected an integer, got True (bool)"),
        ("budget", "timeout_s", "1h", "budget.timeout_s: expected a number or null, got '1h' (str)"),
        ("demonstrations", "counts", 2, "demonstrations.counts: expected a list of integers, got 2 (int)"),
        ("verbalizers", "auto", "yes", "verbalizers.auto: expected a mapping, got 'yes' (str)"),
        ("templates", "seeds", [3], "templates.seeds[0]: expected a string or a mapping, got 3 (int)"),
    ],
)
def test_wrong_type_names_path_type_and_value(
    write: Callable[[Any], Path], section: str, key: str, value: Any, expected: str
) -> None:
    data = movies_data()
    data[section][key] = value
    assert expected in load_error(write, data)


def test_wrong_type_top_level(write: Callable[[Any], Path]) -> None:
    data = movies_data()
    data["calibration"] = "yes"
    assert "calibration: expected a list of booleans" in load_error(write, data)
    data = movies_data()
    data["tuning"] = ["lr", 0.1]
    assert "tuning: expected a mapping or null" in load_error(write, data)


def test_tuning_mapping_is_kept_and_checked(write: Callable[[Any], Path]) -> None:
    data = movies_data()
    data["tuning"] = {
        "modes": ["none", "prompt_tuning"],
        "prompt_tuning": {"n_tokens": [4, 8], "lr": [0.001, 0.01]},
    }
    space = load_search_space(write(data))
    assert space.tuning.settings_of("prompt_tuning")["lr"] == (0.001, 0.01)
    assert space.to_dict()["tuning"] == data["tuning"]
    data["tuning"] = {"soft_tokens": 20}
    with pytest.raises(ConfigError, match="tuning"):
        load_search_space(write(data))


def test_bad_version(write: Callable[[Any], Path]) -> None:
    data = movies_data()
    data["version"] = 2
    message = load_error(write, data)
    assert "unsupported version 2" in message and "version 1" in message


def test_missing_version(write: Callable[[Any], Path]) -> None:
    data = movies_data()
    del data["version"]
    assert "version: required key is missing" in load_error(write, data)


def test_bad_template_seed(write: Callable[[Any], Path]) -> None:
    data = movies_data()
    data["templates"]["seeds"][1] = "Review: {text.lower()}\nIt was{label}"
    message = load_error(write, data)
    assert "templates.seeds[1].template: invalid seed template" in message
    assert "Invalid slot {text.lower()}" in message  # The TemplateError message.
    data["templates"]["seeds"][1] = {"instruction": "Classify.", "template": "Review: {text}"}
    assert "templates.seeds[1].template" in load_error(write, data)
    assert "exactly one" in load_error(write, data)


def test_seed_mapping_unknown_key(write: Callable[[Any], Path]) -> None:
    data = movies_data()
    data["templates"]["seeds"][0] = {"instrution": "Classify.", "template": SEED}
    assert "templates.seeds[0].instrution: unknown key. Did you mean 'instruction'" in load_error(write, data)


def test_bad_operator_name(write: Callable[[Any], Path]) -> None:
    data = movies_data()
    data["operators"]["subsitute"] = data["operators"].pop("substitute")
    assert "operators.subsitute: unknown operator. Did you mean 'substitute'" in load_error(write, data)


def test_bad_operator_setting(write: Callable[[Any], Path]) -> None:
    data = movies_data()
    data["operators"]["add"] = {"phrase": ["Be brief."]}
    assert "operators.add.phrase: unknown setting. Did you mean 'phrases'" in load_error(write, data)
    data["operators"]["add"] = None  # An empty entry means the defaults.
    assert load_search_space(write(data)).operators["add"] == {}
    data["operators"]["substitute"] = {"source": "wordnet"}
    assert "operators.substitute.source" in load_error(write, data)


def test_demonstration_count_out_of_range(write: Callable[[Any], Path]) -> None:
    data = movies_data()
    data["demonstrations"]["counts"] = [0, 9]
    assert "demonstrations.counts[1]: must be between 0 and 8, got 9" in load_error(write, data)


def test_unknown_choice_suggests(write: Callable[[Any], Path]) -> None:
    data = movies_data()
    data["demonstrations"]["selection"] = ["simlar"]
    message = "demonstrations.selection[0]: unknown value 'simlar' (no such demonstration selection)."
    assert message + " Did you mean 'similar'" in load_error(write, data)
    data = movies_data()
    data["pruner"]["name"] = "median_pruner"
    assert "pruner.name: unknown value 'median_pruner'" in load_error(write, data)


def test_verbalizer_errors(write: Callable[[Any], Path]) -> None:
    data = movies_data()
    data["verbalizers"]["candidates"] = ["bad,good,great"]
    assert "verbalizers.candidates[0]" in load_error(write, data)
    data["verbalizers"]["candidates"] = ["bad,"]
    assert "verbalizers.candidates[0]: 'bad,' is not a verbalizer" in load_error(write, data)
    data["verbalizers"]["candidates"] = ["bad,good", "bad,good"]
    assert "more than once" in load_error(write, data)


def test_cross_field_checks(write: Callable[[Any], Path]) -> None:
    data = movies_data()
    data["evolution"]["parents"] = 32
    assert "evolution.parents: (32) must not exceed population (16)" in load_error(write, data)
    data = movies_data()
    data["templates"] = {"n_initial": 4}
    assert "templates: give at least one seed template" in load_error(write, data)


def test_yaml_level_errors(write: Callable[[Any], Path], tmp_path: Path) -> None:
    assert "duplicate key" in load_error(
        write, "version: 1\nversion: 1\ntemplates: {seeds: ['{text}{label}']}\n"
    )
    assert "invalid YAML" in load_error(write, "version: 1\ntemplates: [\n")
    assert "must be a mapping" in load_error(write, "- version\n")
    with pytest.raises(ConfigError, match=r"missing\.yaml: no such search-space file"):
        load_search_space(tmp_path / "missing.yaml")


# --- Python construction -----------------------------------------------------------------------


def test_python_construction_with_defaults() -> None:
    # A string stands for TaskSpec(name_or_path=...); converted in __post_init__.
    space = SearchSpace(version=1, task="movies", templates=TemplateSpace(seeds=(SeedTemplate(SEED),)))  # type: ignore[arg-type]
    assert space.task == TaskSpec("movies")
    assert (space.model, space.dtype, space.batch_size) == ("smollm2-135m-instruct", "auto", None)
    assert space.split == SplitSpec(k=16, seed=13)
    assert space.demonstrations == DemoSpace(counts=(0,), selection=("random",), order=("random",), seeds=3)
    assert space.verbalizers == VerbalizerSpace()
    assert space.calibration is None and space.calibration_choices() == (False, True)
    assert "rewrite" not in space.operators and "delete" in space.operators
    assert space.budget.trials == 60 and space.final.test_limit == 1000 and not space.tuning.tuned
    assert SearchSpace.from_dict(space.to_dict()) == space
    assert hash(space) == hash(SearchSpace.from_dict(space.to_dict()))


def test_python_construction_converts_plain_values() -> None:
    space = SearchSpace(
        version=1,
        templates={"seeds": [SEED, {"instruction": "Classify.", "template": SEED}]},  # type: ignore[arg-type]
        demonstrations=DemoSpace(counts=[0, 2]),  # type: ignore[arg-type]
        operators={"delete": {}, "add": {"phrases": ["Be brief."]}},  # type: ignore[arg-type]
    )
    assert space.templates.seeds == (SeedTemplate(SEED), SeedTemplate(SEED, instruction="Classify."))
    assert space.demonstrations.counts == (0, 2)
    assert isinstance(space.operators, OperatorsSpec)
    assert dict(space.operators.items())["add"]["phrases"] == ("Be brief.",)
    assert load_search_space(space.to_dict()) == space


def test_python_construction_errors() -> None:
    with pytest.raises(ConfigError, match=r"split\.k: must be at least 1, got 0"):
        SplitSpec(k=0)
    with pytest.raises(ConfigError, match="templates: give at least one seed"):
        TemplateSpace()
    with pytest.raises(ConfigError, match=r"demonstrations\.counts\[0\]"):
        DemoSpace(counts=(9,))
    with pytest.raises(ConfigError, match=r"evolution\.parents"):
        EvolutionSpec(population=2, parents=3)
    with pytest.raises(ConfigError, match=r"version: unsupported version 0"):
        SearchSpace(version=0, templates=TemplateSpace(seeds=(SeedTemplate(SEED),)))
    with pytest.raises(ConfigError, match=r"templates\.grammar\.instruction: needs at least one value"):
        GrammarSpec(instruction=(), input_prefix=("",), connector=("\n",), answer_prefix=("Answer:",))
    with pytest.raises(ConfigError, match=r"calibration"):
        SearchSpace(version=1, calibration=(True, True), templates=TemplateSpace(seeds=(SeedTemplate(SEED),)))


def test_grammar_only_space_and_mapping_errors_name_origin() -> None:
    data = {
        "version": 1,
        "templates": {
            "grammar": {
                "instruction": [""],
                "input_prefix": ["Text: "],
                "connector": ["\n"],
                "answer_prefix": ["Label:", "Answer:"],
            }
        },
    }
    space = load_search_space(data)
    assert space.name == "search" and space.templates.seeds == ()
    assert space.templates.grammar is not None and space.templates.grammar.size == 2
    bad = copy.deepcopy(data)
    bad["templates"]["grammar"]["feild"] = "text"  # type: ignore[index]
    with pytest.raises(
        ConfigError, match=r"<mapping>: templates\.grammar\.feild: unknown key\. Did you mean 'field'"
    ):
        load_search_space(bad)


def test_task_name_typo_suggests_catalog_name(write: Callable[[Any], Path]) -> None:
    data = movies_data()
    data["task"] = "moviez"
    assert "task.name_or_path: unknown task 'moviez'. Did you mean 'movies'" in load_error(write, data)
    assert TaskSpec("reviews.csv").loader_kwargs() == {}  # A file name is not taken as a typo.


def test_operators_spec_round_trip() -> None:
    ops = OperatorsSpec.from_dict(
        {"substitute": {"synonyms": {"film": ["movie"]}}, "rewrite": {"enabled": False}}
    )
    assert ops.enabled() == ("substitute",)
    assert ops.to_dict() == {"substitute": {"synonyms": {"film": ["movie"]}}, "rewrite": {"enabled": False}}
    assert OperatorsSpec.from_dict(ops.to_dict()) == ops
    with pytest.raises(ConfigError, match=r"operators\.rewrite\.enabled: expected a boolean"):
        OperatorsSpec.from_dict({"rewrite": {"enabled": "no"}})


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        ({"rule": "paried"}, r"selection\.rule: unknown value 'paried'.*paired"),
        ({"examples": "train"}, r"selection\.examples: unknown value 'train'"),
        ({"level": 0.5}, r"selection\.level: must be between 0 and 0\.5"),
        ({"ensemble": -1}, r"selection\.ensemble"),
        ({"levle": 0.1}, r"levle.*level"),
    ],
)
def test_bad_selection_settings_are_named(selection: dict[str, Any], message: str) -> None:
    from promptsearch.space import SelectionSpec

    with pytest.raises(ConfigError, match=message):
        SelectionSpec.from_dict(selection)
