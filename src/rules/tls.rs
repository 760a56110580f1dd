//! Rules about the provider's TLS certificate, as presented on the connections
//! that fetched the discovery document and the JWKS.

use crate::document::Document;
use crate::finding::{Label, Severity};

use super::{Context, Input, Rule, Sink};

/// Default of `--cert-warn-days`.
pub const DEFAULT_WARNING_DAYS: u32 = 14;
/// Default of `--cert-error-days`.
pub const DEFAULT_ERROR_DAYS: u32 = 3;

const SECONDS_PER_DAY: i64 = 86_400;

/// Days before a certificate's expiry from which `tls-certificate-expiry`
/// reports a warning or an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpiryThresholds {
    pub warning_days: u32,
    pub error_days: u32,
}

impl Default for ExpiryThresholds {
    fn default() -> Self {
        ExpiryThresholds {
            warning_days: DEFAULT_WARNING_DAYS,
            error_days: DEFAULT_ERROR_DAYS,
        }
    }
}

impl ExpiryThresholds {
    /// Returns the severity for a certificate that expires `remaining` seconds
    /// from now, or `None` when it is far enough away. The error threshold wins
    /// when it is the larger of the two.
    pub fn severity(&self, remaining: i64) -> Option<Severity> {
        if remaining < i64::from(self.error_days) * SECONDS_PER_DAY {
            Some(Severity::Error)
        } else if remaining < i64::from(self.warning_days) * SECONDS_PER_DAY {
            Some(Severity::Warning)
        } else {
            None
        }
    }
}

pub(super) const RULES: &[Rule] = &[Rule {
    id: "tls-certificate-expiry",
    severity: Severity::Warning,
    summary: "The provider's TLS certificate expires soon",
    explanation: "The certificate that the provider presented when this run fetched the discovery document \
(and the JWKS, when it is served from another host) expires within the warning threshold: 14 days by \
default, set with --cert-warn-days. Mastodon verifies this certificate on every request to the provider \
(discovery, token exchange, userinfo, JWKS), so the day it expires every OIDC login fails. ACME clients \
renew well before that (certbot 30 days before expiry by default), so a certificate this close to expiry \
usually means the automatic renewal is failing. The finding is a warning, and an error under the error \
threshold: 3 days by default, set with --cert-error-days. The rule needs a network run: saved documents \
carry no certificate.\n\nFix: renew the provider's certificate, reload the server or proxy that serves it, \
and check why the automatic renewal did not run (the ACME client's logs and timer).",
    needs: &[Input::Network],
    check: check_expiry,
}];

fn check_expiry(context: &Context, sink: &mut Sink) {
    // The same certificate serves both documents when they share a host, so
    // each (host, expiry) pair is reported once.
    let mut reported: Vec<(String, i64)> = Vec::new();
    for document in [context.discovery, context.jwks].into_iter().flatten() {
        if document.from_file {
            continue;
        }
        let Some(certificate) = &document.certificate else { continue };
        let host = host_of(document);
        if reported.iter().any(|(seen, not_after)| *seen == host && *not_after == certificate.not_after) {
            continue;
        }

        let remaining = certificate.not_after - context.now;
        let Some(severity) = context.certificate_expiry.severity(remaining) else { continue };
        reported.push((host.clone(), certificate.not_after));

        let date = format_utc(certificate.not_after);
        let message = if remaining <= 0 {
            format!("the TLS certificate of {host} expired {} ago, on {date}", describe_duration(-remaining))
        } else {
            format!("the TLS certificate of {host} expires in {}, on {date}", describe_duration(remaining))
        };
        sink.emit(message)
            .severity(severity)
            .at(label_for(context, document))
            .help(format!(
                "renew the certificate of {host} before {date} and reload the server or proxy that serves it; \
once it expires, Mastodon's requests to the provider fail and so does every OIDC login"
            ));
    }
}

/// The host the document was fetched from, as the certificate must name it.
fn host_of(document: &Document) -> String {
    url::Url::parse(&document.source)
        .ok()
        .and_then(|url| url.host_str().map(str::to_string))
        .unwrap_or_else(|| document.source.clone())
}

/// Returns the label of the `.env` value that led to the document: OIDC_ISSUER
/// for the discovery document, OIDC_JWKS_URI for a JWKS fetched from it.
fn label_for(context: &Context, document: &Document) -> Option<Label> {
    match document.kind {
        crate::document::DocumentKind::Discovery => context.var("OIDC_ISSUER").and_then(|var| var.label),
        crate::document::DocumentKind::Jwks => context
            .var("OIDC_JWKS_URI")
            .filter(|var| var.value == document.source)
            .and_then(|var| var.label)
            .or_else(|| context.var("OIDC_ISSUER").and_then(|var| var.label)),
    }
}

/// Formats a duration in seconds as whole days, or whole hours under a day.
fn describe_duration(seconds: i64) -> String {
    let days = seconds / SECONDS_PER_DAY;
    if days >= 1 {
        return if days == 1 { "1 day".to_string() } else { format!("{days} days") };
    }
    let hours = seconds / 3600;
    if hours == 1 {
        "1 hour".to_string()
    } else {
        format!("{hours} hours")
    }
}

