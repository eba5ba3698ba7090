//! Standard Webhooks signatures: `webhook-signature: v1,<base64 of
//! HMAC-SHA256 over "{webhook-id}.{webhook-timestamp}.{body}">`, keyed with
//! the base64-decoded part of the hook's `whsec_…` secret. During a secret
//! rotation the header carries one signature per secret, separated by
//! spaces, as the specification allows: a receiver that checks any of them
//! against its secret accepts the request, whichever secret it has.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::auth::SECRET_PREFIX;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the hook's secret is not a whsec_ base64 key")]
pub struct BadSecret;

/// The `webhook-signature` header value.
pub fn sign(secret: &str, webhook_id: &str, timestamp: i64, body: &str) -> Result<String, BadSecret> {
    let key = STANDARD.decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret)).map_err(|_| BadSecret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| BadSecret)?;
    mac.update(format!("{webhook_id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// The `webhook-signature` header value for several secrets: their
/// signatures, in order, separated by spaces.
pub fn sign_with_each<'a>(
    secrets: impl IntoIterator<Item = &'a str>,
    webhook_id: &str,
    timestamp: i64,
    body: &str,
) -> Result<String, BadSecret> {
    let signatures: Vec<String> =
        secrets.into_iter().map(|secret| sign(secret, webhook_id, timestamp, body)).collect::<Result<_, _>>()?;
    Ok(signatures.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn matches_the_specification_example() {
        let signature = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(signature.unwrap(), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn several_secrets_sign_side_by_side() {
        let (a, b) = ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        let both = sign_with_each([a, b], "msg_1", 1614265330, "{}").unwrap();
        let expected = [sign(a, "msg_1", 1614265330, "{}").unwrap(), sign(b, "msg_1", 1614265330, "{}").unwrap()];
        assert_eq!(both, expected.join(" "));
        assert_eq!(sign_with_each([a], "msg_1", 1614265330, "{}").unwrap(), expected[0]);
    }

    #[test]
    fn a_secret_that_is_not_base64_is_an_error() {
        assert_eq!(sign("whsec_***", "m", 1, "{}"), Err(BadSecret));
    }
}
