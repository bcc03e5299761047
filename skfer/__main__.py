"""``python -m skfer``: the ``skfer`` command."""

import sys

from ._console import run

if __name__ == "__main__":
    sys.exit(run())
