"""Builds sparsegate's Python core with the project's own CMake build, for the Python running pip.

pyproject.toml holds the metadata; this file only adds the step setuptools cannot do itself:
configure the repository with SPARSEGATE_BUILD_SERVICE=OFF (no libtorch, no service) and build the
`sg_python_core` target, whose output is `sparsegate/_core*.so`. CMake finds pybind11 through the
pip package when it is installed (build isolation does that), else through the system's.

    pip install .                          # with build isolation (needs an index for setuptools etc.)
    pip install --no-build-isolation .     # offline: setuptools and pybind11 already installed

CMAKE_ARGS (space-separated) and SPARSEGATE_BUILD_JOBS pass through to the build.
"""

import os
import shlex
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.install import install

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name: str):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        output = Path(self.get_ext_fullpath(ext.name)).resolve()
        build_dir = Path(self.build_temp).resolve() / "cmake"
        build_dir.mkdir(parents=True, exist_ok=True)
        args = [
            f"-S{ROOT}", f"-B{build_dir}",
            "-DCMAKE_BUILD_TYPE=Release",
            "-DSPARSEGATE_BUILD_SERVICE=OFF",
            "-DBUILD_TESTING=OFF",
            f"-DSPARSEGATE_PYTHON={sys.executable}",
        ]
        try:
            import pybind11
            args.append(f"-Dpybind11_DIR={pybind11.get_cmake_dir()}")
        except ImportError:
            pass  # the system's pybind11 CMake package (Debian: pybind11-dev)
        if shutil_which("ccache"):
            args.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
        args += shlex.split(os.environ.get("CMAKE_ARGS", ""))
        jobs = os.environ.get("SPARSEGATE_BUILD_JOBS") or str(os.cpu_count() or 1)
        subprocess.run(["cmake", *args], check=True)
        subprocess.run(["cmake", "--build", str(build_dir), "--target", "sparsegate_python", "-j", jobs], check=True)
        built = list((build_dir / "python" / "sparsegate").glob("_core*"))
        if len(built) != 1:
            raise RuntimeError(f"expected one built sparsegate/_core module in {build_dir}, found {built}")
        output.parent.mkdir(parents=True, exist_ok=True)
        self.copy_file(str(built[0]), str(output))


class Install(install):
    # Debian's setuptools (python3-setuptools) asks the install command for two options only
    # Debian's patched Python defines (--install-layout, and the prefix it was given); used by
    # another Python (a pyenv 3.12 offline, whose only setuptools is Debian's), installing fails on
    # the missing attributes. None is what Debian's own Python has without them: no special layout.
    install_layout = None
    prefix_option = None


def shutil_which(name: str):
    from shutil import which
    return which(name)


setup(ext_modules=[CMakeExtension("sparsegate._core")], cmdclass={"build_ext": CMakeBuild, "install": Install},
      # Not setuptools' default ./build: that is the project's own CMake build folder.
      options={"build": {"build_base": "build/pip"}, "egg_info": {"egg_base": "build/pip"}})
