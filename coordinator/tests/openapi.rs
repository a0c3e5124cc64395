//! The OpenAPI document: every route of the router is in it, every schema it names is defined,
//! and the coordinator serves it. (The schemathesis test checks the API against it.)

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tessera_coordinator::billing::PriceTable;
use tessera_coordinator::routes::ROUTES;
use tessera_coordinator::{Farm, FarmConfig, openapi, server};
use tessera_transport::InProcessTransport;
use tower::ServiceExt;

fn refs(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    found.insert(v.as_str().unwrap().to_owned());
                }
                refs(v, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[test]
fn every_route_is_described_and_every_schema_defined() {
    let doc = openapi::document();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut described = 0;
    for route in &ROUTES {
        let method = route.method.as_str().to_ascii_lowercase();
        let operation = &doc["paths"][route.path][&method];
        assert!(
            operation.is_object(),
            "{} {} missing from the document",
            route.method,
            route.path
        );
        assert!(operation["responses"].as_object().unwrap().len() >= 2);
        described += 1;
    }
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(
        operations, described,
        "the document has routes the router lacks"
    );

    let mut found = BTreeSet::new();
    refs(&doc, &mut found);
    assert!(found.contains("#/components/schemas/JobView"));
    for r in &found {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r} does not point at a schema"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} is not defined"
        );
    }
    // Money is integer micro-dollars on the wire.
    assert_eq!(
        doc["components"]["schemas"]["JobView"]["properties"]["cost"]["$ref"],
        "#/components/schemas/Money"
    );
    assert_eq!(doc["components"]["schemas"]["Money"]["type"], "integer");
}

#[tokio::test]
async fn the_coordinator_serves_its_document_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let farm = Farm::open(
        FarmConfig::new(dir.path(), PriceTable::default()),
        InProcessTransport::new(),
    )
    .unwrap();
    let request = Request::builder()
        .uri("/api/openapi.json")
        .body(Body::empty())
        .unwrap();
    let response = server::router(farm).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    let served: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(served, openapi::document());
}
