"""Start-up: settings precedence, what stops a start, the commands, hosts side by side."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from devhost.__main__ import main
from devhost.errors import DevhostError
from devhost.host import Host, HostOptions
from devhost.settings import load_app_settings, storage_account
from tests.devhost.host_support import LoopThread, free_port, wait_until, write_app_root

REPO_ROOT = Path(__file__).resolve().parents[2]


def write_settings(path: Path, values: dict[str, str], **extra: object) -> None:
    path.write_text(json.dumps({"IsEncrypted": False, "Values": values, **extra}))


def test_local_settings_win_over_the_sample(tmp_path: Path) -> None:
    write_settings(tmp_path / "local.settings.sample.json", {"A": "sample", "B": "sample"})
    assert load_app_settings(tmp_path, {}).get("A") == "sample"
    write_settings(tmp_path / "local.settings.json", {"A": "local"})
    settings = load_app_settings(tmp_path, {})
    assert (settings.get("A"), settings.get("B")) == ("local", None)


def test_the_environment_wins_over_the_file_unless_it_is_empty(tmp_path: Path) -> None:
    write_settings(tmp_path / "local.settings.json", {"A": "file", "B": "file", "C": "file"})
    environ = {"A": "env", "B": ""}
    settings = load_app_settings(tmp_path, environ)
    assert [settings.get(n) for n in "ABC"] == ["env", "file", "file"]
    previous = settings.apply(environ)
    assert environ == {"A": "env", "B": "file", "C": "file"}
    assert previous == {"B": "", "C": None}


def test_connection_names_resolve_like_the_webjobs_sdk(tmp_path: Path) -> None:
    write_settings(
        tmp_path / "local.settings.json",
        {"STORE": "UseDevelopmentStorage=true", "IDENTITY__blobServiceUri": "https://x.blob/"},
        ConnectionStrings={"STORE": "AccountName=named;AccountKey=a2V5;BlobEndpoint=http://h/b"},
    )
    settings = load_app_settings(tmp_path, {})
    from_connection_strings = storage_account(settings, "STORE", where="t")
    assert from_connection_strings.account_name == "named"
    assert settings.connection("Storage") is None
    identity = storage_account(settings, "IDENTITY", where="t")
    assert identity.uses_identity and identity.blob_endpoint == "https://x.blob"
    with pytest.raises(DevhostError, match="'MISSING' is not set"):
        storage_account(settings, "MISSING", where="t")


def start_app(tmp_path: Path, source: str, values: dict[str, str] | None = None) -> None:
    """Start a host for an app written to `tmp_path`; it is expected to fail."""
    module = f"app_{uuid.uuid4().hex}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
    write_app_root(tmp_path, values or {})
    loop = LoopThread()
    try:
        options = HostOptions(root=tmp_path, app_module=module, port=0, start_azurite=False)
        loop.run(Host(options, environ=dict(os.environ)).start())
    finally:
        loop.close()


def test_an_unsupported_binding_stops_start_up_naming_function_and_type(tmp_path: Path) -> None:
    source = """
        import azure.functions as func
        app = func.FunctionApp()

        @app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
        def on_message(msg: func.QueueMessage) -> None: ...
    """
    with pytest.raises(DevhostError, match=r"function 'on_message'.*'queueTrigger'"):
        start_app(tmp_path, source)


def test_an_unsupported_output_binding_stops_start_up(tmp_path: Path) -> None:
    source = """
        import azure.functions as func
        app = func.FunctionApp()

        @app.route(route="r", auth_level="anonymous")
        @app.queue_output(arg_name="out", queue_name="q", connection="AzureWebJobsStorage")
        def enqueue(req: func.HttpRequest, out: func.Out[str]) -> str: ...
    """
    with pytest.raises(DevhostError, match="function 'enqueue': binding type 'queue'"):
        start_app(tmp_path, source)


def test_a_missing_setting_in_a_binding_stops_start_up(tmp_path: Path) -> None:
    source = """
        import azure.functions as func
        app = func.FunctionApp()

        @app.blob_trigger(arg_name="b", path="%NOT_SET%/{name}", connection="S")
        def on_blob(b: func.InputStream) -> None: ...
    """
    with pytest.raises(DevhostError, match=r"function 'on_blob'.*'%NOT_SET%' does not resolve"):
        start_app(tmp_path, source)


def test_an_unsupported_binding_expression_stops_start_up(tmp_path: Path) -> None:
    source = """
        import azure.functions as func
        app = func.FunctionApp()

        @app.route(route="n", auth_level="anonymous")
        @app.generic_input_binding(
            arg_name="c", type="webPubSubConnection", hub="h", userId="{body.user}"
        )
        def negotiate(req: func.HttpRequest, c: str) -> str: ...
    """
    with pytest.raises(DevhostError, match=r"function 'negotiate'.*'\{body.user\}'"):
        start_app(tmp_path, source)


def test_token_command_prints_a_dev_issuer_token_for_the_apps_key_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key_dir = tmp_path / "issuer"
    issuers = json.dumps([{"kind": "dev", "key_dir": str(key_dir)}])
    write_settings(tmp_path / "local.settings.json", {"AUTH_ISSUERS": issuers})
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AUTH_ISSUERS", raising=False)
    assert main(["token", "--user", "alice", "--roles", "processor,viewer"]) == 0
    token = capsys.readouterr().out.strip()
    jwk = json.loads((key_dir / "jwks.json").read_text())["keys"][0]
    key = jwt.PyJWK(jwk).key
    claims = jwt.decode(token, key, algorithms=["RS256"], audience="api://invoices-local")
    assert (claims["sub"], claims["roles"]) == ("alice", ["processor", "viewer"])
    assert "AUTH_ISSUERS" not in os.environ


def test_token_command_refuses_unknown_roles(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--user", "a", "--roles", "owner"]) == 2
    assert "unknown roles ['owner']" in capsys.readouterr().err


@pytest.fixture
def stack_root(tmp_path: Path, devhost_storage: str, database_url: str) -> Path:
    """A working directory for `start` with the real app's host.json and test services."""
    shutil.copy(REPO_ROOT / "host.json", tmp_path / "host.json")
    sample = json.loads((REPO_ROOT / "local.settings.sample.json").read_text())
    values = {
        **sample["Values"],
        "AzureWebJobsStorage": devhost_storage,
        "INVOICES_STORAGE": devhost_storage,
        "DATABASE_URL": database_url,
    }
    write_settings(tmp_path / "local.settings.json", values)
    return tmp_path


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def spawn_start(root: Path, *args: str, port_env: int | None = None) -> subprocess.Popen[str]:
    environ = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    environ.pop("DEVHOST_PORT", None)
    if port_env is not None:
        environ["DEVHOST_PORT"] = str(port_env)
    return subprocess.Popen(
        [sys.executable, "-m", "devhost", "start", *args],
        cwd=root,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def health(port: int) -> dict[str, str] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as response:
            document: dict[str, str] = json.loads(response.read())
            return document
    except OSError:
        return None


def test_start_serves_the_real_app_and_two_stacks_run_side_by_side(
    stack_root: Path, processes: list[subprocess.Popen[str]]
) -> None:
    first_port, second_port = free_port(), free_port()
    processes.append(spawn_start(stack_root, "--port", str(first_port)))
    processes.append(spawn_start(stack_root, port_env=second_port))
    for port, process in zip((first_port, second_port), processes, strict=True):

        def up_or_exited(port: int = port, process: subprocess.Popen[str] = process) -> bool:
            return health(port) is not None or process.poll() is not None

        wait_until(up_or_exited, timeout=60)
        assert process.poll() is None, process.communicate()[0]
        assert health(port) == {"status": "ok", "version": "0.1.0"}
    for process in processes:
        process.send_signal(signal.SIGTERM)
    outputs = [process.communicate(timeout=30)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0]
    assert f"http://127.0.0.1:{first_port}/api/health" in outputs[0]
    assert f"http://127.0.0.1:{second_port}/api/health" in outputs[1]
    assert "Executed 'Functions.health' (Succeeded" in outputs[0]


def test_start_refuses_a_port_in_use(
    stack_root: Path, processes: list[subprocess.Popen[str]]
) -> None:
    port = free_port()
    processes.append(spawn_start(stack_root, "--port", str(port)))
    wait_until(lambda: health(port), timeout=60)
    second = spawn_start(stack_root, "--port", str(port))
    output = second.communicate(timeout=60)[0]
    assert second.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in output


def test_process_uploads_under_the_users_prefix_and_follows_the_jobs_to_the_end(
    stack_root: Path,
    processes: list[subprocess.Popen[str]],
    devhost_storage: str,
) -> None:
    """Against the real app on a running stack: upload, live progress, summary, exit 0."""
    port = free_port()
    processes.append(spawn_start(stack_root, "--port", str(port)))
    wait_until(lambda: health(port), timeout=60)
    shutil.copy(REPO_ROOT / "samples" / "invoice-en.pdf", stack_root / "invoice-en.pdf")
    environ = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "DEVHOST_PORT": str(port)}
    command = [sys.executable, "-m", "devhost", "process", "--user", "alice", "--timeout", "60"]
    result = subprocess.run(
        [*command, "invoice-en.pdf"],
        cwd=stack_root,
        env=environ,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "uploaded 1 file(s) under invoices-incoming/dev-alice/" in result.stderr
    assert "] 1/1 done" in result.stderr
    [row] = [line for line in result.stdout.splitlines() if line.startswith("invoice-en.pdf")]
    assert row.endswith("completed: 1/1 documents, 0 failed")
    from azure.storage.blob import BlobServiceClient

    with BlobServiceClient.from_connection_string(devhost_storage) as blobs:
        incoming = blobs.get_container_client("invoices-incoming")
        processed = blobs.get_container_client("invoices-processed")
        names = [b.name for c in (incoming, processed) for b in c.list_blobs("dev-alice/")]
    assert any(name.endswith("/invoice-en.pdf") for name in names)


def test_process_draws_a_bar_per_job_and_summarises(capsys: pytest.CaptureFixture[str]) -> None:
    from devhost.process import Progress, Upload, _summary

    stream = io.StringIO()
    progress = Progress(stream)
    progress.apply(
        {"type": "job.progress", "job_id": "j1", "stage": "parse", "processed": 1, "total": 2}
    )
    progress.apply(
        {"type": "document.failed", "job_id": "j1", "processed": 2, "total": 2, "error": "bad"}
    )
    progress.apply({"type": "job.completed", "job_id": "j1", "processed": 2, "total": 2})
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("job j1 ") and "1/2 parse" in lines[0]
    assert "[" + "#" * 30 + "] 2/2 done" in lines[-1]
    progress.jobs["j1"].label = "a.pdf"
    uploads = [Upload(Path("a.pdf"), "dev-a/u/a.pdf"), Upload(Path("b.pdf"), "dev-a/v/b.pdf")]
    _summary(uploads, progress.jobs, timed_out=True)
    table = capsys.readouterr().out.splitlines()
    assert table[2].split() == [
        "a.pdf",
        "j1",
        "completed:",
        "2/2",
        "documents,",
        "1",
        "failed",
        "(bad)",
    ]
    assert table[3].startswith("b.pdf") and table[3].endswith("no progress")
    assert "the timeout passed" in table[4]
