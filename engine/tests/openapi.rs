//! `/openapi.json` against the real binary: it parses as OpenAPI 3.1 and is
//! true to the router. Every documented operation is served (neither the
//! fallback 404 nor a 405), every method a documented path does not list
//! answers 405, and the documented security is the real one: a secured
//! operation answers 401 without a token, a public one answers 2xx.
//!
//! The other direction (nothing served undocumented) holds by construction:
//! the router registers each route from its handler's `#[utoipa::path]`,
//! and clippy refuses a plain `.route` (`engine/clippy.toml`).

use oas3::spec::{Operation, SecurityRequirement};
use reqwest::Method;
use serde_json::Value;
use wasmhook_testkit::{ADMIN, Engine, start};

/// The methods probed on every documented path.
const METHODS: [Method; 5] = [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::PATCH];

/// The engine and its document, parsed.
async fn document() -> (tempfile::TempDir, Engine, oas3::Spec) {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), &[]);
    let response = reqwest::get(format!("{}/openapi.json", engine.url)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let spec = oas3::from_json(response.text().await.unwrap()).expect("an OpenAPI 3.1 document");
    (dir, engine, spec)
}

/// What an unauthenticated request answered: status and body.
async fn probe(engine: &Engine, method: Method, path: &str) -> (u16, Value) {
    let response = reqwest::Client::new().request(method, format!("{}{path}", engine.url)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `/v1/plugins/{name}` → `/v1/plugins/1`: `1` parses as every parameter
/// type the API has (ids and names).
fn concrete(path: &str) -> String {
    path.split('/').map(|s| if s.starts_with('{') && s.ends_with('}') { "1" } else { s }).collect::<Vec<_>>().join("/")
}

/// Whether an operation may be called without a token: its own security,
/// else the document's, allows the empty requirement.
fn is_public(spec: &oas3::Spec, operation: &Operation) -> bool {
    let security = if operation.security.is_empty() { &spec.security } else { &operation.security };
    security.iter().any(|SecurityRequirement(schemes)| schemes.is_empty())
}

#[tokio::test]
async fn the_document_is_openapi_3_1_with_every_part_described() {
    let (_dir, engine, spec) = document().await;
    assert!(spec.validate_version().is_ok_and(|v| v.major == 3 && v.minor == 1), "{}", spec.openapi);
    // The documented scheme is the one the API takes.
    let scheme = spec.components.as_ref().unwrap().security_schemes["token"].resolve(&spec).unwrap();
    let oas3::spec::SecurityScheme::ApiKey { name, .. } = scheme else { panic!("{scheme:?}") };
    let response = reqwest::Client::new()
        .get(format!("{}/v1/admin/tokens", engine.url))
        .header(name, format!("Token {ADMIN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let operations: Vec<_> = spec.operations().collect();
    assert!(operations.len() >= 30, "{} operations", operations.len());
    for (path, method, operation) in operations {
        let id = || format!("{method} {path}");
        operation.parameters(&spec).unwrap_or_else(|e| panic!("{}: {e}", id()));
        operation.request_body(&spec).unwrap_or_else(|e| panic!("{}: {e}", id()));
        let responses = operation.responses(&spec);
        assert!(responses.keys().any(|status| status.starts_with('2')), "{}: no success response", id());
        for (status, response) in &responses {
            assert!(
                response.description.as_deref().is_some_and(|d| !d.is_empty()),
                "{} {status}: no description",
                id()
            );
        }
        let error = responses["default"].content["application/json"].schema.as_ref().expect("an error schema");
        let error = serde_json::to_value(error.resolve(&spec).unwrap()).unwrap();
        let fields: Vec<&String> = error["properties"].as_object().unwrap().keys().collect();
        assert_eq!(fields, ["detail", "slug", "status_code"], "{}", id());
    }
}

#[tokio::test]
async fn every_documented_route_is_served_with_its_methods_and_security() {
    let (_dir, engine, spec) = document().await;
    // The probe tells the fallback apart: a path the router does not serve.
    let (status, body) = probe(&engine, Method::GET, "/v1/no-such-route").await;
    assert_eq!((status, body["detail"].as_str()), (404, Some("Resource not found")));

    let paths = spec.paths.as_ref().expect("paths");
    for (path, item) in paths {
        let url = concrete(path);
        let documented: Vec<Method> = item.methods().into_iter().map(|(method, _)| method).collect();
        for method in METHODS {
            let (status, body) = probe(&engine, method.clone(), &url).await;
            let id = format!("{method} {path} answered {status} {body}");
            let Some(operation) = spec.operation(&method, path) else {
                assert_eq!((status, body["slug"].as_str()), (405, Some("method-not-allowed")), "{id}: undocumented");
                continue;
            };
            assert!(documented.contains(&method));
            assert_ne!(body["detail"], "Resource not found", "{id}: documented, not served");
            if is_public(&spec, operation) {
                assert!((200..300).contains(&status), "{id}: documented as public");
            } else {
                assert_eq!(
                    (status, body["slug"].as_str()),
                    (401, Some("not-authenticated")),
                    "{id}: documented as secured"
                );
            }
        }
    }
}
