//! Whole-configuration cases taken from real field failures and correct
//! setups (`fixtures/cases/<case>/`). Each case runs twice through the built
//! binary: once with its saved discovery document, once against a loopback
//! TLS server that serves the document and a JWKS under the provider's host.
//! Each case must give its expected findings, and no other error or warning.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{fixtures, json_stdout, run, CertVariant, ReplayServer, Route, TestPki};

/// A finding a case must produce: rule id, severity, and a text its message
/// or help must contain (empty for none).
type Required = (&'static str, &'static str, &'static str);

struct Case {
    name: &'static str,
    /// The JWKS the loopback provider serves (a file under fixtures/jwks).
    jwks: &'static str,
    required: &'static [Required],
    /// Further error or warning rules that are acceptable for this case.
    allowed: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case { name: "authentik-correct", jwks: "rs256.json", required: &[], allowed: &[] },
    Case { name: "keycloak-correct", jwks: "keycloak.json", required: &[], allowed: &[] },
    Case {
        name: "authentik-issuer-without-slash",
        jwks: "rs256.json",
        required: &[("issuer-mismatch", "error", "OIDC_ISSUER=https://auth.example/application/o/mastodon/")],
        allowed: &[],
    },
    Case {
        name: "scope-without-openid",
        jwks: "rs256.json",
        required: &[("scope-missing-openid", "error", "openid")],
        allowed: &[],
    },
    Case {
        name: "authentik-without-signing-key",
        jwks: "empty-object.json",
        required: &[("signing-alg-symmetric-only", "warning", "signing key")],
        allowed: &[],
    },
    Case {
        name: "entra-id-discovery-off",
        jwks: "rs256.json",
        required: &[
            ("manual-endpoints", "error", "OIDC_TOKEN_ENDPOINT"),
            ("manual-endpoints", "error", "OIDC_USER_INFO_ENDPOINT"),
            ("manual-endpoints", "error", "OIDC_JWKS_URI"),
            ("discovery-disabled", "warning", "OIDC_DISCOVERY"),
        ],
        allowed: &["email-not-verified"],
    },
    Case {
        name: "kanidm-without-pkce",
        jwks: "es256.json",
        required: &[("pkce-required", "error", "OIDC_USE_PKCE=true")],
        allowed: &[],
    },
    Case {
        name: "callback-with-one-auth",
        jwks: "rs256.json",
        required: &[("redirect-uri-path", "error", "https://mastodon.example/auth/auth/openid_connect/callback")],
        allowed: &[],
    },
];

/// Runs `check --format json` and returns the exit status and the report.
fn run_json(arguments: &[String]) -> (i32, Value) {
    let mut check = vec!["check"];
    check.extend(arguments.iter().map(String::as_str));
    check.extend(["--format", "json"]);
    let output = run(&check);
    (output.status.code().expect("exited normally"), json_stdout(&output))
}

fn verify(case: &Case, mode: &str, report: &Value) -> Vec<String> {
    let findings = report["findings"].as_array().expect("findings array");
    let mut problems = Vec::new();
    for (rule, severity, text) in case.required {
        let found = findings.iter().any(|finding| {
            let message = finding["message"].as_str().unwrap_or("");
            let help = finding["help"].as_str().unwrap_or("");
            let label = finding["label"].as_str().unwrap_or("");
            finding["rule"] == *rule && finding["severity"] == *severity && (message.contains(text) || help.contains(text) || label.contains(text))
        });
        if !found {
            problems.push(format!("{} ({mode}): missing {severity} `{rule}` mentioning `{text}`", case.name));
        }
    }
    for finding in findings {
        let rule = finding["rule"].as_str().unwrap_or("");
        let severity = finding["severity"].as_str().unwrap_or("");
        let expected = case.required.iter().any(|(required, _, _)| *required == rule) || case.allowed.contains(&rule);
        if severity != "info" && !expected {
            problems.push(format!("{} ({mode}): false alarm {severity} `{rule}`: {}", case.name, finding["message"]));
        }
    }
    problems
}

#[test]
fn cases_with_saved_documents() {
    let mut problems = Vec::new();
    for case in CASES {
        let dir = fixtures().join("cases").join(case.name);
        let mut arguments = vec![dir.join("env.production").display().to_string()];
        let discovery = dir.join("discovery.json");
        if discovery.is_file() {
            arguments.extend(["--discovery-file".to_string(), discovery.display().to_string()]);
        } else {
            arguments.push("--offline".to_string());
        }
        let (_, report) = run_json(&arguments);
        problems.extend(verify(case, "saved documents", &report));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Serves a case's discovery document and JWKS on loopback under the issuer's host.
fn serve_case(pki: &TestPki, dir: &Path, jwks_file: &str) -> Option<(ReplayServer, String)> {
    let discovery_text = std::fs::read_to_string(dir.join("discovery.json")).ok()?;
    let discovery: Value = serde_json::from_str(&discovery_text).expect("case discovery is JSON");
    let issuer = url::Url::parse(discovery["issuer"].as_str().expect("issuer")).expect("issuer URL");
    let host = issuer.host_str().expect("issuer host").to_string();
    let discovery_path = format!("{}/.well-known/openid-configuration", issuer.path().trim_end_matches('/'));
    let jwks_uri = url::Url::parse(discovery["jwks_uri"].as_str().expect("jwks_uri")).expect("JWKS URL");
    let jwks = std::fs::read_to_string(fixtures().join("jwks").join(jwks_file)).expect("JWKS fixture");

    let routes = vec![
        Route::get(&discovery_path).header("content-type", "application/json").body(discovery_text),
        Route::get(jwks_uri.path()).header("content-type", "application/json").body(jwks),
    ];
    let server = ReplayServer::https(pki, &host, CertVariant::Valid, routes);
    Some((server, host))
}

#[test]
fn cases_against_loopback_tls_provider() {
    let pki = TestPki::new();
    let mut problems = Vec::new();
    for case in CASES {
        let dir = fixtures().join("cases").join(case.name);
        let Some((server, host)) = serve_case(&pki, &dir, case.jwks) else { continue };
        let arguments = vec![
            dir.join("env.production").display().to_string(),
            "--ca-file".to_string(),
            pki.ca_pem_path().display().to_string(),
            "--resolve".to_string(),
            server.resolve_arg(&host),
        ];
        let (status, report) = run_json(&arguments);
        problems.extend(verify(case, "loopback TLS", &report));
        if report["checked"]["discovery"].as_str().is_none_or(|url| !url.starts_with("https://")) {
            problems.push(format!("{}: the discovery document was not fetched over https: {}", case.name, report["checked"]));
        }
        let requests = server.requests();
        if requests.is_empty() && case.name != "entra-id-discovery-off" {
            problems.push(format!("{}: the provider received no request", case.name));
        }
        if case.required.iter().all(|(_, severity, _)| *severity != "error") && status != 0 {
            problems.push(format!("{}: exit status {status}, expected 0", case.name));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
