// run.js - @supabase/postgrest-js against lakeapi: reads cases (JSON) on stdin, runs each
// as a real client call and prints one JSON line per case: {name, status, data, error, count}.
// Run by tests/api/test_rest_js.py; modules come from NODE_PATH (scripts/swagger.sh --tests).
//
// A case is {name, from, schema?, steps: [[method, ...args], ...]}: the steps are chained
// on client.from(from) (select, eq, order, range, single, insert, upsert, ...), then awaited.
"use strict";
const { PostgrestClient } = require("@supabase/postgrest-js");

async function main() {
    const url = process.argv[2];
    const input = require("fs").readFileSync(0, "utf8");
    const cases = JSON.parse(input);
    for (const c of cases) {
        const client = new PostgrestClient(url, c.schema ? { schema: c.schema } : {});
        let q = client.from(c.from);
        for (const [method, ...args] of c.steps) {
            if (typeof q[method] !== "function") throw new Error(`${c.name}: no method ${method}`);
            q = q[method](...args);
        }
        const res = await q;
        process.stdout.write(JSON.stringify({
            name: c.name, status: res.status, data: res.data === undefined ? null : res.data,
            error: res.error, count: res.count === undefined ? null : res.count,
        }) + "\n");
    }
}

main().catch((e) => {
    console.error(e && e.stack ? e.stack : String(e));
    process.exit(1);
});
