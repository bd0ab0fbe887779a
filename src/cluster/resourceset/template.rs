//! Go templates as flux-operator renders a ResourceSet's: `<<` `>>` delimiters,
//! `missingkey=error`, a nil dot, `inputs` (a function giving the current input set), and
//! the functions templates in the wild use: sprig's (`default`, `get`, `dig`, `quote`…),
//! `slugify` and `toYaml`. A `resources` entry is a YAML object whose strings hold
//! templates: it is written out as YAML text ([`to_yaml`]), rendered, and read back, as
//! flux-operator does with sigs.k8s.io/yaml.
//!
//! Rendering has a [`Budget`] beside gotmpl's iteration budget: bytes written by one template
//! and by the whole repository, and time for one template and for the whole repository. What
//! is written is counted as it is written; every function call first checks the time and
//! the size of its arguments, and the functions that multiply text (`replace`, `indent`,
//! `print`, `printf`, the escapers…) the size of what they would make, so that no value grows
//! beyond the budget unseen. A rendering over a budget fails, saying which ([`Over`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gotmpl::{FuncMap, MissingKey, Template, TemplateError, Value};

use crate::load::yaml::plain_scalar;
use crate::load::{Node, Value as Yaml};

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    /// Go's wording, with the template's line and column when parsing failed.
    pub message: String,
    /// The function the template calls that fluxgraph does not provide: flux-operator,
    /// which has all of sprig, may well render it.
    pub unknown_function: Option<String>,
    /// The budget the rendering went over, when that is why it stopped.
    pub over: Option<Over>,
}

/// How much rendering ResourceSets may write and take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes one template may write with one input set (and the largest value it may make).
    pub template_bytes: usize,
    /// Bytes every template of a repository may write in all.
    pub repository_bytes: u64,
    pub template_time: Duration,
    pub repository_time: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { template_bytes: 16 << 20, repository_bytes: 256 << 20, template_time: Duration::from_secs(10), repository_time: Duration::from_secs(60) }
    }
}

/// Which budget a rendering went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    TemplateBytes,
    RepositoryBytes,
    TemplateTime,
    RepositoryTime,
    /// A value nested deeper than [`MAX_NESTING`].
    Nesting,
}

/// How deep a template's values may nest (`list (list (list …))`): every function that walks
/// a value (`toJson`, `toYaml`, comparisons, freeing it) recurses once per level, so a value
/// nested without bound would overflow the stack.
pub const MAX_NESTING: usize = 100;

impl Over {
    /// What was over, and by which budget, for a diagnostic.
    pub fn describe(self, limits: &Limits) -> String {
        let mib = |b: u64| b >> 20;
        match self {
            Over::TemplateBytes => format!("it renders more than {} MiB, the output budget of one template", mib(limits.template_bytes as u64)),
            Over::RepositoryBytes => format!("the ResourceSets of the repository render more than {} MiB, the output budget of a repository", mib(limits.repository_bytes)),
            Over::TemplateTime => format!("it renders for more than {} s, the time budget of one template", limits.template_time.as_secs()),
            Over::RepositoryTime => format!("the ResourceSets of the repository render for more than {} s, the time budget of a repository", limits.repository_time.as_secs()),
            Over::Nesting => format!("it makes a value nested more than {MAX_NESTING} deep, the most fluxgraph renders"),
        }
    }
}

/// What the rendering of one repository has spent, shared by the threads that render.
#[derive(Debug, Clone)]
pub struct Budget {
    limits: Limits,
    written: Arc<AtomicU64>,
    /// Time spent rendering, summed over the renderings that ended (nanoseconds).
    spent: Arc<AtomicU64>,
}

