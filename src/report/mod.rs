//! Reports: the findings of a run, redacted, with what was checked, in the
//! formats admins, CI and monitoring read.

pub mod github;
pub mod human;
pub mod json;
pub mod junit;
pub mod prometheus;
pub mod sarif;
pub mod policy;

use crate::check::{Checked, Outcome};
use crate::envfile::EnvSet;
use crate::finding::{Finding, Label, Severity};
use crate::redact::Redactor;
use crate::rules::{FetchFailure, Skipped};

/// Exit status: no finding at or above `--fail-on`.
pub const EXIT_OK: u8 = 0;
/// Exit status: the configuration is wrong.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit status: usage error or unreadable input.
pub const EXIT_USAGE: u8 = 2;
/// Exit status: a network check could not complete, and nothing else is wrong.
pub const EXIT_INCOMPLETE: u8 = 3;

/// Describes an exit status in the words of `--help`.
pub fn describe_exit_code(code: u8) -> &'static str {
    match code {
        EXIT_OK => "no finding at or above --fail-on",
        EXIT_FINDINGS => "the configuration is wrong",
        EXIT_USAGE => "usage error or unreadable input",
        EXIT_INCOMPLETE => "a check could not complete (not a configuration error)",
        _ => "unknown exit status",
    }
}

/// Formats seconds since the Unix epoch as an RFC 3339 UTC time, such as `2025-06-15T15:06:40Z`.
pub fn rfc3339_utc(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|moment| moment.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

/// Replaces control characters from untrusted input (env values, provider
/// responses) with `\u{..}` escapes, so no report can drive the terminal.
pub fn neutralize(text: &str) -> String {
    if !text.chars().any(is_unsafe_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| if is_unsafe_control(c) { format!("\\u{{{:x}}}", c as u32) } else { c.to_string() })
        .collect()
}

/// Replaces control characters in a file's text with `?`, one per byte, so
/// spans into the file stay valid.
fn neutralize_source(text: &str) -> String {
    if !text.chars().any(is_unsafe_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| if is_unsafe_control(c) { "?".repeat(c.len_utf8()) } else { c.to_string() })
        .collect()
}

fn is_unsafe_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t')
}

/// A place in a file, 1-based, as every format prints it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Location {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

/// Everything an output format needs, with secrets already masked.
pub struct Report {
    pub version: &'static str,
    pub checked: Checked,
    pub findings: Vec<Finding>,
    pub skipped: Vec<Skipped>,
    pub fail_on: Severity,
    pub env: EnvSet,
    pub fetch_failures: Vec<FetchFailure>,
    pub redactor: Redactor,
    /// Each file's text with secrets masked, for snippets.
    pub masked_sources: Vec<String>,
    /// Discovery and JWKS latency in seconds, when fetched.
    pub discovery_latency: Option<f64>,
    pub jwks_latency: Option<f64>,
    /// Seconds since the Unix epoch when the provider's certificate expires.
    pub certificate_not_after: Option<i64>,
    /// Whether a provider document request succeeded, when one was made.
    pub provider_reachable: Option<bool>,
    /// Seconds since the Unix epoch at the end of the run.
    pub checked_at: i64,
}

impl Report {
    /// Builds a report from a run, masking every secret the env files hold.
    pub fn new(outcome: Outcome, fail_on: Severity) -> Report {
        let mut redactor = Redactor::from_env(&outcome.env);
        for secret in &outcome.secrets {
            redactor.add(secret);
        }
        let masked_sources = (0..outcome.env.files.len())
            .map(|index| neutralize_source(&redactor.mask_source(&outcome.env, index)))
            .collect();
        let findings = outcome
            .findings
            .into_iter()
            .map(|mut finding| {
                finding.message = neutralize(&redactor.redact(&finding.message));
                finding.help = finding.help.map(|help| neutralize(&redactor.redact(&help)));
                for label in finding.primary.iter_mut().chain(finding.related.iter_mut()) {
                    label.message = label.message.take().map(|message| neutralize(&redactor.redact(&message)));
                }
                if let Some(suppression) = finding.suppressed.as_mut() {
                    suppression.reason = neutralize(&redactor.redact(&suppression.reason));
                }
                finding
            })
            .collect();
        let discovery_latency = outcome.discovery.as_ref().and_then(|document| document.latency).map(|latency| latency.as_secs_f64());
        let jwks_latency = outcome.jwks.as_ref().and_then(|document| document.latency).map(|latency| latency.as_secs_f64());
        let certificate_not_after = outcome
            .discovery
            .as_ref()
            .and_then(|document| document.certificate.as_ref())
            .map(|certificate| certificate.not_after);
        let fetched = outcome.discovery.iter().chain(outcome.jwks.iter()).any(|document| !document.from_file);
        let provider_reachable = if fetched {
            Some(true)
        } else if outcome.fetch_failures.iter().any(|failure| failure.required) {
            Some(false)
        } else {
            None
        };
        Report {
            version: env!("CARGO_PKG_VERSION"),
            checked: outcome.checked,
            findings,
            skipped: outcome.skipped,
            fail_on,
            env: outcome.env,
            fetch_failures: outcome.fetch_failures,
            redactor,
            masked_sources,
            discovery_latency,
            jwks_latency,
            certificate_not_after,
            provider_reachable,
            checked_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|elapsed| elapsed.as_secs() as i64)
                .unwrap_or(0),
        }
    }

    /// Findings that count: not suppressed.
    pub fn active(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|finding| finding.suppressed.is_none())
    }

    /// Counts active findings of a severity that judge the configuration;
    /// checks that could not complete are counted by [`Report::incomplete_count`].
    pub fn count(&self, severity: Severity) -> usize {
        self.active().filter(|finding| finding.severity == severity && !finding.incomplete).count()
    }

    /// Counts active findings that mean a check could not complete.
    pub fn incomplete_count(&self) -> usize {
        self.active().filter(|finding| finding.incomplete).count()
    }

    /// Returns the exit status: 1 when the configuration is wrong, else 3 when a
    /// check could not complete, else 0.
    pub fn exit_code(&self) -> u8 {
        let wrong = self.active().any(|finding| !finding.incomplete && finding.severity >= self.fail_on);
        if wrong {
            return EXIT_FINDINGS;
        }
        if self.active().any(|finding| finding.incomplete) {
            return EXIT_INCOMPLETE;
        }
        EXIT_OK
    }

    /// Returns whether every check could run: no counted finding is marked incomplete.
    pub fn is_complete(&self) -> bool {
        !self.active().any(|finding| finding.incomplete)
    }

    /// Converts a label into a printable location.
    pub fn location(&self, label: &Label) -> Location {
        let source = &self.env.files[label.file].source;
        let (line, column) = source.line_col(label.span.start);
        let (end_line, end_column) = source.line_col(label.span.end);
        Location {
            path: source.path.display().to_string(),
            line,
            column,
            end_line,
            end_column,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralize_escapes_terminal_controls() {
        assert_eq!(neutralize("a\u{1b}]0;title\u{7}b"), "a\\u{1b}]0;title\\u{7}b");
        assert_eq!(neutralize("line\nnext\ttab"), "line\nnext\ttab");
    }

    #[test]
    fn neutralize_source_keeps_byte_offsets() {
        let text = "KEY=a\u{1b}b\u{85}c\n";
        let neutral = neutralize_source(text);
        assert_eq!(neutral.len(), text.len());
        assert_eq!(neutral, "KEY=a?b??c\n");
    }
}
