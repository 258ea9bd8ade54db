"""`python -m metricsync`: the `metricsync` command."""

from metricsync.cli import main

raise SystemExit(main())
