//! Flux's post-build variable substitution (kustomize-controller's `postBuild`), which
//! uses Flux's fork of drone/envsubst: `${VAR}`, `${VAR:=default}`, `${VAR=default}`,
//! `${VAR:-default}`, `${VAR-default}`, `$${VAR}` for a literal `${VAR}`. The brace-less
//! `$VAR` is left alone, as Flux's docs promise for scripts embedded in ConfigMaps. Written here because
//! no Rust crate implements exactly this subset and its non-strict rules (an undefined
//! variable without default becomes the empty string, and is reported).

use std::collections::BTreeMap;

/// What a variable is known to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    Value(String),
    /// Defined (a Secret's key) but the value is not readable here, or must not be shown.
    Hidden,
}

/// The variables of one Flux Kustomization's postBuild.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    pub bindings: BTreeMap<String, Binding>,
    /// Some source cannot be read here (a Secret made at run time, a SOPS file, an optional
    /// source that is absent): any variable may be defined, so none is "undefined" and an
    /// unbound one without default stays `${VAR}`, unresolved.
    pub open: bool,
}

/// The outcome of substituting one string.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Substitution {
    pub text: String,
    /// Variables used without default and without binding.
    pub undefined: Vec<String>,
    /// Variables whose value is not known here (hidden or possibly defined elsewhere).
    pub unresolved: Vec<String>,
}

impl Variables {
    pub fn set(&mut self, name: &str, binding: Binding) {
        self.bindings.insert(name.to_string(), binding);
    }

    fn lookup(&self, name: &str) -> Option<&Binding> {
        self.bindings.get(name)
    }

    /// Whether substitution runs at all: kustomize-controller skips it when no variable
    /// was found (`len(vars) > 0`).
    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty() && !self.open
    }

    /// Substitutes every variable in `text`. A hidden binding keeps the `${VAR}` text, so
    /// that no secret value can ever appear and the reader sees where it goes.
    pub fn substitute(&self, text: &str) -> Substitution {
        let mut out = Substitution::default();
        if !text.contains('$') {
            out.text = text.to_string();
            return out;
        }
        self.expand(text, &mut out);
        out
    }

    fn expand(&self, text: &str, out: &mut Substitution) {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'$' {
                let next = text[i..].find('$').map_or(text.len(), |n| i + n);
                out.text.push_str(&text[i..next]);
                i = next;
                continue;
            }
            match bytes.get(i + 1) {
                Some(b'$') => {
                    out.text.push('$');
                    i += 2;
                }
                Some(b'{') => match matching_brace(text, i + 1) {
                    Some(end) => {
                        self.expand_braced(&text[i + 2..end], &text[i..=end], out);
                        i = end + 1;
                    }
                    None => {
                        out.text.push_str(&text[i..]);
                        i = bytes.len();
                    }
                },
                _ => {
                    out.text.push('$');
                    i += 1;
                }
            }
        }
    }

    fn expand_braced(&self, inner: &str, whole: &str, out: &mut Substitution) {
        let name_len = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
        let (name, op) = inner.split_at(name_len);
        if name.is_empty() {
            out.text.push_str(whole);
            return;
        }
        let binding = self.lookup(name);
        let empty = matches!(binding, Some(Binding::Value(v)) if v.is_empty());
        let default = if let Some(d) = op.strip_prefix(":=").or_else(|| op.strip_prefix(":-")) {
            (binding.is_none() || empty).then_some(d)
        } else if let Some(d) = op.strip_prefix('=').or_else(|| op.strip_prefix('-')) {
            binding.is_none().then_some(d)
        } else {
            None
        };
        match default {
            Some(d) => self.expand(d, out),
            None => self.emit(name, whole, op, out),
        }
    }

    fn emit(&self, name: &str, whole: &str, op: &str, out: &mut Substitution) {
        match self.lookup(name) {
            Some(Binding::Value(v)) => out.text.push_str(&apply_operator(v, op)),
            Some(Binding::Hidden) => {
                out.text.push_str(whole);
                note(&mut out.unresolved, name);
            }
            None if self.open => {
                out.text.push_str(whole);
                note(&mut out.unresolved, name);
            }
            None => {
                let has_default = [":=", ":-", "=", "-"].iter().any(|p| op.starts_with(p));
                if !has_default {
                    note(&mut out.undefined, name);
                }
            }
        }
    }
}

/// The string operators drone/envsubst supports on a bound value, the common ones.
fn apply_operator(value: &str, op: &str) -> String {
    match op {
        "" => value.to_string(),
        "^" => capitalize(value, |c| c.to_uppercase().collect()),
        "^^" => value.to_uppercase(),
        "," => capitalize(value, |c| c.to_lowercase().collect()),
        ",," => value.to_lowercase(),
        _ => {
            if let Some(rest) = op.strip_prefix(':') {
                let mut parts = rest.splitn(2, ':');
                let start: usize = parts.next().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
                let chars: Vec<char> = value.chars().collect();
                let start = start.min(chars.len());
                let len = parts.next().and_then(|s| s.trim().parse().ok()).unwrap_or(chars.len() - start);
                return chars[start..(start + len).min(chars.len())].iter().collect();
            }
            value.to_string()
        }
    }
}

fn capitalize(value: &str, f: impl Fn(char) -> String) -> String {
    let mut chars = value.chars();
    match chars.next() {
        Some(c) => f(c) + chars.as_str(),
        None => String::new(),
    }
}

fn note(names: &mut Vec<String>, name: &str) {
    if !names.iter().any(|n| n == name) {
        names.push(name.to_string());
    }
}

fn matching_brace(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Variables {
        let mut v = Variables::default();
        v.set("APP", Binding::Value("web".into()));
        v.set("EMPTY", Binding::Value(String::new()));
        v.set("TOKEN", Binding::Hidden);
        v
    }

    #[test]
    fn forms() {
        let v = vars();
        let cases = [
            ("${APP}", "web"),
            ("$APP-x {{ $labels.job }}", "$APP-x {{ $labels.job }}"),
            ("./apps/${APP}/app", "./apps/web/app"),
            ("${MISSING:=base}", "base"),
            ("${MISSING:-base}", "base"),
            ("${EMPTY:=base}", "base"),
            ("${EMPTY=base}", ""),
            ("${MISSING=${APP}}", "web"),
            ("$${APP}", "${APP}"),
            ("${APP^^}", "WEB"),
            ("${TOKEN}", "${TOKEN}"),
            ("cost: 5$", "cost: 5$"),
        ];
        for (input, expected) in cases {
            let s = v.substitute(input);
            assert_eq!(s.text, expected, "{input}");
            assert!(s.undefined.is_empty(), "{input}");
        }
    }

    #[test]
    fn an_open_set_leaves_unknown_variables_unresolved_not_undefined() {
        let mut v = vars();
        v.open = true;
        let s = v.substitute("./deploy/${CLUSTER}/${APP}/${REGION:=eu}");
        assert_eq!(s.text, "./deploy/${CLUSTER}/web/eu");
        assert!(s.undefined.is_empty());
        assert_eq!(s.unresolved, vec!["CLUSTER".to_string()]);
    }

    #[test]
    fn undefined_without_default_is_empty_and_reported() {
        let s = vars().substitute("host: ${DOMAIN}.${DOMAIN}");
        assert_eq!(s.text, "host: .");
        assert_eq!(s.undefined, vec!["DOMAIN".to_string()]);
    }
}
