// validate.js - validates an OpenAPI document with @apidevtools/swagger-parser
// (JSON Schema of the OpenAPI 3.1 spec, plus $ref resolution and semantic checks
// such as unique operationIds and declared path parameters).
//
//   node validate.js FILE_OR_URL
//
// Prints "valid: N paths" and exits 0, or prints the validator's error and exits 1.
// Run by tests/api/test_openapi.py; modules come from NODE_PATH (scripts/swagger.sh --tests).
"use strict";

const SwaggerParser = require("@apidevtools/swagger-parser");

async function main() {
  const src = process.argv[2];
  if (!src) {
    console.error("usage: node validate.js FILE_OR_URL");
    process.exit(2);
  }
  const api = await SwaggerParser.validate(src);
  if (!String(api.openapi).startsWith("3.1")) throw new Error(`not OpenAPI 3.1: ${api.openapi}`);
  console.log(`valid: ${Object.keys(api.paths).length} paths`);
}

main().catch((err) => {
  console.error(`invalid: ${err && err.message ? err.message : err}`);
  process.exit(1);
});
