use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Result;

/// The HTTP request one hook is about to receive.
///
/// The engine signs the request after the transformer has run, so the
/// signature always covers the body that is sent; signature headers set here
/// are overwritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: String,
}

impl Request {
    /// A POST of `body` to `url`, for tests.
    pub fn post(url: impl Into<String>, body: impl Into<String>) -> Self {
        Request { url: url.into(), method: "POST".into(), headers: Vec::new(), body: body.into() }
    }

    /// The body parsed into `T`.
    pub fn body_json<T: DeserializeOwned>(&self) -> Result<T> {
        Ok(serde_json::from_str(&self.body)?)
    }

    /// Replaces the body with `value` serialized to JSON.
    pub fn set_body_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.body = serde_json::to_string(value)?;
        Ok(())
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    /// Sets header `name`, replacing every earlier value of it.
    pub fn set_header(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        self.headers.retain(|(key, _)| !key.eq_ignore_ascii_case(&name));
        self.headers.push((name, value.into()));
    }
}
