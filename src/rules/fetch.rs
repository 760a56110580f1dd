//! Rules about fetching the provider documents: one rule per kind of failure,
//! so an admin can tell DNS from TLS from a wrong slug at a glance.

use crate::document::DocumentKind;
use crate::finding::Severity;
use crate::providers::ProviderKind;

use super::{Context, FetchFailure, FetchFailureKind, Input, Rule, Sink};

/// Emits one finding per failure of the given kind. Failures of documents that
/// Mastodon does not need (discovery turned off) are reported as info.
fn report(context: &Context, sink: &mut Sink, matches: fn(&FetchFailureKind) -> bool, describe: fn(&Context, &FetchFailure) -> (String, String)) {
    for failure in context.fetch_failures.iter().filter(|failure| matches(&failure.kind)) {
        let (message, help) = describe(context, failure);
        let mut finding = sink.emit(message).help(help).at(issuer_label(context, failure));
        if is_incomplete(&failure.kind) {
            finding = finding.incomplete();
        }
        if !failure.required {
            finding.severity(Severity::Info);
        }
    }
}

/// Returns the label for a failure: the OIDC_ISSUER line for discovery, the
/// OIDC_JWKS_URI line when the JWKS came from it.
fn issuer_label(context: &Context, failure: &FetchFailure) -> Option<crate::finding::Label> {
    match failure.document {
        DocumentKind::Discovery => context.var("OIDC_ISSUER").and_then(|var| var.label),
        DocumentKind::Jwks => context
            .var("OIDC_JWKS_URI")
            .filter(|var| var.value == failure.url)
            .and_then(|var| var.label),
    }
}

/// Returns true for failures that reveal nothing about the configuration, because the check could not run.
fn is_incomplete(kind: &FetchFailureKind) -> bool {
    match kind {
        FetchFailureKind::Dns | FetchFailureKind::Connect | FetchFailureKind::Timeout => true,
        FetchFailureKind::HttpStatus(status) => *status >= 500 || *status == 429,
        _ => false,
    }
}

