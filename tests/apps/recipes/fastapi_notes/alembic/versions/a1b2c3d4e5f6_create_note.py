"""create note

Revision ID: a1b2c3d4e5f6
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "a1b2c3d4e5f6"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "note", sa.Column("id", sa.Integer, primary_key=True), sa.Column("title", sa.String, nullable=False)
    )


def downgrade() -> None:
    op.drop_table("note")
