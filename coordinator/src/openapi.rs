//! The API's OpenAPI 3.1 document, built from the route table ([`crate::routes::ROUTES`]) and
//! the protocol's types (their schemas derived by `utoipa`), so it cannot list a route the
//! router lacks or miss one it has.

use serde_json::{Map, Value, json};
use tessera_protocol::api::{
    ErrorView, FrameEvent, FrameProgress, InvoiceView, JobState, JobStateView, JobView, LedgerRow,
    Me, Quote, Reversal, Submitted, TaskState, TaskView, TileEvent, WorkerView,
};
use tessera_protocol::auth::{IssuedToken, NewToken, Role, TokenView, Trust};
use tessera_protocol::device::Device;
use tessera_protocol::id::{JobId, TaskId};
use tessera_protocol::lease::{Claim, ClaimRequest, Heartbeat, TaskAttempt};
use tessera_protocol::money::Money;
use tessera_protocol::result::WorkerInfo;
use utoipa::openapi::ComponentsBuilder;

use crate::routes::{Access, Body, ROUTES};

fn content(body: Body) -> Option<Value> {
    let schema_ref = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
    let (kind, schema) = match body {
        Body::None => return None,
        Body::Json(name) => ("application/json", schema_ref(name)),
        Body::JsonList(name) => (
            "application/json",
            json!({ "type": "array", "items": schema_ref(name) }),
        ),
        Body::Binary(kind) => (kind, json!({ "type": "string", "format": "binary" })),
        Body::Text(kind) => (kind, json!({ "type": "string" })),
    };
    Some(json!({ kind: { "schema": schema } }))
}

/// `{name}` segments of an axum path.
fn path_parameters(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

/// The document, as served at `/api/openapi.json`.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in &ROUTES {
        let doc = &route.doc;
        let mut parameters: Vec<Value> = path_parameters(route.path)
            .into_iter()
            .map(|name| {
                json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } })
            })
            .collect();
        for p in doc.query {
            let mut schema = json!({ "type": if p.integer { "integer" } else { "string" } });
            if let Some((least, greatest)) = p.range {
                schema["minimum"] = json!(least);
                schema["maximum"] = json!(greatest);
            }
            if let Some(value) = p.default {
                schema["default"] = json!(value);
            }
            if !p.values.is_empty() {
                schema["enum"] = json!(p.values);
            }
            parameters.push(json!({
                "name": p.name, "in": "query", "required": p.required,
                "description": p.description, "schema": schema,
            }));
        }
        let mut success = json!({ "description": doc.summary });
        if let Some(c) = content(doc.response) {
            success["content"] = c;
        }
        let error = json!({
            "description": "Refused, with the reason.",
            "content": content(Body::Json("ErrorView")),
        });
        let mut operation = json!({
            "summary": doc.summary,
            "operationId": format!("{} {}", route.method, route.path),
            "parameters": parameters,
            "responses": { doc.status.to_string(): success, "4XX": error.clone(), "5XX": error },
        });
        if let Some(c) = content(doc.request) {
            operation["requestBody"] = json!({ "required": true, "content": c });
        }
        if let Access::Roles(roles) = route.access {
            operation["security"] = json!([{ "bearer": [] }]);
            let names: Vec<&str> = roles.iter().map(|r: &Role| r.as_str()).collect();
            operation["description"] = json!(format!("Roles: {}.", names.join(", ")));
        }
        let item = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        item[route.method.as_str().to_ascii_lowercase()] = operation;
    }
    let components = ComponentsBuilder::new()
        .schema_from::<ErrorView>()
        .schema_from::<JobId>()
        .schema_from::<TaskId>()
        .schema_from::<Money>()
        .schema_from::<Me>()
        .schema_from::<Role>()
        .schema_from::<Trust>()
        .schema_from::<Submitted>()
        .schema_from::<Quote>()
        .schema_from::<JobState>()
        .schema_from::<JobStateView>()
        .schema_from::<FrameProgress>()
        .schema_from::<JobView>()
        .schema_from::<LedgerRow>()
        .schema_from::<Reversal>()
        .schema_from::<InvoiceView>()
        .schema_from::<TaskState>()
        .schema_from::<TaskView>()
        .schema_from::<TileEvent>()
        .schema_from::<FrameEvent>()
        .schema_from::<WorkerView>()
        .schema_from::<Device>()
        .schema_from::<WorkerInfo>()
        .schema_from::<ClaimRequest>()
        .schema_from::<Heartbeat>()
        .schema_from::<TaskAttempt>()
        .schema_from::<Claim>()
        .schema_from::<NewToken>()
        .schema_from::<IssuedToken>()
        .schema_from::<TokenView>()
        .build();
    let mut components = serde_json::to_value(components).expect("schemas serialize");
    components["securitySchemes"] = json!({ "bearer": { "type": "http", "scheme": "bearer" } });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tessera coordinator",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Jobs, frames, invoices, workers and tokens of a Tessera render farm. \
                Errors answer `{\"error\": \"...\"}`.",
        },
        "paths": paths,
        "components": components,
    })
}
