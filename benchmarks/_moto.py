"""moto's S3 server on loopback for benchmarks (as the tests start it), with its request log quiet."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Iterator


@contextlib.contextmanager
def moto_s3() -> Iterator[tuple[str, object]]:
    """Yields ``(endpoint URL, s3fs filesystem)`` of a fresh in-memory S3 server."""
    import s3fs
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        url = f"http://127.0.0.1:{server._server.server_port}"
        yield url, s3fs.S3FileSystem(endpoint_url=url, skip_instance_cache=True)
    finally:
        server.stop()