fn what(failure: &FetchFailure) -> String {
    format!("the {} at {}", failure.document.noun(), failure.url)
}

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: "fetch-dns",
        severity: Severity::Error,
        summary: "The provider's host name does not resolve",
        explanation: "The host of the discovery document or JWKS URL has no DNS record that this machine can \
resolve. Mastodon resolves it the same way on every login, so if Mastodon runs here too, the login fails \
with a connection error. The check could not complete, so the exit status is 3 unless another finding \
is an error.\n\nFix: check the host name in OIDC_ISSUER for typos, and the DNS setup of the provider. \
To check a provider before DNS points at it, use --resolve HOST=IP:PORT.",
        needs: &[Input::Network],
        check: |context, sink| {
            report(context, sink, |kind| *kind == FetchFailureKind::Dns, |_, failure| {
                (format!("cannot resolve the host of {}: {}", what(failure), failure.detail), "check the host name in OIDC_ISSUER and the provider's DNS record".into())
            })
        },
    },
    Rule {
        id: "fetch-connect",
        severity: Severity::Error,
        summary: "The provider refuses or drops the connection",
        explanation: "The host name resolved, but no TCP connection could be made (refused, unreachable, \
reset). The provider may be down, a firewall may block this machine, or the port in OIDC_ISSUER is wrong. \
The check could not complete, so the exit status is 3 unless another finding is an error.\n\nFix: check \
that the provider is running and reachable from the Mastodon host on the issuer's port.",
        needs: &[Input::Network],
        check: |context, sink| {
            report(context, sink, |kind| *kind == FetchFailureKind::Connect, |_, failure| {
                (format!("cannot connect to {}: {}", what(failure), failure.detail), "check that the provider runs and accepts connections from this host".into())
            })
        },
    },
    Rule {
        id: "fetch-timeout",
        severity: Severity::Error,
        summary: "The provider did not answer within the time limit",
        explanation: "The request did not complete within --timeout seconds (10 by default). Mastodon's HTTP \
client gives up too, and a login that waits for discovery stalls. The check could not complete, so the \
exit status is 3 unless another finding is an error.\n\nFix: check the provider's health and the network \
path; raise --timeout if the provider is slow but working.",
        needs: &[Input::Network],
        check: |context, sink| {
            report(context, sink, |kind| *kind == FetchFailureKind::Timeout, |_, failure| {
                (format!("{} did not respond in time: {}", what(failure), failure.detail), "check the provider's health, or raise --timeout".into())
            })
        },
    },
    Rule {
        id: "fetch-tls-expired",
        severity: Severity::Error,
        summary: "The provider's TLS certificate has expired",
        explanation: "Mastodon verifies the provider's certificate against the system trust store \
(openid_connect 1.4.2 uses httpclient with the default paths), so every discovery request and every \
token exchange fails while the certificate is expired.\n\nFix: renew the provider's certificate and \
reload the service or proxy that serves it.",
        needs: &[Input::Network],
        check: |context, sink| {
            report(context, sink, |kind| *kind == FetchFailureKind::TlsExpired, |_, failure| {
                (format!("the TLS certificate of {} has expired", what(failure)), "renew the provider's certificate and reload the proxy that serves it".into())
            })
        },
    },
    Rule {
        id: "fetch-tls-untrusted",
        severity: Severity::Error,
        summary: "The provider's TLS certificate is self-signed or from an unknown CA",
        explanation: "The certificate chain does not lead to a CA in the system trust store (or in --ca-file). \
Mastodon trusts the system store only, so its requests to the provider fail the same way. A private CA \
must be installed in the trust store of the Mastodon host (and of its container).\n\nFix: serve a \
certificate from a public CA, or install the private CA on the Mastodon host; to check with a private \
CA, pass it with --ca-file.",
        needs: &[Input::Network],
        check: |context, sink| {
            report(context, sink, |kind| *kind == FetchFailureKind::TlsUntrusted, |_, failure| {
                (
                    format!("the TLS certificate of {} is not trusted (self-signed or unknown CA): {}", what(failure), failure.detail),
                    "use a certificate from a trusted CA, or install the private CA on the Mastodon host (pass it here with --ca-file)".into(),
                )
            })
        },
    },
    Rule {
        id: "fetch-tls-hostname",
        severity: Severity::Error,
        summary: "The provider's TLS certificate is for another host name",
        explanation: "The certificate the provider presents does not list the host name of the URL. Mastodon \
checks the host name, so its requests fail. This happens when a proxy serves the default certificate for \
an unknown virtual host.\n\nFix: serve a certificate whose subject alternative names include the issuer's \
host.",
        needs: &[Input::Network],
        check: |context, sink| {
            report(context, sink, |kind| *kind == FetchFailureKind::TlsHostname, |_, failure| {
                (format!("the TLS certificate of {} does not match its host name", what(failure)), "serve a certificate that names the issuer's host".into())
            })
        },
    },
    Rule {
        id: "fetch-tls",
        severity: Severity::Error,
        summary: "The TLS handshake with the provider failed",
        explanation: "The TLS connection failed for a reason other than an expired, untrusted or mismatched \
certificate: no common protocol version or cipher, a plain HTTP server on an https port, or a revoked or \
malformed certificate.\n\nFix: check the TLS setup of the provider's proxy; the message names the error.",
        needs: &[Input::Network],
        check: |context, sink| {
            report(context, sink, |kind| *kind == FetchFailureKind::Tls, |_, failure| {
                (format!("TLS with {} failed: {}", what(failure), failure.detail), "check the TLS setup of the provider or its proxy".into())
            })
        },
    },
    Rule {
        id: "fetch-http-status",
        severity: Severity::Error,
        summary: "The provider answered the document request with an error status",
        explanation: "The discovery document or JWKS URL did not return HTTP 200. Mastodon's discovery then \
fails on every login. A 404 usually means a wrong path in OIDC_ISSUER: on authentik, a wrong application \
slug (or an application without an OAuth2 provider); on Keycloak 17 and later, a leftover `/auth` prefix. \
A 5xx or 429 answer means the check could not complete (exit status 3 unless another finding is an \
error).\n\nFix: open the URL in a browser and correct OIDC_ISSUER until it serves the document.",
        needs: &[Input::Network],
        check: |context, sink| {
            report(context, sink, |kind| matches!(kind, FetchFailureKind::HttpStatus(_)), |context, failure| {
                let FetchFailureKind::HttpStatus(status) = failure.kind else { unreachable!("filtered on HttpStatus") };
                let help = status_help(context, failure, status);
                (format!("{} answered HTTP {status}", what(failure)), help)
            })
        },
    },
    Rule {
        id: "fetch-redirect",
        severity: Severity::Error,
        summary: "The provider redirects the document request",
        explanation: "The discovery document or JWKS URL answered with a redirect. This tool does not follow \
redirects, so a redirect is visible: it usually means http and https are mixed, a proxy rewrites the \
path, or OIDC_ISSUER points at a login page. Mastodon's issuer check compares the document's `issuer` with \
OIDC_ISSUER, so a document served from another URL rarely matches.\n\nFix: set OIDC_ISSUER to the URL \
that serves the document directly.",
        needs: &[Input::Network],
        check: |context, sink| {
            report(context, sink, |kind| matches!(kind, FetchFailureKind::Redirect(_)), |_, failure| {
                let FetchFailureKind::Redirect(location) = &failure.kind else { unreachable!("filtered on Redirect") };
                let target = location.as_deref().unwrap_or("no Location header");
                (format!("{} redirects ({}) to {target}", what(failure), failure.detail), "set OIDC_ISSUER so the document is served without a redirect".into())
            })
        },
    },
    Rule {
        id: "fetch-content-type",
        severity: Severity::Warning,
        summary: "The provider serves a document with a non-JSON content type",
        explanation: "The discovery document or JWKS was served with a Content-Type other than JSON. \
Mastodon's gem parses the body regardless, but strict relying parties refuse it, and an HTML type often \
means a proxy's error or login page.\n\nFix: serve the document as application/json.",
        needs: &[Input::Network],
        check: check_content_type,
    },
    Rule {
        id: "fetch-invalid-json",
        severity: Severity::Error,
        summary: "The provider's document is not valid JSON",
        explanation: "The body of the discovery document or JWKS does not parse as JSON, so Mastodon's \
discovery fails. An HTML body usually means a proxy or login page answers instead of the provider.\n\nFix: \
open the URL and make it serve the provider's JSON document.",
        needs: &[Input::Network],
        check: |context, sink| {
            report(context, sink, |kind| *kind == FetchFailureKind::InvalidJson, |_, failure| {
                (format!("{} is not valid JSON: {}", what(failure), failure.detail), "open the URL: a proxy or login page may answer instead of the provider".into())
            })
        },
    },
    Rule {
        id: "fetch-too-large",
        severity: Severity::Error,
        summary: "The provider's document exceeds the size limit",
        explanation: "The response is larger than 1 MiB. Discovery documents and JWKS are a few kilobytes, so \
this is not the document the URL should serve; this tool stops reading to bound memory.\n\nFix: open the \
URL and make it serve the provider's JSON document.",
        needs: &[Input::Network],
        check: |context, sink| {
            report(context, sink, |kind| matches!(kind, FetchFailureKind::TooLarge(_)), |_, failure| {
                (format!("{} is larger than the limit ({})", what(failure), failure.detail), "make the URL serve the provider's JSON document".into())
            })
        },
    },
    Rule {
        id: "fetch-invalid-url",
        severity: Severity::Error,
        summary: "A document URL is not a valid absolute URL",
        explanation: "The URL built from OIDC_ISSUER, OIDC_JWKS_URI or the discovery document's jwks_uri \
cannot be parsed, so nothing could be fetched.\n\nFix: write the URL as an absolute https URL.",
        needs: &[Input::Network],
        check: |context, sink| {
            report(context, sink, |kind| *kind == FetchFailureKind::InvalidUrl, |_, failure| {
                (format!("{} is not a valid URL: {}", what(failure), failure.detail), "write an absolute https URL".into())
            })
        },
    },
];