impl Budget {
    pub fn new(limits: Limits) -> Budget {
        Budget { limits, written: Arc::default(), spent: Arc::default() }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

/// One rendering's share of the budget: when it started, what it wrote, and which budget it
/// went over first. Its time is added to the repository's when it ends.
struct Meter {
    budget: Budget,
    started: Instant,
    written: AtomicUsize,
    over: Mutex<Option<Over>>,
}

impl Drop for Meter {
    fn drop(&mut self) {
        let nanos = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.budget.spent.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl Meter {
    fn new(budget: &Budget) -> Meter {
        Meter { budget: budget.clone(), started: Instant::now(), written: AtomicUsize::new(0), over: Mutex::new(None) }
    }

    /// Records `over` (the first one stays) and gives the error that stops the rendering.
    fn refuse(&self, over: Over) -> TemplateError {
        self.over.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(over);
        TemplateError::Exec(over.describe(&self.budget.limits))
    }

    fn over(&self) -> Option<Over> {
        *self.over.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_time(&self) -> Result<(), TemplateError> {
        let elapsed = self.started.elapsed();
        let before = Duration::from_nanos(self.budget.spent.load(Ordering::Relaxed));
        if before + elapsed > self.budget.limits.repository_time {
            return Err(self.refuse(Over::RepositoryTime));
        }
        if elapsed > self.budget.limits.template_time {
            return Err(self.refuse(Over::TemplateTime));
        }
        Ok(())
    }

    /// Whether a value of `size` bytes may be made.
    fn fits(&self, size: usize) -> Result<(), TemplateError> {
        if size > self.budget.limits.template_bytes { Err(self.refuse(Over::TemplateBytes)) } else { Ok(()) }
    }

    /// Whether `values` fit: in size, and in how deep they nest.
    fn fits_values(&self, values: &[Value]) -> Result<(), TemplateError> {
        match size_of(values, self.budget.limits.template_bytes) {
            Some(size) => self.fits(size),
            None => Err(self.refuse(Over::Nesting)),
        }
    }

    /// Takes `len` written bytes from this template's budget and the repository's.
    fn write(&self, len: usize) -> Result<(), TemplateError> {
        self.check_time()?;
        let written = self.written.fetch_add(len, Ordering::Relaxed) + len;
        self.fits(written)?;
        let total = self.budget.written.fetch_add(len as u64, Ordering::Relaxed) + len as u64;
        if total > self.budget.limits.repository_bytes {
            return Err(self.refuse(Over::RepositoryBytes));
        }
        Ok(())
    }
}

/// What a template writes, counted against its meter as it comes.
struct Output<'m> {
    text: String,
    meter: &'m Meter,
}

impl std::fmt::Write for Output<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.meter.write(s.len()).map_err(|_| std::fmt::Error)?;
        self.text.push_str(s);
        Ok(())
    }
}

/// The size of `values` as text, about (strings by their length, other scalars a few bytes),
/// counted up to `cap` and no further: a list holding one long string a million times is
/// known to be over without being walked whole. `None` when they nest deeper than
/// [`MAX_NESTING`]. A loop, not a recursion: this is what keeps the recursions away.
fn size_of(values: &[Value], cap: usize) -> Option<usize> {
    let mut size = 0usize;
    let mut to_count: Vec<(&Value, usize)> = values.iter().map(|v| (v, 0)).collect();
    while let Some((value, depth)) = to_count.pop() {
        if depth > MAX_NESTING {
            return None;
        }
        size = size.saturating_add(match value {
            Value::String(s) => s.len(),
            Value::List(items) => {
                to_count.extend(items.iter().map(|v| (v, depth + 1)));
                2
            }
            Value::Map(m) => {
                for (k, v) in m.iter() {
                    size = size.saturating_add(k.len() + 2);
                    to_count.push((v, depth + 1));
                }
                2
            }
            _ => 8,
        });
        if size > cap {
            return Some(size);
        }
    }
    Some(size)
}

/// `functions`, each first checking the time and that its arguments and what it gives
/// fit in the budget.
fn guarded(functions: FuncMap, meter: &Arc<Meter>) -> FuncMap {
    functions
        .into_iter()
        .map(|(name, f)| {
            let meter = Arc::clone(meter);
            let g: gotmpl::ValueFunc = Arc::new(move |args: &[Value]| {
                meter.check_time()?;
                meter.fits_values(args)?;
                let value = f(args)?;
                meter.fits_values(std::slice::from_ref(&value))?;
                Ok(value)
            });
            (name, g)
        })
        .collect()
}

/// Go's builtins that make text longer than their arguments, each first checking the most it
/// can make. `print`, `println` and `printf` are Go's own, run by gotmpl (with one template
/// of their call); the escapers are gotmpl's.
fn text_builtins(meter: &Arc<Meter>) -> FuncMap {
    let mut f = FuncMap::new();
    for name in ["print", "println", "printf"] {
        let meter = Arc::clone(meter);
        let cap = meter.budget.limits.template_bytes;
        f.insert(name.into(), Arc::new(move |args: &[Value]| {
            // A verb may pad to 65,535 characters (gotmpl's limit on a width).
            let verbs = match (name, args.first()) {
                ("printf", Some(Value::String(format))) => format.matches('%').count(),
                _ => 0,
            };
            meter.fits_values(args)?;
            meter.fits(size_of(args, cap).unwrap_or(cap).saturating_add(args.len()).saturating_add(verbs.saturating_mul(u16::MAX as usize)))?;
            let call: String = (0..args.len()).map(|i| format!(" (index . {i})")).collect();
            let text = Template::new(name).parse(&format!("{{{{{name}{call}}}}}"))?.execute_to_string(&Value::List(args.to_vec().into()))?;
            Ok(string(text))
        }));
    }
    // (name, how many times longer it can make a text, the escaper)
    type Escaper = (&'static str, usize, fn(&str) -> String);
    let escapers: [Escaper; 3] = [("html", 6, gotmpl::html_escape), ("js", 6, gotmpl::js_escape), ("urlquery", 3, gotmpl::url_encode)];
    for (name, growth, escape) in escapers {
        let meter = Arc::clone(meter);
        let cap = meter.budget.limits.template_bytes;
        f.insert(name.into(), Arc::new(move |args: &[Value]| {
            meter.fits_values(args)?;
            meter.fits(size_of(args, cap).unwrap_or(cap).saturating_mul(growth))?;
            Ok(string(escape(&args.iter().map(text).collect::<Vec<_>>().join(""))))
        }));
    }
    f
}

/// Renders `source` with `input` as what `inputs` returns (`Value::Nil` without inputs),
/// within `budget`.
pub fn render(source: &str, input: &Value, budget: &Budget) -> Result<String, RenderError> {
    let meter = Arc::new(Meter::new(budget));
    let error = |e: TemplateError| {
        let over = meter.over();
        RenderError {
            unknown_function: match &e {
                TemplateError::UndefinedFunction(name) if over.is_none() => Some(name.clone()),
                _ => None,
            },
            message: over.map_or_else(|| e.to_string(), |o| o.describe(&budget.limits)),
            over,
        }
    };
    meter.check_time().map_err(error)?;
    let input = input.clone();
    let template = Template::new("resourceset")
        .delims("<<", ">>")
        .missing_key(MissingKey::Error)
        .funcs(guarded(functions(&meter), &meter))
        .funcs(guarded(text_builtins(&meter), &meter))
        .func("inputs", move |_| Ok(input.clone()))
        .parse(source)
        .map_err(error)?;
    let mut out = Output { text: String::new(), meter: &meter };
    template.execute_fmt(&mut out, &Value::Nil).map_err(error)?;
    Ok(out.text)
}

/// A YAML node as a template value. Numbers become integers when they are, floats else.
pub fn value_of(node: &Node) -> Value {
    match &node.value {
        Yaml::Null => Value::Nil,
        Yaml::Bool(b) => Value::Bool(*b),
        Yaml::Number(n) => n
            .parse::<i64>()
            .map(Value::Int)
            .or_else(|_| n.parse::<f64>().map(Value::Float))
            .unwrap_or_else(|_| Value::String(n.as_str().into())),
        Yaml::Str(s) => Value::String(s.as_str().into()),
        Yaml::Seq(items) => Value::List(items.iter().map(value_of).collect()),
        Yaml::Map(entries) => map(entries.iter().map(|(k, v)| (k.clone(), value_of(v)))),
    }
}

/// A map value from its entries.
pub fn map(entries: impl IntoIterator<Item = (String, Value)>) -> Value {
    Value::Map(Arc::new(entries.into_iter().map(|(k, v)| (Arc::from(k), v)).collect::<BTreeMap<_, _>>()))
}

/// A template value as a YAML node (for `toYaml`).
fn node_of(value: &Value) -> Node {
    let v = match value {
        Value::Nil => Yaml::Null,
        Value::Bool(b) => Yaml::Bool(*b),
        Value::Int(n) => Yaml::Number(n.to_string()),
        Value::Uint(n) => Yaml::Number(n.to_string()),
        Value::Float(f) => Yaml::Number(f.to_string()),
        Value::List(items) => Yaml::Seq(items.iter().map(node_of).collect()),
        Value::Map(m) => Yaml::Map(m.iter().map(|(k, v)| (k.to_string(), node_of(v))).collect()),
        other => Yaml::Str(text(other)),
    };
    Node::new(0, v)
}

fn json_of(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Nil => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(n) => J::from(*n),
        Value::Uint(n) => J::from(*n),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::List(items) => J::Array(items.iter().map(json_of).collect()),
        Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.to_string(), json_of(v))).collect()),
        other => J::String(text(other)),
    }
}

