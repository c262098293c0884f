"""``python -m sk_ctr``: the ``sk-ctr`` command line (:mod:`sk_ctr.cli`)."""

import sys

from sk_ctr.cli import main

if __name__ == "__main__":
    sys.exit(main())
