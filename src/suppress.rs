//! Inline ignores written in the env files.
//!
//! A comment line
//!
//! ```text
//! # mastodon-oidc-check: ignore pkce-recommended,uid-opaque-sub -- our Mastodon 4.2 cannot send PKCE
//! OIDC_USE_PKCE=false
//! ```
//!
//! ignores the named rules' findings located on the next line with content
//! (blank lines and other comments are skipped), which normally is a
//! `KEY=value` assignment, all lines of a multi-line value included. Ruby
//! dotenv skips comment lines, so the directive never changes what Mastodon
//! reads. A directive that cannot be applied is not a usage error, because
//! the env file is the admin's production file: the rule
//! `invalid-ignore-comment` reports it instead.

use crate::envfile::{EnvSet, ParsedFile, Span};
use crate::rules;

/// The text that starts a directive after `#`.
pub const MARKER: &str = "mastodon-oidc-check:";

/// A reason a directive is not applied in full.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The word after the marker is not `ignore`.
    UnknownCommand(String),
    /// `ignore` without a rule id.
    NoRules,
    /// A rule id that is not in the registry, with the nearest one.
    UnknownRule { id: String, suggestion: Option<&'static str> },
    /// No ` -- reason` after the rule ids.
    MissingReason,
    /// No line with content follows the directive.
    NoTarget,
    /// The directive follows a value on the same line, where it applies to nothing.
    Trailing { key: String },
}

/// The lines an inline ignore applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// 1-based first and last line; they differ for a multi-line value.
    pub first_line: usize,
    pub last_line: usize,
    /// The key assigned there, when the line is an assignment.
    pub key: Option<String>,
}

/// One `# mastodon-oidc-check:` comment.
#[derive(Clone, Debug)]
pub struct Directive {
    /// Index into `EnvSet::files`.
    pub file: usize,
    /// 1-based line of the comment.
    pub line: usize,
    /// The comment, from `#` to the end of the line.
    pub span: Span,
    /// Known rule ids the directive names.
    pub rules: Vec<&'static str>,
    pub reason: Option<String>,
    pub target: Option<Target>,
    pub problems: Vec<Problem>,
}

impl Directive {
    /// Returns true when the directive ignores `rule` at 1-based `line` of its file.
    pub fn covers(&self, rule: &str, line: usize) -> bool {
        let Some(target) = &self.target else { return false };
        self.reason.is_some() && self.rules.contains(&rule) && (target.first_line..=target.last_line).contains(&line)
    }
}

/// Lists the directives of every file, with what is wrong with each.
pub fn directives(env: &EnvSet) -> Vec<Directive> {
    env.files.iter().enumerate().flat_map(|(index, file)| file_directives(index, file)).collect()
}

/// Returns the span of each line of a file, without its line break.
fn lines(file: &ParsedFile) -> Vec<Span> {
    let text = &file.source.text;
    let mut spans = Vec::new();
    let mut offset = 0;
    loop {
        let span = file.source.line_span(offset);
        spans.push(span);
        let rest = &text[span.end..];
        let line_break = if rest.starts_with("\r\n") {
            2
        } else if rest.starts_with('\n') || rest.starts_with('\r') {
            1
        } else {
            0
        };
        if line_break == 0 {
            break;
        }
        offset = span.end + line_break;
        if offset >= text.len() {
            break;
        }
    }
    spans
}

fn file_directives(index: usize, file: &ParsedFile) -> Vec<Directive> {
    let text = &file.source.text;
    let lines = lines(file);
    let inside_value = |offset: usize| file.entries.iter().any(|entry| entry.value_span.start < offset && offset < entry.value_span.end);

    let mut directives = Vec::new();
    for (line_index, line) in lines.iter().enumerate() {
        let raw = &text[line.start..line.end];
        let without_bom = raw.trim_start_matches('\u{FEFF}');
        let indent = without_bom.len() - without_bom.trim_start().len();
        let comment_start = line.start + (raw.len() - without_bom.len()) + indent;
        let content = without_bom.trim();
        let Some(comment) = content.strip_prefix('#') else { continue };
        let Some(body) = comment.trim_start().strip_prefix(MARKER) else { continue };
        if inside_value(comment_start) {
            continue;
        }

        let mut directive = parse_body(body);
        directive.file = index;
        directive.line = line_index + 1;
        directive.span = Span::new(comment_start, comment_start + content.len());
        directive.target = target_after(file, &lines, line_index);
        if directive.target.is_none() {
            directive.problems.push(Problem::NoTarget);
        }
        directives.push(directive);
    }
    directives.extend(trailing_directives(index, file));
    directives
}

