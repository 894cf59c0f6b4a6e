"""Regenerate the initial migration from storage/models.py.

Only for the time before the first release: once a database exists in the wild,
schema changes get a new revision (`alembic revision --autogenerate`) instead.
"""

import tempfile
from pathlib import Path

from alembic import command

from storage.db import MIGRATIONS_DIR, alembic_config

VERSIONS = MIGRATIONS_DIR / "versions"

for old in VERSIONS.glob("0001_*.py"):
    old.unlink()
with tempfile.TemporaryDirectory() as scratch:
    config = alembic_config(f"sqlite:///{Path(scratch) / 'empty.db'}")
    command.revision(config, message="initial schema", autogenerate=True, rev_id="0001")
print("wrote", *sorted(p.name for p in VERSIONS.glob("0001_*.py")))
