"""The postgresql role's nightly backup and its restore, for real: the role's
own scripts, rendered from its templates, dump a real PostgreSQL database
holding the app's schema and a writer's draft, and restore it after loss."""
import os
import shlex
import stat
import subprocess
import sys

import jinja2
import pytest
import yaml

from tests.support.services import REPO, shared_postgres

ROLE = REPO / "ansible" / "roles" / "postgresql"


def render_script(name: str, out, **vars) -> str:
    """One of the role's script templates, rendered as Ansible would with `vars`."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROLE / "templates"), keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["quote"] = lambda v: shlex.quote(str(v))  # Ansible's `quote`
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    context = {k: v for k, v in defaults.items() if "{{" not in str(v)} | vars
    path = out / name
    path.write_text(env.get_template(f"{name}.sh.j2").render(**context))
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def app_database(tmp_path):
    """A database with the backend's real schema (manage.py migrate) and one draft."""
    pg = shared_postgres()
    name = f"writeup_backup_{os.getpid()}"
    url = pg.create_database(name)
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_DEBUG": "1", "DJANGO_SETTINGS_MODULE": "backend.settings"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO, env=env, check=True,
                   timeout=300)
    pg.psql("CREATE TABLE restore_canary (id int PRIMARY KEY, body text NOT NULL);"
            "INSERT INTO restore_canary VALUES (1, 'Ünïcode draft — kept'), (2, 'second');", name)
    yield pg, name
    pg.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_nightly_dump_restores_after_data_loss(app_database, tmp_path):
    pg, name = app_database
    backups = tmp_path / "backups"
    backups.mkdir()
    settings = dict(postgresql_backup_dir=str(backups), postgresql_database=name, postgresql_user="postgres",
                    postgresql_backup_host="127.0.0.1", postgresql_backup_port=pg.port,
                    postgresql_backup_login="postgres")
    backup, restore = render_script("writeup-pg-backup", tmp_path, **settings), \
        render_script("writeup-pg-restore", tmp_path, **settings)
    bindir = {**os.environ, "PATH": f"{pg.bin}:{os.environ['PATH']}"}

    done = subprocess.run([backup], capture_output=True, text=True, env=bindir, timeout=120)
    assert done.returncode == 0, done.stderr
    dump = backups / done.stdout.strip().rsplit("/", 1)[1]
    assert dump.is_file() and stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert [p.name for p in backups.iterdir()] == [dump.name]  # no partial file left behind
    migrations = pg.psql("SELECT count(*) FROM django_migrations", name)

    # Loss: a row changed, a row gone, a table of the app dropped.
    pg.psql("UPDATE restore_canary SET body = 'overwritten' WHERE id = 1; DELETE FROM restore_canary WHERE id = 2;"
            "DROP TABLE django_session;", name)
    done = subprocess.run([restore, str(dump)], capture_output=True, text=True, env=bindir, timeout=120)
    assert done.returncode == 0, done.stderr
    assert pg.psql("SELECT id, body FROM restore_canary ORDER BY id", name).splitlines() == \
        ["1|Ünïcode draft — kept", "2|second"]
    assert pg.psql("SELECT count(*) FROM django_session", name) == "0"
    assert pg.psql("SELECT count(*) FROM django_migrations", name) == migrations


def test_restore_refuses_a_missing_or_broken_file_and_changes_nothing(app_database, tmp_path):
    pg, name = app_database
    settings = dict(postgresql_database=name, postgresql_user="postgres", postgresql_backup_host="127.0.0.1",
                    postgresql_backup_port=pg.port, postgresql_backup_login="postgres")
    restore = render_script("writeup-pg-restore", tmp_path, **settings)
    bindir = {**os.environ, "PATH": f"{pg.bin}:{os.environ['PATH']}"}
    missing = subprocess.run([restore, str(tmp_path / "nope.dump")], capture_output=True, text=True, env=bindir)
    assert missing.returncode == 2 and "usage:" in missing.stderr
    broken = tmp_path / "broken.dump"
    broken.write_bytes(b"not a dump")
    refused = subprocess.run([restore, str(broken)], capture_output=True, text=True, env=bindir)
    assert refused.returncode != 0
    assert pg.psql("SELECT count(*) FROM restore_canary", name) == "2"
