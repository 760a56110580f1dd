//! End-to-end tests of the built binary: subcommands, exit statuses, output
//! formats, and the secret canary. Network runs use loopback TLS servers.

mod support;

use serde_json::Value;
use support::{assert_secret_not_in_urls, authentik_discovery, authentik_server, env_file, network_args, run, stderr, stdout, CertVariant, ReplayServer, Route, TestPki, AUTHENTIK_ENV};

/// A client secret that must never appear in any output.
const CANARY: &str = "canary-7f3c9e1d-SECRET-a4b8";

#[test]
fn rules_lists_every_rule() {
    let output = run(&["rules"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("issuer-mismatch"));
    assert!(stdout(&output).contains("value-truncated-by-hash"));
}

#[test]
fn rules_json_has_id_severity_summary() {
    let output = run(&["rules", "--format", "json"]);
    let rules: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    let first = &rules.as_array().expect("array")[0];
    assert!(first["id"].is_string());
    assert!(first["severity"].is_string());
    assert!(first["summary"].is_string());
}

#[test]
fn explain_prints_rule_documentation() {
    let output = run(&["explain", "issuer-mismatch"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(text.starts_with("issuer-mismatch\n"));
    assert!(text.contains("Severity: error"));
    assert!(text.contains("Fix:"));
}

#[test]
fn explain_unknown_rule_exits_2() {
    let output = run(&["explain", "no-such-rule"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("unknown rule `no-such-rule`"));
}

#[test]
fn check_missing_file_exits_2() {
    let output = run(&["check", "/nonexistent/.env.production", "--offline"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot read /nonexistent/.env.production"));
}

#[test]
fn check_bad_resolve_argument_exits_2() {
    let output = run(&["check", "x", "--resolve", "auth.example"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn check_clean_offline_exits_0() {
    let (_dir, path) = env_file(AUTHENTIK_ENV);
    let output = run(&["check", path.to_str().unwrap(), "--offline"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("result: 0 errors, 0 warnings"));
    assert!(stdout(&output).contains("skipped:"));
}

#[test]
fn check_error_exits_1_and_points_at_line() {
    let text = AUTHENTIK_ENV.replace("/auth/auth/openid_connect/callback", "/auth/openid_connect/callback");
    let (_dir, path) = env_file(&text);
    let output = run(&["check", path.to_str().unwrap(), "--offline", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    let finding = report["findings"].as_array().unwrap().iter().find(|finding| finding["rule"] == "redirect-uri-path").expect("redirect finding");
    assert_eq!(finding["location"]["line"], 12);
    assert_eq!(finding["location"]["column"], 19);
    assert_eq!(finding["severity"], "error");
}

#[test]
fn fail_on_warning_turns_warnings_into_status_1() {
    let text = format!("{AUTHENTIK_ENV}OIDC_USE_PKCE=True\n");
    let (_dir, path) = env_file(&text);
    let default = run(&["check", path.to_str().unwrap(), "--offline"]);
    assert_eq!(default.status.code(), Some(0), "{}", stdout(&default));
    let strict = run(&["check", path.to_str().unwrap(), "--offline", "--fail-on", "warning"]);
    assert_eq!(strict.status.code(), Some(1));
}

#[test]
fn json_report_has_documented_fields() {
    let (_dir, path) = env_file(AUTHENTIK_ENV);
    let output = run(&["check", path.to_str().unwrap(), "--offline", "--format", "json"]);
    let report: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["tool"]["name"], "mastodon-oidc-check");
    assert!(report["tool"]["version"].is_string());
    assert!(report["checked"]["files"].is_array());
    assert!(report["summary"]["exit_code"].is_number());
    assert!(report["findings"].is_array());
    assert!(report["skipped"].as_array().is_some_and(|skipped| !skipped.is_empty()));
}

#[test]
fn connect_refused_exits_3() {
    let (_dir, path) = env_file(AUTHENTIK_ENV);
    let output = run(&["check", path.to_str().unwrap(), "--resolve", "auth.example=127.0.0.1:1", "--format", "json"]);
    assert_eq!(output.status.code(), Some(3), "{}", stdout(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    let rules: Vec<&str> = report["findings"].as_array().unwrap().iter().filter_map(|finding| finding["rule"].as_str()).collect();
    assert!(rules.contains(&"fetch-connect"), "{rules:?}");
}

#[test]
fn real_authentik_over_tls_is_clean() {
    let pki = TestPki::new();
    let server = authentik_server(&pki, CertVariant::Valid);
    let (_dir, path) = env_file(AUTHENTIK_ENV);
    let mut arguments = vec!["check".to_string(), path.display().to_string()];
    arguments.extend(network_args(&pki, &server));
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();

    let output = run(&arguments);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(text.contains("provider: authentik"));
    assert!(text.contains("discovery document: https://auth.example/application/o/mastodon/.well-known/openid-configuration"));
    let paths: Vec<String> = server.requests().iter().map(|request| request.path.clone()).collect();
    let discovery_requests = paths.iter().filter(|path| path.ends_with("/.well-known/openid-configuration")).count();
    let jwks_requests = paths.iter().filter(|path| path.ends_with("/jwks/")).count();
    assert_eq!(discovery_requests, 1, "one discovery request: {paths:?}");
    assert_eq!(jwks_requests, 1, "one JWKS request: {paths:?}");
    assert!(server.requests().iter().all(|request| request.method == "GET"), "only GET requests without --probe: {paths:?}");
}

#[test]
fn real_authentik_issuer_without_slash_points_at_line() {
    let pki = TestPki::new();
    let server = authentik_server(&pki, CertVariant::Valid);
    let text = AUTHENTIK_ENV.replace("OIDC_ISSUER=https://auth.example/application/o/mastodon/", "OIDC_ISSUER=https://auth.example/application/o/mastodon");
    let (_dir, path) = env_file(&text);
    let mut arguments = vec!["check".to_string(), path.display().to_string()];
    arguments.extend(network_args(&pki, &server));
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();

    let output = run(&arguments);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("issuer-mismatch"), "{text}");
    assert!(text.contains(".env.production:6:13"), "{text}");
    assert!(text.contains("the only difference is the trailing slash"), "{text}");
    assert!(text.contains("set OIDC_ISSUER=https://auth.example/application/o/mastodon/"), "{text}");
}

#[test]
fn untrusted_certificate_is_a_finding() {
    let pki = TestPki::new();
    let routes = vec![Route::get("/application/o/mastodon/.well-known/openid-configuration").body(authentik_discovery())];
    let server = ReplayServer::https(&pki, "auth.example", CertVariant::SelfSigned, routes);
    let (_dir, path) = env_file(AUTHENTIK_ENV);
    let arguments = ["check", path.to_str().unwrap(), "--ca-file", pki.ca_pem_path().to_str().unwrap(), "--resolve", &server.resolve_arg("auth.example"), "--format", "json"];

    let output = run(&arguments);
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    let rules: Vec<&str> = report["findings"].as_array().unwrap().iter().filter_map(|finding| finding["rule"].as_str()).collect();
    assert!(rules.contains(&"fetch-tls-untrusted"), "{rules:?}");
}

#[test]
fn several_formats_in_one_run() {
    let (dir, path) = env_file(AUTHENTIK_ENV);
    let report_path = dir.path().join("report.json");
    let output = run(&["check", path.to_str().unwrap(), "--offline", "--format", "human", "--format", "json", "--output", report_path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("result:"));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report_path).expect("report written")).expect("JSON");
    assert_eq!(report["tool"]["name"], "mastodon-oidc-check");
}

#[test]
fn two_formats_on_stdout_exit_2() {
    let (_dir, path) = env_file(AUTHENTIK_ENV);
    let output = run(&["check", path.to_str().unwrap(), "--offline", "--format", "human", "--format", "json"]);
    assert_eq!(output.status.code(), Some(2));
}

/// Builds an env file that puts the canary secret through every path that quotes
/// values: a `#` cut, a `$` expansion, a duplicate, skipped lines, a
/// process-environment override, values built from the secret, and URLs with
/// a password or a secret query parameter.
fn canary_env() -> String {
    format!(
        "{AUTHENTIK_ENV}OIDC_CLIENT_SECRET={CANARY}#tail
SECRET_KEY_BASE=\"{CANARY}$HOME\"
OTP_SECRET={CANARY}
DATABASE_URL=postgres://mastodon:{CANARY}@db/mastodon
SMTP-PASSWORD={CANARY}
#OIDC_CLIENT_SECRET={CANARY}-old
DB_PASS := {CANARY}
REDIS_PASSWORD\t{CANARY}
OIDC_CLIENT_SECRET={CANARY}
LOCAL_DOMAIN=$OIDC_CLIENT_SECRET
OIDC_PROMPT=login,$OIDC_CLIENT_SECRET
SSO_ACCOUNT_SETTINGS=https://auth.example/account/?client_secret={CANARY}
"
    )
}

#[test]
fn canary_secret_never_printed() {
    let pki = TestPki::new();
    let server = authentik_server(&pki, CertVariant::Valid);
    let (dir, path) = env_file(&canary_env());
    let report_path = dir.path().join("report.json");
    let path_text = path.display().to_string();
    let resolve = server.resolve_arg("auth.example");
    let ca = pki.ca_pem_path().display().to_string();
    let env_override = format!("OIDC_CLIENT_SECRET={CANARY}");

    let runs: Vec<Vec<&str>> = vec![
        vec!["check", &path_text, "--offline", "-vv"],
        vec!["check", &path_text, "--offline", "--format", "json"],
        vec!["check", &path_text, "--ca-file", &ca, "--resolve", &resolve, "-vv"],
        vec!["check", &path_text, "--ca-file", &ca, "--resolve", &resolve, "--format", "json", "--output", report_path.to_str().unwrap()],
        vec!["check", &path_text, "--offline", "--env", &env_override],
        vec!["check", &path_text, "--offline", "--format", "sarif"],
        vec!["check", &path_text, "--offline", "--format", "github"],
        vec!["check", &path_text, "--offline", "--format", "junit"],
        vec!["settings", &path_text],
        vec!["settings", &path_text, "--all", "--format", "json"],
    ];
    for arguments in runs {
        let output = run(&arguments);
        assert!(!stdout(&output).contains(CANARY), "stdout of {arguments:?} leaks the secret");
        assert!(!stderr(&output).contains(CANARY), "stderr of {arguments:?} leaks the secret");
        assert!(!stdout(&output).contains("-SECRET-"), "stdout of {arguments:?} leaks part of the secret");
    }
    let written = std::fs::read_to_string(&report_path).expect("report written");
    assert!(!written.contains(CANARY), "the JSON report file leaks the secret");
    assert_secret_not_in_urls(&server.requests(), CANARY);
}
