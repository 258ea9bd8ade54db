"""`python -m bench [--quick] [--scenario ...]` from the root of a checkout (docs/benchmarks.md)."""

from bench.runner import main

raise SystemExit(main())
