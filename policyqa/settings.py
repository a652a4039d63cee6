"""One settings object. Every field can be set by an environment variable POLICYQA_<NAME>."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.embedding import DEFAULT_BACKEND, DEFAULT_MODEL

# Nothing at run time may reach a model hub or telemetry endpoint.
for _var, _value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                     ("ANONYMIZED_TELEMETRY", "False"), ("TOKENIZERS_PARALLELISM", "false"),
                     ("GRADIO_ANALYTICS_ENABLED", "False")):
    os.environ.setdefault(_var, _value)

ROOT = Path(__file__).resolve().parent.parent


def _default_store() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "policyqa" / "store"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POLICYQA_", extra="ignore", populate_by_name=True)

    store: Path = Field(default_factory=_default_store,
                        description="Data directory of the Chroma store (POLICYQA_STORE).")
    corpus: Path = Field(default=ROOT / "corpus",
                         description="Folder of the default policies ingested by `serve` on a cold start.")
    model: str = Field(default=DEFAULT_MODEL,
                       description="Embedding model: a name from ingest.embedding.MODELS or a local folder.")
    backend: str = Field(default=DEFAULT_BACKEND,
                         description="Embedding runtime: 'onnx-int8' (exported and quantised on first use) or 'torch'.")
    llm: str = Field(default="",
                     description="Optional LangChain chat model for writing answers, e.g. 'ollama:llama3.1'. Empty: no LLM.")
    llm_base_url: str = Field(default="", description="Base URL of an OpenAI-compatible endpoint for the LLM.")
    llm_timeout: float = Field(default=20.0, description="Seconds before the LLM writer gives up and the default answerer is used.")
    llm_api_key: SecretStr = Field(default=SecretStr(""), validation_alias=AliasChoices("POLICYQA_LLM_API_KEY", "OPENAI_API_KEY"),
                                   description="API key of the LLM endpoint (POLICYQA_LLM_API_KEY, else OPENAI_API_KEY). "
                                               "Empty with LLM_BASE_URL set: a local server that takes no key.")
    ranker: Path | None = Field(default=None, description=(
        "Another first-stage ranker file (POLICYQA_RANKER; default qa/models/ranker.json), e.g. one trained on half "
        "the policies for an honest benchmark. Read from the environment by qa.rank."))
    model_dir: Path | None = Field(default=None, description=(
        "Folder of the fine-tuned 'policyqa-minilm' embedder (POLICYQA_MODEL_DIR; default models/policyqa-minilm). "
        "Read from the environment by ingest.embedding."))
    rerank: bool = Field(default=False, description=(
        "1: re-score each policy's best clauses with the trained cross-encoder (qa/models/reranker). Off by default: "
        "it ranks better on PolicyQA-style questions but worse on the bundled plain-words sets (benchmarks/README.md). "
        "0: the first stage alone, the fastest path."))
    reranker: Path | None = Field(default=None, description=(
        "Folder of another exported reranker (POLICYQA_RERANKER; default qa/models/reranker), e.g. one from "
        "benchmarks/train_reranker.py. Read from the environment by qa.rerank."))
    max_question_chars: int = Field(default=2000, description="Longest question accepted.")
    admin_token: str = Field(default="", description="Token that allows uploading policies in the desk. Empty: uploads are off.")
    frame_ancestors: str = Field(default="*",
                                 description="Origins allowed to frame the widget (CSP frame-ancestors), space separated.")
    queue_concurrency: int = Field(default=8, description="Gradio queue: answers computed at once.")
    max_file_bytes: int = Field(default=10_000_000, description=(
        "Largest policy file ingested or uploaded, in bytes (a bigger file is refused before it is read)."))
    max_pages: int = Field(default=500, description="Most pages of a PDF policy; a longer PDF is refused.")
    max_chars: int = Field(default=1_000_000, description=(
        "Most characters of a policy's text (once extracted; before normalising); a longer text is refused."))
    max_units: int = Field(default=20_000, description="Most sentences and list items in one policy; more is refused.")
    ingest_timeout: float = Field(default=60.0, description=(
        "Seconds one file may take to be read, normalised and split (embedding not included); "
        "a file that takes longer is refused."))
    ingest_memory_mb: int = Field(default=1024, description=(
        "Memory (address space, MB) of the process that reads policy files; a file needing more is refused."))
    rate_limit: float = Field(default=120, description=(
        "Questions a minute each client address may ask through the REST API, the widget and the "
        "chat/desk queue, on average; 0 turns the limit off. Over it: 429 with Retry-After."))
    rate_burst: int = Field(default=20, description="Questions a client may ask at once before `rate_limit` applies.")
    max_pending: int = Field(default=64, description=(
        "REST answers computed or waiting at once; more get 429 with Retry-After instead of waiting."))
    queue_max_size: int = Field(default=64, description=(
        "Gradio queue (chat and desk): jobs waiting at most; more get 429 with Retry-After."))
    body_timeout: float = Field(default=30.0, description=(
        "Seconds a request body may stall before the request is answered 408 (half-open connections)."))
    cors_origins: str = Field(default="", description=(
        "Origins (space separated) whose pages may call the API and the app from a browser; "
        "empty: none but the server's own."))
    policy_cache: int = Field(default=256, description=(
        "Policies whose search index (units, vectors, BM25) a process keeps in memory, the most recently "
        "asked about; another is read from the store when asked about (a few ms to a few tens of ms)."))
    across_candidates: int = Field(default=20, description=(
        "Policies a question across all policies is ranked against, beyond those it names: the policies of the "
        "clauses nearest to it in Chroma's index over every clause. With no more policies than this, all of them."))
    chroma_url: str = Field(default="", description=(
        "A Chroma server (`chroma run`) as http://HOST:PORT: the whole store (vectors, catalog, texts) of every "
        "process using it lives there, on any machine. Empty: in the store's own directory (one machine, no "
        "server to start)."))
    chroma_collection: str = Field(default="policyqa", description=(
        "With CHROMA_URL, the store's name on the server: its collections are NAME-units, NAME-catalog and "
        "NAME-texts. Every process and machine serving one store uses the same name."))
    store_lock_timeout: float = Field(default=60.0, description=(
        "Seconds a process waits for another one using the store (an ingest, a server reloading "
        "what changed) before giving up with a 'store busy' error."))


def ingest_limits(s: Settings):
    """What one policy file may cost, from the settings (ingest.types.Limits)."""
    from ingest.types import Limits

    return Limits(file_bytes=s.max_file_bytes, pages=s.max_pages, chars=s.max_chars, units=s.max_units,
                  seconds=s.ingest_timeout, memory_mb=s.ingest_memory_mb)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
