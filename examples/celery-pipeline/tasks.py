"""The pipeline's Celery tasks: scrape a row's site, then write its AI message.

Two queues, one per stage ("scrape" and "ai"), so each stage's workers and concurrency are its own,
as in the seed team's system. Task events are on (worker -E, task_send_sent_event), which is what
a Celery exporter reads.
"""

import re
from urllib.parse import urlsplit, urlunsplit

import httpx
import redis
from celery import Celery

import db
import settings

app = Celery("pipeline", broker=settings.BROKER_URL)
app.conf.update(
    task_send_sent_event=True,
    worker_send_task_events=True,
    # One task at a time per slot: a long scrape does not hold others behind it.
    worker_prefetch_multiplier=1,
    task_acks_late=True,
    task_routes={"pipeline.scrape": {"queue": "scrape"}, "pipeline.generate": {"queue": "ai"}},
    broker_connection_retry_on_startup=True,
)


def _resolved(url):
    """The URL to connect to and the Host header to send: RESOLVE maps simulated hosts to loopback."""
    parts = urlsplit(url)
    for rule in filter(None, settings.RESOLVE.split(",")):
        pattern, address = rule.split("=", 1)
        regex = "^" + re.escape(pattern).replace(r"\*", "[^.]+") + "$"
        if re.match(regex, parts.hostname or ""):
            netloc = f"{address}:{parts.port}" if parts.port else address
            return urlunsplit(parts._replace(netloc=netloc)), parts.netloc
    return url, None


# One HTTP client per process, keeping connections alive between tasks.
_http = None


def _client():
    global _http
    if _http is None:
        _http = httpx.Client(follow_redirects=False)
    return _http


# The LLM's answers by status, counted in Redis: the prefork pool's processes add to one count,
# which the API's /metrics serves as llm_requests_total{status} (Celery's events do not say what the
# provider answered, so its 429s are not in the exporter's series).
_counts = None


def _count_llm_answer(status):
    global _counts
    if _counts is None:
        _counts = redis.Redis.from_url(settings.BROKER_URL)
    _counts.hincrby(settings.LLM_COUNTS_KEY, str(status), 1)


def _fail(row_id, error):
    with db.connect() as cur:
        cur.execute("UPDATE rows SET status = 'failed', error = %s WHERE id = %s", (error[:500], row_id))


@app.task(name="pipeline.scrape", bind=True, max_retries=3)
def scrape(self, row_id, url):
    target, host = _resolved(url)
    try:
        response = _client().get(
            target, headers={"host": host} if host else {}, timeout=settings.SCRAPE_TIMEOUT_S
        )
    except httpx.HTTPError as err:
        if self.request.retries >= self.max_retries:
            _fail(row_id, f"scrape: {type(err).__name__}")
            return
        raise self.retry(countdown=0.2 * 2**self.request.retries) from err
    if response.status_code >= 500 and self.request.retries < self.max_retries:
        raise self.retry(countdown=0.2 * 2**self.request.retries)
    if response.status_code >= 400:
        _fail(row_id, f"scrape: HTTP {response.status_code}")
        return
    text = re.sub(r"<[^>]+>", " ", response.text)
    text = re.sub(r"\s+", " ", text).strip()
    with db.connect() as cur:
        cur.execute("UPDATE rows SET status = 'scraped', page_chars = %s WHERE id = %s", (len(text), row_id))
    generate.apply_async((row_id, text[:1200]))


@app.task(name="pipeline.generate", bind=True, max_retries=5)
def generate(self, row_id, page_text):
    body = {
        "model": settings.LLM_MODEL,
        "messages": [
            {"role": "system", "content": "Write a short, friendly first message to this company."},
            {"role": "user", "content": page_text},
        ],
    }
    try:
        response = _client().post(
            f"{settings.LLM_BASE_URL}/chat/completions", json=body, timeout=settings.LLM_TIMEOUT_S
        )
    except httpx.HTTPError as err:
        if self.request.retries >= self.max_retries:
            _fail(row_id, f"ai: {type(err).__name__}")
            return
        raise self.retry(countdown=0.5 * 2**self.request.retries) from err
    _count_llm_answer(response.status_code)
    if response.status_code == 429:
        # The provider's limit: wait as long as it asks, without counting against the retries
        # (max_retries=None would mean the task's own 5: a row refused six times would be lost).
        wait = float(response.headers.get("retry-after-ms", 0)) / 1000 or float(
            response.headers.get("retry-after", 1)
        )
        raise self.retry(countdown=wait, max_retries=self.request.retries + 1)
    if response.status_code >= 500 and self.request.retries < self.max_retries:
        raise self.retry(countdown=0.5 * 2**self.request.retries)
    if response.status_code >= 400:
        _fail(row_id, f"ai: HTTP {response.status_code}")
        return
    message = response.json()["choices"][0]["message"]["content"]
    with db.connect() as cur:
        cur.execute("UPDATE rows SET status = 'done', message = %s WHERE id = %s", (message, row_id))
