"""The local dev issuer (shared/auth/devissuer.py) and `python -m shared token`."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from shared.__main__ import main
from shared.auth import Authenticator, JwksCache, Principal, Role
from shared.auth.devissuer import configured_key_dir, ensure_keys, mint_token
from shared.config import DEV_AUDIENCE, DEV_ISSUER, AuthSettings, get_settings, parse_issuers
from shared.errors import Unauthorized

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("dev-issuer")
    ensure_keys(directory)
    return directory


def dev_authenticator(key_dir: Path) -> Authenticator:
    issuers = parse_issuers(json.dumps([{"kind": "dev", "key_dir": str(key_dir)}]))
    return Authenticator(AuthSettings(issuers=issuers), JwksCache(cache_seconds=60))


@pytest.fixture
def dev_issuer_configured(key_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AUTH_ISSUERS", json.dumps([{"kind": "dev", "key_dir": str(key_dir)}]))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_keys_are_created_once_with_a_private_key_only_the_owner_can_read(
    tmp_path: Path,
) -> None:
    kid = ensure_keys(tmp_path / "keys")
    private = tmp_path / "keys" / "private.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    (public,) = json.loads((tmp_path / "keys" / "jwks.json").read_text())["keys"]
    assert public["kid"] == kid
    assert public["kty"] == "RSA"
    assert "d" not in public  # no private parameters in the published set
    assert ensure_keys(tmp_path / "keys") == kid
    assert sorted(os.listdir(tmp_path / "keys")) == ["jwks.json", "private.pem"]


def test_a_minted_token_verifies_against_the_dev_issuers_key_set(key_dir: Path) -> None:
    token = mint_token(key_dir, "alice", ["processor", "viewer"])
    principal = dev_authenticator(key_dir).authenticate(f"Bearer {token}")
    assert principal == Principal("dev-alice", frozenset({Role.PROCESSOR, Role.VIEWER}), "dev")


def test_minted_tokens_carry_the_dev_identity_and_expire(key_dir: Path) -> None:
    issued = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    token = mint_token(key_dir, "bob", ["admin"], minutes=5, now=issued)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == DEV_ISSUER
    assert claims["aud"] == DEV_AUDIENCE
    assert claims["exp"] - claims["iat"] == 300
    assert claims["nbf"] == claims["iat"] == int(issued.timestamp())
    with pytest.raises(Unauthorized, match="expired"):
        dev_authenticator(key_dir).authenticate(f"Bearer {token}")


def test_a_token_from_another_dev_key_dir_is_rejected(key_dir: Path, tmp_path: Path) -> None:
    token = mint_token(tmp_path / "other", "mallory", ["admin"])
    with pytest.raises(Unauthorized, match="unknown key"):
        dev_authenticator(key_dir).authenticate(f"Bearer {token}")


def test_the_token_command_prints_a_token_that_verifies(
    key_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["token", "--user", "alice", "--roles", "processor,viewer", "--key-dir", str(key_dir)]
    assert main(argv) == 0
    token = capsys.readouterr().out.strip()
    principal = dev_authenticator(key_dir).authenticate(f"Bearer {token}")
    assert principal.roles == {Role.PROCESSOR, Role.VIEWER}


@pytest.mark.usefixtures("dev_issuer_configured")
def test_the_token_command_defaults_to_the_configured_dev_key_dir(
    key_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert configured_key_dir(get_settings().auth) == key_dir
    assert main(["token", "--user", "carol", "--roles", "admin", "--minutes", "2"]) == 0
    token = capsys.readouterr().out.strip()
    assert dev_authenticator(key_dir).authenticate(f"Bearer {token}").is_admin


def test_without_a_configured_dev_issuer_there_is_no_configured_key_dir() -> None:
    assert configured_key_dir(AuthSettings()) is None


@pytest.mark.parametrize(
    "extra", [["--roles", "viewer,root"], ["--roles", "viewer", "--minutes", "0"]]
)
def test_the_token_command_rejects_bad_arguments(
    key_dir: Path, extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--user", "alice", "--key-dir", str(key_dir), *extra]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error:")


def test_the_token_command_help_says_it_is_for_local_use_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["token", "--help"])
    assert exited.value.code == 0
    assert "local use only" in " ".join(capsys.readouterr().out.split())


def test_python_m_shared_token_runs_as_a_command(key_dir: Path) -> None:
    env = {**os.environ, "AUTH_ISSUERS": "[]"}
    run = subprocess.run(
        [sys.executable, "-m", "shared", "token", "--user", "dave", "--key-dir", str(key_dir)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    principal = dev_authenticator(key_dir).authenticate(f"Bearer {run.stdout.strip()}")
    assert principal == Principal("dev-dave", frozenset(), "dev")
