"""Executors: run one attempt of one job and report how it ended.

The contract (:class:`Executor`, :class:`ExecutionRequest`, :class:`ExecutionResult`,
:class:`OutputSink`, :class:`ServiceResolver`) is in :mod:`.base`; behaviour is described in
``docs/executors.md``.
"""

from __future__ import annotations

from jobplan.engine.executors.base import (
    NULL_SINK,
    ExecutionRequest,
    ExecutionResult,
    Executor,
    NullSink,
    OutputSink,
    ServiceResolver,
)
from jobplan.engine.executors.command import INHERITED_VARIABLES, CommandExecutor
from jobplan.engine.executors.http import HttpExecutor

__all__ = [
    "INHERITED_VARIABLES",
    "NULL_SINK",
    "CommandExecutor",
    "ExecutionRequest",
    "ExecutionResult",
    "Executor",
    "HttpExecutor",
    "NullSink",
    "OutputSink",
    "ServiceResolver",
]
