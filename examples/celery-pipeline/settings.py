"""The example's settings, from the environment: where PostgreSQL, Redis and the simulators are."""

import os

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
# PostgreSQL schema of this example's tables (a test gives each run its own).
DATABASE_SCHEMA = os.environ.get("DATABASE_SCHEMA", "celery_pipeline")
BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/9")
# OpenAI-compatible endpoint, e.g. headroom's LLM simulator ("headroom sim llm").
LLM_BASE_URL = os.environ.get("LLM_BASE_URL", "http://127.0.0.1:8081/v1")
LLM_MODEL = os.environ.get("LLM_MODEL", "headroom-sim-1")
# "*.sites.test=127.0.0.1": send requests for these hosts to this address (the site simulator).
RESOLVE = os.environ.get("RESOLVE", "")
SCRAPE_TIMEOUT_S = float(os.environ.get("SCRAPE_TIMEOUT_S", "10"))
LLM_TIMEOUT_S = float(os.environ.get("LLM_TIMEOUT_S", "60"))
# The Redis hash (on the broker) where the workers count the LLM's answers by status.
LLM_COUNTS_KEY = os.environ.get("LLM_COUNTS_KEY", "pipeline:llm-answers")
