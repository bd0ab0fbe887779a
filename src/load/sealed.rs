//! Sealed: the value of a Secret → something that can only be hashed.
//!
//! kustomize names a generated Secret after a hash of its data, so the data must be read; but a
//! Secret's value must never be shown or kept readable. A [`Sealed`] holds the bytes and offers
//! nothing but feeding their base64 to a hasher: no `Display`, no `Serialize`, no accessor, and a
//! `Debug` that prints only the length.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A secret value that can only be hashed.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(Arc<[u8]>);

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed({} bytes)", self.0.len())
    }
}

impl Sealed {
    pub fn new(bytes: impl Into<Arc<[u8]>>) -> Sealed {
        Sealed(bytes.into())
    }

    /// An env file's `KEY=VALUE` lines as kustomize reads them (`api/kv/kv.go`,
    /// `KeyValuesFromLines`): leading blanks trimmed, `#` lines and blank lines skipped, the value
    /// taken as it is after the first `=`. A key without `=` takes its value from kustomize's
    /// environment, unknown here: `None`.
    pub fn env_pairs(&self) -> Vec<(String, Option<Sealed>)> {
        let text = String::from_utf8_lossy(&self.0);
        env_lines(&text).map(|(k, v)| (k.to_string(), v.map(|v| Sealed::new(v.as_bytes())))).collect()
    }

    /// Feeds the base64 of the value to `feed`, as a generated Secret's `data` holds it.
    pub fn feed_base64(&self, feed: &mut impl FnMut(&[u8])) {
        feed(STANDARD.encode(&self.0).as_bytes());
    }
}

/// The `KEY=VALUE` pairs of an env file's text (see [`Sealed::env_pairs`]).
pub fn env_lines(text: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines().map(str::trim_start).filter(|l| !l.is_empty() && !l.starts_with('#')).map(|line| match line.split_once('=') {
        Some((key, value)) => (key, Some(value)),
        None => (line, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_length_never_the_value() {
        let sealed = Sealed::new(b"hunter2".as_slice());
        assert_eq!(format!("{sealed:?}"), "Sealed(7 bytes)");
    }

    #[test]
    fn env_pairs_keep_values_as_written() {
        let pairs = Sealed::new(b"# c\n  A=1 \nB=\"q\"\nFROM_ENV\n\n".as_slice()).env_pairs();
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["A", "B", "FROM_ENV"]);
        let mut fed = Vec::new();
        pairs[0].1.as_ref().unwrap().feed_base64(&mut |b| fed.extend_from_slice(b));
        assert_eq!(fed, b"MSA=", "the value keeps its trailing blank");
        assert!(pairs[2].1.is_none());
    }
}
