//! `--format sarif`: one SARIF 2.1.0 log for GitHub code scanning and other
//! SARIF viewers.
//!
//! - `tool.driver.rules` describes every rule of the registry: id, summary,
//!   explanation, default level and the URL of its section in docs/rules.md.
//! - Each finding is a result located in the `.env` file. GitHub rejects a
//!   result without a location, so a finding about a value from the process
//!   environment points at the first checked file.
//! - A finding that means a check could not run (DNS, connection, timeout, a
//!   5xx answer) is no result: it becomes an error in
//!   `invocations[0].toolExecutionNotifications`, and
//!   `invocations[0].executionSuccessful` is false. Rules skipped for a missing
//!   input are notifications of level `note`.
//! - An ignored finding stays a result, with a `suppressions` entry whose
//!   justification is the reason the ignore gives.

use serde_json::{json, Map, Value};

use super::{describe_exit_code, rfc3339_utc, Report};
use crate::finding::{Finding, Label, Severity};
use crate::rules::{self, Rule};

/// The schema the log declares: the OASIS SARIF 2.1.0 schema, errata 01.
pub const SCHEMA_URI: &str = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

pub fn render(report: &Report) -> String {
    let rules: Vec<&'static Rule> = rules::registry().collect();

    let mut results = Vec::new();
    let mut notifications = Vec::new();
    for finding in &report.findings {
        let rule_index = rules.iter().position(|rule| rule.id == finding.rule);
        if finding.incomplete && finding.suppressed.is_none() {
            notifications.push(incomplete_notification(report, finding, rule_index));
        } else {
            results.push(result(report, finding, rule_index));
        }
    }
    for skipped in &report.skipped {
        let rule_index = rules.iter().position(|rule| rule.id == skipped.rule);
        notifications.push(json!({
            "level": "note",
            "message": {"text": format!("rule {} did not run: {}", skipped.rule, skipped.reason)},
            "associatedRule": rule_reference(skipped.rule, rule_index),
        }));
    }

    let exit_code = report.exit_code();
    let document = json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "mastodon-oidc-check",
                    "version": report.version,
                    "semanticVersion": report.version,
                    "informationUri": env!("CARGO_PKG_REPOSITORY"),
                    "rules": rules.iter().map(|rule| descriptor(rule)).collect::<Vec<_>>(),
                }
            },
            "invocations": [{
                "executionSuccessful": report.is_complete(),
                "exitCode": exit_code,
                "exitCodeDescription": describe_exit_code(exit_code),
                "endTimeUtc": rfc3339_utc(report.checked_at),
                "toolExecutionNotifications": notifications,
            }],
            // Columns count characters (Unicode code points), not UTF-16 units.
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    let text = serde_json::to_string_pretty(&document).expect("a JSON value always serializes") + "\n";
    report.redactor.redact(&text)
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// Builds the reportingDescriptor of a rule.
fn descriptor(rule: &Rule) -> Value {
    // The first paragraph describes what goes wrong, and the whole explanation ends with the fix.
    let description = rule.explanation.split("\n\n").next().unwrap_or(rule.explanation);
    json!({
        "id": rule.id,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": description},
        "help": {"text": rule.explanation},
        "helpUri": rules::help_uri(rule.id),
        "defaultConfiguration": {"level": level(rule.severity)},
        "properties": {"needs": rule.needs},
    })
}

fn rule_reference(id: &str, index: Option<usize>) -> Value {
    match index {
        Some(index) => json!({"id": id, "index": index}),
        None => json!({"id": id}),
    }
}

/// Returns the finding's message, then its help on a line of its own.
fn message_text(finding: &Finding) -> String {
    match &finding.help {
        Some(help) => format!("{}\nhelp: {help}", finding.message),
        None => finding.message.clone(),
    }
}

