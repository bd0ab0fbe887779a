//! Plain YAML scalars as Go reads them: the text of a number → its value, and the text of a
//! scalar → what Flux's apply makes of it.
//!
//! Two Go readers matter. kustomize reads files with yaml.v3 and writes what it builds through
//! JSON, so an unquoted `0775` reaches the cluster as 509, `1_000` as 1000 and `7.0` as 7
//! (yaml.v3 `resolve.go`: integers through `strconv.ParseInt(text without '_', 0, 64)`, which
//! takes `0x`, `0o`, `0b` and a leading `0` for octal, then `ParseUint`, then floats of YAML's
//! pattern). kustomize-controller's postBuild re-reads each substituted manifest with
//! sigs.k8s.io/yaml (yaml.v2, YAML 1.1), where `yes`, `on`, `y` and their kin are booleans too
//! ([`resolve_v2`]). Written here because no Rust crate reads YAML the way either does.

use super::yaml::Value;

/// A number as Go's YAML readers resolve it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Uint(u64),
    Float(f64),
}

/// The number a plain scalar is, when it is one (yaml.v3's `resolve` for plain scalars).
/// Every plain scalar of every file comes here, and most are words: those are refused inline,
/// and only what starts like a number goes to the reader, kept out of the YAML event loop.
#[inline]
pub fn number(text: &str) -> Option<Number> {
    match text.as_bytes().first()? {
        b'.' | b'+' | b'-' | b'0'..=b'9' => read_number(text),
        _ => None,
    }
}

#[inline(never)]
fn read_number(text: &str) -> Option<Number> {
    let first = *text.as_bytes().first()?;
    match first {
        b'.' => match text {
            ".inf" | ".Inf" | ".INF" => Some(Number::Float(f64::INFINITY)),
            ".nan" | ".NaN" | ".NAN" => Some(Number::Float(f64::NAN)),
            _ => go_float(text).map(Number::Float),
        },
        b'+' | b'-' | b'0'..=b'9' => {
            match text {
                "+.inf" | "+.Inf" | "+.INF" => return Some(Number::Float(f64::INFINITY)),
                "-.inf" | "-.Inf" | "-.INF" => return Some(Number::Float(f64::NEG_INFINITY)),
                _ => {}
            }
            // Most numbers have no `_`: no copy then (every plain scalar of every file comes here).
            let plain: std::borrow::Cow<'_, str> = if text.contains('_') { text.replace('_', "").into() } else { text.into() };
            if let Some(i) = go_int(&plain) {
                return Some(Number::Int(i));
            }
            if let Some(u) = go_uint(&plain) {
                return Some(Number::Uint(u));
            }
            if is_yaml_float(&plain) {
                return go_float(&plain).map(Number::Float);
            }
            None
        }
        _ => None,
    }
}

