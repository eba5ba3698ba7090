//! Links the API hands out (a list's `next` and `previous`). They are built
//! from the configured `public_url`, or relative (`/v1/…`) without one,
//! never from the request's `Host` header: the client chooses that one, so
//! a link built from it could point anywhere (`Host: evil.example`).

use std::convert::Infallible;

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use url::form_urlencoded;

use super::AppState;
use crate::public_url::PublicUrl;

/// Where a list's links point: the request's own path and query, under the
/// `public_url` (relative without one).
#[derive(Debug, Clone)]
pub struct PageLinks {
    base: Option<PublicUrl>,
    path: String,
    query: String,
}

impl FromRequestParts<AppState> for PageLinks {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<PageLinks, Infallible> {
        // Only the path and query: a request line may carry an absolute
        // URL (`GET http://evil.example/v1/… HTTP/1.1`), whose authority is
        // the client's too.
        let uri = parts.extensions.get::<OriginalUri>().map_or(&parts.uri, |original| &original.0);
        Ok(PageLinks {
            base: state.public_url.clone(),
            path: uri.path().to_owned(),
            query: uri.query().unwrap_or_default().to_owned(),
        })
    }
}

impl PageLinks {
    /// The request's link with `limit` and `offset` replaced.
    pub fn to(&self, limit: usize, offset: usize) -> String {
        let kept = form_urlencoded::parse(self.query.as_bytes()).filter(|(key, _)| key != "limit" && key != "offset");
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(kept)
            .append_pair("limit", &limit.to_string())
            .append_pair("offset", &offset.to_string())
            .finish();
        let base = self.base.as_ref().map_or("", PublicUrl::as_str);
        format!("{base}{}?{query}", self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(base: Option<&str>, path: &str, query: &str) -> PageLinks {
        let base = base.map(|text| PublicUrl::try_from(text.to_owned()).unwrap());
        PageLinks { base, path: path.into(), query: query.into() }
    }

    #[test]
    fn links_are_relative_or_under_the_public_url() {
        let list = "/v1/notify/hook/subscribe";
        assert_eq!(links(None, list, "").to(3, 6), "/v1/notify/hook/subscribe?limit=3&offset=6");
        assert_eq!(
            links(None, list, "app=a%20b&limit=9&offset=1&like=x").to(3, 0),
            "/v1/notify/hook/subscribe?app=a+b&like=x&limit=3&offset=0"
        );
        assert_eq!(
            links(Some("https://hooks.example.com/"), list, "").to(1, 1),
            "https://hooks.example.com/v1/notify/hook/subscribe?limit=1&offset=1"
        );
        assert_eq!(
            links(Some("https://example.com/wasmhook"), list, "event=a").to(1, 2),
            "https://example.com/wasmhook/v1/notify/hook/subscribe?event=a&limit=1&offset=2"
        );
    }

    #[test]
    fn a_public_url_is_an_absolute_http_url() {
        let parse = |text: &str| PublicUrl::try_from(text.to_owned()).map(String::from);
        assert_eq!(parse("https://hooks.example.com"), Ok("https://hooks.example.com".into()));
        assert_eq!(parse("http://10.0.0.5:8080/hooks/"), Ok("http://10.0.0.5:8080/hooks".into()));
        for bad in [
            "hooks.example.com",
            "/v1",
            "ftp://example.com",
            "https://u:p@example.com",
            "https://e.com/?a=1",
            "https://e.com/#x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
