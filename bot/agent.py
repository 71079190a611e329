"""The answering agent: free questions the rules do not map, asked of the configured LLM."""

from __future__ import annotations

import os


def configured(env: dict[str, str] | None = None) -> bool:
    """An LLM answers free questions when OPENAI_API_KEY is set."""
    return bool((os.environ if env is None else env).get("OPENAI_API_KEY"))
