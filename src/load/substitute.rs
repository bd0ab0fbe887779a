//! Flux's post-build variable substitution: a manifest's text and a Kustomization's variables →
//! the text kustomize-controller applies (fluxcd/pkg `kustomize/kustomize_varsub.go`, through
//! Flux's fork of drone/envsubst).
//!
//! Only `${…}` is expanded; `$$` is a `$`, and the brace-less `$VAR` is left alone, as Flux's
//! docs promise for scripts in ConfigMaps. Inside the braces: `${VAR}`, the defaults
//! `${VAR:=x}`, `${VAR:-x}`, `${VAR=x}` (all taken when the value is empty, defined or not), and
//! drone's string functions (`^`, `^^`, `,`, `,,`, `#`, `##`, `%`, `%%`, `/`, `//`, `/#`, `/%`,
//! `:offset:length`, `${#VAR}`). What the fork cannot parse (`${VAR-x}`, a missing brace) is an
//! error that fails the build. Not strict: an undefined variable without default becomes the
//! empty string (and is reported). A variable whose value is not known here (a Secret's, or one
//! any unreadable source may define) keeps its whole `${…}` text. Written here because no Rust
//! crate implements this fork's grammar and its non-strict rules.

use std::collections::BTreeMap;

use super::LoadError;

/// What a variable is known to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    Value(String),
    /// Defined (a Secret's key) but the value is not readable here, or must not be shown.
    Hidden,
    /// A value that still holds a `${…}` its writer could not know (a parent's substitution left
    /// it): substituted as written, but what Flux substitutes is not known here.
    Partial(String),
}

/// The variables of one Flux Kustomization's postBuild.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    pub bindings: BTreeMap<String, Binding>,
    /// Some source cannot be read here (a Secret made at run time, a missing required source):
    /// any variable may be defined, so none is "undefined" and an unbound one keeps its `${…}`.
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
    /// Variables whose values were substituted.
    pub used: Vec<String>,
}

/// What a lookup of one name finds.
enum Found<'a> {
    Known(&'a str),
    Partial(&'a str),
    Unknown,
    Undefined,
}

impl Variables {
    pub fn set(&mut self, name: &str, binding: Binding) {
        self.bindings.insert(name.to_string(), binding);
    }

    fn lookup(&self, name: &str) -> Found<'_> {
        match self.bindings.get(name) {
            Some(Binding::Value(v)) => Found::Known(v),
            Some(Binding::Hidden) => Found::Unknown,
            Some(Binding::Partial(v)) => Found::Partial(v),
            None if self.open => Found::Unknown,
            None => Found::Undefined,
        }
    }

    /// Whether substitution runs at all: kustomize-controller skips it when no variable
    /// was found (`len(vars) > 0`).
    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty() && !self.open
    }

    /// A variable name Flux refuses (`^[_[:alpha:]][_[:alpha:][:digit:]]*$`), which fails the
    /// substitution of every object.
    pub fn invalid_name(&self) -> Option<&str> {
        self.bindings.keys().map(String::as_str).find(|n| !valid_name(n))
    }

    /// Substitutes every variable in `text`; text the fork cannot parse is left as it is.
    pub fn substitute(&self, text: &str) -> Substitution {
        self.expand(text).unwrap_or_else(|_| Substitution { text: text.to_string(), ..Substitution::default() })
    }

    /// Substitutes every variable in `text`; `Err` is the fork's parse error.
    pub fn expand(&self, text: &str) -> Result<Substitution, LoadError> {
        let mut out = Substitution::default();
        if !text.contains('$') {
            out.text = text.to_string();
            return Ok(out);
        }
        let nodes = Parser { s: text }.parse()?;
        for node in &nodes {
            let part = self.eval(node, text, &mut out);
            out.text.push_str(&part);
        }
        Ok(out)
    }

    fn eval(&self, node: &Expr, text: &str, out: &mut Substitution) -> String {
        let Expr::Func { op, name, args, span } = node else {
            let Expr::Text(t) = node else { unreachable!() };
            return t.clone();
        };
        let value = match self.lookup(name) {
            Found::Unknown => {
                note(&mut out.unresolved, name);
                return text[span.0..span.1].to_string();
            }
            Found::Known(v) => {
                note(&mut out.used, name);
                v.to_string()
            }
            Found::Partial(v) => {
                note(&mut out.used, name);
                note(&mut out.unresolved, name);
                v.to_string()
            }
            Found::Undefined => {
                if !DEFAULTS.contains(&op.as_str()) {
                    note(&mut out.undefined, name);
                }
                String::new()
            }
        };
        let args: Vec<String> = args.iter().map(|a| self.eval(a, text, out)).collect();
        apply(op, &value, &args)
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic()) && chars.all(|c| c == '_' || c.is_alphanumeric())
}