/// Sprig's `strval`: a string as itself, anything else as Go's `%v` prints it.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.to_string(),
        other => other.to_string(),
    }
}

/// Sprig's `empty`: nil, false, 0, "" and empty lists and maps.
fn empty(value: &Value) -> bool {
    !value.is_truthy()
}

/// Sprig's `strslice`: a list's non-nil items as strings; nil is no item; anything else one.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::List(items) => items.iter().filter(|v| !matches!(v, Value::Nil)).map(text).collect(),
        Value::Nil => Vec::new(),
        other => vec![text(other)],
    }
}

fn arity(name: &str, args: &[Value], expected: usize) -> gotmpl::Result<()> {
    if args.len() == expected {
        Ok(())
    } else {
        Err(TemplateError::ArgCount { name: name.into(), expected, got: args.len() })
    }
}

fn string_fn(name: &'static str, f: impl Fn(&str) -> String + Send + Sync + 'static) -> (String, gotmpl::ValueFunc) {
    (
        name.into(),
        Arc::new(move |args: &[Value]| {
            arity(name, args, 1)?;
            Ok(Value::String(f(&text(&args[0])).into()))
        }),
    )
}

/// `f(a, b)` on two strings, in sprig's argument order.
fn string_fn2(name: &'static str, f: impl Fn(&str, &str) -> Value + Send + Sync + 'static) -> (String, gotmpl::ValueFunc) {
    (
        name.into(),
        Arc::new(move |args: &[Value]| {
            arity(name, args, 2)?;
            Ok(f(&text(&args[0]), &text(&args[1])))
        }),
    )
}

