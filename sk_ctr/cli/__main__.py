"""``python -m sk_ctr.cli``: the same as ``sk-ctr`` and ``python -m sk_ctr``."""

import sys

from sk_ctr.cli import main

if __name__ == "__main__":
    sys.exit(main())
