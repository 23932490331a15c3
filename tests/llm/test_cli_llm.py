"""`python -m shared extract --extractor ...` as a real subprocess against the local
OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.fakes.openai_server import FakeOpenAI, completion
from tests.llm.documents import vendor_invoice_pdf
from tests.llm.test_extraction import GOOD

REPO = Path(__file__).resolve().parents[2]


def _extract(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    document = tmp_path / "vk-1.pdf"
    document.write_bytes(vendor_invoice_pdf("VK-1"))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI"))}
    return subprocess.run(
        [sys.executable, "-m", "shared", "extract", *args, str(document)],
        cwd=REPO, env=clean | env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_llm_extractor_from_the_command_line(tmp_path: Path, llm_server: FakeOpenAI) -> None:
    llm_server.queue("chat", completion(GOOD, prompt_tokens=640, completion_tokens=90))
    run = _extract(
        tmp_path, "--extractor", "llm", "--json",
        OPENAI_BASE_URL=llm_server.base_url, OPENAI_MODEL="cli-model",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    output = json.loads(run.stdout)
    assert output["extractor"] == "llm" and output["invoice_id"] == "VK-1"
    assert output["llm"]["model"] == "cli-model" and output["llm"]["prompt_tokens"] == 640
    assert llm_server.of_kind("chat")[0].body["model"] == "cli-model"


def test_rules_overrides_a_configured_llm_and_calls_nothing(
    tmp_path: Path, llm_server: FakeOpenAI
) -> None:
    run = _extract(
        tmp_path, "--extractor", "rules", "--json", EXTRACTOR="llm",
        OPENAI_BASE_URL=llm_server.base_url, OPENAI_MODEL="cli-model",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["extractor"] == "rules"
    assert llm_server.requests == []


def test_llm_without_a_configured_endpoint_is_a_one_line_error(tmp_path: Path) -> None:
    run = _extract(tmp_path, "--extractor", "llm")
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "error (configuration_error): the llm extractor needs AZURE_OPENAI_ENDPOINT and "
        "AZURE_OPENAI_DEPLOYMENT, or OPENAI_MODEL with OPENAI_BASE_URL or OPENAI_API_KEY"
    ]
