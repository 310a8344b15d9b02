/*
 * schemas - the OpenAPI schemas the tutorial's routes name: the row schemas
 * generated from the app's table descriptors (Order, User, Note) and the
 * envelopes of the seed API as fixed JSON text. Registered with the web
 * layer's OpenAPI registry by ops.c; checked by the unit test (every name a
 * route refers to must be defined).
 */
#include "api/api_internal.h"

static const web_openapi_schema_t api_fixed_schemas[] = {
    /* ---- ops ---- */
    {"Message",
     "{\"type\":\"object\",\"required\":[\"message\"],\"properties\":{\"message\":{\"type\":"
     "\"string\",\"examples\":[\"Hello Lakehouse\"]}}}",
     NULL, false},
    {"HealthCheck",
     "{\"type\":\"object\",\"required\":[\"status\",\"timestamp\"],\"properties\":{\"status\":"
     "{\"type\":\"string\",\"const\":\"OK\"},\"timestamp\":{\"type\":\"string\",\"format\":"
     "\"date-time\"}}}",
     NULL, false},
    {"Liveness",
     "{\"type\":\"object\",\"required\":[\"status\"],\"properties\":{\"status\":{\"type\":"
     "\"string\",\"const\":\"alive\"}}}",
     NULL, false},
    {"Readiness",
     "{\"type\":\"object\",\"required\":[\"status\"],\"properties\":{\"status\":{\"type\":"
     "\"string\",\"enum\":[\"ready\",\"unavailable\"]},\"detail\":{\"type\":\"string\","
     "\"description\":\"Why the server is not ready\"}}}",
     NULL, false},
    /* ---- orders ---- */
    {"OrderCount",
     "{\"type\":\"object\",\"required\":[\"total_orders\"],\"properties\":{\"total_orders\":"
     "{\"type\":\"integer\",\"minimum\":0}}}",
     NULL, false},
    {"OrderSample",
     "{\"type\":\"object\",\"required\":[\"sample_order_keys\"],\"properties\":{"
     "\"sample_order_keys\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"maxItems\":5}"
     "}}",
     NULL, false},
    {"PaginationInfo",
     "{\"type\":\"object\",\"required\":[\"page\",\"page_size\",\"total_pages\",\"total_count\","
     "\"has_next\",\"has_previous\"],\"properties\":{\"page\":{\"type\":\"integer\"},"
     "\"page_size\":{\"type\":\"integer\"},\"total_pages\":{\"type\":\"integer\",\"description\":"
     "\"-1 when include_count=false\"},\"total_count\":{\"type\":\"integer\",\"description\":"
     "\"-1 when include_count=false\"},\"has_next\":{\"type\":\"boolean\"},\"has_previous\":{"
     "\"type\":\"boolean\"}}}",
     NULL, false},
    {"OrderListResponse",
     "{\"type\":\"object\",\"required\":[\"orders\",\"pagination\"],\"properties\":{\"orders\":"
     "{\"type\":\"array\",\"items\":{\"$ref\":\"" WEB_OPENAPI_REF "Order\"}},\"pagination\":"
     "{\"$ref\":\"" WEB_OPENAPI_REF "PaginationInfo\"}}}",
     NULL, false},
    {"CursorPaginationInfo",
     "{\"type\":\"object\",\"required\":[\"page_size\",\"has_next\",\"has_previous\","
     "\"next_cursor\",\"previous_cursor\"],\"properties\":{\"page_size\":{\"type\":\"integer\"},"
     "\"has_next\":{\"type\":\"boolean\"},\"has_previous\":{\"type\":\"boolean\"},"
     "\"next_cursor\":{\"type\":[\"integer\",\"null\"],\"description\":\"Last key returned when "
     "has_next\"},\"previous_cursor\":{\"type\":[\"integer\",\"null\"],\"description\":\"The "
     "cursor whose page is the previous one; null on the first page\"}}}",
     NULL, false},
    {"OrderListCursorResponse",
     "{\"type\":\"object\",\"required\":[\"orders\",\"pagination\"],\"properties\":{\"orders\":"
     "{\"type\":\"array\",\"items\":{\"$ref\":\"" WEB_OPENAPI_REF "Order\"}},\"pagination\":"
     "{\"$ref\":\"" WEB_OPENAPI_REF "CursorPaginationInfo\"}}}",
     NULL, false},
    {"OrderStatusUpdate",
     "{\"type\":\"object\",\"required\":[\"o_orderstatus\"],\"properties\":{\"o_orderstatus\":"
     "{\"type\":\"string\",\"pattern\":\"^[A-Z]$\",\"minLength\":1,\"maxLength\":1,"
     "\"examples\":[\"F\"]}}}",
     NULL, false},
    {"OrderStatusUpdateResponse",
     "{\"type\":\"object\",\"required\":[\"o_orderkey\",\"o_orderstatus\",\"message\"],"
     "\"properties\":{\"o_orderkey\":{\"type\":\"integer\"},\"o_orderstatus\":{\"type\":"
     "\"string\"},\"message\":{\"type\":\"string\"}}}",
     NULL, false},
    /* ---- users ---- */
    {"UserList", "{\"type\":\"array\",\"items\":{\"$ref\":\"" WEB_OPENAPI_REF "User\"}}", NULL,
     false},
    {"UserWrite",
     "{\"type\":\"object\",\"additionalProperties\":false,\"description\":\"Every field is "
     "optional; null stores NULL; unknown fields are rejected.\",\"properties\":{"
     "\"first_name\":{\"type\":[\"string\",\"null\"],\"maxLength\":255},"
     "\"last_name\":{\"type\":[\"string\",\"null\"],\"maxLength\":255},"
     "\"email\":{\"type\":[\"string\",\"null\"],\"format\":\"email\",\"maxLength\":255},"
     "\"address\":{\"type\":[\"string\",\"null\"],\"maxLength\":1000},"
     "\"ip_address\":{\"type\":[\"string\",\"null\"],\"description\":\"An IPv4 or IPv6 "
     "address\"}}}",
     NULL, false},
    {"UserId",
     "{\"type\":\"object\",\"required\":[\"user_id\"],\"properties\":{\"user_id\":{\"type\":"
     "\"integer\"}}}",
     NULL, false},
    {"UserDeleted",
     "{\"type\":\"object\",\"required\":[\"user_id\",\"msg\"],\"properties\":{\"user_id\":{"
     "\"type\":\"integer\"},\"msg\":{\"type\":\"string\",\"const\":\"record deleted\"}}}",
     NULL, false},
    /* ---- notes ---- */
    {"NoteList", "{\"type\":\"array\",\"items\":{\"$ref\":\"" WEB_OPENAPI_REF "Note\"}}", NULL,
     false},
    {"NoteCreate",
     "{\"type\":\"object\",\"required\":[\"content\"],\"additionalProperties\":false,"
     "\"properties\":{\"content\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":10000}}}",
     NULL, false},
    /* ---- Lakebase resources (resources.c) ---- */
    {"LakebaseResourceError",
     "{\"type\":\"object\",\"required\":[\"operation\",\"http_status\",\"error_code\",\"message\","
     "\"detail\"],\"properties\":{\"operation\":{\"type\":\"string\",\"enum\":[\"lookup\","
     "\"create\",\"poll\",\"wait\",\"delete\"]},\"http_status\":{\"type\":[\"integer\",\"null\"],"
     "\"description\":\"The Databricks API's HTTP status; null when no answer came\"},"
     "\"error_code\":{\"type\":[\"string\",\"null\"],\"examples\":[\"PERMISSION_DENIED\"]},"
     "\"message\":{\"type\":\"string\"},\"detail\":{\"type\":\"string\",\"description\":\"The "
     "failed call in one line\"}}}",
     NULL, false},
    {"LakebaseResourceStep",
     "{\"type\":\"object\",\"required\":[\"resource\",\"name\",\"state\",\"existed\","
     "\"remote_state\",\"error\"],\"properties\":{\"resource\":{\"type\":\"string\",\"enum\":["
     "\"database_instance\",\"database_catalog\",\"synced_table\"]},\"name\":{\"type\":"
     "\"string\"},\"state\":{\"type\":\"string\",\"enum\":[\"pending\",\"checking\","
     "\"to_create\",\"creating\",\"provisioning\",\"ready\",\"failed\",\"skipped\"]},"
     "\"existed\":{\"type\":\"boolean\",\"description\":\"Found by the lookup, so not created "
     "by this job\"},\"remote_state\":{\"type\":[\"string\",\"null\"],\"description\":\"The "
     "instance's state or the synced table's detailed_state\"},\"host\":{\"type\":[\"string\","
     "\"null\"],\"description\":\"Database instance: its read_write_dns\"},\"pipeline_id\":{"
     "\"type\":[\"string\",\"null\"],\"description\":\"Synced table: "
     "data_synchronization_status.pipeline_id\"},\"error\":{\"anyOf\":[{\"$ref\":"
     "\"" WEB_OPENAPI_REF "LakebaseResourceError\"},{\"type\":\"null\"}]}}}",
     NULL, false},
    {"LakebaseResourcesResponse",
     "{\"type\":\"object\",\"required\":[\"instance\",\"catalog\",\"synced_table\",\"message\","
     "\"state\",\"steps\"],\"properties\":{\"instance\":{\"type\":\"string\"},\"catalog\":{"
     "\"type\":\"string\"},\"synced_table\":{\"type\":\"string\",\"description\":\"The synced "
     "table's pipeline id once known, else empty\"},\"message\":{\"type\":\"string\"},"
     "\"state\":{\"type\":\"string\",\"enum\":[\"idle\",\"checking\",\"running\",\"done\","
     "\"failed\",\"cancelled\"]},\"started_at\":{\"type\":[\"string\",\"null\"],\"format\":"
     "\"date-time\"},\"finished_at\":{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"},"
     "\"steps\":{\"type\":\"array\",\"items\":{\"$ref\":\"" WEB_OPENAPI_REF
     "LakebaseResourceStep\"}}}}",
     NULL, false},
    {"LakebaseDeleteStep",
     "{\"type\":\"object\",\"required\":[\"resource\",\"name\",\"result\",\"error\"],"
     "\"properties\":{\"resource\":{\"type\":\"string\",\"enum\":[\"synced_table\","
     "\"database_catalog\",\"database_instance\"]},\"name\":{\"type\":\"string\"},\"result\":{"
     "\"type\":\"string\",\"enum\":[\"deleted\",\"not_found\",\"failed\"]},\"error\":{\"anyOf\":["
     "{\"$ref\":\"" WEB_OPENAPI_REF "LakebaseResourceError\"},{\"type\":\"null\"}]}}}",
     NULL, false},
    {"LakebaseResourcesDeleteResponse",
     "{\"type\":\"object\",\"required\":[\"deleted_resources\",\"failed_deletions\",\"message\"],"
     "\"properties\":{\"deleted_resources\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
     "\"failed_deletions\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
     "\"not_found_resources\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"message\":{"
     "\"type\":\"string\"},\"steps\":{\"type\":\"array\",\"items\":{\"$ref\":\"" WEB_OPENAPI_REF
     "LakebaseDeleteStep\"}}}}",
     NULL, false},
    {"LakebaseError",
     "{\"type\":\"object\",\"required\":[\"detail\"],\"properties\":{\"detail\":{\"type\":"
     "\"string\"},\"error\":{\"anyOf\":[{\"$ref\":\"" WEB_OPENAPI_REF "LakebaseResourceError\"},"
     "{\"type\":\"null\"}]}}}",
     NULL, false},
};

void api_schemas_register(api_app_t *app, web_openapi_t *o)
{
    /* Rows: the descriptors live in app, so this table does too. */
    web_openapi_schema_t rows[] = {
        {"Order", NULL, &app->orders, false}, {"OrderRead", NULL, &app->orders, false},
        {"Note", NULL, &app->notes, false},   {"NoteRead", NULL, &app->notes, false},
        {"User", NULL, &app->users, true}, /* every users column but the key may be NULL */
    };
    _Static_assert(sizeof rows / sizeof rows[0] == API_ROW_SCHEMAS, "api_app.row_schemas size");
    for (size_t i = 0; i < API_ROW_SCHEMAS; i++)
        app->row_schemas[i] = rows[i];
    web_openapi_add_schemas(o, app->row_schemas, API_ROW_SCHEMAS);
    web_openapi_add_schemas(o, api_fixed_schemas,
                            sizeof api_fixed_schemas / sizeof api_fixed_schemas[0]);
}
