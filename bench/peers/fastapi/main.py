"""
main.py - the FastAPI peer: the seed tutorial's orders API (seeds/001, with
the database setup of seeds/002) as its users would deploy it, so that
bench/run.sh can measure lakeapi against it on the same data.

Run (bench/run.sh does this; PG* point at the database):
    /usr/bin/python3 -m uvicorn main:app --app-dir bench/peers/fastapi \
        --host 127.0.0.1 --port 8001 --workers "$(nproc)"

Debian 12's packages only: python3-fastapi 0.92, python3-sqlalchemy 1.4,
python3-sqlmodel 0.0.8, python3-asyncpg 0.27, python3-uvicorn 0.17 (with
python3-uvloop and python3-httptools when installed, as `uvicorn[standard]`).
"""
from fastapi import FastAPI
from routes.v1 import orders

app = FastAPI(title="Orders API (seed peer)", version="1.0.0")
app.include_router(orders.router, prefix="/api/v1/orders")
