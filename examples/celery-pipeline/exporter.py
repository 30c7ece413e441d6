"""A Celery exporter with the metric names and labels of the most used one (danihodovic/celery-exporter).

That exporter is not packaged by Debian; this one, built on Celery's own event receiver and
prometheus_client, gives the same series for what headroom's celery preset reads:
celery_task_{sent,received,started,succeeded,failed,retried}_total{name,hostname,queue_name},
celery_task_runtime{name,hostname,queue_name} (a histogram of successful runs),
celery_worker_up / celery_worker_tasks_active {hostname}, and per queue celery_queue_length,
celery_active_worker_count and celery_active_process_count (the worker pool slots serving it).

    python3 exporter.py --port 9808
"""

import argparse
import threading
import time
from collections import defaultdict

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from tasks import app

LABELS = ["name", "hostname", "queue_name"]
EVENTS = ["sent", "received", "started", "succeeded", "failed", "retried"]
COUNTERS = {f"task-{e}": Counter(f"celery_task_{e}", f"Task events of type task-{e}.", LABELS) for e in EVENTS}
RUNTIME = Histogram(
    "celery_task_runtime",
    "Histogram of task runtime measurements.",
    LABELS,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, float("inf")),
)
WORKER_UP = Gauge("celery_worker_up", "Indicates if a worker has recently sent a heartbeat.", ["hostname"])
TASKS_ACTIVE = Gauge("celery_worker_tasks_active", "The number of tasks the worker is processing.", ["hostname"])
QUEUE_LENGTH = Gauge("celery_queue_length", "The number of messages in the broker queue.", ["queue_name"])
WORKER_COUNT = Gauge("celery_active_worker_count", "The number of active workers on the queue.", ["queue_name"])
PROCESS_COUNT = Gauge("celery_active_process_count", "The number of pool processes on the queue.", ["queue_name"])

# What task-sent told of each task: its name and queue (later events carry only the uuid).
tasks = {}
lock = threading.Lock()


def on_task_event(event):
    with lock:
        known = tasks.setdefault(event["uuid"], {"name": event.get("name"), "queue": event.get("queue")})
        if event.get("name"):
            known["name"] = event["name"]
        if event.get("queue"):
            known["queue"] = event["queue"]
        labels = {
            "name": known["name"] or "unknown",
            "hostname": event.get("hostname", "").split("@", 1)[-1] if event["type"] != "task-sent" else "generic",
            "queue_name": known["queue"] or "celery",
        }
        COUNTERS[event["type"]].labels(**labels).inc()
        if event["type"] != "task-sent":
            # As the exporter it mirrors: every counter of a task's series exists from its first
            # event (at 0), so rate() of failures reads 0, not "no data".
            for kind, counter in COUNTERS.items():
                if kind not in (event["type"], "task-sent"):
                    counter.labels(**labels).inc(0)
        if event["type"] == "task-succeeded":
            RUNTIME.labels(**labels).observe(event.get("runtime", 0))
        if event["type"] in ("task-succeeded", "task-failed"):
            tasks.pop(event["uuid"], None)


def on_worker_event(event):
    hostname = event["hostname"]
    WORKER_UP.labels(hostname=hostname).set(0 if event["type"] == "worker-offline" else 1)
    if "active" in event:
        TASKS_ACTIVE.labels(hostname=hostname).set(event["active"])


def watch_queues(queues, interval_s):
    """Queue lengths from Redis and each queue's worker pool processes from the workers themselves."""
    while True:
        try:
            inspect = app.control.inspect(timeout=1.0)
            stats = inspect.stats() or {}
            active_queues = inspect.active_queues() or {}
            processes = defaultdict(int)
            workers = defaultdict(int)
            for worker, served in active_queues.items():
                pool = len(stats.get(worker, {}).get("pool", {}).get("processes", []))
                for q in served:
                    processes[q["name"]] += pool
                    workers[q["name"]] += 1
            with app.connection_for_read() as conn:
                client = conn.channel().client
                for q in queues:
                    QUEUE_LENGTH.labels(queue_name=q).set(client.llen(q))
                    PROCESS_COUNT.labels(queue_name=q).set(processes[q])
                    WORKER_COUNT.labels(queue_name=q).set(workers[q])
        except Exception as err:  # the broker or a worker away for a moment: try again
            print(f"queue metrics: {err}", flush=True)
        time.sleep(interval_s)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=9808)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--queues", default="scrape,ai")
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    start_http_server(args.port, addr=args.host)
    threading.Thread(target=watch_queues, args=(args.queues.split(","), args.interval), daemon=True).start()
    print(f"celery exporter: metrics at http://{args.host}:{args.port}/metrics", flush=True)
    handlers = {f"task-{e}": on_task_event for e in EVENTS}
    handlers.update({"worker-online": on_worker_event, "worker-heartbeat": on_worker_event, "worker-offline": on_worker_event})
    while True:
        try:
            with app.connection() as connection:
                receiver = app.events.Receiver(connection, handlers=handlers)
                receiver.capture(limit=None, timeout=None, wakeup=True)
        except Exception as err:  # the broker restarted: reconnect
            print(f"events: {err}", flush=True)
            time.sleep(1)


if __name__ == "__main__":
    main()
