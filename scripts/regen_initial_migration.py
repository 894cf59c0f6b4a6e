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
# Autogenerate renders boolean defaults in SQLite's spelling; make them portable.
for path in VERSIONS.glob("0001_*.py"):
    lines = path.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        if "sa.Boolean()" in line:
            line = line.replace("server_default=sa.text('1')", "server_default=sa.true()")
            lines[i] = line.replace("server_default=sa.text('0')", "server_default=sa.false()")
    path.write_text("".join(lines))
print("wrote", *sorted(p.name for p in VERSIONS.glob("0001_*.py")))
