"""Settings come from the environment: production passes the deploy checks,
a missing SECRET_KEY stops start-up, and the defaults need no service."""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BASE_SETTINGS = ROOT / "patchplan" / "settings" / "base.py"


def _env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value.strip('"')
    return values


def _clean_env(**extra) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return {**keep, "PATCHPLAN_VAR_DIR": str(ROOT / "var" / "settings-test"), **extra}


def _manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _settings_read_by_base() -> set[str]:
    return set(re.findall(r"env\.\w+\(\s*\"([A-Z_]+)\"", BASE_SETTINGS.read_text()))


def test_production_settings_pass_check_deploy():
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING", env=_clean_env(**_env_example())
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_missing_secret_key_stops_start_up_with_a_clear_message():
    env = _clean_env(**{**_env_example(), "SECRET_KEY": ""})
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_defaults_need_no_service():
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE']);"
        "print(s.CELERY_BROKER_URL);"
        "print(s.EMAIL_BACKEND)"
    )
    result = _manage("shell", "--no-imports", "-c", code, env=_clean_env())
    assert result.returncode == 0, result.stderr
    engine, broker, email = result.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert broker == "filesystem://"
    assert email == "django.core.mail.backends.filebased.EmailBackend"


def test_every_variable_in_env_example_is_read_by_settings():
    read = _settings_read_by_base() | {"DJANGO_SETTINGS_MODULE"}
    unknown = set(_env_example()) - read
    assert not unknown, f".env.example lists variables settings never read: {unknown}"


def test_docker_compose_runs_the_stack_with_variables_settings_read():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"db", "redis", "web", "worker", "beat", "mailpit"} <= set(services)
    read = _settings_read_by_base() | {"DJANGO_SETTINGS_MODULE"}
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert set(env) <= read, f"{name} passes variables settings never read: {set(env) - read}"
        assert env["DJANGO_SETTINGS_MODULE"] == "patchplan.settings.production"
    assert "gunicorn patchplan.wsgi" in services["web"]["command"]
    assert services["worker"]["command"].startswith("celery -A patchplan worker")
    assert services["beat"]["command"].startswith("celery -A patchplan beat")
    # The modules the commands name exist.
    assert (ROOT / "patchplan" / "wsgi.py").exists() and (ROOT / "patchplan" / "celery.py").exists()
    assert "seed_demo" in services["web"]["command"]
    # Workers come back by themselves after a broker loss.
    assert all(services[name]["restart"] == "unless-stopped" for name in ("web", "worker", "beat"))


def test_env_example_moves_the_admin_away_from_admin_and_it_answers_there():
    assert _env_example()["ADMIN_URL"] not in ("admin/", "/admin/", "admin")
    code = (
        "from django.conf import settings as s; from django.urls import reverse;"
        "print(s.ADMIN_URL); print(reverse('admin:index'))"
    )
    env = _clean_env(**{**_env_example(), "ADMIN_URL": "/ops-console"})
    result = _manage("shell", "--no-imports", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ops-console/", "/ops-console/"]
