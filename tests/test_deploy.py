"""The deployment files: docker-compose.yml and the Dockerfile say what a user relies on.

docker-compose (v1) validates the compose file without a Docker engine; CI installs it
(.ci/run). Elsewhere, without it, only the structural checks run.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
TEST_TOKEN = "t0ken-for-compose-config"  # 24 characters, only ever given to `config`
REQUIRED_TOKEN = re.compile(r"^\$\{GANSCOPE_ADMIN_TOKEN:\?.+\}$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):  # the `- KEY=value` form
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> volume name or host path."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mounts[volume["target"]] = volume["source"]
        else:
            source, target = volume.split(":")[:2]
            mounts[target] = source
    return mounts


def _server_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose["services"].items()
            if name in ("server", "server-gpu", "server-ray")}


# --- docker-compose.yml, parsed ----------------------------------------------------------

def test_compose_has_server_db_and_gpu_variant(compose: dict[str, Any]) -> None:
    assert {"server", "server-gpu", "db"} <= set(compose["services"])


def test_server_is_built_here_and_published_on_loopback(compose: dict[str, Any]) -> None:
    for name, server in _server_services(compose).items():
        build = server["build"]
        context = build if isinstance(build, str) else build["context"]
        assert context == ".", name
        assert server["ports"] == ["127.0.0.1:8000:8000"], name
        env = _environment(server)
        assert env["GANSCOPE_HOST"] == "0.0.0.0", name  # reachable through the published port


def test_server_keeps_data_in_a_named_volume(compose: dict[str, Any]) -> None:
    for name, server in _server_services(compose).items():
        assert _environment(server)["GANSCOPE_DATA_DIR"] == "/data", name
        volume = _mounts(server).get("/data")
        assert volume in compose["volumes"], f"{name}: /data is not a named volume"


def test_server_uses_the_db_service_once_healthy(compose: dict[str, Any]) -> None:
    db_env = _environment(compose["services"]["db"])
    for name, server in _server_services(compose).items():
        url = _environment(server)["GANSCOPE_DATABASE_URL"]
        match = re.fullmatch(r"postgresql\+psycopg://(\w+):(.+)@db:5432/(\w+)", url)
        assert match, f"{name}: {url}"
        user, password, database = match.groups()
        assert user == db_env["POSTGRES_USER"]
        assert password == db_env["POSTGRES_PASSWORD"]  # the same ${...} expression
        assert database == db_env["POSTGRES_DB"]
        assert server["depends_on"]["db"]["condition"] == "service_healthy", name


def test_db_is_postgres_with_a_health_check_and_persistent_data(compose: dict[str, Any]) -> None:
    db = compose["services"]["db"]
    assert db["image"].startswith("postgres:16")
    assert "pg_isready" in db["healthcheck"]["test"]
    assert _mounts(db).get("/var/lib/postgresql/data") in compose["volumes"]
    password = _environment(db)["POSTGRES_PASSWORD"]
    assert password.startswith("${POSTGRES_PASSWORD"), "the password must be overridable"


def test_admin_token_is_required_from_the_environment(compose: dict[str, Any]) -> None:
    for name, server in _server_services(compose).items():
        token = _environment(server)["GANSCOPE_ADMIN_TOKEN"]
        assert REQUIRED_TOKEN.match(token), f"{name}: token must be ${{VAR:?message}}: {token}"
    assert "GANSCOPE_ADMIN_TOKEN" not in _environment(compose["services"]["db"])


def test_gpu_server_is_opt_in_and_reserves_nvidia_gpus(compose: dict[str, Any]) -> None:
    services = compose["services"]
    gpu = services["server-gpu"]
    assert gpu["profiles"] == ["gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    for name in ("server", "db"):
        assert "profiles" not in services[name], f"{name} must start without a profile"
        assert "deploy" not in services[name]
    # Same image and settings: only the GPU reservation and the profile differ.
    strip = {"profiles", "deploy"}
    assert {k: v for k, v in gpu.items() if k not in strip} == services["server"]


def test_ray_profile_is_a_cluster_with_the_server_on_backend_ray(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("server-ray", "ray-head", "ray-worker"):
        assert services[name]["profiles"] == ["ray"], name
        assert services[name]["image"] == services["server"]["image"], name  # one image
        assert _environment(services[name])["RAY_USAGE_STATS_ENABLED"] == "0", name
    head = services["ray-head"]["command"]
    assert {"--head", "--port=6379", "--include-dashboard=false", "--disable-usage-stats",
            "--block"} <= set(head)
    assert "health-check" in services["ray-head"]["healthcheck"]["test"]
    worker = services["ray-worker"]["command"]
    assert "--address=ray-head:6379" in worker and "--block" in worker
    assert services["ray-worker"]["depends_on"]["ray-head"]["condition"] == "service_healthy"
    server = services["server-ray"]
    env = _environment(server)
    assert env["GANSCOPE_JOBS_BACKEND"] == "ray" and env["GANSCOPE_RAY_ADDRESS"] == "auto"
    # the server joins as a node without CPUs, then serves: runs go to the other nodes
    script = server["command"][-1]
    assert re.match(r"ray start --address=ray-head:6379 --num-cpus=0 --num-gpus=0 "
                    r"--disable-usage-stats && exec ganscope serve$", script), script
    assert server["depends_on"]["ray-head"]["condition"] == "service_healthy"
    # everything else as the plain server: same database, token, volume, port
    same = {k: v for k, v in server.items()
            if k not in ("profiles", "environment", "command", "shm_size", "depends_on")}
    assert same == {k: v for k, v in services["server"].items()
                    if k not in ("environment", "depends_on")}
    assert {k: env[k] for k in _environment(services["server"])} == _environment(
        services["server"])


# --- docker-compose.yml, validated by docker-compose itself ------------------------------

def _docker_compose(tmp_path: Path, token: str | None, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GANSCOPE_", "POSTGRES_", "COMPOSE_"))}
    if token is not None:
        env["GANSCOPE_ADMIN_TOKEN"] = token
    empty_env_file = tmp_path / "empty.env"  # a developer's .env must not change the result
    empty_env_file.write_text("")
    cmd = ["docker-compose", "--env-file", str(empty_env_file), "-f", str(COMPOSE_FILE),
           "config", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def _docker_compose_available() -> bool:
    if shutil.which("docker-compose"):
        return True
    if os.environ.get("CI") == "true":
        pytest.fail("docker-compose is not installed: CI must install it (.ci/run does, with "
                    "`apt-get install -y --no-install-recommends docker-compose`)")
    return False  # a developer machine without it: the parsed checks above still ran


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    if not _docker_compose_available():
        return
    result = _docker_compose(tmp_path, TEST_TOKEN)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    server_env = resolved["services"]["server"]["environment"]
    assert server_env["GANSCOPE_ADMIN_TOKEN"] == TEST_TOKEN
    assert server_env["GANSCOPE_DATABASE_URL"].startswith("postgresql+psycopg://ganscope:")


def test_docker_compose_accepts_the_ray_profile(tmp_path: Path) -> None:
    if not _docker_compose_available():
        return
    result = _docker_compose(tmp_path, TEST_TOKEN, "--profiles")
    assert result.returncode == 0, result.stderr
    assert {"gpu", "ray"} <= set(result.stdout.split())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GANSCOPE_", "COMPOSE_"))}
    empty = tmp_path / "empty.env"
    result = subprocess.run(
        ["docker-compose", "--env-file", str(empty), "-f", str(COMPOSE_FILE), "--profile", "ray",
         "config"], cwd=ROOT, env={**env, "GANSCOPE_ADMIN_TOKEN": TEST_TOKEN},
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)["services"]
    assert {"server-ray", "ray-head", "ray-worker"} <= set(resolved)
    assert resolved["server-ray"]["environment"]["GANSCOPE_JOBS_BACKEND"] == "ray"


def test_docker_compose_refuses_to_run_without_a_token(tmp_path: Path) -> None:
    if not _docker_compose_available():
        return
    result = _docker_compose(tmp_path, None, "-q")
    assert result.returncode != 0
    assert "set GANSCOPE_ADMIN_TOKEN" in result.stderr


# --- Dockerfile --------------------------------------------------------------------------

def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, args = line.partition(" ")
            result.append((keyword.upper(), args.strip()))
    return result


def _args(keyword: str) -> list[str]:
    return [args for kw, args in _instructions() if kw == keyword]


def test_dockerfile_base_is_python_311_slim() -> None:
    assert _args("FROM") == ["python:3.11-slim"]


def test_dockerfile_installs_the_project_with_the_constraints() -> None:
    runs = _args("RUN")
    assert any(re.search(r"pip install -c constraints\.txt '\.\[server,postgres,ray\]'", r)
               for r in runs)
    # the dependency layer holds the server extra too: the core install has no web server
    assert any("extras['server']" in r for r in runs)
    assert all("-c constraints.txt" in r for r in runs if "pip install" in r)


def test_dockerfile_installs_dependencies_before_copying_the_source() -> None:
    steps = [(kw, args) for kw, args in _instructions() if kw in ("COPY", "RUN")]
    first_pip = next(i for i, (kw, args) in enumerate(steps)
                     if kw == "RUN" and "pip install" in args)
    sources = {source.rstrip("/")
               for kw, args in steps[:first_pip] if kw == "COPY"
               for source in [a for a in args.split() if not a.startswith("--")][:-1]}
    # Anything else here (the packages, `COPY . .`) reinstalls torch on every code change.
    assert sources == {"pyproject.toml", "constraints.txt"}


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = _args("USER")
    assert users, "no USER: the server would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    last_user = max(i for i, (kw, _) in enumerate(_instructions()) if kw == "USER")
    cmd = max(i for i, (kw, _) in enumerate(_instructions()) if kw == "CMD")
    assert last_user < cmd


def test_dockerfile_keeps_data_in_a_volume() -> None:
    env = " ".join(_args("ENV"))
    assert "GANSCOPE_DATA_DIR=/data" in env
    assert any(v.strip("[]\" ") == "/data" for v in _args("VOLUME"))
    assert _args("EXPOSE") == ["8000"]


def test_dockerfile_health_check_asks_the_api_with_python() -> None:
    (check,) = _args("HEALTHCHECK")
    assert "CMD" in check
    assert "/api/health" in check and "http://127.0.0.1:" in check
    assert '"python"' in check or "python " in check
    assert "curl" not in check  # not installed in slim images


def test_dockerfile_starts_the_server() -> None:
    (cmd,) = _args("CMD")
    argv = yaml.safe_load(cmd) if cmd.startswith("[") else shlex.split(cmd)
    assert argv[:2] == ["ganscope", "serve"]