/// `strconv.ParseInt(text, 0, 64)`: an optional sign, then `0x`, `0o`, `0b` or a leading `0`
/// (octal), else decimal.
fn go_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = go_uint(digits)?;
    if negative {
        if magnitude <= i64::MAX as u64 + 1 { Some((magnitude as i64).wrapping_neg()) } else { None }
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// `strconv.ParseUint(text, 0, 64)`.
fn go_uint(text: &str) -> Option<u64> {
    let lower = |prefix: &str| text.get(..2).is_some_and(|p| p.eq_ignore_ascii_case(prefix));
    let (radix, digits) = if lower("0x") {
        (16, &text[2..])
    } else if lower("0o") {
        (8, &text[2..])
    } else if lower("0b") {
        (2, &text[2..])
    } else if text.len() > 1 && text.starts_with('0') {
        (8, &text[1..])
    } else {
        (10, text)
    };
    if digits.is_empty() || !digits.bytes().all(|b| (b as char).is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// YAML's float pattern as yaml.v3 has it: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_yaml_float(text: &str) -> bool {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => !frac.is_empty() && digits(frac),
        Some((int, frac)) => digits(int) && digits(frac),
        None => !mantissa.is_empty() && digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

fn go_float(text: &str) -> Option<f64> {
    // Rust also reads `inf` and `nan`, which never reach here: the patterns above exclude them.
    text.parse::<f64>().ok()
}

/// A plain scalar as sigs.k8s.io/yaml (yaml.v2, YAML 1.1) reads it: what kustomize-controller
/// makes of a manifest's text after postBuild substitution. yaml.v3's numbers and literals,
/// and YAML 1.1's other booleans.
pub fn resolve_v2(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => Value::Bool(true),
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => Value::Bool(false),
        t if number(t).is_some() => Value::Number(t.to_string()),
        t => Value::Str(t.to_string()),
    }
}

/// Whether sigs.k8s.io/yaml (yaml.v2's emitter) writes `s` as a plain scalar, as it writes each
/// manifest before kustomize-controller substitutes in its text: single-line, read back as the
/// same string, and free of what YAML reads as syntax (libyaml's `analyze_scalar`).
pub fn written_plain(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return false };
    let blank = |c: char| c == ' ' || c == '\t';
    let followed_by_blank = |i: usize| s[i + 1..].chars().next().is_none_or(blank);
    if s.contains(['\n', '\r']) || s.starts_with(blank) || s.ends_with(blank) || s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    if "#,[]{}&*!|>'\"%@`".contains(first) || ("?:-".contains(first) && followed_by_blank(0)) {
        return false;
    }
    let syntax = s.char_indices().any(|(i, c)| (c == ':' && followed_by_blank(i)) || (c == '#' && s[..i].ends_with(blank)) || c.is_control());
    !syntax && matches!(resolve_v2(s), Value::Str(_)) && !is_base60(s)
}

/// yaml.v2's sexagesimal floats (`1:20`), which its emitter quotes.
fn is_base60(s: &str) -> bool {
    let t = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let mut parts = int.split(':');
    let head = parts.next().unwrap_or("");
    let rest: Vec<&str> = parts.collect();
    !rest.is_empty()
        && head.starts_with(|c: char| c.is_ascii_digit())
        && head.bytes().all(|b| b.is_ascii_digit() || b == b'_')
        && rest.iter().all(|p| (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u32>().is_ok_and(|n| n < 60))
        && frac.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

/// What a plain scalar's text is once read again as sigs.k8s.io/yaml reads it (YAML 1.1): the
/// value of `key: TEXT`. Text that YAML takes for syntax (`[a, b]`, `"quoted"`, `a: b`) is read
/// as such; what it cannot read is the error kustomize-controller reports.
pub fn reread(text: &str) -> Result<super::Node, super::LoadError> {
    let simple = text.chars().next().is_some_and(|c| c.is_alphanumeric() || "$/._(~+=".contains(c))
        && !text.ends_with([' ', '\t', ':'])
        && !text.contains(": ")
        && !text.contains(" #")
        && !text.contains(['\n', '\r']);
    if simple {
        return Ok(super::Node::new(0, resolve_v2(text)));
    }
    let doc = format!("v: {text}\n");
    match super::yaml::parse_documents_with(&doc, super::yaml::Schema::Yaml11).into_iter().next() {
        Some(Ok(d)) => d.root.get("v").cloned().ok_or_else(|| super::LoadError::Scalar("not a value".to_string())),
        Some(Err(e)) => Err(super::LoadError::Scalar(e.message)),
        None => Ok(super::Node::new(0, Value::Null)),
    }
}

impl Number {
    /// As encoding/json writes it: an integral float without a fraction (`7.0` is `7`).
    pub fn to_json(self) -> Option<serde_json::Value> {
        match self {
            Number::Int(i) => Some(i.into()),
            Number::Uint(u) => Some(u.into()),
            Number::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 => Some((f as i64).into()),
            Number::Float(f) => serde_json::Number::from_f64(f).map(serde_json::Value::Number),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_as_go_parses_them_with_base_zero() {
        assert_eq!(number("0775"), Some(Number::Int(509)));
        assert_eq!(number("0o17"), Some(Number::Int(15)));
        assert_eq!(number("0x1F"), Some(Number::Int(31)));
        assert_eq!(number("-0x1F"), Some(Number::Int(-31)));
        assert_eq!(number("0b101"), Some(Number::Int(5)));
        assert_eq!(number("1_000"), Some(Number::Int(1000)));
        assert_eq!(number("+1"), Some(Number::Int(1)));
        assert_eq!(number("0"), Some(Number::Int(0)));
        assert_eq!(number("18446744073709551615"), Some(Number::Uint(u64::MAX)));
    }

    #[test]
    fn floats_follow_yamls_pattern() {
        assert_eq!(number("1.10"), Some(Number::Float(1.1)));
        assert_eq!(number("1e3"), Some(Number::Float(1000.0)));
        assert_eq!(number("5."), Some(Number::Float(5.0)));
        assert_eq!(number(".5"), Some(Number::Float(0.5)));
        assert_eq!(number("08"), Some(Number::Float(8.0)), "not octal, so a float, as in Go");
        for text in ["1.2.3", "0x", "1e", "-", ".", "v1", "2001-12-14", "1:20", "inf", "nan", "0xZ"] {
            assert_eq!(number(text), None, "{text}");
        }
    }

    #[test]
    fn json_writes_integral_floats_as_integers() {
        assert_eq!(number("7.0").unwrap().to_json(), Some(serde_json::json!(7)));
        assert_eq!(number("0.25").unwrap().to_json(), Some(serde_json::json!(0.25)));
        assert_eq!(number(".inf").unwrap().to_json(), None);
    }

    #[test]
    fn strings_written_plain_and_read_again() {
        for plain in ["${APP}", "https://${HOST}/x", "a:b", "-x", "${A}#x"] {
            assert!(written_plain(plain), "{plain}");
        }
        for quoted in ["", " x", "x ", "a: b", "a #b", "#x", "*x", "- x", "yes", "8080", "1:20", "two\nlines", "x:"] {
            assert!(!written_plain(quoted), "{quoted:?}");
        }
        assert_eq!(reread("8080").unwrap().value, Value::Number("8080".into()));
        assert_eq!(reread("\"H * * * *\"").unwrap().value, Value::Str("H * * * *".into()));
        assert_eq!(reread("null").unwrap().value, Value::Null);
        assert_eq!(reread("[a, b]").unwrap().as_seq().len(), 2);
        assert!(reread("a: b").is_err(), "a mapping where a value goes");
    }

    #[test]
    fn yaml_1_1_booleans_after_substitution() {
        assert_eq!(resolve_v2("yes"), Value::Bool(true));
        assert_eq!(resolve_v2("Off"), Value::Bool(false));
        assert_eq!(resolve_v2(""), Value::Null);
        assert_eq!(resolve_v2("8080"), Value::Number("8080".into()));
        assert_eq!(resolve_v2("web"), Value::Str("web".into()));
    }
}
