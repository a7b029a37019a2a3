"""A Django notes site as teams write them: session login with CSRF, migrations, a version header."""
