//! The request a delivery starts from. Which headers it may carry is
//! `crate::headers`.

use crate::model::{Hook, HttpMethod};
use crate::runtime::Request;

/// The request a delivery of `body` to `hook` starts from, before its
/// transformer (if any) and the signature: the hook's target, method and
/// custom headers.
pub fn request(hook: &Hook, body: String) -> Request {
    let method = match hook.settings.method {
        HttpMethod::Post => "POST",
        HttpMethod::Put => "PUT",
        HttpMethod::Patch => "PATCH",
    };
    Request {
        url: hook.settings.target.clone(),
        method: method.to_owned(),
        headers: hook.settings.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        body,
    }
}
