"""The few-shot protocol (LM-BFF): one search per seed split, with baselines on the same splits."""

from promptsearch.protocol._protocol import MethodResult, ProtocolResult, run_protocol

__all__ = ["MethodResult", "ProtocolResult", "run_protocol"]
