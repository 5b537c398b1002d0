"""Self-hosted evaluation of voice-agent calls, compatible with Cekura's observe API.

The public API: ``evaluate_call`` judges one ``ObserveRequest`` and returns a
``CallEvaluation``; ``load_definitions`` reads the metric, agent and prompt files.
"""

from evaluator.config import Settings
from evaluator.definitions import AgentDefinition, Catalogue, MetricDefinition
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
from evaluator.intake import PreparedCall, prepare_call, read_request
from evaluator.models import CallEvaluation, MetricResult, ObserveRequest, Usage, parse_request
from evaluator.runtime import Definitions, load_definitions, open_judge
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
