//! The web console at `/console`: a small single-page app (plain ES
//! modules, no build step, no framework) embedded in the binary, so it
//! works offline and ships with the engine it talks to.
//!
//! The console has no routes of its own beyond its files: every page calls
//! the JSON API with the token the user signed in with, so it can do
//! nothing the API would not let that token do. The token is kept in the
//! tab's `sessionStorage` (not a cookie: the API never reads cookies, so
//! there is no CSRF surface), and the pages run under a strict
//! Content-Security-Policy: scripts, styles and connections from this
//! origin only, no inline script or style, no framing.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

/// What the console's pages may load and do.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    path: &'static str,
    mime: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $mime:expr) => {
        Asset {
            path: $path,
            mime: $mime,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of `engine/console/` (a test checks none is left out).
static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("ui.js", JS),
    asset!("views/overview.js", JS),
    asset!("views/hooks.js", JS),
    asset!("views/hook.js", JS),
    asset!("views/hook_form.js", JS),
    asset!("views/errors.js", JS),
    asset!("views/plugins.js", JS),
    asset!("views/catalog.js", JS),
    asset!("views/tokens.js", JS),
];

/// Each asset's entity tag (its content's sha256, shortened), computed once.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS.iter().map(|asset| format!("\"{}\"", hex::encode(&Sha256::digest(asset.bytes)[..12]))).collect()
});

/// The console's routes. They are not API routes, so they are not in
/// `/openapi.json`; the engine merges them beside the API when `console`
/// is on.
#[expect(clippy::disallowed_methods, reason = "the console's files are not API routes: kept out of /openapi.json")]
pub fn router() -> Router {
    Router::new()
        // Relative, so that a proxy's path prefix is kept.
        .route("/console", get(|| async { Redirect::permanent("console/") }))
        .route("/console/", get(|headers: HeaderMap| async move { serve("index.html", &headers) }))
        .route(
            "/console/{*path}",
            get(|Path(path): Path<String>, headers: HeaderMap| async move { serve(&path, &headers) }),
        )
}

/// The file at `path`, or 404; 304 when the browser holds this version.
fn serve(path: &str, request: &HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|asset| asset.path == path) else {
        return (StatusCode::NOT_FOUND, security_headers(), "Not found").into_response();
    };
    let (asset, etag) = (&ASSETS[index], &ETAGS[index]);
    let mut headers = security_headers();
    headers.insert(header::ETAG, HeaderValue::from_str(etag).expect("hex is a valid header value"));
    // Revalidated on every load: an upgraded engine serves its own console.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if request.get(header::IF_NONE_MATCH).is_some_and(|tag| tag.as_bytes() == etag.as_bytes()) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    (headers, asset.bytes).into_response()
}

fn security_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    fn files(dir: &Path, prefix: &str, found: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = format!("{prefix}{}", entry.file_name().to_str().unwrap());
            if entry.file_type().unwrap().is_dir() {
                files(&entry.path(), &format!("{name}/"), found);
            } else {
                found.insert(name);
            }
        }
    }

    #[test]
    fn every_file_of_the_console_is_embedded() {
        let mut on_disk = BTreeSet::new();
        files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("console"), "", &mut on_disk);
        let embedded: BTreeSet<String> = ASSETS.iter().map(|asset| asset.path.to_owned()).collect();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn files_carry_the_policy_and_revalidate() {
        let response = serve("app.js", &HeaderMap::new());
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_SECURITY_POLICY], CSP);
        assert_eq!(response.headers()[header::CONTENT_TYPE], JS);
        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, response.headers()[header::ETAG].clone());
        assert_eq!(serve("app.js", &again).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(serve("../Cargo.toml", &HeaderMap::new()).status(), StatusCode::NOT_FOUND);
    }
}
