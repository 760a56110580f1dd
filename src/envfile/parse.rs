//! A reader that reproduces Ruby dotenv 3.1.4, the loader Mastodon 4.3 to 4.5
//! lock in their Gemfile.lock.
//!
//! The grammar is the gem's `Dotenv::Parser::LINE` regular expression applied
//! with `String#scan` to the whole file after CRLF and CR are turned into LF.
//! Ruby's `\s` and `\w` are ASCII classes, so they are spelled out here: the
//! `regex` crate's versions are Unicode-aware. The `regex` crate finds the
//! same leftmost-first match that a backtracking engine finds for a pattern
//! without look-around or back-references, so the matches agree with Ruby's.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use super::source::{SourceFile, Span};

const WS: &str = r"[ \t\r\n\x0B\x0C]";

static LINE: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = format!(
        concat!(
            r"(?m)(?:^|\A){ws}*",
            r"(export{ws}+)?",
            r"([A-Za-z0-9_.]+)",
            r"(?:{ws}*={ws}*?|:{ws}+?)",
            r#"({ws}*'(?:\\'|[^'])*'|{ws}*"(?:\\"|[^"])*"|[^#\r\n]+)?"#,
            r"{ws}*(?:#.*)?(?:$|\z)"
        ),
        ws = WS
    );
    Regex::new(&pattern).expect("the dotenv line pattern is valid")
});

/// `Dotenv::Substitutions::Variable::VARIABLE`, case-insensitive.
static VARIABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(\\)?\$(\{)?([A-Z0-9_]+)?(\})?").expect("the variable pattern is valid")
});

/// Quoting of a value as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Quote {
    None,
    Single,
    Double,
}

/// A `$NAME` or `${NAME}` reference that Ruby dotenv substituted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub name: String,
    /// The value substituted, or `None` when the name was undefined and an
    /// empty string took its place.
    pub resolved: Option<String>,
}

/// One `KEY=value` assignment found in a file.
#[derive(Clone, Debug)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    /// The value as written, quotes included; empty and placed after the
    /// separator when the line has no value.
    pub value_span: Span,
    pub written: String,
    pub quote: Quote,
    /// The value Ruby dotenv produces. A `$(command)` is left as written,
    /// because this tool never runs it.
    pub value: String,
    pub references: Vec<Reference>,
    /// Shell commands that Ruby dotenv would run while Mastodon boots.
    pub commands: Vec<String>,
    /// A comment glued to an unquoted value (`abc#def`), which Ruby drops.
    pub attached_comment: Option<Span>,
    pub exported: bool,
    pub line: usize,
}

/// A file as Ruby dotenv reads it, plus everything it silently ignores.
#[derive(Clone, Debug)]
pub struct ParsedFile {
    pub source: SourceFile,
    pub entries: Vec<Entry>,
    /// Lines with content that matched no assignment: Ruby ignores them.
    pub skipped: Vec<Span>,
    /// The span of a UTF-8 byte order mark at the start, which Ruby strips.
    pub bom: Option<Span>,
    pub crlf_lines: usize,
    pub cr_only_lines: usize,
    /// `export KEY` naming an undefined KEY: Ruby raises `Dotenv::FormatError`
    /// and the whole load fails.
    pub format_error: Option<(Span, String)>,
    pub invalid_utf8: bool,
    /// Indices into `entries` of each key's assignments, in file order.
    index: HashMap<String, Vec<usize>>,
}

impl ParsedFile {
    /// Returns the effective entry for a key: the last assignment wins inside one file.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.index.get(key).and_then(|positions| positions.last()).map(|&position| &self.entries[position])
    }

    /// Returns every assignment of a key in this file, in file order.
    pub fn assignments<'a>(&'a self, key: &str) -> impl Iterator<Item = &'a Entry> + 'a {
        let positions = self.index.get(key).map(Vec::as_slice).unwrap_or_default();
        positions.iter().map(|&position| &self.entries[position])
    }
}

/// Text with line breaks normalised to LF, and a map back to source offsets.
struct Normalized {
    text: String,
    to_source: Vec<usize>,
}

fn normalize(text: &str, start: usize) -> (Normalized, usize, usize) {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut to_source = Vec::with_capacity(bytes.len() + 1);
    let (mut crlf, mut cr_only) = (0, 0);
    let mut index = start;
    while index < bytes.len() {
        to_source.push(index);
        if bytes[index] == b'\r' {
            out.push(b'\n');
            if bytes.get(index + 1) == Some(&b'\n') {
                crlf += 1;
                index += 2;
            } else {
                cr_only += 1;
                index += 1;
            }
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    to_source.push(bytes.len());
    let text = String::from_utf8(out).expect("only ASCII bytes were replaced");
    (Normalized { text, to_source }, crlf, cr_only)
}

impl Normalized {
    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.to_source[start], self.to_source[end])
    }
}