fn note(names: &mut Vec<String>, name: &str) {
    if !names.iter().any(|n| n == name) {
        names.push(name.to_string());
    }
}

/// The operators that take a default; in the fork's non-strict mode each gives its argument
/// when the value is empty.
const DEFAULTS: [&str; 8] = ["=", ":=", ":-", ":?", ":+", "-", "+", "?"];

/// A parsed piece of text: text as it is, or a `${…}` with the span it was written in.
enum Expr {
    Text(String),
    Func { op: String, name: String, args: Vec<Expr>, span: (usize, usize) },
}

/// The fork's parser (drone/envsubst `parse`), over the byte positions of `s`.
struct Parser<'a> {
    s: &'a str,
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

impl Parser<'_> {
    fn at(&self, i: usize) -> Option<char> {
        self.s.get(i..).and_then(|r| r.chars().next())
    }

    fn is(&self, i: usize, set: &str) -> bool {
        self.at(i).is_some_and(|c| set.contains(c))
    }

    fn lbrack(&self, i: usize) -> bool {
        self.s[i..].starts_with("${")
    }

    fn parse(&self) -> Result<Vec<Expr>, LoadError> {
        let (mut i, mut buf, mut nodes) = (0, String::new(), Vec::new());
        while let Some(c) = self.at(i) {
            if self.lbrack(i) {
                if !buf.is_empty() {
                    nodes.push(Expr::Text(std::mem::take(&mut buf)));
                }
                let (node, next) = self.func(i + 2, i)?;
                nodes.push(node);
                i = next;
            } else if self.s[i..].starts_with("$$") {
                buf.push('$');
                i += 2;
            } else {
                buf.push(c);
                i += c.len_utf8();
            }
        }
        if !buf.is_empty() {
            nodes.push(Expr::Text(buf));
        }
        Ok(nodes)
    }

    /// Text up to a `stop` character, a `${` or the end.
    fn text(&self, mut k: usize, stop: &str, escapes: bool) -> (String, usize) {
        let mut out = String::new();
        while let Some(c) = self.at(k) {
            if stop.contains(c) || self.lbrack(k) {
                break;
            }
            if escapes && c == '\\' && self.is(k + 1, "/\\") {
                out.push(self.at(k + 1).unwrap_or('\\'));
                k += 2;
                continue;
            }
            if escapes && self.s[k..].starts_with("$$") {
                out.push('$');
                k += 2;
                continue;
            }
            out.push(c);
            k += c.len_utf8();
        }
        (out, k)
    }

    /// One argument: a nested `${…}` or a non-empty text.
    fn param(&self, k: usize, stop: &str, escapes: bool) -> Result<(Expr, usize), LoadError> {
        if k < self.s.len() && self.lbrack(k) {
            return self.func(k + 2, k);
        }
        if k >= self.s.len() || self.is(k, stop) {
            return Err(LoadError::Substitution("unable to parse substitution within function"));
        }
        let (text, k) = self.text(k, stop, escapes);
        Ok((Expr::Text(text), k))
    }

    fn close(&self, k: usize, start: usize, op: &str, name: &str, args: Vec<Expr>) -> Result<(Expr, usize), LoadError> {
        if self.at(k) != Some('}') {
            return Err(LoadError::Substitution("bad substitution"));
        }
        Ok((Expr::Func { op: op.into(), name: name.into(), args, span: (start, k + 1) }, k + 1))
    }

    fn func(&self, i: usize, start: usize) -> Result<(Expr, usize), LoadError> {
        let ident_end = |from: usize| {
            let mut j = from;
            while let Some(c) = self.at(j).filter(|c| is_ident(*c)) {
                j += c.len_utf8();
            }
            j
        };
        if self.at(i) == Some('#') {
            let j = ident_end(i + 1);
            if j == i + 1 {
                return Err(LoadError::Substitution("bad substitution"));
            }
            return self.close(j, start, "#", &self.s[i + 1..j], Vec::new());
        }
        let j = ident_end(i);
        if j == i {
            return Err(LoadError::Substitution("unable to parse variable name"));
        }
        let name = &self.s[i..j];
        match self.at(j) {
            Some(':') if self.is(j + 1, "=-?+") => self.default(name, &self.s[j..j + 2], j + 2, start),
            Some(':') => self.substring(name, j + 1, start),
            Some('=') => self.default(name, "=", j + 1, start),
            Some(',' | '^') => {
                let k = if self.is(j + 1, ",^") { j + 2 } else { j + 1 };
                self.close(k, start, &self.s[j..k], name, Vec::new())
            }
            Some('/') => {
                let mut k = if self.is(j + 1, "/#%") { j + 2 } else { j + 1 };
                let op = &self.s[j..k];
                let (pattern, next) = self.param(k, "/", true)?;
                k = next;
                if self.at(k) != Some('/') {
                    return Err(LoadError::Substitution("bad substitution"));
                }
                while self.at(k) == Some('/') {
                    k += 1;
                }
                if self.at(k) == Some('}') {
                    return Ok((Expr::Func { op: op.into(), name: name.into(), args: vec![pattern], span: (start, k + 1) }, k + 1));
                }
                let (replacement, k) = self.param(k, "}", true)?;
                self.close(k, start, op, name, vec![pattern, replacement])
            }
            Some(c @ ('#' | '%')) => {
                let k = if self.at(j + 1) == Some(c) { j + 2 } else { j + 1 };
                let op = &self.s[j..k];
                let (arg, k) = self.param(k, "}", false)?;
                self.close(k, start, op, name, vec![arg])
            }
            Some('}') => Ok((Expr::Func { op: String::new(), name: name.into(), args: Vec::new(), span: (start, j + 1) }, j + 1)),
            _ => Err(LoadError::Substitution("missing closing brace")),
        }
    }

    fn default(&self, name: &str, op: &str, mut k: usize, start: usize) -> Result<(Expr, usize), LoadError> {
        let mut args = Vec::new();
        loop {
            match self.at(k) {
                None => return Err(LoadError::Substitution("unable to parse substitution within function")),
                Some('}') => return Ok((Expr::Func { op: op.into(), name: name.into(), args, span: (start, k + 1) }, k + 1)),
                Some(_) => {
                    let (node, next) = self.param(k, "}", false)?;
                    args.push(node);
                    k = next;
                }
            }
        }
    }

    fn substring(&self, name: &str, k: usize, start: usize) -> Result<(Expr, usize), LoadError> {
        let (first, mut k) = self.param(k, ":}", false)?;
        if self.at(k) == Some('}') {
            return Ok((Expr::Func { op: ":".into(), name: name.into(), args: vec![first], span: (start, k + 1) }, k + 1));
        }
        if self.at(k) != Some(':') {
            return Err(LoadError::Substitution("bad substitution"));
        }
        while self.at(k) == Some(':') {
            k += 1;
        }
        let (second, k) = self.param(k, "}", false)?;
        self.close(k, start, ":", name, vec![first, second])
    }
}

