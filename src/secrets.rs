//! Every secret the process holds (credentials, the model's key, the
//! webhook URL, a database password), so any text that came from a peer can
//! be redacted of them before it is logged, stored or reported: a peer's
//! error body may echo the `Authorization` header it was sent.
//!
//! The set is process-wide on purpose: secrets are read in a few places
//! (`http::secret_env`, the model's key, the notify and database URLs) and a
//! peer's text can surface in any error; one registry, filled where a secret
//! is read and consulted wherever outside text is turned into a message (and
//! by the log writer, for everything else), is the one thing that cannot be
//! forgotten at a call site.

use std::sync::RwLock;

use secrecy::{ExposeSecret, SecretString};

static HELD: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// What a redacted secret reads as.
pub const REDACTED: &str = "***";

/// Remembers a secret's value (values shorter than four characters could
/// not be told from ordinary text and are not held).
pub fn hold(secret: &SecretString) {
    hold_str(secret.expose_secret());
}

pub fn hold_str(value: &str) {
    let value = value.trim();
    if value.chars().count() < 4 {
        return;
    }
    let mut held = HELD.write().expect("secrets lock");
    if !held.iter().any(|h| h == value) {
        held.push(value.to_string());
        // Longest first: a secret that contains another is replaced whole.
        held.sort_by_key(|h| std::cmp::Reverse(h.len()));
    }
}

/// `text` with every held secret, and every `Bearer …` / `Basic …`
/// credential whatever its value, replaced by `***`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    for h in HELD.read().expect("secrets lock").iter() {
        if out.contains(h.as_str()) {
            out = out.replace(h.as_str(), REDACTED);
        }
    }
    redact_schemes(&out)
}

/// Replaces the token after `Bearer ` or `Basic ` (any case).
fn redact_schemes(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let rest = &lower[i..];
        let scheme = ["bearer ", "basic "].into_iter().find(|s| rest.starts_with(s));
        let at_word = i == 0 || !text.as_bytes()[i - 1].is_ascii_alphanumeric();
        match scheme {
            Some(s) if at_word => {
                let start = i + s.len();
                let token_len = text[start..]
                    .bytes()
                    .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'='))
                    .count();
                out.push_str(&text[i..start]);
                if token_len >= 4 {
                    out.push_str(REDACTED);
                } else {
                    out.push_str(&text[start..start + token_len]);
                }
                i = start + token_len;
            }
            _ => {
                let c = text[i..].chars().next().expect("in bounds");
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

/// A log writer that redacts each line before it reaches the stream.
pub struct RedactingWriter<W>(pub W);

impl<W: std::io::Write> std::io::Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_values_and_credential_schemes_are_redacted() {
        hold_str("sk-test-0123456789");
        hold_str("ab"); // too short to hold
        let t = redact("Incorrect API key provided: sk-test-0123456789; auth Bearer abc.DEF-123 and basic Y2tfeDpjc195 ok; ab stays");
        assert_eq!(t, "Incorrect API key provided: ***; auth Bearer *** and basic *** ok; ab stays");
        // A word that merely ends in "basic" is not a scheme.
        assert_eq!(redact("nonbasic value"), "nonbasic value");
        assert_eq!(redact("héllo Bearer xyz9 é"), "héllo Bearer *** é");
    }
}
