"""``ceilometer-ha``: what a subcommand's unexpected exception exits with."""

import sys
import types

from ceilometer_ha.cmd import manage


def _broken_subcommand(monkeypatch):
    module = types.ModuleType("tests_broken_subcommand")
    module.add_arguments = lambda parser: None

    def run(args):
        raise KeyError("a defect")

    module.run = run
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(
        manage.SUBCOMMANDS, "broken", (module.__name__, "Fails.")
    )


def test_a_subcommand_that_cannot_be_imported_exits_4(monkeypatch, capsys):
    # A broken installation: the module of the subcommand is missing.
    monkeypatch.setitem(
        manage.SUBCOMMANDS, "gone", ("tests_no_such_module", "Gone.")
    )
    assert manage.main(["gone"]) == 4
    err = capsys.readouterr().err
    assert "ModuleNotFoundError" in err
    assert err.endswith(
        "ceilometer-ha gone: unexpected error (above), exit code 4\n"
    )


def test_an_unexpected_exception_exits_4_not_1(monkeypatch, capsys):
    # 1 is what ``status`` says when a host failed.
    _broken_subcommand(monkeypatch)
    assert manage.main(["broken"]) == manage.EXIT_UNEXPECTED == 4
    err = capsys.readouterr().err
    assert "KeyError: 'a defect'" in err  # the traceback, for a report
    assert err.endswith(
        "ceilometer-ha broken: unexpected error (above), exit code 4\n"
    )
