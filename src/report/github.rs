//! `--format github`: GitHub Actions workflow commands, one per finding, which
//! GitHub shows as annotations on the run and on the `.env` lines. Never
//! coloured.
//!
//! - A finding is `::error`, `::warning` or `::notice` (for info) with the
//!   file, line, column and the rule id as title.
//! - A check that could not run (DNS, connection, timeout, a 5xx answer) is an
//!   `::error` whose title and message start with "could not check", so it is
//!   not mistaken for a wrong setting.
//! - An ignored finding is a `::notice` titled "ignored: RULE" whose message
//!   gives the ignore's reason and where it is written.
//! - A last plain line sums up the counts and the exit status.
//!
//! File paths are printed as given on the command line: GitHub matches them
//! against the repository, so run the check from the repository root.

use super::{describe_exit_code, Report};
use crate::finding::{Finding, Severity};

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for finding in &report.findings {
        out.push_str(&command(report, finding));
        out.push('\n');
    }
    out.push_str(&summary(report));
    report.redactor.redact(&out)
}

/// Builds the workflow command of one finding.
fn command(report: &Report, finding: &Finding) -> String {
    let (name, title, message) = if let Some(suppression) = &finding.suppressed {
        (
            "notice",
            format!("ignored: {}", finding.rule),
            format!("ignored ({}): {}\n{}", suppression.source, suppression.reason, finding.message),
        )
    } else if finding.incomplete {
        (
            "error",
            format!("could not check: {}", finding.rule),
            format!("could not check, which is not a configuration error: {}", with_help(finding)),
        )
    } else {
        let name = match finding.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        (name, finding.rule.to_string(), with_help(finding))
    };

    let mut properties: Vec<(&str, String)> = Vec::new();
    if let Some(label) = &finding.primary {
        let place = report.location(label);
        properties.push(("file", place.path.clone()));
        properties.push(("line", place.line.to_string()));
        properties.push(("col", place.column.to_string()));
        properties.push(("endLine", place.end_line.to_string()));
        properties.push(("endColumn", place.end_column.to_string()));
    }
    properties.push(("title", title));
    let properties: Vec<String> = properties.into_iter().map(|(key, value)| format!("{key}={}", escape_property(&value))).collect();
    format!("::{name} {}::{}", properties.join(","), escape_data(&message))
}

fn with_help(finding: &Finding) -> String {
    match &finding.help {
        Some(help) => format!("{}\nhelp: {help}", finding.message),
        None => finding.message.clone(),
    }
}

/// Builds the closing plain line: counts, ignores, skipped rules and the exit status.
fn summary(report: &Report) -> String {
    let ignored = report.findings.iter().filter(|finding| finding.suppressed.is_some()).count();
    let incomplete = report.incomplete_count();
    let code = report.exit_code();
    format!(
        "mastodon-oidc-check: {}, {}, {} info, {} could not run, {ignored} ignored, {} skipped; exit status {code}: {}\n",
        plural(report.count(Severity::Error), "error"),
        plural(report.count(Severity::Warning), "warning"),
        report.count(Severity::Info),
        plural(incomplete, "check"),
        plural(report.skipped.len(), "rule"),
        describe_exit_code(code),
    )
}

fn plural(count: usize, word: &str) -> String {
    if count == 1 {
        format!("{count} {word}")
    } else {
        format!("{count} {word}s")
    }
}

/// Escapes a command's message as the Actions runner decodes it. Other
/// control characters, such as an ESC quoted from a value, become U+FFFD so
/// that no terminal sequence reaches the log.
fn escape_data(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '%' => escaped.push_str("%25"),
            '\r' => escaped.push_str("%0D"),
            '\n' => escaped.push_str("%0A"),
            '\t' => escaped.push('\t'),
            other if other.is_control() => escaped.push('\u{FFFD}'),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Escapes a property value, where `:` and `,` also end the value.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_escapes_percent_and_newlines() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
    }

    #[test]
    fn data_replaces_escape_character() {
        assert_eq!(escape_data("a\u{1b}[31mb"), "a\u{FFFD}[31mb");
    }

    #[test]
    fn property_escapes_colon_and_comma() {
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }
}