/// One operator of the fork on a value (`v`, empty when undefined) and its arguments.
fn apply(op: &str, v: &str, args: &[String]) -> String {
    if DEFAULTS.contains(&op) {
        return if v.is_empty() && !args.is_empty() { args.concat() } else { v.to_string() };
    }
    let first = |f: fn(char) -> String| {
        let mut chars = v.chars();
        chars.next().map_or(String::new(), |c| f(c) + chars.as_str())
    };
    match op {
        "" => v.to_string(),
        "," => first(|c| c.to_lowercase().collect()),
        ",," => v.to_lowercase(),
        "^" => first(|c| c.to_uppercase().collect()),
        "^^" => v.to_uppercase(),
        "#" if args.is_empty() => v.len().to_string(),
        "#" => trim(v, &args[0], false, false),
        "##" => trim(v, &args[0], true, false),
        "%" => trim(v, &args[0], false, true),
        "%%" => trim(v, &args[0], true, true),
        ":" => substring(v, args),
        "/" => v.replacen(&args[0], args.get(1).map_or("", String::as_str), 1),
        "//" => v.replace(&args[0], args.get(1).map_or("", String::as_str)),
        "/#" => match (v.strip_prefix(args[0].as_str()), args.get(1)) {
            (Some(rest), Some(new)) => format!("{new}{rest}"),
            _ => v.to_string(),
        },
        "/%" => match (v.strip_suffix(args[0].as_str()), args.get(1)) {
            (Some(rest), Some(new)) => format!("{rest}{new}"),
            _ => v.to_string(),
        },
        _ => if v.is_empty() && !args.is_empty() { args.concat() } else { v.to_string() },
    }
}

