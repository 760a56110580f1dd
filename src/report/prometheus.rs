//! `--format prometheus`: the Prometheus text exposition format (0.0.4), for
//! node_exporter's textfile collector. Samples carry no timestamps, as the
//! collector requires; the time of the check is a metric of its own.
//!
//! docs/prometheus.md documents every metric and gives alert rules.
//! Findings that mean a check could not run are counted apart from the
//! configuration findings, so an alert can tell "wrong" from "unknown".

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::Report;
use crate::finding::Severity;

const PREFIX: &str = "mastodon_oidc_check";

pub fn render(report: &Report) -> String {
    let mut out = Exposition::default();

    out.family("build_info", "gauge", "Always 1; the version label is the version of mastodon-oidc-check that wrote this file.");
    out.sample("build_info", &[("version", report.version)], 1.0);

    out.family("last_run_timestamp_seconds", "gauge", "Time of the check, in seconds since the Unix epoch.");
    out.sample("last_run_timestamp_seconds", &[], report.checked_at as f64);

    let exit_code = report.exit_code();
    out.family("exit_code", "gauge", "Exit status of the check: 0 no finding at or above --fail-on, 1 the configuration is wrong, 3 a check could not complete.");
    out.sample("exit_code", &[], f64::from(exit_code));

    out.family("complete", "gauge", "1 when every check could run, 0 when one could not (DNS, connection, timeout, a 5xx or 429 answer).");
    out.sample("complete", &[], if report.is_complete() { 1.0 } else { 0.0 });

    // Counted findings, split into configuration findings and checks that could not run.
    let configuration = report.active().filter(|finding| !finding.incomplete);
    let mut by_severity: BTreeMap<Severity, usize> = [Severity::Error, Severity::Warning, Severity::Info].into_iter().map(|severity| (severity, 0)).collect();
    let mut by_rule: BTreeMap<(&str, Severity), usize> = BTreeMap::new();
    for finding in configuration {
        *by_severity.entry(finding.severity).or_default() += 1;
        *by_rule.entry((finding.rule, finding.severity)).or_default() += 1;
    }
    let mut incomplete_by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for finding in report.active().filter(|finding| finding.incomplete) {
        *incomplete_by_rule.entry(finding.rule).or_default() += 1;
    }
    let mut suppressed_by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for finding in report.findings.iter().filter(|finding| finding.suppressed.is_some()) {
        *suppressed_by_rule.entry(finding.rule).or_default() += 1;
    }

    out.family("findings", "gauge", "Configuration findings by severity, without ignored findings and checks that could not run.");
    for (severity, count) in by_severity.iter().rev() {
        out.sample("findings", &[("severity", severity.as_str())], *count as f64);
    }
    if !by_rule.is_empty() {
        out.family("rule_findings", "gauge", "Configuration findings by rule and severity; rules without findings have no sample.");
        for ((rule, severity), count) in &by_rule {
            out.sample("rule_findings", &[("rule", rule), ("severity", severity.as_str())], *count as f64);
        }
    }
    if !incomplete_by_rule.is_empty() {
        out.family("incomplete_checks", "gauge", "Checks that could not run, by the rule that reports them.");
        for (rule, count) in &incomplete_by_rule {
            out.sample("incomplete_checks", &[("rule", rule)], *count as f64);
        }
    }
    if !suppressed_by_rule.is_empty() {
        out.family("suppressed_findings", "gauge", "Findings ignored by the config file or an inline comment, by rule.");
        for (rule, count) in &suppressed_by_rule {
            out.sample("suppressed_findings", &[("rule", rule)], *count as f64);
        }
    }

    out.family("skipped_rules", "gauge", "Rules that did not run because an input was missing (--offline, saved documents, a failed request).");
    out.sample("skipped_rules", &[], report.skipped.len() as f64);

    if let Some(reachable) = report.provider_reachable {
        out.family("provider_reachable", "gauge", "1 when a request for a provider document succeeded, 0 when the required ones failed.");
        out.sample("provider_reachable", &[], if reachable { 1.0 } else { 0.0 });
    }
    if let Some(latency) = report.discovery_latency {
        out.family("discovery_latency_seconds", "gauge", "Time to fetch the discovery document, in seconds.");
        out.sample("discovery_latency_seconds", &[], latency);
    }
    if let Some(latency) = report.jwks_latency {
        out.family("jwks_latency_seconds", "gauge", "Time to fetch the JWKS, in seconds.");
        out.sample("jwks_latency_seconds", &[], latency);
    }
    if let Some(not_after) = report.certificate_not_after {
        // Prometheus names carry base units, so the time left is in seconds.
        out.family("tls_certificate_expiry_seconds", "gauge", "Seconds from the check until the TLS certificate of the discovery document's host expires.");
        out.sample("tls_certificate_expiry_seconds", &[], (not_after - report.checked_at) as f64);
        out.family("tls_certificate_not_after_timestamp_seconds", "gauge", "Expiry of the TLS certificate of the discovery document's host, in seconds since the Unix epoch.");
        out.sample("tls_certificate_not_after_timestamp_seconds", &[], not_after as f64);
    }

    report.redactor.redact(&out.text)
}

#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {PREFIX}_{name} {}", escape_help(help));
        let _ = writeln!(self.text, "# TYPE {PREFIX}_{name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let _ = write!(self.text, "{PREFIX}_{name}");
        if !labels.is_empty() {
            let labels: Vec<String> = labels.iter().map(|(key, value)| format!("{key}=\"{}\"", escape_label(value))).collect();
            let _ = write!(self.text, "{{{}}}", labels.join(","));
        }
        let _ = writeln!(self.text, " {}", format_value(value));
    }
}

/// Formats a sample value: integers without a fraction, others in full precision.
fn format_value(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn values_print_without_exponent() {
        assert_eq!(format_value(3.0), "3");
        assert_eq!(format_value(0.0125), "0.0125");
        assert_eq!(format_value(1_750_000_000.0), "1750000000");
        assert_eq!(format_value(-2.5), "-2.5");
    }
}
