"""One settings object: every environment variable the code reads is one of its fields, each
with a description; the one way to build the assistant applies them (the LLM writer too)."""
import re
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from conftest import ROOT
from policyqa.settings import Settings
from qa import llm
from qa.service import Assistant

SOURCES = [ROOT / "app.py", *[p for pkg in ("policyqa", "qa", "web", "ingest") for p in (ROOT / pkg).rglob("*.py")]]
READS = re.compile(r"""(?:environ\.get|getenv|environ\[)\(?\s*["']([A-Z0-9_]+)["']""")
# platform conventions that place the defaults (the data and cache directories), and the import
# path a child process is given: not settings
PLATFORM = {"XDG_DATA_HOME", "XDG_CACHE_HOME", "PYTHONPATH"}


def test_every_environment_variable_read_is_a_described_setting():
    read = {name for path in SOURCES for name in READS.findall(path.read_text("utf-8"))}
    assert read, "the pattern finds the reads"
    fields = Settings.model_fields
    for name in sorted(read - PLATFORM):
        assert name.startswith("POLICYQA_"), f"{name} is read but is not a POLICYQA_ setting"
        field = name.removeprefix("POLICYQA_").lower()
        assert field in fields, f"{name} is read by the code but is not a field of Settings"
    assert all(f.description for f in fields.values()), [k for k, f in fields.items() if not f.description]


def test_the_llm_setting_builds_the_writer_through_the_provider_registry(monkeypatch, seed_store):
    model = FakeListChatModel(responses=["Yes, it is processed in China [1]."])
    monkeypatch.setitem(llm.PROVIDERS, "fake", lambda name, settings: model)
    settings = Settings(store=Path("unused"), llm="fake:any", llm_timeout=7)
    built = Assistant.from_settings(settings, seed_store)
    assert built.writer.model is model and built.writer.timeout == 7 and built.writer.name == "fake:any"
    assert Assistant.from_settings(Settings(store=Path("unused")), seed_store).writer is None
    with pytest.raises(ValueError, match="Unknown LLM 'nosuch:x'.*from: ollama, openai, fake"):
        Assistant.from_settings(Settings(store=Path("unused"), llm="nosuch:x"), seed_store)
