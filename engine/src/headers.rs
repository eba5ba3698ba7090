//! Which headers a delivery may carry besides the engine's own: a hook's
//! `headers` (checked when the hook is created or changed, `app/hooks.rs`)
//! and whatever its transformer sets (checked before each request is sent,
//! `delivery/stages.rs`).

use axum::http::{HeaderName, HeaderValue};

use crate::model::{ENGINE_HEADERS, SIGNATURE_HEADER};

/// Whether the engine sets header `name` on every delivery (the signature
/// covers them): a hook may not set them, and a transformer's are
/// replaced.
pub fn engine_sets(name: &str) -> bool {
    ENGINE_HEADERS.iter().chain([&SIGNATURE_HEADER]).any(|engine| name.eq_ignore_ascii_case(engine))
}

/// Headers about the connection or the framing of the body (RFC 9110
/// §7.6.1 and RFC 9112), which the engine's HTTP client alone decides.
/// Passed through, they could make the receiver, or a proxy in front of it,
/// read the request differently from how it was sent (request smuggling),
/// hold connections open, or hand credentials meant for a proxy to the
/// receiver. Any `Proxy-*` header is refused as well.
const FRAMING: &[&str] =
    &["host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade", "expect"];

/// Why a header is refused; the message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderRefusal {
    #[error("header {0:?} is not a valid HTTP header")]
    Invalid(String),
    #[error("header {0:?} is set by the engine and cannot be overridden")]
    EngineSet(String),
    #[error("header {0:?} is a connection or framing header, which only the engine's HTTP client sets")]
    Framing(String),
}

/// A header of a hook's own `headers`.
pub fn check_hook_header(name: &str, value: &str) -> Result<(), HeaderRefusal> {
    check_sent_header(name, value)?;
    if engine_sets(name) {
        return Err(HeaderRefusal::EngineSet(name.to_owned()));
    }
    Ok(())
}

/// A header about to be sent (a hook's, or one its transformer set): a
/// valid header that is not a connection or framing header.
pub fn check_sent_header(name: &str, value: &str) -> Result<(), HeaderRefusal> {
    if HeaderName::from_bytes(name.as_bytes()).is_err() || HeaderValue::from_str(value).is_err() {
        return Err(HeaderRefusal::Invalid(name.to_owned()));
    }
    let lower = name.to_ascii_lowercase();
    if FRAMING.contains(&lower.as_str()) || lower.starts_with("proxy-") {
        return Err(HeaderRefusal::Framing(name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_and_hop_by_hop_headers_are_refused_in_any_case() {
        for name in [
            "Host",
            "Content-Length",
            "Transfer-Encoding",
            "Connection",
            "Keep-Alive",
            "TE",
            "Trailer",
            "Upgrade",
            "Expect",
            "Proxy-Authorization",
            "proxy-connection",
            "PROXY-AUTHENTICATE",
        ] {
            assert_eq!(check_sent_header(name, "x"), Err(HeaderRefusal::Framing(name.to_owned())), "{name}");
            assert_eq!(check_hook_header(name, "x"), Err(HeaderRefusal::Framing(name.to_owned())), "{name}");
        }
        assert_eq!(
            check_sent_header("Upgrade", "h2c").unwrap_err().to_string(),
            "header \"Upgrade\" is a connection or framing header, which only the engine's HTTP client sets"
        );
    }

    #[test]
    fn engine_headers_are_refused_on_hooks_and_replaced_for_transformers() {
        assert_eq!(
            check_hook_header("Webhook-Signature", "x"),
            Err(HeaderRefusal::EngineSet("Webhook-Signature".into()))
        );
        assert_eq!(
            check_hook_header("content-type", "text/plain"),
            Err(HeaderRefusal::EngineSet("content-type".into()))
        );
        assert_eq!(check_sent_header("Content-Type", "application/json"), Ok(()));
    }

    #[test]
    fn ordinary_headers_pass_and_malformed_ones_do_not() {
        assert_eq!(check_hook_header("Authorization", "Bearer x"), Ok(()));
        assert_eq!(check_hook_header("X-Trace", "a\tb"), Ok(()));
        assert_eq!(check_hook_header("bad header", "x"), Err(HeaderRefusal::Invalid("bad header".into())));
        assert_eq!(check_hook_header("X-A", "a\r\nX-B: b"), Err(HeaderRefusal::Invalid("X-A".into())));
        assert_eq!(check_sent_header("X-A", "a\0"), Err(HeaderRefusal::Invalid("X-A".into())));
    }
}
