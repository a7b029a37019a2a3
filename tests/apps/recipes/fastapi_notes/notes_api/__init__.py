"""A FastAPI notes service as teams write them: SQLModel on PostgreSQL, Alembic, OAuth2 password login."""
