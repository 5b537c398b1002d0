"""A fresh worker process's first judge request is slow: litellm and instructor import part of
themselves on first use (HTTP/2 and connection-pool modules, instructor's provider handlers,
litellm's service logger and proxy types), about half a second of CPU on a quiet machine, and
more when every task thread of a new worker makes its first request at once and waits on the
others' import locks. ``preload`` imports them up front, while the worker starts.

The list is what one judged call newly imported (``sys.modules`` before and after) with the
pinned litellm and instructor; a module a later version moved or dropped is skipped.
"""

from __future__ import annotations

import contextlib
import importlib

__all__ = ["FIRST_REQUEST_MODULES", "preload"]

FIRST_REQUEST_MODULES = (
    "anyio._backends._asyncio",
    "anyio.streams.memory",
    "anyio.streams.tls",
    "httpcore",
    "h2.connection",
    "docstring_parser",
    "instructor.v2.core.handler",
    "instructor.v2.core.decorators",
    "instructor.v2.core.function_calls",
    "instructor.v2.core.json",
    "instructor.v2.core.multimodal",
    "instructor.v2.core.remote",
    "instructor.v2.dsl.parallel",
    "instructor.v2.providers.litellm.client",
    "instructor.v2.providers.openai.client",
    "instructor.v2.providers.openai.handlers",
    "instructor.v2.providers.openai.schema",
    "litellm._service_logger",
    "litellm.integrations.generic_api.generic_api_callback",
    "litellm.integrations.prometheus_services",
    "litellm.litellm_core_utils.duration_parser",
    "litellm.litellm_core_utils.logging_callback_manager",
    "litellm.llms.github_copilot.authenticator",
    "litellm.llms.litellm_proxy.chat.transformation",
    "litellm.llms.openai.chat.gpt_audio_transformation",
    "litellm.llms.openai_like.dynamic_config",
    "litellm.proxy._types",
    "litellm.proxy.openai_files_endpoints.common_utils",
    "litellm.proxy.spend_tracking.savings",
    "litellm.proxy.types_utils.utils",
)


def preload() -> int:
    """Import the modules a first request would; how many could be imported."""
    loaded = 0
    for name in FIRST_REQUEST_MODULES:
        with contextlib.suppress(Exception):  # moved or dropped in another version
            importlib.import_module(name)
            loaded += 1
    return loaded