fn result(report: &Report, finding: &Finding, rule_index: Option<usize>) -> Value {
    let mut result = Map::new();
    result.insert("ruleId".into(), json!(finding.rule));
    if let Some(index) = rule_index {
        result.insert("ruleIndex".into(), json!(index));
    }
    result.insert("level".into(), json!(level(finding.severity)));
    result.insert("message".into(), json!({"text": message_text(finding)}));
    result.insert("locations".into(), Value::Array(primary_locations(report, finding)));

    let related: Vec<Value> = finding
        .related
        .iter()
        .enumerate()
        .map(|(index, label)| {
            let mut location = location(report, label);
            location["id"] = json!(index);
            location
        })
        .collect();
    if !related.is_empty() {
        result.insert("relatedLocations".into(), Value::Array(related));
    }

    if let Some(suppression) = &finding.suppressed {
        result.insert(
            "suppressions".into(),
            json!([{
                "kind": "external",
                "status": "accepted",
                "justification": suppression.reason,
                "properties": {"source": suppression.source},
            }]),
        );
    }
    if finding.incomplete {
        result.insert("properties".into(), json!({"incomplete": true}));
    }
    Value::Object(result)
}

/// Describes a check that could not run as an error notification of the invocation.
fn incomplete_notification(report: &Report, finding: &Finding, rule_index: Option<usize>) -> Value {
    json!({
        "level": "error",
        "message": {"text": format!("could not check: {}", message_text(finding))},
        "locations": primary_locations(report, finding),
        "associatedRule": rule_reference(finding.rule, rule_index),
    })
}

/// Returns the primary label's location, or the first checked file when the
/// finding has none, because GitHub code scanning requires one location per result.
fn primary_locations(report: &Report, finding: &Finding) -> Vec<Value> {
    if let Some(label) = &finding.primary {
        return vec![location(report, label)];
    }
    match report.env.files.first() {
        Some(file) => vec![json!({
            "physicalLocation": {"artifactLocation": artifact_location(&file.source.path.display().to_string())}
        })],
        None => Vec::new(),
    }
}

fn location(report: &Report, label: &Label) -> Value {
    let place = report.location(label);
    let mut region = json!({
        "startLine": place.line,
        "startColumn": place.column,
        "endLine": place.end_line,
        "endColumn": place.end_column,
    });
    // SARIF's endColumn is exclusive, like the span end; an empty span keeps
    // one column so the region stays valid for viewers.
    if place.end_line == place.line && place.end_column <= place.column {
        region["endColumn"] = json!(place.column + 1);
    }
    let mut location = json!({
        "physicalLocation": {
            "artifactLocation": artifact_location(&place.path),
            "region": region,
        }
    });
    if let Some(message) = &label.message {
        location["message"] = json!({"text": message});
    }
    location
}

/// Builds the artifactLocation of a path. A relative path stays relative to
/// the directory the check ran in (`%SRCROOT%`, the repository root in CI),
/// and an absolute path becomes a `file://` URI.
fn artifact_location(path: &str) -> Value {
    let native = std::path::Path::new(path);
    if native.is_absolute() {
        if let Ok(url) = url::Url::from_file_path(native) {
            return json!({"uri": url.as_str()});
        }
    }
    let relative = path.replace('\\', "/");
    let relative = relative.strip_prefix("./").unwrap_or(&relative);
    let encoded: Vec<String> = relative.split('/').map(encode_segment).collect();
    json!({"uri": encoded.join("/"), "uriBaseId": "%SRCROOT%"})
}

/// Percent-encodes one path segment as RFC 3986 requires, keeping unreserved characters.
fn encode_segment(segment: &str) -> String {
    let mut encoded = String::new();
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_path_keeps_base_id() {
        assert_eq!(artifact_location(".env.production"), json!({"uri": ".env.production", "uriBaseId": "%SRCROOT%"}));
        assert_eq!(artifact_location("./deploy/my env"), json!({"uri": "deploy/my%20env", "uriBaseId": "%SRCROOT%"}));
    }

    #[test]
    fn absolute_path_becomes_file_uri() {
        assert_eq!(artifact_location("/home/mastodon/live/.env.production"), json!({"uri": "file:///home/mastodon/live/.env.production"}));
    }

}
