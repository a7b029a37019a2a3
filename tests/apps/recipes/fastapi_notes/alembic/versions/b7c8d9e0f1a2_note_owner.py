"""note owner

Revision ID: b7c8d9e0f1a2
Revises: a1b2c3d4e5f6
"""

import sqlalchemy as sa
from alembic import op

revision = "b7c8d9e0f1a2"
down_revision = "a1b2c3d4e5f6"


def upgrade() -> None:
    op.add_column("note", sa.Column("owner", sa.String, nullable=False, server_default="smoke"))
    op.execute("INSERT INTO note (title, owner) VALUES ('Welcome', 'smoke')")


def downgrade() -> None:
    op.drop_column("note", "owner")
