"""The upload API: POST a CSV of websites (a "website" or "url" column), follow its progress.

The CSV is the request body (text/csv), so no multipart parser is needed. /metrics serves the
app's own figure: the LLM's answers by status, llm_requests_total{status}, counted by the workers.
"""

import csv
import io

import redis
from fastapi import FastAPI, HTTPException, Request
from prometheus_client import CollectorRegistry, make_asgi_app
from prometheus_client.core import CounterMetricFamily

import db
import settings
from tasks import scrape

app = FastAPI(title="celery-pipeline example")


class LlmAnswers:
    """llm_requests_total{status}, read from the Redis hash the workers add to at each scrape."""

    def __init__(self):
        self.redis = redis.Redis.from_url(settings.BROKER_URL)

    def collect(self):
        family = CounterMetricFamily("llm_requests", "The LLM's answers to the AI tasks, by HTTP status.", labels=["status"])
        for status, count in sorted(self.redis.hgetall(settings.LLM_COUNTS_KEY).items()):
            family.add_metric([status.decode()], int(count))
        yield family


registry = CollectorRegistry()
registry.register(LlmAnswers())
app.mount("/metrics", make_asgi_app(registry))


@app.on_event("startup")
def startup():
    db.migrate()


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/uploads", status_code=201)
async def upload(request: Request):
    text = (await request.body()).decode("utf-8", errors="replace")
    reader = csv.DictReader(io.StringIO(text))
    column = next((c for c in ("website", "url") if c in (reader.fieldnames or [])), None)
    if column is None:
        raise HTTPException(400, "the CSV needs a header with a website (or url) column")
    urls = []
    for line, record in enumerate(reader, start=2):
        url = (record.get(column) or "").strip()
        if not url.startswith(("http://", "https://")):
            raise HTTPException(400, f"line {line}: url must start with http:// or https:// (got {url!r})")
        urls.append(url)
    with db.connect() as cur:
        cur.execute("INSERT INTO uploads (rows) VALUES (%s) RETURNING id", (len(urls),))
        upload_id = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO rows (upload_id, url) SELECT %s, u FROM unnest(%s::text[]) AS u RETURNING id, url",
            (upload_id, urls),
        )
        rows = cur.fetchall()
    for row_id, url in rows:
        scrape.apply_async((row_id, url))
    return {"id": upload_id, "rows": len(urls)}


@app.get("/uploads/{upload_id}")
def progress(upload_id: int):
    with db.connect() as cur:
        cur.execute("SELECT status, count(*) FROM rows WHERE upload_id = %s GROUP BY status", (upload_id,))
        counts = dict(cur.fetchall())
    if not counts:
        raise HTTPException(404, "no such upload")
    total = sum(counts.values())
    finished = counts.get("done", 0) + counts.get("failed", 0)
    return {"id": upload_id, "rows": total, "byStatus": counts, "finished": finished, "completed": finished == total}