/// Formats seconds since the Unix epoch as `YYYY-MM-DD HH:MM UTC`.
pub fn format_utc(seconds: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|moment| moment.format(&format).ok())
        .unwrap_or_else(|| format!("{seconds} seconds after 1970-01-01"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{CertificateInfo, DocumentKind};
    use crate::envfile::EnvSet;
    use crate::rules::{find, Sink};

    const NOW: i64 = 1_750_000_000;
    const ENV: &str = "LOCAL_DOMAIN=mastodon.example\nOIDC_ENABLED=true\nOIDC_DISCOVERY=true\nOIDC_ISSUER=https://auth.example/application/o/mastodon/\n";

    fn fetched(kind: DocumentKind, url: &str, not_after: i64) -> Document {
        let mut document = Document::from_text(kind, url, "{}".to_string(), false);
        document.certificate = Some(CertificateInfo {
            subject: "CN=auth.example".into(),
            issuer: "CN=Test CA".into(),
            not_after,
            dns_names: vec!["auth.example".into()],
        });
        document
    }

    /// Runs the rule with the clock at NOW and returns (severity, message) of each finding.
    fn run(discovery: Option<&Document>, jwks: Option<&Document>, thresholds: ExpiryThresholds) -> Vec<(Severity, String)> {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join(".env.production");
        std::fs::write(&path, ENV).expect("env file written");
        let env = EnvSet::load(&path, Default::default()).expect("env file loads");
        let mut context = Context::new(&env);
        context.discovery = discovery;
        context.jwks = jwks;
        context.now = NOW;
        context.certificate_expiry = thresholds;
        let rule = find("tls-certificate-expiry").expect("rule registered");
        let mut sink = Sink::new(rule);
        (rule.check)(&context, &mut sink);
        sink.into_findings().into_iter().map(|finding| (finding.severity, finding.message)).collect()
    }

    const DISCOVERY_URL: &str = "https://auth.example/application/o/mastodon/.well-known/openid-configuration";

    #[test]
    fn thresholds_pick_severity() {
        let thresholds = ExpiryThresholds::default();
        let cases = [
            (90 * SECONDS_PER_DAY, None),
            (14 * SECONDS_PER_DAY, None),
            (14 * SECONDS_PER_DAY - 1, Some(Severity::Warning)),
            (3 * SECONDS_PER_DAY, Some(Severity::Warning)),
            (3 * SECONDS_PER_DAY - 1, Some(Severity::Error)),
            (0, Some(Severity::Error)),
            (-SECONDS_PER_DAY, Some(Severity::Error)),
        ];
        for (remaining, expected) in cases {
            assert_eq!(thresholds.severity(remaining), expected, "{remaining} seconds left");
        }
    }

    #[test]
    fn larger_error_threshold_wins() {
        let thresholds = ExpiryThresholds { warning_days: 5, error_days: 10 };
        assert_eq!(thresholds.severity(7 * SECONDS_PER_DAY), Some(Severity::Error));
        assert_eq!(thresholds.severity(12 * SECONDS_PER_DAY), None);
    }

    #[test]
    fn zero_thresholds_fire_only_after_expiry() {
        let thresholds = ExpiryThresholds { warning_days: 0, error_days: 0 };
        assert_eq!(thresholds.severity(60), None);
        assert_eq!(thresholds.severity(0), None);
        assert_eq!(thresholds.severity(-1), Some(Severity::Error));
    }

    #[test]
    fn warning_names_host_days_and_date() {
        let discovery = fetched(DocumentKind::Discovery, DISCOVERY_URL, NOW + 10 * SECONDS_PER_DAY + 600);
        let findings = run(Some(&discovery), None, ExpiryThresholds::default());
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].0, Severity::Warning);
        assert_eq!(findings[0].1, "the TLS certificate of auth.example expires in 10 days, on 2025-06-25 15:16 UTC");
    }

    #[test]
    fn error_under_a_day_counts_hours() {
        let discovery = fetched(DocumentKind::Discovery, DISCOVERY_URL, NOW + 5 * 3600 + 30);
        let findings = run(Some(&discovery), None, ExpiryThresholds::default());
        assert_eq!(findings[0].0, Severity::Error);
        assert!(findings[0].1.contains("expires in 5 hours"), "{}", findings[0].1);
    }

    #[test]
    fn expired_certificate_says_ago() {
        let discovery = fetched(DocumentKind::Discovery, DISCOVERY_URL, NOW - 2 * SECONDS_PER_DAY);
        let findings = run(Some(&discovery), None, ExpiryThresholds::default());
        assert_eq!(findings[0].0, Severity::Error);
        assert!(findings[0].1.contains("expired 2 days ago"), "{}", findings[0].1);
    }

    #[test]
    fn same_certificate_reported_once() {
        let discovery = fetched(DocumentKind::Discovery, DISCOVERY_URL, NOW + 5 * SECONDS_PER_DAY);
        let jwks = fetched(DocumentKind::Jwks, "https://auth.example/application/o/mastodon/jwks/", NOW + 5 * SECONDS_PER_DAY);
        assert_eq!(run(Some(&discovery), Some(&jwks), ExpiryThresholds::default()).len(), 1);
    }

    #[test]
    fn jwks_host_checked_on_its_own() {
        let discovery = fetched(DocumentKind::Discovery, DISCOVERY_URL, NOW + 200 * SECONDS_PER_DAY);
        let jwks = fetched(DocumentKind::Jwks, "https://keys.example/jwks.json", NOW + 2 * SECONDS_PER_DAY);
        let findings = run(Some(&discovery), Some(&jwks), ExpiryThresholds::default());
        assert_eq!(findings.len(), 1);
        assert!(findings[0].1.contains("keys.example"), "{}", findings[0].1);
    }

    #[test]
    fn saved_documents_are_ignored() {
        let mut discovery = fetched(DocumentKind::Discovery, DISCOVERY_URL, NOW + SECONDS_PER_DAY);
        discovery.from_file = true;
        assert!(run(Some(&discovery), None, ExpiryThresholds::default()).is_empty());
    }
}
