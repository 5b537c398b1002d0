"""Self-hosted evaluation of voice-agent calls, compatible with Cekura's observe API.

The public API: ``evaluate_call`` judges one ``ObserveRequest`` and returns a
``CallEvaluation``; ``load_definitions`` reads the metric, agent and prompt files.
"""

from evaluator.bootstrap import Definitions, load_definitions, open_judge
from evaluator.catalogue.definitions import AgentDefinition, Catalogue, MetricDefinition
from evaluator.config import Settings
from evaluator.contract import CallEvaluation, MetricResult, ObserveRequest, Usage, parse_request
from evaluator.engine import EngineOptions, evaluate_call, evaluate_prepared
from evaluator.errors import (
    DefinitionError,
    EvaluatorError,
    JudgeError,
    JudgeOutputError,
    JudgeUnavailableError,
    OfflineModelError,
    PromptError,
    RequestValidationError,
    TranscriptFormatError,
    UnknownIdError,
)
from evaluator.ingest.intake import PreparedCall, prepare_call, read_request
from evaluator.transcript import Transcript, Turn

__all__ = [
    "AgentDefinition",
    "CallEvaluation",
    "Catalogue",
    "DefinitionError",
    "Definitions",
    "EngineOptions",
    "EvaluatorError",
    "JudgeError",
    "JudgeOutputError",
    "JudgeUnavailableError",
    "MetricDefinition",
    "MetricResult",
    "ObserveRequest",
    "OfflineModelError",
    "PreparedCall",
    "PromptError",
    "RequestValidationError",
    "Settings",
    "Transcript",
    "TranscriptFormatError",
    "Turn",
    "UnknownIdError",
    "Usage",
    "evaluate_call",
    "evaluate_prepared",
    "load_definitions",
    "open_judge",
    "parse_request",
    "prepare_call",
    "read_request",
]
