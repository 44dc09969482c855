"""pytest set-up for the Python plugin tests.

Import path: the framework stand-ins in stubs/ always; the built package from $PYTHONPATH (CTest
sets it to build/python), else from <repo>/build/python, so that
``/usr/bin/python3 -m pytest tests/plugin_python`` works after scripts/setup.sh.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "stubs"))
try:
    import sparsegate  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(HERE, "..", "..", "build", "python"))