fn string(s: impl Into<Arc<str>>) -> Value {
    Value::String(s.into())
}

/// The functions fluxgraph provides beside Go's builtins (`printf`, `index`, `eq`…); those
/// that multiply text ask `meter` first.
fn functions(meter: &Arc<Meter>) -> FuncMap {
    let mut f: FuncMap = FuncMap::new();
    let mut add = |name: &str, func: gotmpl::ValueFunc| {
        f.insert(name.into(), func);
    };
    // `default DEFAULT GIVEN`: GIVEN unless it is empty.
    add("default", Arc::new(|args| Ok(match args {
        [d] => d.clone(),
        [d, given, ..] if empty(given) => d.clone(),
        [_, given, ..] => given.clone(),
        [] => return Err(TemplateError::ArgCount { name: "default".into(), expected: 1, got: 0 }),
    })));
    add("get", Arc::new(|args| {
        arity("get", args, 2)?;
        Ok(match &args[0] {
            Value::Map(m) => m.get(text(&args[1]).as_str()).cloned().unwrap_or_else(|| string("")),
            _ => string(""),
        })
    }));
    // `dig KEY… DEFAULT MAP`.
    add("dig", Arc::new(|args| {
        if args.len() < 3 {
            return Err(TemplateError::ArgCount { name: "dig".into(), expected: 3, got: args.len() });
        }
        let (keys, rest) = args.split_at(args.len() - 2);
        let mut at = rest[1].clone();
        for key in keys {
            match &at {
                Value::Map(m) => match m.get(text(key).as_str()) {
                    Some(v) => at = v.clone(),
                    None => return Ok(rest[0].clone()),
                },
                _ => return Ok(rest[0].clone()),
            }
        }
        Ok(at)
    }));
    add("hasKey", Arc::new(|args| {
        arity("hasKey", args, 2)?;
        Ok(Value::Bool(matches!(&args[0], Value::Map(m) if m.contains_key(text(&args[1]).as_str()))))
    }));
    add("quote", Arc::new(|args| {
        let quoted: Vec<String> = args.iter().filter(|v| !matches!(v, Value::Nil)).map(|v| go_quote(&text(v))).collect();
        Ok(string(quoted.join(" ")))
    }));
    add("squote", Arc::new(|args| {
        let quoted: Vec<String> = args.iter().filter(|v| !matches!(v, Value::Nil)).map(|v| format!("'{}'", text(v))).collect();
        Ok(string(quoted.join(" ")))
    }));
    for (name, func) in [
        string_fn("lower", str::to_lowercase),
        string_fn("upper", str::to_uppercase),
        string_fn("trim", |s| s.trim().to_string()),
        string_fn("slugify", slugify),
        string_fn2("trimPrefix", |prefix, s| string(s.strip_prefix(prefix).unwrap_or(s))),
        string_fn2("trimSuffix", |suffix, s| string(s.strip_suffix(suffix).unwrap_or(s))),
        string_fn2("contains", |sub, s| Value::Bool(s.contains(sub))),
        string_fn2("hasPrefix", |prefix, s| Value::Bool(s.starts_with(prefix))),
        string_fn2("hasSuffix", |suffix, s| Value::Bool(s.ends_with(suffix))),
        string_fn2("splitList", |sep, s| Value::List(s.split(sep).map(string).collect())),
    ] {
        add(&name, func);
    }
    let m = Arc::clone(meter);
    add("replace", Arc::new(move |args| {
        arity("replace", args, 3)?;
        let (old, new, s) = (text(&args[0]), text(&args[1]), text(&args[2]));
        // An empty `old` matches between every character.
        let matches = if old.is_empty() { s.chars().count() + 1 } else { s.matches(old.as_str()).count() };
        m.fits(s.len().saturating_add(matches.saturating_mul(new.len())))?;
        Ok(string(s.replace(&old, &new)))
    }));
    add("toString", Arc::new(|args| {
        arity("toString", args, 1)?;
        Ok(string(text(&args[0])))
    }));
    // flux-operator's own toYaml: sigs.k8s.io/yaml's output, final newline kept.
    add("toYaml", Arc::new(|args| {
        arity("toYaml", args, 1)?;
        Ok(string(to_yaml(&node_of(&args[0]))))
    }));
    add("toJson", Arc::new(|args| {
        arity("toJson", args, 1)?;
        Ok(string(json_of(&args[0]).to_string()))
    }));
    add("join", Arc::new(|args| {
        arity("join", args, 2)?;
        Ok(string(strings(&args[1]).join(&text(&args[0]))))
    }));
    add("list", Arc::new(|args| Ok(Value::List(args.iter().cloned().collect()))));
    add("dict", Arc::new(|args| {
        Ok(map(args.chunks(2).map(|kv| (text(&kv[0]), kv.get(1).cloned().unwrap_or_else(|| string(""))))))
    }));
    add("empty", Arc::new(|args| {
        arity("empty", args, 1)?;
        Ok(Value::Bool(empty(&args[0])))
    }));
    add("coalesce", Arc::new(|args| Ok(args.iter().find(|v| !empty(v)).cloned().unwrap_or(Value::Nil))));
    // `ternary TRUE FALSE CONDITION`.
    add("ternary", Arc::new(|args| {
        arity("ternary", args, 3)?;
        Ok(if args[2].is_truthy() { args[0].clone() } else { args[1].clone() })
    }));
    add("int", Arc::new(|args| {
        arity("int", args, 1)?;
        Ok(Value::Int(to_int(&args[0])))
    }));
    let m = Arc::clone(meter);
    let indented = move |args: &[Value]| -> gotmpl::Result<String> {
        let (spaces, s) = (usize::try_from(to_int(&args[0])).unwrap_or(0), text(&args[1]));
        m.fits(s.len().saturating_add(spaces.saturating_mul(s.matches('\n').count() + 1)))?;
        Ok(indent(spaces, &s))
    };
    let nindented = indented.clone();
    add("indent", Arc::new(move |args| {
        arity("indent", args, 2)?;
        Ok(string(indented(args)?))
    }));
    add("nindent", Arc::new(move |args| {
        arity("nindent", args, 2)?;
        Ok(string(format!("\n{}", nindented(args)?)))
    }));
    f
}

