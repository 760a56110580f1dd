//! `--format junit`: JUnit XML for the test report views of CI systems
//! (GitLab, Jenkins, Azure Pipelines).
//!
//! One test case per rule of the registry, named by the rule id:
//!
//! - `<failure type="SEVERITY">` when the rule reported findings at or above
//!   `--fail-on`, the findings that make the exit status 1;
//! - `<error type="could-not-check">` when a check could not run (DNS,
//!   connection, timeout, a 5xx answer), the findings behind exit status 3;
//! - `<skipped>` with the reason when the rule did not run for lack of an
//!   input, or when every finding it reported is ignored;
//! - otherwise the test case passes. Findings below `--fail-on`, and ignored
//!   findings next to others, are listed in its `<system-out>`.
//!
//! The suite's properties give the tool version, the exit status and whether
//! every check could run.

use super::{describe_exit_code, rfc3339_utc, Report};
use crate::finding::Finding;
use crate::rules;

pub fn render(report: &Report) -> String {
    let mut cases = Vec::new();
    let mut totals = Totals::default();
    for rule in rules::registry() {
        let findings: Vec<&Finding> = report.findings.iter().filter(|finding| finding.rule == rule.id).collect();
        let skipped = report.skipped.iter().find(|skipped| skipped.rule == rule.id);
        cases.push(test_case(report, rule.id, &findings, skipped.map(|skipped| skipped.reason.as_str()), &mut totals));
    }

    let exit_code = report.exit_code();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let counts = format!(
        "tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\"",
        cases.len(),
        totals.failures,
        totals.errors,
        totals.skipped
    );
    xml.push_str(&format!("<testsuites name=\"mastodon-oidc-check\" {counts}>\n"));
    // The Ant JUnit schema writes timestamps without a zone; the time is UTC.
    let timestamp = rfc3339_utc(report.checked_at).trim_end_matches('Z').to_string();
    xml.push_str(&format!("  <testsuite name=\"mastodon-oidc-check\" {counts} timestamp=\"{timestamp}\">\n"));
    xml.push_str("    <properties>\n");
    let properties = [
        ("version", report.version.to_string()),
        ("files", report.checked.files.join(", ")),
        ("exit_code", exit_code.to_string()),
        ("exit_status", describe_exit_code(exit_code).to_string()),
        ("complete", report.is_complete().to_string()),
    ];
    for (name, value) in properties {
        xml.push_str(&format!("      <property name=\"{name}\" value=\"{}\"/>\n", attribute(&value)));
    }
    xml.push_str("    </properties>\n");
    for case in cases {
        xml.push_str(&case);
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    report.redactor.redact(&xml)
}

#[derive(Default)]
struct Totals {
    failures: usize,
    errors: usize,
    skipped: usize,
}

fn test_case(report: &Report, rule: &str, findings: &[&Finding], skipped_reason: Option<&str>, totals: &mut Totals) -> String {
    let active: Vec<&Finding> = findings.iter().copied().filter(|finding| finding.suppressed.is_none()).collect();
    let incomplete: Vec<&Finding> = active.iter().copied().filter(|finding| finding.incomplete).collect();
    let failing: Vec<&Finding> = active.iter().copied().filter(|finding| !finding.incomplete && finding.severity >= report.fail_on).collect();
    let passing: Vec<&Finding> = active.iter().copied().filter(|finding| !finding.incomplete && finding.severity < report.fail_on).collect();
    let ignored: Vec<&Finding> = findings.iter().copied().filter(|finding| finding.suppressed.is_some()).collect();

    let mut body = String::new();
    if let Some(reason) = skipped_reason {
        totals.skipped += 1;
        body.push_str(&format!("      <skipped message=\"{}\"/>\n", attribute(&format!("did not run: {reason}"))));
    } else if active.is_empty() && !ignored.is_empty() {
        totals.skipped += 1;
        let reasons: Vec<String> = ignored.iter().map(|finding| ignore_note(finding)).collect();
        body.push_str(&format!("      <skipped message=\"{}\"/>\n", attribute(&reasons.join("; "))));
    }
    if !incomplete.is_empty() {
        totals.errors += 1;
        body.push_str(&format!(
            "      <error type=\"could-not-check\" message=\"{}\">{}</error>\n",
            attribute(&format!("could not check: {}", headline(&incomplete))),
            text(&describe(report, &incomplete))
        ));
    }
    if !failing.is_empty() {
        totals.failures += 1;
        let severity = failing.iter().map(|finding| finding.severity).max().expect("failing is not empty");
        body.push_str(&format!(
            "      <failure type=\"{severity}\" message=\"{}\">{}</failure>\n",
            attribute(&headline(&failing)),
            text(&describe(report, &failing))
        ));
    }

    let mut output = describe(report, &passing);
    if !active.is_empty() {
        for finding in &ignored {
            output.push_str(&format!("{}\n", ignore_note(finding)));
        }
    }
    if !output.is_empty() {
        body.push_str(&format!("      <system-out>{}</system-out>\n", text(&output)));
    }

    if body.is_empty() {
        format!("    <testcase name=\"{}\" classname=\"mastodon-oidc-check\"/>\n", attribute(rule))
    } else {
        format!("    <testcase name=\"{}\" classname=\"mastodon-oidc-check\">\n{body}    </testcase>\n", attribute(rule))
    }
}

/// Returns the first finding's message and how many more there are.
fn headline(findings: &[&Finding]) -> String {
    match findings {
        [] => String::new(),
        [only] => only.message.clone(),
        [first, rest @ ..] => format!("{} (and {} more)", first.message, rest.len()),
    }
}

/// Describes each finding on its own lines: location, severity, message and help.
fn describe(report: &Report, findings: &[&Finding]) -> String {
    let mut out = String::new();
    for finding in findings {
        if let Some(label) = &finding.primary {
            let place = report.location(label);
            out.push_str(&format!("{}:{}:{}: ", place.path, place.line, place.column));
        }
        out.push_str(&format!("{}: {}\n", finding.severity, finding.message));
        if let Some(help) = &finding.help {
            out.push_str(&format!("help: {help}\n"));
        }
    }
    out
}

fn ignore_note(finding: &Finding) -> String {
    match &finding.suppressed {
        Some(suppression) => format!("ignored ({}): {}: {}", suppression.source, suppression.reason, finding.message),
        None => finding.message.clone(),
    }
}

/// Replaces characters that XML 1.0 forbids, such as ESC or NUL quoted from a value.
fn valid_xml_char(character: char) -> char {
    match character {
        '\t' | '\n' | '\r' => character,
        '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => '\u{FFFD}',
        other => other,
    }
}

/// Escapes element text.
fn text(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for character in value.chars().map(valid_xml_char) {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Escapes an attribute value; line breaks and tabs are kept as character
/// references, which attribute normalisation would otherwise turn into spaces.
fn attribute(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for character in value.chars().map(valid_xml_char) {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\n' => escaped.push_str("&#10;"),
            '\r' => escaped.push_str("&#13;"),
            '\t' => escaped.push_str("&#9;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_escapes_markup_and_breaks() {
        assert_eq!(attribute("a<b>&\"c\"\nd"), "a&lt;b&gt;&amp;&quot;c&quot;&#10;d");
    }

    #[test]
    fn text_replaces_invalid_characters() {
        assert_eq!(text("x\u{1b}[0m\u{0}y & z"), "x\u{FFFD}[0m\u{FFFD}y &amp; z");
    }
}
