"""Passwords that never show in ``ps`` (``hilsim/commands/options.py``): ``--password-file``, ``--password-stdin``
and the environment give a command its password; ``--password`` still works with a deprecation warning."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from hilsim.commands.options import password_options


@click.command()
@password_options("TEST_PASSWORD")
def show(password):
    click.echo(f"password={password!r}")


@pytest.mark.parametrize("args,stdin,env,expected", [
    (["--password-stdin"], "from stdin\nsecond line\n", {}, "from stdin"),
    ([], "", {"TEST_PASSWORD": "from env"}, "from env"),
    ([], "", {}, None),
])
def test_the_password_comes_from_stdin_or_the_environment(args, stdin, env, expected):
    result = CliRunner().invoke(show, args, input=stdin, env=env)
    assert result.exit_code == 0 and result.stdout.strip() == f"password={expected!r}"


def test_the_password_comes_from_the_first_line_of_a_file(tmp_path):
    secret = tmp_path / "mqtt.password"
    secret.write_text("from a file\n")
    result = CliRunner().invoke(show, ["--password-file", str(secret)], env={"TEST_PASSWORD": "not this"})
    assert result.exit_code == 0 and result.stdout.strip() == "password='from a file'"


def test_password_on_the_command_line_still_works_but_warns():
    result = CliRunner().invoke(show, ["--password", "in ps"])
    assert result.exit_code == 0 and result.stdout.strip() == "password='in ps'"
    assert "deprecated" in result.stderr and "--password-file" in result.stderr


def test_two_ways_at_once_is_a_mistake(tmp_path):
    secret = tmp_path / "p"
    secret.write_text("x\n")
    result = CliRunner().invoke(show, ["--password", "a", "--password-file", str(secret)])
    assert result.exit_code == 2 and "one way only" in result.output


def test_the_bridge_takes_its_password_these_ways(monkeypatch, tmp_path):
    from hilsim.cli import main
    from hilsim.commands import bridge_cmd
    seen = []
    monkeypatch.setattr(bridge_cmd, "run_live_bridge", lambda config, **kw: seen.append(config.password))
    secret = tmp_path / "p"
    secret.write_text("bridge secret\n")
    base = ["bridge", "--db", str(tmp_path / "r.sqlite"), "--username", "bridge"]
    for extra, stdin in ((["--password-file", str(secret)], ""), (["--password-stdin"], "bridge secret\n")):
        result = CliRunner().invoke(main, base + extra, input=stdin)
        assert result.exit_code == 0, result.output
    assert seen == ["bridge secret", "bridge secret"]