/// spf13/cast's `ToInt`, as sprig's `int` uses it: numbers truncated, strings parsed
/// (0 when they do not parse), booleans 0 or 1.
fn to_int(value: &Value) -> i64 {
    match value {
        Value::Int(n) => *n,
        Value::Uint(n) => i64::try_from(*n).unwrap_or(i64::MAX),
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::String(s) => s.trim().parse::<i64>().or_else(|_| s.trim().parse::<f64>().map(|f| f as i64)).unwrap_or(0),
        _ => 0,
    }
}

fn indent(spaces: usize, s: &str) -> String {
    let pad = " ".repeat(spaces);
    format!("{pad}{}", s.replace('\n', &format!("\n{pad}")))
}

/// Go's `%q` for the characters manifests hold.
fn go_quote(s: &str) -> String {
    double_quoted(s, |c| format!("\\x{:02x}", c as u32))
}

/// `s` in double quotes with `"`, `\\` and line ends escaped, and other control characters
/// written by `control`.
fn double_quoted(s: &str, control: impl Fn(char) -> String) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&control(c)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// gosimple/slug's `Make` as flux-operator sets it up (at most 63 characters, cut at a
/// word's end): lower case, every run of characters other than letters, digits, `-` and
/// `_` one `-`, no `-` or `_` at either end. Its transliteration of non-ASCII letters
/// (`ä` → `a`) and of symbols (`&` → `and`) is not reproduced: they become `-`.
pub fn slugify(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches(['-', '_']);
    if out.len() <= 63 {
        return out.to_string();
    }
    // Smart truncation: the longest prefix of whole words that fits.
    let mut cut = String::new();
    for word in out.split('-') {
        let next = if cut.is_empty() { word.to_string() } else { format!("{cut}-{word}") };
        if next.len() > 63 {
            break;
        }
        cut = next;
    }
    if cut.is_empty() { out[..63].to_string() } else { cut }
}

