-- requests.lua - wrk script that replays a precomputed request list.
--
--   wrk ... -s bench/wrk/requests.lua http://127.0.0.1:PORT -- LIST_FILE
--
-- LIST_FILE has one request per line: METHOD <tab> PATH [<tab> JSON BODY].
-- Every request is formatted once, at init, so the per-request cost in wrk is
-- a table lookup (generating URLs in Lua per request costs the client more than
-- a fast server spends answering). Each thread starts at a different offset of
-- the list and cycles through it. done() prints one machine-readable line
-- ("WRKJSON {...}") that bench/driver.py parses; latencies are microseconds.

local counter = 0

function setup(thread)
    thread:set("thread_no", counter)
    counter = counter + 1
end

local reqs = {}
local n = 0
local i = 0

function init(args)
    local path = args[1]
    if not path then error("requests.lua: pass the list file after --") end
    local f = assert(io.open(path, "r"))
    local json = { ["Content-Type"] = "application/json" }
    for line in f:lines() do
        local method, target, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
        if method then
            n = n + 1
            if body ~= "" then
                reqs[n] = wrk.format(method, target, json, body)
            else
                reqs[n] = wrk.format(method, target)
            end
        end
    end
    f:close()
    if n == 0 then error("requests.lua: no requests in " .. path) end
    -- Spread the threads over the list so they do not ask for the same keys.
    i = math.floor((thread_no or 0) * n / 2.618) % n
end

function request()
    i = i + 1
    if i > n then i = 1 end
    return reqs[i]
end

-- The script's own directory: wrkjson.lua sits beside it.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
done = dofile(here .. "wrkjson.lua")
