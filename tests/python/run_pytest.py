"""Runs pytest under this interpreter with a system (Debian) pytest if needed.

Debian's python3-pytest installs into /usr/lib/python3/dist-packages; that
directory is APPENDED to sys.path, never prepended, so this interpreter's own
packages (cffi's _cffi_backend in particular) win.

    python3 tests/python/run_pytest.py [pytest args...]
"""

import os
import sys

try:
    import pytest
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")
    import pytest

if __name__ == "__main__":
    args = sys.argv[1:] or [os.path.dirname(os.path.abspath(__file__))]
    sys.exit(pytest.main(args))