/// A node as block-style YAML, the way sigs.k8s.io/yaml (go-yaml v2) writes it: two
/// spaces per level, list items at their key's indentation, strings plain when they read
/// back as the same string, else single-quoted (templates inside stay intact), multi-line
/// strings as literal blocks.
pub fn to_yaml(node: &Node) -> String {
    let mut out = String::new();
    match &node.value {
        Yaml::Map(e) if !e.is_empty() => write_map(e, 0, &mut out),
        Yaml::Seq(s) if !s.is_empty() => write_seq(s, 0, &mut out),
        _ => {
            write_scalar(node, 0, &mut out);
            out.push('\n');
        }
    }
    out
}

fn write_map(entries: &[(String, Node)], indent: usize, out: &mut String) {
    for (key, value) in entries {
        out.push_str(&" ".repeat(indent));
        out.push_str(&scalar_text(key));
        out.push(':');
        write_value(value, indent, indent + 2, out);
    }
}

fn write_seq(items: &[Node], indent: usize, out: &mut String) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match &item.value {
            // The first line of a nested collection goes after the dash.
            Yaml::Map(e) if !e.is_empty() => {
                let mut inner = String::new();
                write_map(e, indent + 2, &mut inner);
                out.push(' ');
                out.push_str(&inner[indent + 2..]);
            }
            Yaml::Seq(s) if !s.is_empty() => {
                let mut inner = String::new();
                write_seq(s, indent + 2, &mut inner);
                out.push(' ');
                out.push_str(&inner[indent + 2..]);
            }
            _ => write_value(item, indent, indent + 2, out),
        }
    }
}

/// Writes what follows `key:` or `-`: ` scalar` on the line, or a collection below.
fn write_value(value: &Node, indent: usize, nested: usize, out: &mut String) {
    match &value.value {
        Yaml::Map(e) if !e.is_empty() => {
            out.push('\n');
            write_map(e, nested, out);
        }
        // A list under a key is not indented further.
        Yaml::Seq(s) if !s.is_empty() => {
            out.push('\n');
            write_seq(s, indent, out);
        }
        _ => {
            out.push(' ');
            write_scalar(value, nested, out);
            out.push('\n');
        }
    }
}

fn write_scalar(node: &Node, nested: usize, out: &mut String) {
    match &node.value {
        Yaml::Null => out.push_str("null"),
        Yaml::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Yaml::Number(n) => out.push_str(n),
        Yaml::Str(s) if s.contains('\n') && literal_ok(s) => {
            let chomp = if !s.ends_with('\n') {
                "-"
            } else if s.ends_with("\n\n") {
                "+"
            } else {
                ""
            };
            let explicit = if s.starts_with(' ') { "2" } else { "" };
            out.push('|');
            out.push_str(explicit);
            out.push_str(chomp);
            let body = s.strip_suffix('\n').unwrap_or(s);
            for line in body.split('\n') {
                out.push('\n');
                if !line.is_empty() {
                    out.push_str(&" ".repeat(nested));
                    out.push_str(line);
                }
            }
        }
        Yaml::Str(s) => out.push_str(&scalar_text(s)),
        Yaml::Seq(_) => out.push_str("[]"),
        Yaml::Map(_) => out.push_str("{}"),
    }
}

