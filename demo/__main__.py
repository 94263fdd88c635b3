"""``python -m demo``: the one-command demo (see :mod:`demo.run`)."""

from __future__ import annotations

from demo.run import main

raise SystemExit(main())