/// Parses one file as Ruby dotenv 3.1.4 does.
///
/// `lookup` returns the value of a name in the process environment, as Ruby's
/// `ENV` would at load time: the real environment plus values that files
/// loaded earlier already set. Ruby prefers it over earlier keys of this file.
pub fn parse(source: SourceFile, lookup: &dyn Fn(&str) -> Option<String>) -> ParsedFile {
    let invalid_utf8 = source.text.contains('\u{FFFD}');
    let bom = source
        .text
        .starts_with('\u{FEFF}')
        .then(|| Span::new(0, '\u{FEFF}'.len_utf8()));
    let start = bom.map_or(0, |span| span.end);
    let (normalized, crlf_lines, cr_only_lines) = normalize(&source.text, start);

    let mut hash: HashMap<String, String> = HashMap::new();
    let mut entries = Vec::new();
    let mut covered = vec![false; normalized.text.len()];

    for captures in LINE.captures_iter(&normalized.text) {
        let whole = captures.get(0).expect("group 0 always exists");
        covered[whole.start()..whole.end()].fill(true);

        let key_match = captures.get(2).expect("the key group is required");
        let key = key_match.as_str().to_string();
        let raw_value = captures.get(3).map_or("", |m| m.as_str());
        let value_end = captures.get(3).map_or(key_match.end(), |m| m.end());

        let (value, quote, references, commands) = parse_value(raw_value, &hash, lookup);
        let trimmed_start = captures
            .get(3)
            .map_or(value_end, |m| m.start() + (raw_value.len() - raw_value.trim_start().len()));
        let trimmed_end = captures
            .get(3)
            .map_or(value_end, |m| m.end() - (raw_value.len() - raw_value.trim_end().len()));
        let value_span = if captures.get(3).is_some() {
            normalized.span(trimmed_start, trimmed_end.max(trimmed_start))
        } else {
            let separator_end = separator_end(&normalized.text, key_match.end());
            normalized.span(separator_end, separator_end)
        };

        let attached_comment = attached_comment(&normalized.text, quote, value_end, whole.end())
            .map(|(from, to)| normalized.span(from, to));

        let key_span = normalized.span(key_match.start(), key_match.end());
        let (line, _) = source.line_col(key_span.start);
        hash.insert(key.clone(), value.clone());
        entries.push(Entry {
            key,
            key_span,
            written: source.slice(value_span).to_string(),
            value_span,
            quote,
            value,
            references,
            commands,
            attached_comment,
            exported: captures.get(1).is_some(),
            line,
        });
    }

    let skipped = skipped_lines(&normalized, &covered);
    let format_error = export_format_error(&normalized, &covered, &hash);
    let mut index: HashMap<String, Vec<usize>> = HashMap::new();
    for (position, entry) in entries.iter().enumerate() {
        index.entry(entry.key.clone()).or_default().push(position);
    }
    ParsedFile {
        index,
        source,
        entries,
        skipped,
        bom,
        crlf_lines,
        cr_only_lines,
        format_error,
        invalid_utf8,
    }
}

/// Finds where the value would start after `KEY=` or `KEY: `.
fn separator_end(text: &str, key_end: usize) -> usize {
    let rest = &text[key_end..];
    let after_space = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    let mut index = key_end + after_space;
    if matches!(text.as_bytes().get(index), Some(b'=') | Some(b':')) {
        index += 1;
    }
    index
}

/// Returns the `#...` text glued to an unquoted value. Ruby ends an unquoted
/// value at the first `#`, with or without a space before it. A `#` right
/// after the value is almost always meant as part of it.
fn attached_comment(text: &str, quote: Quote, value_end: usize, match_end: usize) -> Option<(usize, usize)> {
    if quote != Quote::None || value_end >= match_end {
        return None;
    }
    let bytes = text.as_bytes();
    if bytes[value_end] != b'#' {
        return None;
    }
    let preceding = value_end.checked_sub(1).map(|index| bytes[index]);
    let glued = !matches!(preceding, Some(b' ') | Some(b'\t'));
    glued.then_some((value_end, match_end))
}

/// `Dotenv::Parser#parse_value`: strip, remove matching quotes, unescape, substitute.
fn parse_value(
    raw: &str,
    hash: &HashMap<String, String>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> (String, Quote, Vec<Reference>, Vec<String>) {
    let stripped = raw.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\0' || c == '\x0B');
    let quote = match stripped.as_bytes() {
        [b'\'', .., b'\''] if stripped.len() >= 2 => Quote::Single,
        [b'"', .., b'"'] if stripped.len() >= 2 => Quote::Double,
        _ => Quote::None,
    };
    let inner = match quote {
        Quote::None => stripped,
        _ => &stripped[1..stripped.len() - 1],
    };

    let unescaped = match quote {
        Quote::Single => inner.to_string(),
        Quote::Double => unescape_characters(&expand_newlines(inner, hash, lookup)),
        Quote::None => unescape_characters(inner),
    };
    if quote == Quote::Single {
        return (unescaped, quote, Vec::new(), Vec::new());
    }

    let (substituted, references) = substitute_variables(&unescaped, hash, lookup);
    let (value, commands) = find_commands(&substituted);
    (value, quote, references, commands)
}

/// Dotenv 3.x keeps `\n` and `\r` literal unless `DOTENV_LINEBREAK_MODE=legacy`.
fn expand_newlines(value: &str, hash: &HashMap<String, String>, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mode = hash
        .get("DOTENV_LINEBREAK_MODE")
        .cloned()
        .or_else(|| lookup("DOTENV_LINEBREAK_MODE"));
    if mode.as_deref() == Some("legacy") {
        value.replace("\\n", "\n").replace("\\r", "\r")
    } else {
        // The gem replaces `\n` with `\\n`, which the unescape step turns back into `\n`.
        value.replace("\\n", "\\\\n").replace("\\r", "\\\\r")
    }
}

/// `gsub(/\\([^$])/, '\1')`: a backslash before any character but `$` is dropped.
fn unescape_characters(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(&next) = chars.peek() {
                if next != '$' {
                    out.push(next);
                    chars.next();
                    continue;
                }
            }
        }
        out.push(c);
    }
    out
}