/// Returns help for an error status, using what the URL reveals about the cause.
fn status_help(context: &Context, failure: &FetchFailure, status: u16) -> String {
    if status != 404 {
        return "check the provider's logs for this request".to_string();
    }
    if failure.document == DocumentKind::Jwks {
        return format!("the discovery document names {} as its jwks_uri, and the provider does not serve it; check the provider's signing key setup", failure.url);
    }
    let path = url::Url::parse(&failure.url).map(|url| url.path().to_string()).unwrap_or_default();
    if let Some(slug) = path.strip_prefix("/application/o/").and_then(|rest| rest.split('/').next()).filter(|slug| !slug.is_empty()) {
        return format!(
            "authentik has no application with the slug `{slug}`, or that application has no OAuth2 provider; copy the issuer from the provider's overview page"
        );
    }
    if context.provider.kind == ProviderKind::Keycloak || path.contains("/realms/") {
        let realm = path.split("/realms/").nth(1).and_then(|rest| rest.split('/').next()).unwrap_or("");
        let mut help = format!("Keycloak has no realm `{realm}` at this URL; check the realm name (it is case-sensitive)");
        if path.starts_with("/auth/realms/") {
            help.push_str(", and remove the `/auth` prefix that Keycloak 17 and later dropped");
        }
        return help;
    }
    "the path in OIDC_ISSUER is wrong; copy the issuer from the provider's documentation or admin page".to_string()
}

fn check_content_type(context: &Context, sink: &mut Sink) {
    for document in [context.discovery, context.jwks].into_iter().flatten() {
        if document.from_file {
            continue;
        }
        let content_type = document.header("content-type").unwrap_or("");
        if content_type.to_ascii_lowercase().contains("json") {
            continue;
        }
        let shown = if content_type.is_empty() { "no Content-Type".to_string() } else { format!("Content-Type `{content_type}`") };
        sink.emit(format!("the {} at {} is served with {shown}", document.kind.noun(), document.source))
            .help("serve the document as application/json");
    }
}
