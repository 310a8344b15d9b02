"""
config/database.py - the async engine and the per-request session, as in the
seed tutorial (seeds/002): SQLAlchemy async engine over asyncpg with
pool_size=10, max_overflow=20, pool_pre_ping=True, and a session dependency
with expire_on_commit=False.

The only changes from the seed: the connection comes from libpq's PG*
environment (unix socket of the benchmark cluster) instead of a Databricks
OAuth token, and SQLAlchemy 1.4 (Debian 12) has no async_sessionmaker, so
the 1.4 spelling sessionmaker(class_=AsyncSession) is used.
"""
import os

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import sessionmaker


def database_url() -> URL:
    host = os.environ.get("PGHOST", "/var/run/postgresql")
    query = {}
    if host.startswith("/"):
        # asyncpg takes a socket directory as its host; SQLAlchemy passes
        # URL query arguments through to asyncpg.connect().
        query["host"] = host
        host = None
    return URL.create(
        "postgresql+asyncpg",
        username=os.environ.get("PGUSER", "postgres"),
        password=os.environ.get("PGPASSWORD") or None,
        host=host,
        port=int(os.environ.get("PGPORT", "5432")),
        database=os.environ.get("PGDATABASE", "postgres"),
        query=query,
    )


engine = create_async_engine(
    database_url(),
    pool_size=10,
    max_overflow=20,
    pool_pre_ping=True,
    echo=False,
)

AsyncSessionLocal = sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def get_async_db():
    async with AsyncSessionLocal() as session:
        try:
            yield session
        finally:
            await session.close()
