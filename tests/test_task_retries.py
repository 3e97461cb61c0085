"""Shard tasks retry what may pass (a lost worker, an outage) but not a permanent storage error."""

from prefect.states import Completed, Failed

from inpaint_core.errors import StorageAccessError, StorageUnavailableError
from tasks.restore import retry_unless_permanent


def test_permanent_storage_errors_are_not_retried():
    assert retry_unless_permanent(None, None, Failed(data=StorageAccessError("s3://b/x: access denied"))) is False


def test_transient_and_other_errors_are_retried():
    assert retry_unless_permanent(None, None, Failed(data=StorageUnavailableError("s3://b/x: unavailable"))) is True
    assert retry_unless_permanent(None, None, Failed(data=RuntimeError("worker lost"))) is True
    assert retry_unless_permanent(None, None, Completed(data=1)) is True
