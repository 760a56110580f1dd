//! `--format json`: one object; the schema is documented in docs/json.md.

use serde_json::{json, Value};

use super::Report;
use crate::finding::Severity;

/// Version of the JSON layout; raised only on an incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

pub fn render(report: &Report) -> String {
    let findings: Vec<Value> = report
        .findings
        .iter()
        .map(|finding| {
            let location = finding.primary.as_ref().map(|label| report.location(label));
            let related: Vec<Value> = finding
                .related
                .iter()
                .map(|label| json!({"location": report.location(label), "message": label.message}))
                .collect();
            json!({
                "rule": finding.rule,
                "severity": finding.severity,
                "message": finding.message,
                "help": finding.help,
                "location": location,
                "label": finding.primary.as_ref().and_then(|label| label.message.clone()),
                "related": related,
                "incomplete": finding.incomplete,
                "suppressed": finding.suppressed,
            })
        })
        .collect();
    let document = json!({
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "mastodon-oidc-check", "version": report.version},
        "checked": report.checked,
        "summary": {
            "error": report.count(Severity::Error),
            "warning": report.count(Severity::Warning),
            "info": report.count(Severity::Info),
            "incomplete": report.incomplete_count(),
            "suppressed": report.findings.iter().filter(|finding| finding.suppressed.is_some()).count(),
            "fail_on": report.fail_on,
            "exit_code": report.exit_code(),
        },
        "findings": findings,
        "skipped": report.skipped,
    });
    let text = serde_json::to_string_pretty(&document).expect("a JSON value always serializes");
    report.redactor.redact(&text)
}
