"""
routes/v1/orders.py - the seed's six orders routes (seeds/001), same queries,
parameters, bounds, defaults and responses, written the way the tutorial
writes them: one AsyncSession per request from the Depends() dependency, ORM
select() statements, response_model validation.

Kept from the seed on purpose, although lakeapi does better: previous_cursor
is max(0, cursor - page_size) (wrong for sparse keys), /pages runs a full
count(*) and an OFFSET scan, and a status update is select + flush/commit +
refresh (four statements plus the pre-ping).
"""
import logging

from config.database import get_async_db
from fastapi import APIRouter, Depends, HTTPException, Query
from models.orders import (
    CursorPaginationInfo,
    Order,
    OrderCount,
    OrderListCursorResponse,
    OrderListResponse,
    OrderRead,
    OrderSample,
    OrderStatusUpdate,
    OrderStatusUpdateResponse,
    PaginationInfo,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

logger = logging.getLogger(__name__)
router = APIRouter(tags=["orders"])


@router.get("/count", response_model=OrderCount, summary="Get total order count")
async def get_order_count(db: AsyncSession = Depends(get_async_db)):
    try:
        result = await db.execute(select(func.count(Order.o_orderkey)))
        return OrderCount(total_orders=result.scalar())
    except Exception as e:
        logger.error(f"Error getting order count: {e}")
        raise HTTPException(status_code=500, detail="Failed to retrieve order count")


@router.get("/sample", response_model=OrderSample, summary="Get 5 random order keys")
async def get_sample_orders(db: AsyncSession = Depends(get_async_db)):
    try:
        result = await db.execute(select(Order.o_orderkey).limit(5))
        return OrderSample(sample_order_keys=result.scalars().all())
    except Exception as e:
        logger.error(f"Error getting sample orders: {e}")
        raise HTTPException(status_code=500, detail="Failed to retrieve sample orders")


@router.get("/pages", response_model=OrderListResponse,
            summary="Get orders with page-based pagination")
async def get_orders_by_page(
    page: int = Query(1, ge=1, description="Page number (1-based)"),
    page_size: int = Query(100, ge=1, le=1000, description="Number of records per page"),
    include_count: bool = Query(True, description="Include total count for pagination info"),
    db: AsyncSession = Depends(get_async_db),
):
    try:
        if include_count:
            count_result = await db.execute(select(func.count(Order.o_orderkey)))
            total_count = count_result.scalar()
            total_pages = (total_count + page_size - 1) // page_size
        else:
            total_count = -1
            total_pages = -1
        stmt = (select(Order).order_by(Order.o_orderkey)
                .offset((page - 1) * page_size).limit(page_size + 1))
        rows = (await db.execute(stmt)).scalars().all()
        has_next = len(rows) > page_size
        return OrderListResponse(
            orders=rows[:page_size],
            pagination=PaginationInfo(page=page, page_size=page_size, total_pages=total_pages,
                                      total_count=total_count, has_next=has_next,
                                      has_previous=page > 1),
        )
    except Exception as e:
        logger.error(f"Error getting page-based orders: {e}")
        raise HTTPException(status_code=500, detail="Failed to retrieve orders")


@router.get("/stream", response_model=OrderListCursorResponse,
            summary="Get orders with cursor-based pagination")
async def get_orders_by_cursor(
    cursor: int = Query(0, ge=0, description="Start after this order key (0 for beginning)"),
    page_size: int = Query(100, ge=1, le=1000, description="Number of records to fetch"),
    db: AsyncSession = Depends(get_async_db),
):
    try:
        stmt = (select(Order).where(Order.o_orderkey > cursor)
                .order_by(Order.o_orderkey).limit(page_size + 1))
        rows = (await db.execute(stmt)).scalars().all()
        has_next = len(rows) > page_size
        orders = rows[:page_size]
        has_previous = cursor > 0
        return OrderListCursorResponse(
            orders=orders,
            pagination=CursorPaginationInfo(
                page_size=page_size,
                has_next=has_next,
                has_previous=has_previous,
                next_cursor=orders[-1].o_orderkey if orders and has_next else None,
                previous_cursor=max(0, cursor - page_size) if has_previous else None,
            ),
        )
    except Exception as e:
        logger.error(f"Error getting cursor-based orders: {e}")
        raise HTTPException(status_code=500, detail="Failed to retrieve orders")


@router.get("/{order_key}", response_model=OrderRead, summary="Get an order by its key")
async def read_order(order_key: int, db: AsyncSession = Depends(get_async_db)):
    try:
        if order_key <= 0:
            raise HTTPException(status_code=400, detail="Invalid order key provided")
        result = await db.execute(select(Order).where(Order.o_orderkey == order_key))
        order = result.scalars().first()
        if not order:
            raise HTTPException(status_code=404, detail=f"Order with key '{order_key}' not found")
        return order
    except HTTPException:
        raise
    except Exception as e:
        logger.error(f"Unexpected error fetching order {order_key}: {e}")
        raise HTTPException(status_code=500, detail="Internal server error occurred")


@router.post("/{order_key}/status", response_model=OrderStatusUpdateResponse,
             summary="Update order status")
async def update_order_status(order_key: int, status_data: OrderStatusUpdate,
                              db: AsyncSession = Depends(get_async_db)):
    try:
        if order_key <= 0:
            raise HTTPException(status_code=400, detail="Invalid order key provided")
        result = await db.execute(select(Order).where(Order.o_orderkey == order_key))
        order = result.scalars().first()
        if not order:
            raise HTTPException(status_code=404, detail=f"Order with key '{order_key}' not found")
        order.o_orderstatus = status_data.o_orderstatus
        await db.commit()
        await db.refresh(order)
        return OrderStatusUpdateResponse(o_orderkey=order_key,
                                         o_orderstatus=status_data.o_orderstatus,
                                         message="Order status updated successfully")
    except HTTPException:
        raise
    except Exception as e:
        logger.error(f"Error updating status for order {order_key}: {e}")
        raise HTTPException(status_code=500, detail="Failed to update order status")
