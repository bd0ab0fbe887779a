//! Redaction: a file's text with every secret value replaced, for the source views.
//!
//! In a `Secret` (plain or SOPS-encrypted) every value under `data:` and `stringData:` is
//! replaced, block scalars included; in a SOPS-encrypted document every `ENC[...]` value and
//! the key material under `sops:` are replaced too. Keys stay, so the reader still sees
//! which variables exist. Line numbers are kept: a redacted line stays one line.

use crate::load::SourceFile;
use crate::load::kustomize::is_sops;

pub const REDACTED: &str = "••••••";

/// The text of `file` with its secret values redacted, line for line.
pub fn redact(file: &SourceFile) -> Vec<String> {
    let lines: Vec<&str> = file.text.lines().collect();
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    // Document boundaries: each parsed document starts at its line; a document runs to the
    // next one's start.
    let mut starts: Vec<(usize, bool, bool)> = Vec::new();
    for d in file.documents.iter().flatten() {
        let secret = d.root.get("kind").and_then(crate::load::Node::as_str) == Some("Secret");
        starts.push((d.line.saturating_sub(1) as usize, secret, is_sops(&d.root)));
    }
    starts.sort();
    // Where a document could not be parsed its extent is unknown: when the file looks like
    // it holds secrets, the whole file is redacted as one secret document.
    let unparsed = file.documents.iter().any(Result::is_err) || (file.documents.is_empty() && file.unreadable.is_none());
    if unparsed && looks_secret(&file.text) {
        starts = vec![(0, true, true)];
    }
    for (i, &(start, secret, sops)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(lines.len(), |s| s.0).min(lines.len());
        let begin = document_begin(&lines, start);
        if secret {
            redact_blocks(&mut out[begin..end], &["data", "stringData"]);
        }
        if sops {
            redact_blocks(&mut out[begin..end], &["sops"]);
            for line in &mut out[begin..end] {
                *line = redact_enc(line);
            }
        }
    }
    out
}

/// A document's first line may come before its first key (the `---` and comments).
fn document_begin(lines: &[&str], start: usize) -> usize {
    let mut begin = start.min(lines.len());
    while begin > 0 && !lines[begin - 1].starts_with("---") && (lines[begin - 1].trim().is_empty() || lines[begin - 1].trim_start().starts_with('#')) {
        begin -= 1;
    }
    begin
}

fn looks_secret(text: &str) -> bool {
    text.lines().any(|l| l.trim() == "kind: Secret" || l.starts_with("sops:"))
}

/// Replaces the values of every line nested under a top-level key in `keys`.
fn redact_blocks(lines: &mut [String], keys: &[&str]) {
    let mut inside: Option<usize> = None;
    for line in lines.iter_mut() {
        let indent = line.len() - line.trim_start().len();
        let content = line.trim();
        if let Some(level) = inside {
            if !content.is_empty() && indent <= level && !content.starts_with('#') {
                inside = None;
            } else {
                if !content.is_empty() && !content.starts_with('#') {
                    *line = redact_value(line);
                }
                continue;
            }
        }
        if let Some((key, rest)) = content.split_once(':') {
            let key = key.trim().trim_matches(['"', '\'']);
            if keys.contains(&key) {
                inside = Some(indent);
                if !rest.trim().is_empty() && !rest.trim().starts_with('#') {
                    *line = format!("{}{}: {REDACTED}", &line[..indent], key);
                }
            }
        }
    }
}

/// `  key: value` → `  key: ••••••`; a line of a block scalar or list item → `  ••••••`.
fn redact_value(line: &str) -> String {
    let indent = &line[..line.len() - line.trim_start().len()];
    let content = line.trim_start();
    let (prefix, rest) = match content.strip_prefix("- ") {
        Some(rest) => ("- ", rest),
        None => ("", content),
    };
    match key_of(rest) {
        Some((key, value)) if value.is_empty() || value == "|" || value == ">" || value.starts_with("|") || value.starts_with('>') => {
            format!("{indent}{prefix}{key}:{}", if value.is_empty() { String::new() } else { format!(" {value}") })
        }
        Some((key, _)) => format!("{indent}{prefix}{key}: {REDACTED}"),
        None => format!("{indent}{prefix}{REDACTED}"),
    }
}

/// Splits `key: value` when the line is a mapping entry with a simple key.
fn key_of(text: &str) -> Option<(&str, &str)> {
    let (key, value) = text.split_once(':')?;
    let simple = !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || "_-.\"'/".contains(c));
    (simple && (value.is_empty() || value.starts_with(' '))).then(|| (key, value.trim()))
}

fn redact_enc(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("ENC[") {
        out.push_str(&rest[..start]);
        match rest[start..].find(']') {
            Some(end) => {
                out.push_str("ENC[");
                out.push_str(REDACTED);
                out.push(']');
                rest = &rest[start + end + 1..];
            }
            None => {
                out.push_str(REDACTED);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::parse_documents;

    fn file(text: &str) -> SourceFile {
        SourceFile { path: "s.yaml".into(), text: text.into(), documents: parse_documents(text), unreadable: None }
    }

    #[test]
    fn secret_values_are_gone_keys_stay() {
        let text = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  visible: PLAIN-CONFIG\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: MARKER-PASSWORD\n  cert: |\n    MARKER-BLOCK-1\n    MARKER-BLOCK-2\n  \"quoted\": MARKER-QUOTED\ndata:\n  token: TUFSS0VSLUI2NA==\ntype: Opaque\n";
        let out = redact(&file(text)).join("\n");
        for marker in ["MARKER-PASSWORD", "MARKER-BLOCK", "MARKER-QUOTED", "TUFSS0VSLUI2NA=="] {
            assert!(!out.contains(marker), "{marker} leaked:\n{out}");
        }
        for kept in ["password:", "cert:", "token:", "PLAIN-CONFIG", "type: Opaque", "name: s"] {
            assert!(out.contains(kept), "{kept} lost:\n{out}");
        }
        assert_eq!(out.lines().count(), text.lines().count());
    }

    #[test]
    fn sops_documents_lose_ciphertext_and_key_material() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  key: ENC[AES256_GCM,data:MARKER,iv:x,tag:y,type:str]\nsops:\n  age:\n    - recipient: age1abc\n      enc: |\n        -----BEGIN AGE ENCRYPTED FILE-----\n        MARKERAGE\n        -----END AGE ENCRYPTED FILE-----\n  lastmodified: \"2025-01-01T00:00:00Z\"\n  mac: ENC[AES256_GCM,data:MARKERMAC,type:str]\n  version: 3.9.4\n";
        let out = redact(&file(text)).join("\n");
        assert!(!out.contains("MARKER"), "{out}");
        assert!(out.contains("sops:") && out.contains("mac:") && out.contains("key:"), "{out}");
    }

    #[test]
    fn broken_secret_files_are_redacted_whole() {
        let text = "kind: Secret\nstringData:\n  password: MARKER\n  bad: [\n";
        let out = redact(&file(text)).join("\n");
        assert!(!out.contains("MARKER"), "{out}");
    }
}
