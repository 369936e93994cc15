"""Benchmark the S3 artifact store: a 200 MiB checkpoint through `S3ArtifactStore.put` against
a plain boto3 `upload_file` of the same file to the same server, side by side.

The store does more per upload (sha256 of the whole file, signed payloads the server checks,
a HEAD to verify size and ETag); the target is a throughput ratio (plain time / store time)
of at least 0.9. Uploads alternate (plain, store, plain, ...) so load from anything else on the
machine hits both alike; each object is deleted after its upload. Also times a verified
download (`fetch_verified`) of the same object.

Runs against the S3 endpoint in AWS_ENDPOINT_URL, else starts the project's loopback radosgw
(tests/services/radosgw.sh; needs the Debian radosgw, ceph-mon and ceph-osd packages).

    .venv/bin/python bench/bench_s3.py [--size-mib 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from reconciler.artifacts import S3ArtifactStore, S3Config, fetch_verified

RADOSGW = Path(__file__).resolve().parent.parent / "tests/services/radosgw.sh"
MiB = 1024 * 1024


def ensure_server() -> None:
    """Use AWS_ENDPOINT_URL when set; else start radosgw and take its environment."""
    if os.environ.get("AWS_ENDPOINT_URL"):
        return
    out = subprocess.run([str(RADOSGW), "start"], check=True, capture_output=True, text=True)
    for line in out.stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        os.environ[name] = value


def timed(action: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def plain_client() -> Any:
    """boto3 as a user would write it: defaults, but the same endpoint and addressing."""
    return boto3.client(
        "s3",
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        config=Config(s3={"addressing_style": "path"}),
    )


def report(name: str, runs: list[tuple[float, float]], size_mib: float) -> float:
    wall = statistics.median(w for w, _ in runs)
    cpu = statistics.median(c for _, c in runs)
    print(
        f"{name:<28} median {wall:6.2f} s  {size_mib / wall:6.0f} MiB/s  client CPU {cpu:5.2f} s"
        f"  (runs: {', '.join(f'{w:.2f}' for w, _ in runs)})"
    )
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ensure_server()
    plain = plain_client()
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    plain.create_bucket(Bucket=bucket)
    store = S3ArtifactStore(f"s3://{bucket}/store", S3Config.from_env())
    with tempfile.TemporaryDirectory(prefix="bench-s3-") as tmp:
        source = Path(tmp) / "checkpoint.bin"
        source.write_bytes(os.urandom(args.size_mib * MiB))
        plain_runs, store_runs = [], []
        for rnd in range(args.rounds + 1):  # round 0 warms connections and the server up
            p = timed(lambda: plain.upload_file(str(source), bucket, "plain/checkpoint.bin"))
            plain.delete_object(Bucket=bucket, Key="plain/checkpoint.bin")
            s = timed(lambda: store.put(source, "checkpoint.bin"))
            if rnd:
                plain_runs.append(p)
                store_runs.append(s)
        ref = store.put(source, "checkpoint.bin")
        cache = Path(tmp) / "cache"
        get = timed(
            lambda: fetch_verified(ref.uri, sha256=ref.sha256, repo_root=cache, dest_dir=cache)
        )
        plain.delete_object(Bucket=bucket, Key="store/checkpoint.bin")
    plain.delete_bucket(Bucket=bucket)
    print(f"{args.size_mib} MiB checkpoint, {args.rounds} rounds, {os.environ['AWS_ENDPOINT_URL']}")
    plain_wall = report("boto3 upload_file", plain_runs, args.size_mib)
    store_wall = report("S3ArtifactStore.put", store_runs, args.size_mib)
    report("fetch_verified (download)", [get], args.size_mib)
    print(f"throughput ratio store/plain: {plain_wall / store_wall:.2f} (target >= 0.9)")


if __name__ == "__main__":
    main()
