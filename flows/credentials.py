"""Credentials in flow parameters.

Prefect records every flow parameter in its database and shows it in the UI, so S3 keys never
travel as plain ``storage_options``. The Python entry points (``run_restore``, ``run_evaluate``,
``run_train``, and so the CLI) move them into ``storage_secrets``: a JSON object in a
``SecretStr``, which Prefect records as ``**********``. Every flow that takes ``storage_options``
refuses credentials in them (a deployment's parameters or a direct call), naming the keys, never
the values.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr

from inpaint_core.redact import merge_options, secret_option_keys, split_secret_options


def hide_credentials(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` of a flow call with the credentials of ``storage_options`` moved into ``storage_secrets``."""
    public, secret = split_secret_options(kwargs.get("storage_options") or {})
    if not secret:
        return kwargs
    return {**kwargs, "storage_options": public or None, "storage_secrets": SecretStr(json.dumps(secret))}


def check_no_credentials(options: dict[str, Any] | None, what: str = "storage_options") -> None:
    """Refuse credentials in options that Prefect would store and show (flow or deployment parameters)."""
    found = secret_option_keys(options)
    if found:
        raise ValueError(
            f"{what} carries credentials ({', '.join(found)}), and Prefect records flow parameters in "
            "its database and UI. Give them to the flow and its workers through the environment "
            "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) or an AWS profile (profile=NAME), "
            "or start the run from Python (run_restore, run_evaluate, run_train) or the CLI, which pass them hidden")


def flow_storage_options(public: dict[str, Any] | None, secrets: SecretStr | None) -> dict[str, Any]:
    """A flow's fsspec options: the recorded ones plus the credentials passed hidden in ``storage_secrets``."""
    check_no_credentials(public)
    return merge_options(public, json.loads(secrets.get_secret_value()) if secrets else None)
