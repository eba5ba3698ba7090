//! The `public_url` setting: the address clients reach the API at, which
//! the API builds its links from. A leaf module of its own so that the
//! settings can name it without importing the API.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The address clients reach the API at, e.g. `https://hooks.example.com`
/// or, behind a proxy that adds a path, `https://example.com/wasmhook`:
/// an absolute `http` or `https` URL without credentials, query or
/// fragment, kept without its trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PublicUrl(Arc<str>);

impl PublicUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PublicUrl {
    type Error = String;

    fn try_from(text: String) -> Result<PublicUrl, String> {
        let url = url::Url::parse(&text).map_err(|error| format!("{text:?} is not an absolute URL: {error}"))?;
        if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
            return Err(format!("{text:?} is not an http or https URL"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials".into());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("{text:?} must not have a query or a fragment"));
        }
        Ok(PublicUrl(url.as_str().trim_end_matches('/').into()))
    }
}

impl From<PublicUrl> for String {
    fn from(url: PublicUrl) -> String {
        url.0.to_string()
    }
}
