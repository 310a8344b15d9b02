-- chain.lua - wrk script for sequential cursor readers of /stream.
--
--   wrk ... -s bench/wrk/chain.lua http://127.0.0.1:PORT -- START_FILE PAGE_SIZE
--
-- START_FILE has one starting cursor per line. Every response's next_cursor
-- (found near the end of the body, where the pagination object is) is queued,
-- and the next request asks for the oldest queued cursor: each request continues
-- a reader that has just read the page before it, as a client paging through the
-- table does. A reader that reaches the end is replaced by a new start. done()
-- prints the same WRKJSON line as requests.lua.

local counter = 0

function setup(thread)
    thread:set("thread_no", counter)
    counter = counter + 1
end

local starts, nstarts, si = {}, 0, 0
local queue, qhead, qtail = {}, 1, 0
local page_size = "100"
local host = ""

function init(args)
    local f = assert(io.open(args[1], "r"))
    for line in f:lines() do
        if line ~= "" then
            nstarts = nstarts + 1
            starts[nstarts] = line
        end
    end
    f:close()
    page_size = args[2] or "100"
    si = math.floor((thread_no or 0) * nstarts / 2.618) % nstarts
    host = wrk.headers["Host"] or "127.0.0.1"
end

local function fmt(cursor)
    return "GET /api/v1/orders/stream?cursor=" .. cursor .. "&page_size=" .. page_size ..
        " HTTP/1.1\r\nHost: " .. host .. "\r\n\r\n"
end

function request()
    local cursor
    if qhead <= qtail then
        cursor = queue[qhead]
        queue[qhead] = nil
        qhead = qhead + 1
    else
        si = si + 1
        if si > nstarts then si = 1 end
        cursor = starts[si]
    end
    return fmt(cursor)
end

function response(status, headers, body)
    local n = #body
    local at = string.find(body, '"next_cursor":', n > 200 and n - 200 or 1, true)
    if at then
        local c = string.match(body, "^(%d+)", at + 14)
        if c then
            qtail = qtail + 1
            queue[qtail] = c
        end
    end
end

-- The script's own directory: wrkjson.lua sits beside it.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
done = dofile(here .. "wrkjson.lua")
