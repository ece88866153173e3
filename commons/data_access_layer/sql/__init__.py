"""SQL storage through SQLAlchemy 2: SQLite, PostgreSQL, MariaDB/MySQL and SQL Server."""
