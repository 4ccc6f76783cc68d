"""The one-machine stack's own Django secret key (var/secret_key)."""
import stat

from stack.secret import secret_key


def test_a_random_key_is_created_private_and_kept(tmp_path):
    var = tmp_path / "var"
    key = secret_key(var)
    path = var / "secret_key"
    assert len(key) >= 50 and path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_key(var) == key  # kept across starts: sessions survive a restart
    assert secret_key(tmp_path / "other") != key  # per install


def test_a_loosened_mode_is_tightened_again(tmp_path):
    key = secret_key(tmp_path)
    (tmp_path / "secret_key").chmod(0o644)
    assert secret_key(tmp_path) == key
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_a_truncated_key_is_replaced(tmp_path):
    (tmp_path / "secret_key").write_text("short\n")
    assert len(secret_key(tmp_path)) >= 50


def test_the_stack_gives_the_backend_its_own_key_unless_one_is_set(tmp_path, tiny_registry, monkeypatch):
    from stack import plan as planning
    from stack.run import process_env

    plan = planning.make_plan(planning.Settings(registry=tiny_registry, var_dir=tmp_path / "var"))
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    assert process_env(plan)["DJANGO_SECRET_KEY"] == secret_key(tmp_path / "var")
    monkeypatch.setenv("DJANGO_SECRET_KEY", "an-operators-own-key-" + "x" * 40)
    assert process_env(plan)["DJANGO_SECRET_KEY"] == "an-operators-own-key-" + "x" * 40