/// `${VAR:offset}` and `${VAR:offset:length}`, on bytes as Go slices strings.
fn substring(v: &str, args: &[String]) -> String {
    let bytes = v.as_bytes();
    let Ok(offset) = args[0].trim().parse::<i64>() else { return v.to_string() };
    let start = if offset < 0 { (bytes.len() as i64 + offset).max(0) as usize } else { offset as usize };
    if start >= bytes.len() {
        return String::new();
    }
    let end = match args.get(1) {
        None => bytes.len(),
        Some(length) => match length.trim().parse::<i64>() {
            Ok(length) => (start as i64 + length).clamp(start as i64, bytes.len() as i64) as usize,
            Err(_) => return v.to_string(),
        },
    };
    String::from_utf8_lossy(&bytes[start..end]).into_owned()
}

/// `#`/`##` (prefix) and `%`/`%%` (suffix): removes the shortest (or longest) match of a glob
/// whose `*` and `?` also match `/`.
fn trim(v: &str, pattern: &str, longest: bool, suffix: bool) -> String {
    let chars: Vec<char> = v.chars().collect();
    let mut lengths: Vec<usize> = (0..=chars.len()).collect();
    if longest {
        lengths.reverse();
    }
    for n in lengths {
        let part: String = if suffix { chars[chars.len() - n..].iter().collect() } else { chars[..n].iter().collect() };
        if n > 0 && glob(pattern, &part) {
            let rest: String = if suffix { chars[..chars.len() - n].iter().collect() } else { chars[n..].iter().collect() };
            return rest;
        }
    }
    v.to_string()
}

