"""The command line's shell: help, version, and lazy command loading."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli


def test_help_lists_the_commands_that_exist() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "rlcm" in result.stdout


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert "rlcm, version" in done.stdout


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from reconciler.cli import main; sys.argv=['rlcm','--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('httpx', 'pydantic', 'rich', 'deepdiff') if m in sys.modules]\n"
        "print('HEAVY:' + ','.join(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "HEAVY:"


LATE_SIGNALS = """
import atexit, os, signal, sys, time

def late_signals():  # what a second Ctrl-C or a CI cancel does while rlcm exits
    os.kill(os.getpid(), signal.SIGINT)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.05)

atexit.register(late_signals)
from reconciler.cli import main
sys.argv = ["rlcm", "--version"]
main()
"""


def test_a_signal_while_the_finished_command_exits_keeps_its_exit_code_and_prints_nothing() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LATE_SIGNALS], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert "rlcm, version" in done.stdout


def test_a_ctrl_c_that_python_wrapped_while_a_module_loaded_is_an_interrupt(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A KeyboardInterrupt landing while a class is created reaches rlcm as the RuntimeError
    of `__set_name__`: still "interrupted" (130), not an internal error."""
    from reconciler.cli.options import GlobalOptions, _run

    def loading() -> None:
        class Hit:
            def __set_name__(self, owner: type, name: str) -> None:
                raise KeyboardInterrupt

        type("LiveState", (), {"source_folders": Hit()})

    def command(opts: GlobalOptions) -> None:
        loading()

    with pytest.raises(SystemExit) as stopped:
        _run(GlobalOptions(config=Path(".")), command, {})
    assert stopped.value.code == 130
    assert capsys.readouterr().err == "Error: interrupted\n"


SWALLOWED_CTRL_C = """
import sys, time
from reconciler.cli import app

if sys.argv[1] == "hooked":
    sys.unraisablehook = app.interrupts_raised_again(sys.unraisablehook)


class Dropped:  # a KeyboardInterrupt Python can only report, as pydantic-core does
    def __del__(self):
        raise KeyboardInterrupt


try:
    Dropped()
    time.sleep(1)  # the Ctrl-C lands meanwhile, given back
except KeyboardInterrupt:
    print("interrupted")
    sys.exit(130)
print("went on")
"""


@pytest.mark.parametrize("hooked", [True, False])
def test_a_ctrl_c_a_library_could_only_report_is_raised_again(hooked: bool) -> None:
    # rlcm installs the hook (app.main): a Ctrl-C that landed while pydantic-core built a
    # validator was printed as "Exception ignored" and lost, and came out as a config error
    done = subprocess.run(
        [sys.executable, "-c", SWALLOWED_CTRL_C, "hooked" if hooked else "plain"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if hooked:
        assert (done.returncode, done.stdout) == (130, "interrupted\n")
        assert "Exception ignored" not in done.stderr
    else:  # what Python does on its own
        assert (done.returncode, done.stdout) == (0, "went on\n")
        assert "Exception ignored" in done.stderr


CTRL_C_WHILE_LOADING = """
import os, signal, sys

WHERE = sys.argv[1]
fired = []

def loading(frame):  # the frame runs inside the import of the command's module
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals["__name__"] == COMMAND:
            return True
        frame = frame.f_back
    return False

def ctrl_c(frame, event, arg):  # a real SIGINT, landing at the next bytecode
    if fired or event != "call" or not loading(frame):
        return None
    if WHERE == "module" or frame.f_code.co_name == "__set_name__":
        fired.append(frame.f_code.co_name)
        os.kill(os.getpid(), signal.SIGINT)
    return None

COMMAND = "reconciler.cli.validate"
from reconciler.cli import main
sys.argv = ["rlcm", "validate", "-c", "."]
sys.settrace(ctrl_c)
try:
    main()
finally:
    sys.settrace(None)
    print("FIRED:" + ",".join(fired))
"""


@pytest.mark.parametrize(
    ("where", "fired"),
    [("module", "<module>"), ("set_name", "__set_name__")],
    ids=["plain", "wrapped-in-a-runtime-error"],
)
def test_a_ctrl_c_while_click_loads_the_command_module_is_an_interrupt(
    where: str, fired: str, tmp_path: Path
) -> None:
    """A Ctrl-C as `rlcm validate`'s module loads, before rlcm's error handling runs: as
    the module starts (click alone says "Aborted!", exit 1), or while a class of its
    imports is created, which Python 3.11 wraps in a RuntimeError (a traceback)."""
    done = subprocess.run(
        [sys.executable, "-c", CTRL_C_WHILE_LOADING, where],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert f"FIRED:{fired}" in done.stdout, (
        "the signal did not land while the command's module loaded: " + done.stderr
    )
    assert (done.returncode, done.stderr) == (130, "Error: interrupted\n")
