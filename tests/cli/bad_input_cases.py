"""Bad input, as a new user would type it: one list of cases for the CLI test and the README.

Each :class:`Case` is a command line, run in an empty folder that holds the files it names
(written by :data:`FILES`, see ``_bad_input_files.py``) and the tiny model folder ``tiny-model``,
and a fragment of the one error message it must print. ``tests/cli/test_bad_input.py`` runs every
case;

    python -m tests.cli.bad_input_cases --markdown

prints the README's "Troubleshooting" section from the same list (a test keeps them equal).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass
from typing import Any

from tests.cli._bad_input_files import FILES, MODEL

__all__ = ["CASES", "FILES", "MODEL", "Case", "markdown"]

PASSWORD = "s3cret-pw"
SHOWN_URL = "http://127.0.0.1:8000/v1"  # the server's address as the README shows it


@dataclass(frozen=True)
class Case:
    """One mistake: what the user did, the command, and what the message must say.

    Attributes:
        id: Short test id.
        situation: The mistake in words (the README's first column).
        arguments: The arguments after ``promptsearch``, as typed in a shell.
        expect: A fragment of the error message: what is wrong and how to fix it.
        files: Names in :data:`FILES` to write into the folder before the command runs.
        secret: Text that must not appear on stderr (a password).
        server: Settings of the test's OpenAI-compatible server (``tests/backends/openai_server.py``)
            whose address replaces ``{url}`` (its API root) and ``{root}`` (without ``/v1``) in
            the arguments; ``None``: no server.
    """

    id: str
    situation: str
    arguments: str
    expect: str
    files: tuple[str, ...] = ()
    secret: str | None = None
    server: tuple[tuple[str, Any], ...] | None = None

    def argv_for(self, url: str) -> tuple[str, ...]:
        """The arguments with the server's address filled in."""
        root = url[: -len("/v1")]
        return tuple(a.replace("{url}", url).replace("{root}", root) for a in self.argv)

    @property
    def argv(self) -> tuple[str, ...]:
        """The arguments as the shell passes them."""
        return tuple(shlex.split(self.arguments))

    @property
    def command(self) -> str:
        shown = SHOWN_URL
        return f"promptsearch {self.arguments}".replace("{url}", shown).replace(
            "{root}", shown[: -len("/v1")]
        )


_SPACE = ("space.yaml", "reviews.jsonl", "earlier-run")  # a search space, its data, an earlier run
_PREDICT = ("exported", "texts.jsonl", "predictions.jsonl")  # a prompt, inputs, an earlier output
_PG = f"postgresql+psycopg2://user:{PASSWORD}@127.0.0.1:1/studies"

CASES: tuple[Case, ...] = (
    Case("unknown-task", "a misspelt catalog task", "evaluate --task movie", "Did you mean 'movies'"),
    Case(
        "missing-data-file",
        "a data file that does not exist",
        "evaluate --task reviews.csv --model tiny-model",
        "No file or folder at 'reviews.csv'; check the path",
    ),
    Case(
        "empty-data-file",
        "an empty data file",
        "evaluate --task empty.jsonl --model tiny-model",
        "'empty.jsonl' has no rows",
        ("empty.jsonl",),
    ),
    Case(
        "latin1-data-file",
        "a data file saved as Latin-1, not UTF-8",
        "evaluate --task latin1.csv --model tiny-model",
        "is not UTF-8 text (byte 17 is b'\\xe9'); it was probably saved as Latin-1 or Windows-1252",
        ("latin1.csv",),
    ),
    Case(
        "no-label-column",
        "a data file without the label column",
        "evaluate --task no-label.jsonl --model tiny-model",
        "has no label column 'label'; columns found: ['text', 'sentiment']. Pass label_field=",
        ("no-label.jsonl",),
    ),
    Case(
        "one-class",
        'a data file where every row is labelled "positive"',
        "evaluate --task one-class.jsonl --model tiny-model",
        "classification needs at least two labels",
        ("one-class.jsonl",),
    ),
    Case(
        "no-target-column",
        "a generation data file without the target column",
        "search qa-space.yaml --task qa.jsonl --target-field answer",
        "has no target column 'answer'; columns found: ['text', 'reference']",
        ("qa-space.yaml", "qa.jsonl"),
    ),
    Case(
        "k-too-large",
        "more examples per class than the data has",
        "evaluate --task reviews.jsonl --model tiny-model --k 50",
        "lower k to at most",
        ("reviews.jsonl",),
    ),
    Case(
        "same-label-word",
        "a verbalizer that gives two labels the same word",
        "evaluate --task reviews.jsonl --model tiny-model --verbalizer good,good",
        "both have the label word 'good'",
        ("reviews.jsonl",),
    ),
    Case(
        "too-few-label-words",
        "fewer label words than labels",
        "evaluate --task reviews.jsonl --model tiny-model --verbalizer good",
        "gives 1 word(s) but the task has 2 labels",
        ("reviews.jsonl",),
    ),
    Case(
        "empty-label-word",
        "an empty label word",
        "evaluate --task reviews.jsonl --model tiny-model --verbalizer bad,",
        "has no label word",
        ("reviews.jsonl",),
    ),
    Case(
        "unknown-template-field",
        "a template field the data does not have",
        "evaluate --task reviews.jsonl --model tiny-model --template 'Title: {title}\\nSentiment:{label}'",
        "uses field(s) ['title']",
        ("reviews.jsonl",),
    ),
    Case(
        "no-label-slot",
        "a classification template without {label}",
        "evaluate --task reviews.jsonl --model tiny-model --template 'Review: {text}'",
        "needs exactly one",
        ("reviews.jsonl",),
    ),
    Case(
        "huge-soft-slot",
        "a soft-token slot of a hundred million tokens",
        "evaluate --task reviews.jsonl --model tiny-model --template '{soft:100000000} {text}:{label}'",
        "asks for more soft tokens than the limit of 512",
        ("reviews.jsonl",),
    ),
    Case(
        "k-zero",
        "--k 0",
        "evaluate --task reviews.jsonl --model tiny-model --k 0",
        "k must be a positive integer",
        ("reviews.jsonl",),
    ),
    Case(
        "limit-zero",
        "--limit 0",
        "evaluate --task reviews.jsonl --model tiny-model --limit 0",
        "positive number",
        ("reviews.jsonl",),
    ),
    Case(
        "demos-negative",
        "a negative number of demonstrations",
        "evaluate --task reviews.jsonl --model tiny-model --demos -1",
        "--demos must be at least 0, got -1",
        ("reviews.jsonl",),
    ),
    Case(
        "batch-size-zero",
        "--batch-size 0",
        "evaluate --task reviews.jsonl --model tiny-model --batch-size 0",
        "--batch-size must be at least 1",
        ("reviews.jsonl",),
    ),
    Case(
        "not-a-number",
        "a word where a number goes",
        "evaluate --task reviews.jsonl --model tiny-model --k many",
        "argument --k: invalid int value: 'many'. Run `promptsearch evaluate --help`",
    ),
    Case(
        "unknown-split",
        "a split that does not exist",
        "evaluate --task reviews.jsonl --model tiny-model --split validation",
        "invalid choice: 'validation'",
    ),
    Case(
        "unknown-metric",
        "an unknown metric",
        "evaluate --task reviews.jsonl --model tiny-model --metric f1",
        "Unknown metric 'f1'. Available: accuracy,",
        ("reviews.jsonl",),
    ),
    Case(
        "unknown-backend",
        "an unknown backend",
        "evaluate --task reviews.jsonl --model tiny-model --backend tgi",
        "Unknown backend 'tgi'. Available:",
        ("reviews.jsonl",),
    ),
    Case(
        "unknown-device",
        "an unknown device",
        "evaluate --task reviews.jsonl --model tiny-model --device gpu",
        "Unknown device 'gpu'. Use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'",
        ("reviews.jsonl",),
    ),
    Case(
        "unknown-model-offline",
        "a model name that is neither in the catalog nor a folder, and no hub to ask",
        "evaluate --task reviews.jsonl --model smollm2-135m",
        "Did you mean 'smollm2-135m-instruct'?",
        ("reviews.jsonl",),
    ),
    Case(
        "missing-model-folder",
        "a model folder that does not exist",
        "evaluate --task reviews.jsonl --model ./my-model",
        "No folder at './my-model'. Check the path.",
        ("reviews.jsonl",),
    ),
    Case(
        "missing-space",
        "a search space file that does not exist",
        "search spaces.yaml",
        "spaces.yaml: no such search-space file; check the path",
    ),
    Case(
        "broken-yaml",
        "a search space that is not valid YAML",
        "search broken.yaml",
        "broken.yaml, line 8, column 1: invalid YAML: expected ',' or ']'",
        ("broken.yaml",),
    ),
    Case(
        "yaml-alias-bomb",
        "a search space whose aliases expand to billions of values",
        "search bomb.yaml",
        "the YAML expands to more than 100,000 values once its aliases (*name) are replaced",
        ("bomb.yaml",),
    ),
    Case(
        "misspelt-key",
        "a misspelt key in a search space",
        "search typo.yaml",
        "tempaltes: unknown key. Did you mean 'templates'",
        ("typo.yaml", "reviews.jsonl"),
    ),
    Case(
        "seeds-not-numbers",
        "split seeds that are not numbers",
        "search space.yaml --seeds 13,abc",
        "'abc' is not a whole number; give comma-separated split seeds",
        _SPACE,
    ),
    Case(
        "seeds-twice",
        "the same split seed twice",
        "search space.yaml --seeds 13,13",
        "seed 13 appears twice",
        _SPACE,
    ),
    Case("trials-zero", "--trials 0", "search space.yaml --trials 0", "--trials must be at least 1", _SPACE),
    Case("top-zero", "--top 0", "search space.yaml --top 0", "--top must be at least 1", _SPACE),
    Case(
        "test-limit-negative",
        "a negative --test-limit",
        "search space.yaml --test-limit -5",
        "--test-limit must be at least 1",
        _SPACE,
    ),
    Case(
        "search-unknown-metric",
        "an unknown metric to optimize",
        "search space.yaml --metric f1",
        "unknown metric 'f1'",
        _SPACE,
    ),
    Case(
        "search-unknown-backend",
        "an unknown backend for a search",
        "search space.yaml --backend vlm",
        "unknown value 'vlm' (no such backend). Did you mean 'vllm'",
        _SPACE,
    ),
    Case(
        "columns-without-task",
        "--text-field without --task",
        "search space.yaml --text-field review",
        "need --task FILE",
        _SPACE,
    ),
    Case(
        "export-with-seeds",
        "--export with several seeds",
        "search space.yaml --seeds 13,21 --export best",
        "--export needs a single --seed",
        _SPACE,
    ),
    Case(
        "out-under-a-file",
        "an output folder under a regular file",
        "search space.yaml --out reviews.jsonl/run",
        "'reviews.jsonl' is a file, not a folder. Choose another --out",
        _SPACE,
    ),
    Case(
        "export-under-a-file",
        "an export folder under a regular file",
        "search space.yaml --export reviews.jsonl/best",
        "'reviews.jsonl' is a file, not a folder. Choose another --export",
        _SPACE,
    ),
    Case(
        "storage-unknown-scheme",
        "a storage URL with an unknown scheme",
        "search space.yaml --storage foo://",
        "unknown scheme 'foo'; use e.g. sqlite:///runs/study.db",
        _SPACE,
    ),
    Case(
        "storage-not-a-url",
        "a file name where a storage URL goes",
        "search space.yaml --storage study.db",
        "'study.db' is not an Optuna storage URL",
        _SPACE,
    ),
    Case(
        "storage-postgresql",
        "a PostgreSQL storage without its driver, or without a server",
        f"search space.yaml --storage {_PG}",
        "postgresql+psycopg2://user:***@127.0.0.1:1/studies",
        _SPACE,
        secret=PASSWORD,
    ),
    Case(
        "storage-under-a-file",
        "a SQLite storage under a regular file",
        "search space.yaml --storage sqlite:///reviews.jsonl/study.db",
        "'reviews.jsonl' is a file",
        _SPACE,
    ),
    Case(
        "workers-zero", "--workers 0", "search space.yaml --workers 0", "--workers must be at least 1", _SPACE
    ),
    Case(
        "threads-zero", "--threads 0", "search space.yaml --threads 0", "--threads must be at least 1", _SPACE
    ),
    Case(
        "workers-in-memory",
        "several workers on a study kept in memory",
        "search space.yaml --workers 2 --storage sqlite:///:memory:",
        "lives in one process's memory; leave out --storage",
        _SPACE,
    ),
    Case(
        "workers-with-seeds",
        "--workers with several seeds",
        "search space.yaml --seeds 13,21 --workers 2",
        "run one command per seed with --seed N --workers N",
        _SPACE,
    ),
    Case(
        "predict-no-template",
        "a prompt.json without its template",
        "predict no-template --input texts.jsonl --output out.jsonl",
        'has no template string under "prompt"; export the prompt again',
        ("no-template", "texts.jsonl"),
    ),
    Case(
        "predict-template-not-text",
        "a prompt.json whose template is not a string",
        "predict number-template --input texts.jsonl --output out.jsonl",
        'has no template string under "prompt"',
        ("number-template", "texts.jsonl"),
    ),
    Case(
        "predict-not-a-prompt-folder",
        "a folder that holds no exported prompt",
        "predict runs/tiny --input texts.jsonl --output out.jsonl",
        "'runs/tiny' has no prompt.json; it is not an exported prompt folder",
        ("earlier-run", "texts.jsonl"),
    ),
    Case(
        "predict-missing-input",
        "an input file that does not exist",
        "predict exported --input text.jsonl --output predictions.jsonl",
        "No input file at 'text.jsonl'",
        _PREDICT,
    ),
    Case(
        "predict-input-not-json",
        "an input line that is not JSON",
        "predict exported --input broken.jsonl --output predictions.jsonl",
        "broken.jsonl, line 2: not valid JSON",
        (*_PREDICT, "broken.jsonl"),
    ),
    Case(
        "predict-input-without-field",
        "input rows without the prompt's field",
        "predict exported --input reviews-no-text.jsonl --output predictions.jsonl",
        "use --field NAME to read the text from another key",
        (*_PREDICT, "reviews.jsonl (no text)"),
    ),
    Case(
        "predict-output-under-a-file",
        "an output file under a regular file",
        "predict exported --input texts.jsonl --output texts.jsonl/predictions.jsonl",
        "'texts.jsonl' is a file, not a folder. Choose another --output",
        _PREDICT,
    ),
    Case(
        "predict-missing-option",
        "predict without --output",
        "predict exported --input texts.jsonl",
        "the following arguments are required: --output",
    ),
    Case("report-nothing", "report without a storage or runs to compare", "report", "Pass --storage URL"),
    Case(
        "report-missing-database",
        "a report on a SQLite file that does not exist",
        "report --storage sqlite:///runs/tiny/study.db",
        "No SQLite database at 'runs/tiny/study.db'",
        ("earlier-run",),
    ),
    Case(
        "report-unknown-scheme",
        "a report on a storage URL with an unknown scheme",
        "report --storage foo:// --out report",
        "unknown scheme 'foo'",
    ),
    Case(
        "fetch-unknown-task",
        "fetching a task that is not in the catalog",
        "data fetch sst3",
        "Unknown catalog task 'sst3'",
    ),
    Case(
        "fetch-unknown-model",
        "fetching a model that is not in the catalog",
        "models fetch smollm",
        "No model named 'smollm' in the catalog",
    ),
)

# -- Generation tasks (issue 10) ----------------------------------------------------------------------
_SUMS = ("answers.jsonl",)  # a generation data file: questions in "text", answers in "target"

CASES += (
    Case(
        "gen-template-label",
        "a generation template with a {label} slot",
        "evaluate --task answers.jsonl --model tiny-model --template 'Q: {text}\\nA: {label}'",
        "in a generation task the answer is generated after the end of the template; remove {label}",
        _SUMS,
    ),
    Case(
        "gen-space-template-label",
        "a seed template with {label} in a generation search space",
        "search sums-label.yaml",
        "invalid seed template 'Question: {text}\\nAnswer: {label}' for a generation task",
        (*_SUMS, "sums-label.yaml"),
    ),
    Case(
        "gen-no-target-field",
        "a generation search on a file whose reference column is not called target",
        "search qa-space.yaml --task qa.jsonl",
        "'qa.jsonl' has no target column 'target'; columns found: ['text', 'reference']. Pass "
        "target_field= (--target-field) with the column of reference texts",
        ("qa-space.yaml", "qa.jsonl"),
    ),
    Case(
        "gen-evaluate-no-target",
        "evaluating a generation template on a file without a target column",
        "evaluate --task qa.jsonl --model tiny-model --template 'Q: {text}\\nA:'",
        "'qa.jsonl' has no target column 'target'; columns found: ['text', 'reference']. Pass "
        "target_field= (--target-field)",
        ("qa.jsonl",),
    ),
    Case(
        "gen-evaluate-wrong-target",
        "a --target-field column that the file does not have",
        "evaluate --task qa.jsonl --model tiny-model --target-field answer",
        "has no target column 'answer'; columns found: ['text', 'reference']",
        ("qa.jsonl",),
    ),
    Case(
        "gen-empty-reference",
        "an example with an empty reference",
        "evaluate --task answers-empty.jsonl --model tiny-model",
        "Row 4 of 'answers-empty.jsonl' has an empty reference in column 'target'",
        ("answers-empty.jsonl",),
    ),
    Case(
        "gen-unknown-metric",
        "a misspelt generation metric",
        "evaluate --task answers.jsonl --model tiny-model --metric rouge",
        "Unknown metric 'rouge'. Did you mean 'rouge_l'?",
        _SUMS,
    ),
    Case(
        "gen-space-unknown-metric",
        "a misspelt metric in a search space",
        "search sums-metric.yaml",
        "sums-metric.yaml: metric: unknown metric 'exact_mach'. Did you mean 'exact_match'?",
        (*_SUMS, "sums-metric.yaml"),
    ),
    Case(
        "gen-accuracy",
        "accuracy (a classification metric) for a generation task",
        "evaluate --task answers.jsonl --model tiny-model --metric accuracy",
        "choose a metric for it (bleu, chrf, exact_match, rouge_l, token_f1)",
        _SUMS,
    ),
    Case(
        "gen-space-accuracy",
        "metric: accuracy in a generation search space",
        "search sums-accuracy.yaml",
        "metric: 'accuracy' reads ['choice', 'label'] predictions, but this task produces 'text'",
        (*_SUMS, "sums-accuracy.yaml"),
    ),
    Case(
        "gen-verbalizer",
        "label words for a generation task",
        "evaluate --task answers.jsonl --model tiny-model --verbalizer yes,no",
        "label words (a verbalizer) do not apply; leave the verbalizer out",
        _SUMS,
    ),
    Case(
        "gen-evaluate-max-new-tokens-zero",
        "--max-new-tokens 0",
        "evaluate --task answers.jsonl --model tiny-model --max-new-tokens 0",
        "--max-new-tokens must be at least 1, got 0",
        _SUMS,
    ),
    Case(
        "gen-options-for-classification",
        "a generation option for a classification task",
        "evaluate --task reviews.jsonl --model tiny-model --stop .",
        "set how answers are generated; task 'reviews' is a classification task",
        ("reviews.jsonl",),
    ),
    Case(
        "gen-max-new-tokens-zero",
        "max_new_tokens: 0 under generation:",
        "search sums-tokens.yaml",
        "generation.max_new_tokens: must be at least 1",
        (*_SUMS, "sums-tokens.yaml"),
    ),
)

# -- Served models (issue 19): the server is tests/backends/openai_server.py, serving `tiny` ---------
_SERVED = "evaluate --task reviews.jsonl --backend openai --model tiny --limit 4"

CASES += (
    Case(
        "served-down",
        "a server that is not running (or a wrong port)",
        "evaluate --task reviews.jsonl --backend openai --base-url http://127.0.0.1:9/v1 --model tiny",
        "Could not reach the server at http://127.0.0.1:9/v1",
        ("reviews.jsonl",),
    ),
    Case(
        "served-no-v1",
        "a server address without /v1",
        f"{_SERVED} --base-url {{root}}",
        "base_url must be the API root, ending in /v1",
        ("reviews.jsonl",),
        server=(),
    ),
    Case(
        "served-unknown-model",
        "a model name the server does not serve",
        "evaluate --task reviews.jsonl --backend openai --base-url {url} --model tiny2",
        "does not serve 'tiny2'; it serves ['tiny']. Did you mean 'tiny'?",
        ("reviews.jsonl",),
        server=(),
    ),
    Case(
        "served-no-echo",
        "a classification task on a server without prompt log-probabilities (llama.cpp, Ollama)",
        f"{_SERVED} --base-url {{url}}",
        "does not return the prompt's log-probabilities (completions with echo and logprobs)",
        ("reviews.jsonl",),
        server=(("prompt_logprobs", False),),
    ),
    Case(
        "served-wrong-key",
        "a missing or wrong API key",
        f"{_SERVED} --base-url {{url}}",
        "the API key is missing or wrong. Put the key in the environment variable",
        ("reviews.jsonl",),
        server=(("api_key", "the-right-key"),),
    ),
    Case(
        "served-key-in-options",
        "an API key given as an option",
        f"{_SERVED} --base-url {{url}} --backend-option api_key=sk-abc123",
        "Do not put an API key in options",
        ("reviews.jsonl",),
        secret="sk-abc123",
        server=(),
    ),
    Case(
        "served-5xx",
        "a server that keeps failing (5xx)",
        f"{_SERVED} --base-url {{url}} --backend-option retries=1",
        "the server failed (500: injected failure 500) and kept failing after retries",
        ("reviews.jsonl",),
        server=(("fail_next", [500] * 4),),
    ),
    Case(
        "served-4xx",
        "a request the server refuses (4xx)",
        f"{_SERVED} --base-url {{url}}",
        "was refused (400: injected failure 400)",
        ("reviews.jsonl",),
        server=(("fail_next", [400]),),
    ),
    Case(
        "served-timeout",
        "a server that does not answer in time",
        f"{_SERVED} --base-url {{url}} --backend-option timeout=0.3 --backend-option retries=0",
        "no answer within 0.3 s (after 1 attempts). The server may be overloaded: raise the timeout",
        ("reviews.jsonl",),
        server=(("delay", 1.0),),
    ),
)

_INTRO = """\
## Troubleshooting

Each mistake below stops the command at once with exit status 2 and one message on stderr that
says what is wrong and how to fix it (the traceback only with `-vv`); nothing already computed is
lost: a study, its score cache and earlier output files are kept. In the commands, `reviews.jsonl`
is a two-class data file, `space.yaml` a search space that names it and the model folder
`tiny-model`, and `exported` a prompt folder written by `--export`. For generation, `answers.jsonl`
holds questions in `text` and answers in `target`, `sums-*.yaml` are search spaces over it, and
`qa.jsonl` keeps its answers in a column `reference`. A password in a storage URL is shown as `***`.
For served models, a vLLM server at `http://127.0.0.1:8000/v1` serves a model named `tiny`.
"""
_OUTRO = """\
This table is generated from `tests/cli/bad_input_cases.py` (`python -m tests.cli.bad_input_cases
--markdown`), whose cases `tests/cli/test_bad_input.py` runs.
"""


def _cell(text: str, code: bool = False) -> str:
    text = text.replace("|", "\\|")
    if not code:
        return text
    return f"`` {text} ``" if "`" in text else f"`{text}`"  # a code span may hold single backticks


def markdown() -> str:
    """The README's Troubleshooting section: situation, command and message of every case."""
    rows = [
        f"| {_cell(c.situation)} | {_cell(c.command, code=True)} | {_cell(c.expect, code=True)} |"
        for c in CASES
    ]
    table = "\n".join(["| Mistake | Command | The message says (excerpt) |", "|---|---|---|", *rows])
    return f"{_INTRO}\n{table}\n\n{_OUTRO}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--markdown", action="store_true", help="print the README's Troubleshooting section")
    args = parser.parse_args(argv)
    if not args.markdown:
        parser.print_help()
        return 2
    sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
