"""Keep credentials out of error texts, log lines, manifests and recorded flow parameters.

Three tools:

- :func:`redact` scrubs a string: the values of the credential variables of this process's
  environment (``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``PREFECT_API_KEY``...), values
  given by the caller (e.g. the secrets of a ``storage_options`` dict), and the usual shapes of
  credentials (``user:password@`` in URLs, AWS access key ids, presigned-URL signatures,
  ``secret=...`` / ``"token": "..."`` pairs, Prefect API keys, bearer tokens).
- :func:`split_secret_options` separates the credential entries of fsspec ``storage_options``
  (``key``, ``secret``, ``token``, ``aws_secret_access_key`` at any depth...) from the rest, so
  that only the rest is ever recorded where people can read it.
- :class:`RedactingFilter` / :func:`install_log_redaction`: a logging filter applying
  :func:`redact` to every record (message, arguments and traceback) that a handler emits.

Example:
    >>> redact("GET s3://AKIAIOSFODNN7EXAMPLE:pw@bucket/x failed")
    'GET s3://***@bucket/x failed'
    >>> split_secret_options({"endpoint_url": "http://minio:9000", "key": "k", "secret": "s"})
    ({'endpoint_url': 'http://minio:9000'}, {'key': 'k', 'secret': 's'})
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any, Iterable, Mapping

__all__ = ["redact", "known_secrets", "secret_option_keys", "split_secret_options", "merge_options",
           "RedactingFilter", "install_log_redaction", "MASK"]

MASK = "***"
#: Environment variables that hold credentials, whatever their value looks like.
SECRET_ENV_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                   "PREFECT_API_KEY", "AZURE_STORAGE_KEY", "AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_SAS_TOKEN",
                   "AZURE_STORAGE_CONNECTION_STRING", "AZURE_CLIENT_SECRET", "GOOGLE_OAUTH_ACCESS_TOKEN")
_SECRET_ENV_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|PRIVATE_KEY|CONNECTION_STRING")
#: fsspec option names that carry credentials (s3fs: key/secret/token; adlfs: account_key, sas_token...).
_SECRET_OPTION = re.compile(r"^(key|secret|token|password|passwd|credentials?|sas_token|account_key|"
                            r"connection_string|client_secret|private_key|api_key|"
                            r"aws_access_key_id|aws_secret_access_key|aws_session_token|session_token)$", re.I)
_MIN_SECRET_LEN = 8  # shorter values ("testing", "true") would mangle ordinary words

_PATTERNS: list[tuple[re.Pattern, str]] = [
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s'\"]+@"), r"\1***@"),  # scheme://user:password@
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"), MASK),  # AWS access key ids
    (re.compile(r"((?:X-Amz-(?:Signature|Credential|Security-Token)|Signature|AWSAccessKeyId|sig)=)[^&\s'\"]+",
                re.I), r"\1***"),  # presigned URLs, SAS tokens
    (re.compile(r"(Credential=|Signature=)[^,\s'\"&]+"), r"\1***"),  # AWS4 Authorization header
    (re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1***"),
    (re.compile(r"\bpn[ub]_[A-Za-z0-9]{20,}\b"), MASK),  # Prefect Cloud API keys
    (re.compile(r"(['\"](?:key|secret|token|password|passwd|aws_access_key_id|aws_secret_access_key|"
                r"aws_session_token|session_token|account_key|sas_token|client_secret|api_key)['\"]\s*:\s*['\"])"
                r"[^'\"]*", re.I), r"\1***"),  # {"secret": "..."} and {'secret': '...'}
    (re.compile(r"\b((?:aws_)?(?:secret_access_key|session_token|secret|password|passwd|token|api_key|"
                r"account_key)\s*=\s*)[^\s,;&'\")]+", re.I), r"\1***"),  # secret=..., AWS config files
]


def known_secrets(extra: Iterable[Any] = ()) -> list[str]:
    """Credential values to scrub: from the environment (:data:`SECRET_ENV_VARS` and names that
    say SECRET, TOKEN, PASSWORD, API_KEY...) plus ``extra``; longest first, short ones left out."""
    values = {str(v) for v in extra if v}
    for name, value in os.environ.items():
        if name in SECRET_ENV_VARS or _SECRET_ENV_NAME.search(name):
            values.add(value)
    return sorted((v for v in values if len(v) >= _MIN_SECRET_LEN), key=len, reverse=True)


def redact(text: Any, *secrets: Any, storage_options: Mapping[str, Any] | None = None) -> str:
    """``str(text)`` with every known credential replaced by ``***``.

    Args:
        text: Any object; its ``str`` is scrubbed.
        *secrets: More literal values to remove (e.g. a password read from a file).
        storage_options: fsspec options whose credential entries (see :func:`split_secret_options`)
            are removed wherever their values appear.
    """
    out = str(text)
    extra = list(secrets)
    if storage_options:
        extra += list(_leaf_values(split_secret_options(storage_options)[1]))
    for value in known_secrets(extra):
        out = out.replace(value, MASK)
    for pattern, repl in _PATTERNS:
        out = pattern.sub(repl, out)
    return out


def secret_option_keys(options: Mapping[str, Any] | None) -> list[str]:
    """Dotted names of the credential entries of ``options`` (``["key", "client_kwargs.aws_secret_access_key"]``)."""
    return _dotted(split_secret_options(options or {})[1])


def split_secret_options(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(public, secret)``: the credential entries of nested fsspec options and all the others.

    ``merge_options(public, secret)`` gives the original options back.
    """
    public: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    for k, v in options.items():
        if _SECRET_OPTION.match(str(k)) and v not in (None, "", False):
            secret[k] = v
        elif isinstance(v, Mapping):
            pub, sec = split_secret_options(v)
            public[k] = pub
            if sec:
                secret[k] = sec
        else:
            public[k] = v
    return public, secret


def merge_options(public: Mapping[str, Any] | None, secret: Mapping[str, Any] | None) -> dict[str, Any]:
    """Deep merge of :func:`split_secret_options`' halves."""
    out = dict(public or {})
    for k, v in (secret or {}).items():
        out[k] = merge_options(out.get(k) or {}, v) if isinstance(v, Mapping) else v
    return out


def _dotted(tree: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k, v in tree.items():
        name = f"{prefix}{k}"
        out += _dotted(v, name + ".") if isinstance(v, Mapping) else [name]
    return out


def _leaf_values(tree: Mapping[str, Any]) -> Iterable[Any]:
    for v in tree.values():
        if isinstance(v, Mapping):
            yield from _leaf_values(v)
        else:
            yield v


class RedactingFilter(logging.Filter):
    """Applies :func:`redact` to a record's message, arguments and traceback text; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record whose args do not format is left to logging
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            record.exc_info = None  # handlers fall back to the (scrubbed) text
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_log_redaction(prefixes: tuple[str, ...] = ("prefect", "distributed", "inpaint", "flows", "tasks")) -> int:
    """Add one :class:`RedactingFilter` to every handler of the root logger and of the loggers under
    ``prefixes`` (Prefect's API and console handlers included). Idempotent; returns how many
    handlers got one. Call it after logging is configured (after importing Prefect)."""
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in list(logging.Logger.manager.loggerDict)
                                       if name.split(".")[0] in prefixes]
    added = 0
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
                added += 1
    return added
