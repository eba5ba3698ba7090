//! Ids and names that clients choose and the engine repeats elsewhere: an
//! event id goes into every delivery's `webhook-id` header, token names and
//! service ids into tables, logs and the CLI's output. A string that cannot
//! be repeated there is refused when it comes in (400), not discovered
//! later by a delivery that fails on every attempt.

use std::fmt;

/// Longest event id, in bytes.
pub const MAX_EVENT_ID: usize = 200;

/// Why an id or a name is refused. The message names the first offending
/// character by its position, since a control character does not print.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("must not be empty")]
    Empty,
    #[error("must not be blank")]
    Blank,
    #[error("must be at most {max} bytes")]
    TooLong { max: usize },
    #[error("must not contain control characters ({ch:?} at byte {at})")]
    Control { at: usize, ch: char },
    #[error("must be visible ASCII characters, without spaces ({ch:?} at byte {at})")]
    NotVisibleAscii { at: usize, ch: char },
}

/// A client's event id: 1 to [`MAX_EVENT_ID`] visible ASCII characters
/// (`!` to `~`). Stricter than "printable": the id is sent inside the
/// `webhook-id` header and signed, and a receiver must read back exactly
/// the bytes that were signed. Control characters make the header invalid;
/// spaces at either end are stripped by HTTP parsers; bytes beyond ASCII
/// are decoded differently by different receivers (Python's `http.server`
/// reads them as Latin-1), so the signature would not verify.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventId(String);

impl EventId {
    pub fn parse(id: impl Into<String>) -> Result<EventId, NameError> {
        let id = id.into();
        if id.is_empty() {
            return Err(NameError::Empty);
        }
        if id.len() > MAX_EVENT_ID {
            return Err(NameError::TooLong { max: MAX_EVENT_ID });
        }
        if let Some((at, ch)) = id.char_indices().find(|(_, ch)| !ch.is_ascii_graphic()) {
            return Err(if ch.is_control() {
                NameError::Control { at, ch }
            } else {
                NameError::NotVisibleAscii { at, ch }
            });
        }
        Ok(EventId(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a free-form name (a token's name, a hook's `service_id`): 1 to
/// `max` bytes, not only spaces, no control characters (`\n`, `\r`, NUL,
/// tab, DEL and the C1 range among them). Any other Unicode is fine.
pub fn check_name(name: &str, max: usize) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > max {
        return Err(NameError::TooLong { max });
    }
    if let Some((at, ch)) = name.char_indices().find(|(_, ch)| ch.is_control()) {
        return Err(NameError::Control { at, ch });
    }
    if name.trim().is_empty() {
        return Err(NameError::Blank);
    }
    Ok(())
}

/// Academy slugs: lowercase letters, digits and dashes.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_visible_ascii_up_to_200_bytes() {
        let longest = "x".repeat(200);
        for ok in ["a", "lead-9876-won", "evt_0190abc", "x.0", "urn:order:42/paid?v=1", longest.as_str()] {
            assert_eq!(EventId::parse(ok).map(|id| id.into_string()).as_deref(), Ok(ok), "{ok:?}");
        }
        let long = "x".repeat(201);
        let refused = [
            ("", NameError::Empty),
            (long.as_str(), NameError::TooLong { max: 200 }),
            ("a\nb", NameError::Control { at: 1, ch: '\n' }),
            ("ab\r", NameError::Control { at: 2, ch: '\r' }),
            ("\0", NameError::Control { at: 0, ch: '\0' }),
            ("a\u{7f}", NameError::Control { at: 1, ch: '\u{7f}' }),
            ("a b", NameError::NotVisibleAscii { at: 1, ch: ' ' }),
            ("café", NameError::NotVisibleAscii { at: 3, ch: 'é' }),
        ];
        for (id, error) in refused {
            assert_eq!(EventId::parse(id), Err(error), "{id:?}");
        }
        assert_eq!(
            EventId::parse("a\nb").unwrap_err().to_string(),
            "must not contain control characters ('\\n' at byte 1)"
        );
    }

    #[test]
    fn names_are_not_blank_and_have_no_control_characters() {
        for ok in ["production-v2", "Équipe ventes", "a b", "x"] {
            assert_eq!(check_name(ok, 100), Ok(()), "{ok:?}");
        }
        assert_eq!(check_name("", 100), Err(NameError::Empty));
        assert_eq!(check_name("   ", 100), Err(NameError::Blank));
        assert_eq!(check_name("abc", 2), Err(NameError::TooLong { max: 2 }));
        assert_eq!(check_name("a\0", 100), Err(NameError::Control { at: 1, ch: '\0' }));
        assert_eq!(check_name("a\tb", 100), Err(NameError::Control { at: 1, ch: '\t' }));
        assert_eq!(check_name("a\u{85}", 100), Err(NameError::Control { at: 1, ch: '\u{85}' }));
    }
}
