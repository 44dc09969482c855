"""pytest set-up for the Python plugin tests.

Import path: the framework stand-ins in stubs/ always; the built package from $PYTHONPATH (CTest
sets it to build/python), else from <repo>/build/python, so that
``/usr/bin/python3 -m pytest tests/plugin_python`` works after scripts/setup.sh.

With SPARSEGATE_REAL_FRAMEWORKS set (see stubs/README.md, "Against the real frameworks"), the real
framework source replaces the stand-ins (real_frameworks.py) and every test is traced into
$SPARSEGATE_REAL_REPORT.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REAL = bool(os.environ.get("SPARSEGATE_REAL_FRAMEWORKS"))
if REAL:
    sys.path.insert(0, HERE)
    import real_frameworks
    real_frameworks.install()
else:
    sys.path.insert(0, os.path.join(HERE, "stubs"))
try:
    import sparsegate  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(HERE, "..", "..", "build", "python"))

if REAL:
    import pytest

    _tracer = real_frameworks.Tracer()
    _results = {}
    _collect_errors = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(item):
        _tracer.start()
        try:
            yield
        finally:
            calls, called = _tracer.stop()
            _results.setdefault(item.nodeid, {})["calls"] = calls
            _results[item.nodeid]["placeholders_called"] = called

    def pytest_runtest_logreport(report):
        entry = _results.setdefault(report.nodeid, {})
        if report.when == "call" or report.outcome != "passed":
            if report.skipped and isinstance(report.longrepr, tuple):
                message = report.longrepr[2]
            elif report.failed:
                crash = getattr(report.longrepr, "reprcrash", None)
                message = f"{crash.path}:{crash.lineno}: {crash.message}" if crash else str(report.longrepr)[-600:]
            else:
                message = ""
            if entry.get("outcome") in (None, "passed"):
                entry.update(outcome=report.outcome, when=report.when, message=message)

    def pytest_collectreport(report):
        if report.failed:
            crash = getattr(report.longrepr, "reprcrash", None)
            lines = str(report.longrepr).splitlines()
            where = [l for l in lines if l.startswith(("/", "tests/")) and ": in " in l]
            errors = [l[1:].strip() for l in lines if l.startswith("E ")]
            _collect_errors[report.nodeid] = (f"{crash.path}:{crash.lineno}: {crash.message}" if crash
                                              else f"{(where or [''])[-1]} {' '.join(errors[-2:])}")

    def pytest_sessionfinish(session):
        path = os.environ.get("SPARSEGATE_REAL_REPORT")
        if path:
            real_frameworks.write_report(path, _results, _collect_errors)
