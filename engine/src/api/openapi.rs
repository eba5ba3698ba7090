//! The OpenAPI document of the API, served at `/openapi.json`.
//!
//! Its paths are not written here: each handler carries its own
//! `#[utoipa::path]` and the router registers handlers from those
//! annotations (see [`super::routes`]), so a route cannot be served without
//! being in the document. What every operation shares — the token scheme
//! and the error body — is added once, here.

use axum::Extension;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa::ToSchema;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

use super::error::ErrorBody;

/// Name of the security scheme every operation requires unless it says
/// `security(())` (public).
const TOKEN: &str = "token";

/// The document's fixed part: title and version from the crate, the token
/// required by default, the error schema.
#[derive(utoipa::OpenApi)]
#[openapi(security(("token" = [])), components(schemas(ErrorBody)))]
pub(super) struct ApiDoc;

/// Adds what is true of every collected operation: the token scheme, and
/// errors answered as `{"detail", "slug", "status_code"}` (the `default`
/// response of each operation that does not name one).
pub(super) fn complete(mut openapi: OpenApi) -> OpenApi {
    let scheme = ApiKeyValue::with_description(
        "Authorization",
        "`Token <token>` (`Bearer <token>` is accepted too): an academy, service or superadmin token",
    );
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(TOKEN, SecurityScheme::ApiKey(ApiKey::Header(scheme)));
    let error = ResponseBuilder::new()
        .description("An error: 4xx for the caller's, 5xx for the engine's")
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(Ref::from_schema_name(ErrorBody::name()))).build(),
        )
        .build();
    for item in openapi.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            let responses = &mut operation.responses.responses;
            responses.entry("default".into()).or_insert_with(|| error.clone().into());
            for (status, response) in responses.iter_mut() {
                if let RefOr::T(response) = response
                    && response.description.is_empty()
                {
                    response.description = reason(status);
                }
            }
        }
    }
    openapi
}

/// OpenAPI requires a description of every response: by default, the
/// status's reason phrase.
fn reason(status: &str) -> String {
    let reason = status.parse().ok().and_then(|code| StatusCode::from_u16(code).ok()?.canonical_reason());
    reason.unwrap_or("Success").to_owned()
}

/// The document as served, serialized once when the router is built.
#[derive(Clone)]
pub(super) struct Document(Bytes);

impl Document {
    pub(super) fn new(openapi: &OpenApi) -> Document {
        Document(serde_json::to_vec(openapi).expect("the document serializes").into())
    }
}

/// `GET /openapi.json`: this API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", security(()), responses((status = 200, description = "This document")))]
pub async fn document(Extension(Document(json)): Extension<Document>) -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], json)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    /// The document as JSON, as it is served.
    fn document() -> Value {
        serde_json::to_value(super::super::openapi()).unwrap()
    }

    /// Every operation: (path, method, operation).
    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut all = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                all.push((path.clone(), method.clone(), operation.clone()));
            }
        }
        all
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc = document();
        let mut seen = BTreeSet::new();
        for (path, method, operation) in operations(&doc) {
            let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path}: no operationId"));
            assert!(seen.insert(id.to_owned()), "{method} {path}: operationId {id} is used twice");
        }
        assert!(seen.len() >= 30, "{seen:?}");
    }

    /// The `{name}`s of each path and its declared path parameters agree.
    #[test]
    fn path_parameters_match_the_paths() {
        let doc = document();
        for (path, method, operation) in operations(&doc) {
            let in_path: BTreeSet<&str> =
                path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
            let declared: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert_eq!(in_path, declared, "{method} {path}");
        }
    }

    /// Every `$ref` names a schema of the document, and every operation
    /// documents the error body.
    #[test]
    fn references_resolve_and_errors_are_documented() {
        let doc = document();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        out.push(r);
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        for r in &all {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected $ref {r}"));
            assert!(schemas.contains_key(name), "$ref {r} has no schema");
        }
        for (path, method, operation) in operations(&doc) {
            let error = &operation["responses"]["default"]["content"]["application/json"]["schema"]["$ref"];
            assert_eq!(error, "#/components/schemas/Error", "{method} {path}");
        }
        let error = &schemas["Error"]["properties"];
        assert_eq!(error.as_object().unwrap().keys().collect::<Vec<_>>(), ["detail", "slug", "status_code"]);
    }
}