/// Parses what follows the marker: `ignore RULE[,RULE] -- reason`.
fn parse_body(body: &str) -> Directive {
    let mut directive = Directive {
        file: 0,
        line: 0,
        span: Span::default(),
        rules: Vec::new(),
        reason: None,
        target: None,
        problems: Vec::new(),
    };
    let body = body.trim();
    let (command, rest) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
    if command != "ignore" {
        directive.problems.push(Problem::UnknownCommand(command.to_string()));
        return directive;
    }

    // Rule ids are kebab-case without `--`, so the first `--` starts the reason.
    let (ids, reason) = match rest.split_once("--") {
        Some((ids, reason)) => (ids, Some(reason.trim())),
        None => (rest, None),
    };
    for id in ids.split([',', ' ', '\t']).filter(|id| !id.is_empty()) {
        match rules::find(id) {
            Some(rule) => directive.rules.push(rule.id),
            None => directive.problems.push(Problem::UnknownRule {
                id: id.to_string(),
                suggestion: crate::config::nearest_rule(id),
            }),
        }
    }
    if directive.rules.is_empty() && !directive.problems.iter().any(|problem| matches!(problem, Problem::UnknownRule { .. })) {
        directive.problems.push(Problem::NoRules);
    }
    match reason.filter(|reason| !reason.is_empty()) {
        Some(reason) => directive.reason = Some(reason.to_string()),
        None => directive.problems.push(Problem::MissingReason),
    }
    directive
}

/// Finds the next line with content after `line_index`, skipping blank and
/// comment lines, and extends it over a value that spans several lines.
fn target_after(file: &ParsedFile, lines: &[Span], line_index: usize) -> Option<Target> {
    let text = &file.source.text;
    let (offset, span) = lines.iter().enumerate().skip(line_index + 1).find_map(|(index, span)| {
        let content = text[span.start..span.end].trim();
        (!content.is_empty() && !content.starts_with('#')).then_some((index, *span))
    })?;
    let first_line = offset + 1;
    let entry = file.entries.iter().find(|entry| span.start <= entry.key_span.start && entry.key_span.start <= span.end);
    match entry {
        Some(entry) => {
            let (last_line, _) = file.source.line_col(entry.value_span.end.max(entry.key_span.end));
            Some(Target { first_line, last_line: last_line.max(first_line), key: Some(entry.key.clone()) })
        }
        None => Some(Target { first_line, last_line: first_line, key: None }),
    }
}