fn substitute_variables(
    value: &str,
    hash: &HashMap<String, String>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> (String, Vec<Reference>) {
    let mut references = Vec::new();
    let mut out = String::with_capacity(value.len());
    let mut last = 0;
    let mut position = 0;
    while let Some(captures) = VARIABLE.captures_at(value, position) {
        let whole = captures.get(0).expect("group 0 always exists");
        position = whole.end().max(whole.start() + 1);
        let dollar = whole.start() + captures.get(1).map_or(0, |m| m.len());
        // `(?!\()`: a `$` followed by `(` is a command, not a variable.
        if value[dollar + 1..].starts_with('(') {
            continue;
        }
        out.push_str(&value[last..whole.start()]);
        last = whole.end();
        if captures.get(1).is_some() {
            out.push_str(&whole.as_str()[1..]);
        } else if let Some(name) = captures.get(3) {
            let name = name.as_str();
            let resolved = lookup(name).or_else(|| hash.get(name).cloned());
            out.push_str(resolved.as_deref().unwrap_or(""));
            references.push(Reference {
                name: name.to_string(),
                resolved,
            });
        } else {
            out.push_str(whole.as_str());
        }
    }
    out.push_str(&value[last..]);
    (out, references)
}

/// Finds `$(...)` with balanced parentheses, as the gem's command pattern does,
/// and drops the backslash of an escaped `\$(...)`.
fn find_commands(value: &str) -> (String, Vec<String>) {
    let bytes = value.as_bytes();
    let mut commands = Vec::new();
    let mut out = String::with_capacity(value.len());
    let mut index = 0;
    let mut copied = 0;
    while index + 1 < bytes.len() {
        if bytes[index] == b'$' && bytes[index + 1] == b'(' {
            if let Some(close) = balanced_close(bytes, index + 1) {
                let escaped = index > 0 && bytes[index - 1] == b'\\';
                if escaped {
                    out.push_str(&value[copied..index - 1]);
                    copied = index;
                } else {
                    commands.push(value[index + 2..close].to_string());
                }
                index = close + 1;
                continue;
            }
        }
        index += 1;
    }
    out.push_str(&value[copied..]);
    (out, commands)
}

/// Returns the index of the `)` that closes the `(` at `open`, if the group
/// is balanced and not empty.
fn balanced_close(bytes: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (index, byte) in bytes.iter().enumerate().skip(open) {
        match byte {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return (index > open + 1).then_some(index);
                }
            }
            _ => {}
        }
    }
    None
}

/// Lines with content outside every match that are not comments.
fn skipped_lines(normalized: &Normalized, covered: &[bool]) -> Vec<Span> {
    let mut skipped = Vec::new();
    let mut line_start = 0;
    for line in normalized.text.split('\n') {
        let line_end = line_start + line.len();
        let uncovered: String = (line_start..line_end)
            .filter(|&index| !covered[index])
            .map(|index| normalized.text.as_bytes()[index] as char)
            .collect();
        let content = uncovered.trim();
        if !content.is_empty() && !content.starts_with('#') {
            skipped.push(normalized.span(line_start, line_end));
        }
        line_start = line_end + 1;
    }
    skipped
}

/// `Dotenv::Parser#parse_line`: an `export KEY` line whose names are not all
/// defined in this file raises `FormatError`.
fn export_format_error(normalized: &Normalized, covered: &[bool], hash: &HashMap<String, String>) -> Option<(Span, String)> {
    let mut line_start = 0;
    for line in normalized.text.split('\n') {
        let line_end = line_start + line.len();
        let leftover: String = (line_start..line_end)
            .filter(|&index| !covered[index])
            .map(|index| normalized.text.as_bytes()[index] as char)
            .collect();
        let mut words = leftover.split_ascii_whitespace();
        if words.next() == Some("export") {
            let names: Vec<&str> = words.collect();
            if !names.iter().all(|name| hash.contains_key(*name)) {
                let message = format!("Line {:?} has an unset variable", leftover.trim());
                return Some((normalized.span(line_start, line_end), message));
            }
        }
        line_start = line_end + 1;
    }
    None
}
