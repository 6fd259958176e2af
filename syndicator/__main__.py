from syndicator.cli import main

if __name__ == "__main__":  # worker processes import this module too: they must not run the CLI
    raise SystemExit(main())