/// Finds directives written after a value on the same line, which apply to nothing.
fn trailing_directives(index: usize, file: &ParsedFile) -> Vec<Directive> {
    let text = &file.source.text;
    let mut directives = Vec::new();
    for entry in &file.entries {
        let end = entry.value_span.end.max(entry.key_span.end);
        let line = file.source.line_span(end);
        let rest = &text[end..line.end.max(end)];
        let Some(hash) = rest.find('#') else { continue };
        if !rest[hash + 1..].trim_start().starts_with(MARKER) {
            continue;
        }
        let start = end + hash;
        let (line_number, _) = file.source.line_col(start);
        directives.push(Directive {
            file: index,
            line: line_number,
            span: Span::new(start, line.end),
            rules: Vec::new(),
            reason: None,
            target: None,
            problems: vec![Problem::Trailing { key: entry.key.clone() }],
        });
    }
    directives
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::envfile::SourceFile;

    fn parse_env(text: &str) -> Vec<Directive> {
        let env = EnvSet::from_sources(vec![SourceFile::new(".env.production", text.as_bytes())], HashMap::new());
        directives(&env)
    }

    #[test]
    fn directive_applies_to_next_assignment() {
        let directives = parse_env("LOCAL_DOMAIN=mastodon.example\n# mastodon-oidc-check: ignore pkce-recommended -- Mastodon 4.2 cannot send PKCE\nOIDC_USE_PKCE=false\n");
        assert_eq!(directives.len(), 1);
        let directive = &directives[0];
        assert_eq!(directive.line, 2);
        assert_eq!(directive.rules, vec!["pkce-recommended"]);
        assert_eq!(directive.reason.as_deref(), Some("Mastodon 4.2 cannot send PKCE"));
        assert_eq!(directive.target, Some(Target { first_line: 3, last_line: 3, key: Some("OIDC_USE_PKCE".into()) }));
        assert!(directive.problems.is_empty(), "{:?}", directive.problems);
        assert!(directive.covers("pkce-recommended", 3));
        assert!(!directive.covers("pkce-recommended", 1));
        assert!(!directive.covers("uid-opaque-sub", 3));
    }

    #[test]
    fn directive_skips_blank_and_comment_lines() {
        let directives = parse_env("#mastodon-oidc-check:ignore uid-opaque-sub, uid-mutable-claim -- usernames are managed\n\n# the uid claim\nOIDC_UID_FIELD=sub\n");
        assert_eq!(directives[0].rules, vec!["uid-opaque-sub", "uid-mutable-claim"]);
        assert_eq!(directives[0].target.as_ref().map(|target| target.first_line), Some(4));
    }

    #[test]
    fn stacked_directives_share_a_target() {
        let directives = parse_env("# mastodon-oidc-check: ignore uid-opaque-sub -- a\n# mastodon-oidc-check: ignore uid-mutable-claim -- b\nOIDC_UID_FIELD=sub\n");
        assert_eq!(directives.len(), 2);
        assert!(directives.iter().all(|directive| directive.target.as_ref().map(|target| target.first_line) == Some(3)));
    }

    #[test]
    fn multi_line_value_is_covered_whole() {
        let directives = parse_env("# mastodon-oidc-check: ignore literal-backslash-n -- intended\nOIDC_DISPLAY_NAME=\"one\ntwo\"\nB=1\n");
        assert_eq!(directives[0].target, Some(Target { first_line: 2, last_line: 3, key: Some("OIDC_DISPLAY_NAME".into()) }));
    }

    #[test]
    fn comment_inside_quoted_value_is_not_a_directive() {
        let directives = parse_env("KEY=\"a\n# mastodon-oidc-check: ignore pkce-recommended -- x\nb\"\n");
        assert!(directives.is_empty(), "{directives:?}");
    }

    #[test]
    fn missing_reason_is_a_problem() {
        for text in ["# mastodon-oidc-check: ignore pkce-recommended\nA=1\n", "# mastodon-oidc-check: ignore pkce-recommended --  \nA=1\n"] {
            let directives = parse_env(text);
            assert_eq!(directives[0].problems, vec![Problem::MissingReason], "{text:?}");
            assert!(!directives[0].covers("pkce-recommended", 2), "{text:?}");
        }
    }

    #[test]
    fn unknown_rule_is_a_problem_with_suggestion() {
        let directives = parse_env("# mastodon-oidc-check: ignore pkce-recomended,uid-opaque-sub -- x\nA=1\n");
        assert_eq!(directives[0].rules, vec!["uid-opaque-sub"]);
        assert_eq!(directives[0].problems, vec![Problem::UnknownRule { id: "pkce-recomended".into(), suggestion: Some("pkce-recommended") }]);
        assert!(directives[0].covers("uid-opaque-sub", 2));
    }

    #[test]
    fn other_command_and_empty_list_are_problems() {
        assert_eq!(parse_env("# mastodon-oidc-check: disable pkce-recommended -- x\nA=1\n")[0].problems, vec![Problem::UnknownCommand("disable".into())]);
        assert_eq!(parse_env("# mastodon-oidc-check: ignore -- x\nA=1\n")[0].problems, vec![Problem::NoRules]);
    }

    #[test]
    fn directive_at_end_of_file_has_no_target() {
        let directives = parse_env("A=1\n# mastodon-oidc-check: ignore pkce-recommended -- x\n\n# end\n");
        assert_eq!(directives[0].problems, vec![Problem::NoTarget]);
    }

    #[test]
    fn trailing_directive_is_a_problem() {
        let directives = parse_env("OIDC_USE_PKCE=false # mastodon-oidc-check: ignore pkce-recommended -- x\n");
        assert_eq!(directives.len(), 1);
        assert_eq!(directives[0].problems, vec![Problem::Trailing { key: "OIDC_USE_PKCE".into() }]);
        assert_eq!(directives[0].line, 1);
    }

    #[test]
    fn crlf_lines_are_counted_once() {
        let directives = parse_env("A=1\r\n# mastodon-oidc-check: ignore pkce-recommended -- x\r\nOIDC_USE_PKCE=false\r\n");
        assert_eq!(directives[0].line, 2);
        assert_eq!(directives[0].target.as_ref().map(|target| target.first_line), Some(3));
    }

    #[test]
    fn ordinary_comments_are_not_directives() {
        assert!(parse_env("# mastodon-oidc-check is run from cron\n# ignore this\nA=1\n").is_empty());
    }
}
