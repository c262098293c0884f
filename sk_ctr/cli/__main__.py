"""``python -m sk_ctr.cli``: the same as ``sk-ctr`` and ``python -m sk_ctr``."""


if __name__ == "__main__":
    sys.exit(main())