/// Go's `path.Match` with `*` and `?` crossing `/`, and `[…]` classes.
fn glob(pattern: &str, text: &str) -> bool {
    fn matches(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len()).any(|i| matches(&p[1..], &t[i..])),
            Some('?') => !t.is_empty() && matches(&p[1..], &t[1..]),
            Some('[') => {
                let Some(end) = p.iter().skip(2).position(|&c| c == ']').map(|e| e + 2) else { return false };
                let Some(&c) = t.first() else { return false };
                let (negate, class) = match p[1] {
                    '^' => (true, &p[2..end]),
                    _ => (false, &p[1..end]),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        hit |= class[i] <= c && c <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == c;
                        i += 1;
                    }
                }
                hit != negate && matches(&p[end + 1..], &t[1..])
            }
            Some('\\') if p.len() > 1 => t.first() == Some(&p[1]) && matches(&p[2..], &t[1..]),
            Some(c) => t.first() == Some(c) && matches(&p[1..], &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    matches(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Variables {
        let mut v = Variables::default();
        v.set("APP", Binding::Value("web".into()));
        v.set("EMPTY", Binding::Value(String::new()));
        v.set("TOKEN", Binding::Hidden);
        v.set("VERSION", Binding::Value("v1.2.3".into()));
        v.set("HOST", Binding::Value("a.example.com".into()));
        v
    }

    fn text(v: &Variables, input: &str) -> String {
        v.expand(input).unwrap().text
    }

    #[test]
    fn forms_of_the_fork() {
        let v = vars();
        let cases = [
            ("${APP}", "web"),
            ("$APP-x {{ $labels.job }}", "$APP-x {{ $labels.job }}"),
            ("./apps/${APP}/app", "./apps/web/app"),
            ("${MISSING:=base}", "base"),
            ("${MISSING:-base}", "base"),
            ("${EMPTY:=base}", "base"),
            ("${EMPTY=base}", "base"),
            ("${MISSING=${APP}}", "web"),
            ("$${APP}", "${APP}"),
            ("${APP^^}", "WEB"),
            ("${APP^}", "Web"),
            ("${VERSION#v}", "1.2.3"),
            ("${HOST%%.*}", "a"),
            ("${HOST#*.}", "example.com"),
            ("${HOST/example/other}", "a.other.com"),
            ("${APP:1}", "eb"),
            ("${APP:0:2}", "we"),
            ("${#APP}", "3"),
            ("${TOKEN}", "${TOKEN}"),
            ("cost: 5$", "cost: 5$"),
        ];
        for (input, expected) in cases {
            let s = v.expand(input).unwrap();
            assert_eq!(s.text, expected, "{input}");
            assert!(s.undefined.is_empty(), "{input}");
        }
        assert_eq!(v.expand("${APP}-${HOST}").unwrap().used, ["APP", "HOST"]);
    }

    #[test]
    fn what_the_fork_cannot_parse_is_an_error() {
        let v = vars();
        assert_eq!(v.expand("${APP-x}").unwrap_err().to_string(), "missing closing brace");
        assert_eq!(v.expand("${APP").unwrap_err().to_string(), "missing closing brace");
        assert_eq!(v.expand("${}").unwrap_err().to_string(), "unable to parse variable name");
        assert_eq!(v.expand("${APP:}").unwrap_err().to_string(), "unable to parse substitution within function");
        assert_eq!(v.expand("${MISSING:=}").unwrap().text, "", "an empty default is allowed");
    }

    #[test]
    fn an_open_set_keeps_unknown_variables_whole_defaults_included() {
        let mut v = vars();
        v.open = true;
        let s = v.expand("./deploy/${CLUSTER}/${APP}/${REGION:=eu}").unwrap();
        assert_eq!(s.text, "./deploy/${CLUSTER}/web/${REGION:=eu}");
        assert!(s.undefined.is_empty());
        assert_eq!(s.unresolved, ["CLUSTER", "REGION"]);
    }

    #[test]
    fn undefined_without_default_is_empty_and_reported() {
        let s = vars().expand("host: ${DOMAIN}.${DOMAIN}").unwrap();
        assert_eq!(s.text, "host: .");
        assert_eq!(s.undefined, vec!["DOMAIN".to_string()]);
        assert_eq!(text(&vars(), "${DOMAIN:=x}"), "x");
    }

    #[test]
    fn names_flux_refuses() {
        let mut v = vars();
        assert_eq!(v.invalid_name(), None);
        v.set("BAD-NAME", Binding::Value("x".into()));
        assert_eq!(v.invalid_name(), Some("BAD-NAME"));
    }
}
