"""
models/orders.py - the seed's SQLModel table model and its Pydantic response
and request models (seeds/001 imports them, seeds/002 shows the pattern).
Every response carries all nine columns, as in the seed's example output.
"""
from datetime import date
from typing import List, Optional

from sqlmodel import Field, SQLModel


class Order(SQLModel, table=True):
    __tablename__ = "orders_synced"

    o_orderkey: int = Field(primary_key=True)
    o_custkey: int
    o_orderstatus: str
    o_totalprice: float
    o_orderdate: date
    o_orderpriority: str
    o_clerk: str
    o_shippriority: int
    o_comment: str


class OrderRead(SQLModel):
    o_orderkey: int
    o_custkey: int
    o_orderstatus: str
    o_totalprice: float
    o_orderdate: date
    o_orderpriority: str
    o_clerk: str
    o_shippriority: int
    o_comment: str


class OrderCount(SQLModel):
    total_orders: int


class OrderSample(SQLModel):
    sample_order_keys: List[int]


class PaginationInfo(SQLModel):
    page: int
    page_size: int
    total_pages: int
    total_count: int
    has_next: bool
    has_previous: bool


class CursorPaginationInfo(SQLModel):
    page_size: int
    has_next: bool
    has_previous: bool
    next_cursor: Optional[int] = None
    previous_cursor: Optional[int] = None


class OrderListResponse(SQLModel):
    orders: List[OrderRead]
    pagination: PaginationInfo


class OrderListCursorResponse(SQLModel):
    orders: List[OrderRead]
    pagination: CursorPaginationInfo


class OrderStatusUpdate(SQLModel):
    o_orderstatus: str = Field(..., regex="^[A-Z]$", description="New order status")


class OrderStatusUpdateResponse(SQLModel):
    o_orderkey: int
    o_orderstatus: str
    message: str