/// A literal block holds any printable text.
fn literal_ok(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
}

/// A string scalar on one line: plain when it reads back as itself, else quoted.
fn scalar_text(s: &str) -> String {
    if plain_ok(s) {
        return s.to_string();
    }
    if !s.chars().any(char::is_control) {
        return format!("'{}'", s.replace('\'', "''"));
    }
    double_quoted(s, |c| format!("\\u{:04x}", c as u32))
}

fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return false };
    let second = s.chars().nth(1);
    let indicator = matches!(first, ',' | '[' | ']' | '{' | '}' | '#' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%' | '@' | '`')
        || (matches!(first, '-' | '?' | ':') && second.is_none_or(|c| c == ' ' || c == '\t'));
    !indicator
        && s != "<<"
        && !s.starts_with([' ', '\t'])
        && !s.ends_with([' ', '\t', ':'])
        && !s.contains(": ")
        && !s.contains(":\t")
        && !s.contains(" #")
        && !s.contains("\t#")
        && !s.starts_with("---")
        && !s.starts_with("...")
        && !s.chars().any(char::is_control)
        && matches!(plain_scalar(s), Yaml::Str(_))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::parse_documents;

    fn node(text: &str) -> Node {
        (*parse_documents(text).remove(0).unwrap().root).clone()
    }

    fn input(yaml: &str) -> Value {
        value_of(&node(yaml))
    }

    fn render_within(source: &str, input: &Value) -> Result<String, RenderError> {
        render(source, input, &Budget::new(Limits::default()))
    }

    /// What each budget stops, told apart, and within the time and memory of a test: small
    /// budgets here, the defaults' sizes in the integration tests.
    #[test]
    fn each_budget_stops_what_goes_over_it_and_says_which() {
        let small = Limits { template_bytes: 1 << 20, repository_bytes: 3 << 20, template_time: Duration::from_millis(300), repository_time: Duration::from_secs(60) };
        let big = input(&format!("big: {}\nlist: [{}]\n", "x".repeat(100_000), vec!["1"; 100].join(",")));
        let over = |source: &str, budget: &Budget| render(source, &big, budget).err().and_then(|e| e.over);
        let fresh = || Budget::new(small);
        // Written out: 100 × 100 kB.
        assert_eq!(over("<< range inputs.list >><< inputs.big >><< end >>", &fresh()), Some(Over::TemplateBytes));
        // Made in a value, never written: doubling, by our functions and by Go's builtins.
        for grow in ["<< $x := inputs.big >><< range inputs.list >><< $x = join \"\" (list $x $x) >><< end >>", "<< $x := inputs.big >><< range inputs.list >><< $x = print $x $x >><< end >>", "<< $x := inputs.big >><< range inputs.list >><< $x = printf \"%s%s\" $x $x >><< end >>", "<< replace \"\" inputs.big inputs.big >>", "<< indent 100000000 \"a\" >>", "<< printf \"%60000s%60000s%60000s%60000s%60000s%60000s%60000s%60000s%60000s%60000s%60000s%60000s%60000s%60000s%60000s%60000s%60000s%60000s%60000s\" 1 >>"] {
            assert_eq!(over(grow, &fresh()), Some(Over::TemplateBytes), "{grow}");
        }
        // Each template within its own budget, the repository's spent over four of them.
        let budget = fresh();
        let nine = "<< range $i, $x := inputs.list >><< if lt $i 9 >><< inputs.big >><< end >><< end >>";
        let results: Vec<Option<Over>> = (0..4).map(|_| over(nine, &budget)).collect();
        assert_eq!(results, [None, None, None, Some(Over::RepositoryBytes)]);
        // Slow without writing much: the time budget.
        let slow = "<< range inputs.list >><< range inputs.list >><< $x := replace \"x\" \"y\" inputs.big >><< end >><< end >>";
        let started = Instant::now();
        assert_eq!(over(slow, &fresh()), Some(Over::TemplateTime));
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        let e = render(slow, &big, &fresh()).unwrap_err();
        assert!(e.message.contains("time budget of one template"), "{e:?}");
        // The repository's time is what its renderings took, summed.
        let budget = Budget::new(Limits { repository_time: Duration::from_millis(500), ..small });
        let results: Vec<Option<Over>> = (0..3).map(|_| over(slow, &budget)).collect();
        assert_eq!(results, [Some(Over::TemplateTime), Some(Over::RepositoryTime), Some(Over::RepositoryTime)]);
        // Nested without bound, a value overflowed the stack of whatever walked it.
        assert_eq!(over("<< $x := list 1 >><< range inputs.list >><< $x = list $x >><< end >><< toJson $x >>", &fresh()), Some(Over::Nesting));
        assert_eq!(over("<< $x := dict \"a\" 1 >><< range inputs.list >><< $x = dict \"a\" $x >><< end >>", &fresh()), Some(Over::Nesting));
        // Go's builtins still work as Go's.
        assert_eq!(render("<< print 1 2 \"a\" \"b\" >>|<< println \"x\" 1 >>|<< printf \"%05d-%q\" 42 \"s\" >>|<< html \"<a>\" >>", &Value::Nil, &fresh()).unwrap(), "1 2ab|x 1\n|00042-\"s\"|&lt;a&gt;");
    }

    #[test]
    fn yaml_written_reads_back_the_same() {
        let text = "a: 1.10\nb: 'true'\nc: ''\nd: null\ne:\n- x: 1\n  y: [1, 2]\n- - n\n  - m\n- '- dash'\nf: \"multi\\nline\\n\"\ng: '#not a comment'\nh: 'x: y'\ni: {}\nj: []\nk: \"  lead\\n  x\"\n'l m': << inputs.name >>\n";
        let original = node(text);
        let written = to_yaml(&original);
        let again = node(&written);
        assert_eq!(again.to_json(), original.to_json(), "{written}");
        assert!(written.contains("l m: << inputs.name >>\n"), "{written}");
        assert!(written.contains("e:\n- x: 1\n  y:\n  - 1\n"), "{written}");
    }

    #[test]
    fn inputs_fields_defaults_and_printf() {
        let inputs = input("name: app\ndefaults:\n  suffix: config\napps:\n- app: a\n  suffix: data\n- app: b\n");
        let source = "<< inputs.name >>/<<- range $app := inputs.apps >> << printf \"%s-%s\" $app.app (get $app \"suffix\" | default inputs.defaults.suffix) >><<- end >>";
        assert_eq!(render_within(source, &inputs).unwrap(), "app/ a-data b-config");
        let dig = "<< dig \"missing\" \"fallback\" inputs >> << dig \"defaults\" \"suffix\" \"x\" inputs >>";
        assert_eq!(render_within(dig, &inputs).unwrap(), "fallback config");
        let misc = "<< lower \"A\" >> << quote \"q\" >> << trimPrefix \"a-\" \"a-b\" >> << join \",\" (list 1 2) >> << ternary \"y\" \"n\" (hasKey inputs \"name\") >> << slugify \"My App!\" >> << int \"42\" >>";
        assert_eq!(render_within(misc, &inputs).unwrap(), "a \"q\" b 1,2 y my-app 42");
    }

    #[test]
    fn if_on_inputs() {
        let source = "<<- if inputs.on >>yes<<- else >>no<<- end >>";
        assert_eq!(render_within(source, &input("on: true")).unwrap(), "yes");
        assert_eq!(render_within(source, &input("on: false")).unwrap(), "no");
    }

    #[test]
    fn a_missing_key_is_an_error_and_an_unknown_function_is_named() {
        let e = render_within("<< inputs.nope >>", &input("name: x")).unwrap_err();
        assert!(e.message.contains("nope"), "{e:?}");
        assert_eq!(e.unknown_function, None);
        let e = render_within("<< inputs.name | sha256sum >>", &input("name: x")).unwrap_err();
        assert_eq!(e.unknown_function.as_deref(), Some("sha256sum"));
        assert!(render_within("<< if >>", &Value::Nil).is_err());
    }

    #[test]
    fn to_yaml_keeps_its_final_newline() {
        assert_eq!(render_within("<< toYaml inputs.m >>", &input("m:\n  b: 1\n  a: [x]\n")).unwrap(), "a:\n- x\nb: 1\n");
    }

    #[test]
    fn slugs_as_gosimple_makes_them() {
        assert_eq!(slugify("  Hello, World_ "), "hello-world");
        assert_eq!(slugify(&"word-".repeat(20)).len(), 59);
    }
}
