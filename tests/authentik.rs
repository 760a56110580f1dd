//! End-to-end tests of the authentik support: the admin API cross-check on
//! replayed real authentik 2025.10.0-rc1 responses, how the release is
//! learned and reported, what the output states when it cannot judge, and
//! that neither the API token nor a provider's client secret is ever printed.

mod support;

use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;
use support::{assert_secret_not_in_urls, env_file, fixtures, json_stdout, network_args, run, run_with_env, stderr, stdout, CertVariant, RecordedRequest, ReplayServer, Route, TestPki};

/// An admin API token that must never appear in any output.
const TOKEN_CANARY: &str = "canary-token-5d2e81f0-TOKEN-c9a7";
/// A provider client secret, returned by the replayed admin API, that must never appear in any output.
const SECRET_CANARY: &str = "canary-provider-secret-0b7c4e-SECRET";
const CALLBACK: &str = "https://mastodon.example/auth/auth/openid_connect/callback";

fn read(relative: &str) -> String {
    let path = fixtures().join("authentik-2025.10").join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// Returns a Mastodon env file for one of the captured providers (slug = client ID).
fn env_text(slug: &str, secret: &str, extra: &str) -> String {
    format!(
        "LOCAL_DOMAIN=mastodon.example
SECRET_KEY_BASE=placeholder-not-a-real-value
OIDC_ENABLED=true
OIDC_DISPLAY_NAME=authentik
OIDC_DISCOVERY=true
OIDC_ISSUER=https://auth.example/application/o/{slug}/
OIDC_SCOPE=openid,profile,email
OIDC_UID_FIELD=preferred_username
OIDC_CLIENT_ID={slug}
OIDC_CLIENT_SECRET={secret}
OIDC_REDIRECT_URI={CALLBACK}
OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED=true
{extra}"
    )
}

/// A temporary directory with the env file and a token file.
struct Workspace {
    _dir: tempfile::TempDir,
    env: PathBuf,
    token: PathBuf,
}

fn workspace(env: &str, token: &str) -> Workspace {
    let (dir, env_path) = env_file(env);
    let token_path = dir.path().join("authentik-token");
    std::fs::write(&token_path, format!("{token}\n")).expect("token file written");
    Workspace { _dir: dir, env: env_path, token: token_path }
}

/// The replayed server: one provider variant, its discovery document and
/// JWKS, and optionally the version header, the flow page and the admin API.
struct Replay {
    slug: &'static str,
    pk: u32,
    discovery: &'static str,
    jwks: &'static str,
    provider: String,
    settings: &'static str,
    robots_version: Option<&'static str>,
    flow_page: bool,
    api: bool,
}

impl Replay {
    fn new(slug: &'static str, pk: u32, discovery: &'static str, jwks: &'static str) -> Replay {
        Replay {
            slug,
            pk,
            discovery,
            jwks,
            provider: read(&format!("replay/api/provider-{slug}.json")),
            settings: "replay/api/settings.json",
            robots_version: None,
            flow_page: false,
            api: true,
        }
    }

    fn mastodon() -> Replay {
        Replay::new("mastodon", 2, "discovery-public.json", "jwks.json")
    }

    fn nokey() -> Replay {
        Replay::new("mastodon-nokey", 3, "replay/discovery-nokey.json", "replay/jwks-nokey.json")
    }

    fn routes(&self) -> Vec<Route> {
        let mut routes = vec![
            Route::get(&format!("/application/o/{}/.well-known/openid-configuration", self.slug))
                .header("content-type", "application/json")
                .header("x-authentik-id", "0d6f1c4b2a9e4f3c8b7a6e5d4c3b2a19")
                .body(read(self.discovery)),
            Route::get(&format!("/application/o/{}/jwks/", self.slug)).header("content-type", "application/json").body(read(self.jwks)),
        ];
        match self.robots_version {
            Some(version) => routes.push(Route::get("/robots.txt").header("content-type", "text/plain").header("x-authentik-version", version).body(read("replay/robots.txt"))),
            None => routes.push(Route::get("/robots.txt").status(404).header("content-type", "text/html; charset=utf-8").body(read("replay/not-found.html"))),
        }
        if self.flow_page {
            routes.push(Route::get("/if/flow/default-authentication-flow/").header("content-type", "text/html; charset=utf-8").body(read("replay/flow-page.html")));
        }
        if self.api {
            let application = if self.slug == "mastodon" { read("replay/api/application-mastodon.json") } else { read(&format!("replay/api/application-{}.json", self.slug)) };
            let objects = [
                ("/api/v3/admin/version/".to_string(), read("replay/api/version.json")),
                (format!("/api/v3/core/applications/{}/", self.slug), application),
                (format!("/api/v3/providers/oauth2/{}/", self.pk), self.provider.clone()),
                ("/api/v3/propertymappings/provider/scope/".to_string(), read("replay/api/scope-mappings.json")),
                ("/api/v3/admin/settings/".to_string(), read(self.settings)),
                ("/api/v3/crypto/certificatekeypairs/".to_string(), read("replay/api/certificatekeypairs.json")),
            ];
            for (path, body) in objects {
                routes.push(
                    Route::get(&path)
                        .request_header("authorization", &format!("Bearer {TOKEN_CANARY}"))
                        .header("content-type", "application/json; charset=utf-8")
                        .body(body),
                );
                routes.push(Route::get(&path).status(403).header("content-type", "application/json; charset=utf-8").body(read("replay/api/error-token-invalid.json")));
            }
        }
        routes
    }

    fn start(&self, pki: &TestPki) -> ReplayServer {
        ReplayServer::https(pki, "auth.example", CertVariant::Valid, self.routes())
    }
}

/// Runs `check` with JSON on stdout and returns the parsed report and the whole output.
fn check_json(workspace: &Workspace, server: &ReplayServer, pki: &TestPki, extra: &[&str]) -> (Value, Output) {
    let mut arguments: Vec<String> = vec!["check".into(), workspace.env.display().to_string(), "--format".into(), "json".into()];
    arguments.extend(network_args(pki, server));
    arguments.extend(extra.iter().map(|argument| argument.to_string()));
    let output = run(&arguments);
    let report = json_stdout(&output);
    (report, output)
}

fn with_token<'a>(workspace: &'a Workspace, extra: &[&'a str]) -> Vec<&'a str> {
    let mut arguments = vec!["--authentik-token-file", workspace.token.to_str().expect("UTF-8 path")];
    arguments.extend_from_slice(extra);
    arguments
}

fn findings_of<'a>(report: &'a Value, rule: &str) -> Vec<&'a Value> {
    report["findings"].as_array().expect("findings array").iter().filter(|finding| finding["rule"] == rule).collect()
}

fn skipped_reason<'a>(report: &'a Value, rule: &str) -> Option<&'a str> {
    report["skipped"].as_array()?.iter().find(|skipped| skipped["rule"] == rule)?["reason"].as_str()
}

fn api_requests(server: &ReplayServer) -> Vec<RecordedRequest> {
    server.requests().into_iter().filter(|request| request.path.starts_with("/api/")).collect()
}

#[test]
fn cross_check_finds_wrong_redirect_uri() {
    let pki = TestPki::new();
    let server = Replay::mastodon().start(&pki);
    let env = env_text("mastodon", "mastodon-test-secret", "").replace(&format!("OIDC_REDIRECT_URI={CALLBACK}"), &format!("OIDC_REDIRECT_URI={CALLBACK}/"));
    let workspace = workspace(&env, TOKEN_CANARY);
    let (report, _) = check_json(&workspace, &server, &pki, &with_token(&workspace, &[]));

    let findings = findings_of(&report, "authentik-redirect-uri-unregistered");
    assert_eq!(findings.len(), 1, "{report:#}");
    assert_eq!(findings[0]["severity"], "error");
    let message = findings[0]["message"].as_str().unwrap();
    assert!(message.contains("trailing slash"), "{message}");
    assert_eq!(findings[0]["help"], format!("set OIDC_REDIRECT_URI={CALLBACK}"));
    assert_eq!(findings[0]["location"]["line"], 11, "the label points at OIDC_REDIRECT_URI");
}

#[test]
fn cross_check_finds_wrong_secret() {
    let pki = TestPki::new();
    let server = Replay::mastodon().start(&pki);
    let workspace = workspace(&env_text("mastodon", "rotated-secret-from-last-year", ""), TOKEN_CANARY);
    let (report, output) = check_json(&workspace, &server, &pki, &with_token(&workspace, &[]));

    let findings = findings_of(&report, "authentik-client-secret-mismatch");
    assert_eq!(findings.len(), 1, "{report:#}");
    assert_eq!(findings[0]["severity"], "error");
    assert_eq!(output.status.code(), Some(1));
    let text = format!("{}{}", stdout(&output), stderr(&output));
    assert!(!text.contains("mastodon-test-secret"), "the provider's secret was printed");
    assert!(!text.contains("rotated-secret-from-last-year"), "Mastodon's secret was printed");
}

#[test]
fn cross_check_finds_missing_signing_key_once() {
    let pki = TestPki::new();
    let server = Replay::nokey().start(&pki);
    let workspace = workspace(&env_text("mastodon-nokey", "mastodon-nokey-test-secret", ""), TOKEN_CANARY);
    let (report, _) = check_json(&workspace, &server, &pki, &with_token(&workspace, &[]));

    let findings = findings_of(&report, "authentik-signing-key-missing");
    assert_eq!(findings.len(), 1, "{report:#}");
    let help = findings[0]["help"].as_str().unwrap();
    assert!(help.contains("select `authentik Self-signed Certificate`"), "{help}");
    assert!(findings_of(&report, "signing-alg-symmetric-only").is_empty(), "the discovery rule leaves the finding to the admin API rule");
    let certificates = server.requests().iter().filter(|request| request.path == "/api/v3/crypto/certificatekeypairs/").count();
    assert_eq!(certificates, 1, "the certificates are read for a provider without signing key");
}

#[test]
fn signing_key_without_token_comes_from_discovery() {
    let pki = TestPki::new();
    let mut replay = Replay::nokey();
    replay.api = false;
    let server = replay.start(&pki);
    let workspace = workspace(&env_text("mastodon-nokey", "mastodon-nokey-test-secret", ""), TOKEN_CANARY);
    let (report, _) = check_json(&workspace, &server, &pki, &[]);

    assert_eq!(findings_of(&report, "signing-alg-symmetric-only").len(), 1, "{report:#}");
    assert!(skipped_reason(&report, "authentik-signing-key-missing").is_some_and(|reason| reason.contains("no admin API token")));
}

#[test]
fn cross_check_finds_username_change_enabled() {
    let pki = TestPki::new();
    let mut replay = Replay::mastodon();
    replay.settings = "replay/api/settings-change-username.json";
    let server = replay.start(&pki);
    let workspace = workspace(&env_text("mastodon", "mastodon-test-secret", ""), TOKEN_CANARY);
    let (report, _) = check_json(&workspace, &server, &pki, &with_token(&workspace, &[]));

    let findings = findings_of(&report, "authentik-uid-changeable");
    assert_eq!(findings.len(), 1, "{report:#}");
    assert_eq!(findings[0]["severity"], "warning");
    let message = findings[0]["message"].as_str().unwrap();
    assert!(message.contains("\"Allow users to change username\" (default_user_change_username) is enabled"), "{message}");
    assert!(message.contains("signs in to the old owner's account"), "{message}");
}

#[test]
fn good_configuration_passes_cross_check() {
    let pki = TestPki::new();
    let server = Replay::mastodon().start(&pki);
    let workspace = workspace(&env_text("mastodon", "mastodon-test-secret", ""), TOKEN_CANARY);
    let (report, _) = check_json(&workspace, &server, &pki, &with_token(&workspace, &[]));

    let authentik_findings: Vec<&Value> = report["findings"].as_array().unwrap().iter().filter(|finding| finding["rule"].as_str().unwrap().starts_with("authentik-")).collect();
    assert!(authentik_findings.is_empty(), "{authentik_findings:#?}");
    assert_eq!(report["checked"]["authentik"]["admin_api_read"], true);
    let admin_api = report["checked"]["authentik"]["admin_api"].as_str().unwrap();
    assert!(admin_api.contains("`mastodon` (pk 2) through the application `mastodon`"), "{admin_api}");
    assert!(findings_of(&report, "authentik-openid-mapping").is_empty(), "the reminder is quiet once the mappings were read");
}

#[test]
fn token_never_appears_in_output() {
    let pki = TestPki::new();
    let mut replay = Replay::mastodon();
    replay.provider = replay.provider.replace("mastodon-test-secret", SECRET_CANARY);
    let server = replay.start(&pki);
    let workspace = workspace(&env_text("mastodon", "a-different-secret", "OIDC_IDP_LOGOUT_REDIRECT_URI=https://mastodon.example/\n"), TOKEN_CANARY);

    for format in ["human", "json"] {
        let mut arguments: Vec<String> = vec!["-vv".into(), "check".into(), workspace.env.display().to_string(), "--format".into(), format.into()];
        arguments.extend(network_args(&pki, &server));
        arguments.extend(["--authentik-token-file".to_string(), workspace.token.display().to_string()]);
        let output = run(&arguments);
        let text = format!("{}{}", stdout(&output), stderr(&output));
        assert!(text.contains("authentik-client-secret-mismatch"), "the run reached the cross-check ({format}): {text}");
        assert!(!text.contains(TOKEN_CANARY), "the token was printed ({format})");
        assert!(!text.contains("canary-token"), "part of the token was printed ({format})");
        assert!(!text.contains(SECRET_CANARY), "the provider's client secret was printed ({format})");
    }

    let api = api_requests(&server);
    assert!(!api.is_empty());
    for request in &api {
        assert_eq!(request.header("authorization"), Some(format!("Bearer {TOKEN_CANARY}").as_str()), "{}", request.target());
        assert_eq!(request.sni.as_deref(), Some("auth.example"), "the token went over TLS to the issuer's host");
    }
    assert_secret_not_in_urls(&api, TOKEN_CANARY);
    let outside_api = server.requests().into_iter().filter(|request| !request.path.starts_with("/api/"));
    for request in outside_api {
        assert_eq!(request.header("authorization"), None, "the token went to {}", request.target());
    }
}

#[test]
fn token_from_environment_is_masked() {
    let pki = TestPki::new();
    let server = Replay::mastodon().start(&pki);
    let workspace = workspace(&env_text("mastodon", "mastodon-test-secret", ""), "unused");
    let mut arguments: Vec<String> = vec!["-vv".into(), "check".into(), workspace.env.display().to_string()];
    arguments.extend(network_args(&pki, &server));
    let output = run_with_env(&arguments, &[("AUTHENTIK_TOKEN", TOKEN_CANARY)]);
    let text = format!("{}{}", stdout(&output), stderr(&output));
    assert!(text.contains("authentik admin API: read the OAuth2 provider"), "{text}");
    assert!(!text.contains(TOKEN_CANARY));
}

#[test]
fn wrong_token_is_reported_incomplete() {
    let pki = TestPki::new();
    let server = Replay::mastodon().start(&pki);
    let workspace = workspace(&env_text("mastodon", "mastodon-test-secret", ""), "revoked-token-0000000000");
    let (report, _) = check_json(&workspace, &server, &pki, &with_token(&workspace, &[]));

    let findings = findings_of(&report, "authentik-api-incomplete");
    assert_eq!(findings.len(), 1, "{report:#}");
    assert_eq!(findings[0]["incomplete"], true);
    assert!(findings[0]["message"].as_str().unwrap().contains("Token invalid/expired"));
    let reason = skipped_reason(&report, "authentik-client-secret-mismatch").expect("the cross-check rules are skipped");
    assert!(reason.contains("did not return the OAuth2 provider"), "{reason}");
    assert_eq!(api_requests(&server).len(), 1, "a refused token stops after the first request");
}

#[test]
fn version_from_header_is_reported() {
    let pki = TestPki::new();
    let mut replay = Replay::mastodon();
    replay.api = false;
    replay.robots_version = Some("2025.10.0-rc1");
    let server = replay.start(&pki);
    let workspace = workspace(&env_text("mastodon", "mastodon-test-secret", ""), "unused");
    let mut arguments: Vec<String> = vec!["check".into(), workspace.env.display().to_string(), "--no-color".into()];
    arguments.extend(network_args(&pki, &server));
    let output = run(&arguments);
    let text = stdout(&output);
    assert!(text.contains("authentik version: 2025.10.0-rc1, from the X-authentik-version header of https://auth.example/robots.txt"), "{text}");
    assert!(text.contains("authentik admin API: not read (no admin API token given"), "{text}");

    let (report, _) = check_json(&workspace, &server, &pki, &[]);
    assert_eq!(report["checked"]["authentik"]["version"], "2025.10.0-rc1");
    assert_eq!(report["checked"]["authentik"]["version_source"], "header");
    let probes: Vec<String> = server.requests().iter().filter(|request| !request.path.starts_with("/application/o/")).map(RecordedRequest::target).collect();
    assert_eq!(probes, vec!["/robots.txt", "/robots.txt"], "one version request per run, the header answered it");
}

#[test]
fn version_from_flow_page_assets() {
    let pki = TestPki::new();
    let mut replay = Replay::mastodon();
    replay.api = false;
    replay.flow_page = true;
    let server = replay.start(&pki);
    let workspace = workspace(&env_text("mastodon", "mastodon-test-secret", ""), "unused");
    let (report, _) = check_json(&workspace, &server, &pki, &[]);

    assert_eq!(report["checked"]["authentik"]["version"], "2025.10.0-rc1");
    assert_eq!(report["checked"]["authentik"]["version_source"], "asset-names");
    let detail = report["checked"]["authentik"]["version_detail"].as_str().unwrap();
    assert!(detail.contains("/if/flow/default-authentication-flow/"), "{detail}");
    let probes: Vec<String> = server.requests().iter().filter(|request| !request.path.starts_with("/application/o/")).map(RecordedRequest::target).collect();
    assert_eq!(probes, vec!["/robots.txt", "/if/flow/default-authentication-flow/"], "at most two unauthenticated version requests");
}

#[test]
fn version_from_admin_api_wins_over_command_line() {
    let pki = TestPki::new();
    let server = Replay::mastodon().start(&pki);
    let workspace = workspace(&env_text("mastodon", "mastodon-test-secret", ""), TOKEN_CANARY);
    let (report, _) = check_json(&workspace, &server, &pki, &with_token(&workspace, &["--authentik-version", "2026.5.0"]));

    let authentik = &report["checked"]["authentik"];
    assert_eq!(authentik["version"], "2025.10.0-rc1");
    assert_eq!(authentik["version_source"], "admin-api");
    assert!(authentik["version_detail"].as_str().unwrap().contains("--authentik-version 2026.5.0 was ignored"), "{authentik:#}");
    let unauthenticated = server.requests().iter().filter(|request| request.path == "/robots.txt" || request.path.starts_with("/if/")).count();
    assert_eq!(unauthenticated, 0, "the admin API gave the release, so nothing else was asked");
}

#[test]
fn command_line_version_sends_no_probe() {
    let pki = TestPki::new();
    let mut replay = Replay::mastodon();
    replay.api = false;
    let server = replay.start(&pki);
    let env = env_text("mastodon", "mastodon-test-secret", "OMNIAUTH_ONLY=true\nOIDC_IDP_LOGOUT_REDIRECT_URI=https://mastodon.example/\n");
    let workspace = workspace(&env, "unused");
    let (report, _) = check_json(&workspace, &server, &pki, &["--authentik-version", "2026.5.0"]);

    assert_eq!(report["checked"]["authentik"]["version_source"], "command-line");
    assert_eq!(findings_of(&report, "authentik-logout-uri-rejected").len(), 1, "{report:#}");
    assert!(findings_of(&report, "authentik-logout-uri-ignored").is_empty());
    let paths: Vec<String> = server.requests().iter().map(|request| request.path.clone()).collect();
    assert!(paths.iter().all(|path| path.starts_with("/application/o/")), "{paths:?}");
}

#[test]
fn unknown_version_and_no_token_are_stated() {
    let pki = TestPki::new();
    let mut replay = Replay::mastodon();
    replay.api = false;
    let server = replay.start(&pki);
    let workspace = workspace(&env_text("mastodon", "mastodon-test-secret", ""), "unused");
    let mut arguments: Vec<String> = vec!["check".into(), workspace.env.display().to_string(), "--no-color".into()];
    arguments.extend(network_args(&pki, &server));
    let output = run(&arguments);
    let text = stdout(&output);
    assert!(text.contains("authentik version: unknown, so the version caveats were not judged"), "{text}");
    assert!(text.contains("https://auth.example/robots.txt showed no release"), "{text}");
    assert!(text.contains("pass --authentik-version X.Y.Z"), "{text}");
    assert!(text.contains("authentik admin API: not read (no admin API token given: pass --authentik-token-file FILE or set AUTHENTIK_TOKEN)"), "{text}");

    let (report, _) = check_json(&workspace, &server, &pki, &[]);
    let version_reason = skipped_reason(&report, "authentik-email-unverified").expect("version rules are skipped");
    assert_eq!(version_reason, "no authentik version known: pass --authentik-version X.Y.Z");
    let detail = report["checked"]["authentik"]["version_detail"].as_str().unwrap();
    assert!(detail.contains("backchannel_logout_supported, so it is at least 2025.8"), "{detail}");
    assert!(detail.contains("/if/flow/default-authentication-flow/ showed no release"), "{detail}");
    assert_eq!(report["checked"]["authentik"]["minimum_version"], "2025.8 (backchannel_logout_supported in the discovery document)");
    let api_reason = skipped_reason(&report, "authentik-redirect-uri-unregistered").expect("cross-check rules are skipped");
    assert!(api_reason.contains("no admin API token given"), "{api_reason}");
    assert_eq!(report["checked"]["authentik"]["version"], Value::Null);
    assert_eq!(report["checked"]["authentik"]["admin_api_read"], false);
}

#[test]
fn saved_documents_send_no_request() {
    let pki = TestPki::new();
    let server = Replay::mastodon().start(&pki);
    let workspace = workspace(&env_text("mastodon", "mastodon-test-secret", ""), TOKEN_CANARY);
    let discovery = workspace.env.with_file_name("discovery.json");
    std::fs::write(&discovery, read("discovery-public.json").replace("{{PUBLIC_ORIGIN}}", "https://auth.example")).unwrap();
    let (report, _) = check_json(&workspace, &server, &pki, &with_token(&workspace, &["--discovery-file", discovery.to_str().unwrap()]));

    assert!(server.requests().is_empty(), "{:?}", server.requests());
    let reason = skipped_reason(&report, "authentik-client-secret-mismatch").unwrap();
    assert!(reason.contains("saved documents were given"), "{reason}");
}

#[test]
fn offline_run_judges_command_line_version() {
    let workspace = workspace(&env_text("mastodon", "mastodon-test-secret", ""), "unused");
    let output = run(&["check".into(), workspace.env.display().to_string(), "--offline".into(), "--format".into(), "json".into(), "--authentik-version".into(), "2024.10.2".into()]);
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let findings = findings_of(&report, "authentik-cve-2024-52289");
    assert_eq!(findings.len(), 1, "{report:#}");
    assert!(findings[0]["help"].as_str().unwrap().contains(r"https://mastodon\.example/auth/auth/openid_connect/callback"));
}

#[test]
fn invalid_version_is_a_usage_error() {
    let workspace = workspace(&env_text("mastodon", "mastodon-test-secret", ""), "unused");
    let output = run(&["check".into(), workspace.env.display().to_string(), "--offline".into(), "--authentik-version".into(), "2025.10".into()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("invalid --authentik-version `2025.10`"), "{}", stderr(&output));
}

#[test]
fn missing_token_file_is_a_usage_error() {
    let workspace = workspace(&env_text("mastodon", "mastodon-test-secret", ""), "unused");
    let missing = workspace.env.with_file_name("no-such-token");
    let output = run(&["check".into(), workspace.env.display().to_string(), "--offline".into(), "--authentik-token-file".into(), missing.display().to_string()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot read the authentik token file"), "{}", stderr(&output));
}

#[test]
fn application_not_found_falls_back_to_client_id() {
    let pki = TestPki::new();
    let mut routes = Replay::mastodon().routes();
    // The application lookup returns 404, as for a token whose user cannot see the application;
    // the client ID still finds the provider.
    let env = env_text("mastodon", "mastodon-test-secret", "").replace("/application/o/mastodon/", "/application/o/mastodon-old/");
    routes.insert(
        0,
        Route::get("/application/o/mastodon-old/.well-known/openid-configuration").header("content-type", "application/json").body(read("discovery-public.json").replace("/application/o/mastodon/", "/application/o/mastodon-old/")),
    );
    routes.insert(0, Route::get("/application/o/mastodon-old/jwks/").header("content-type", "application/json").body(read("jwks.json")));
    routes.insert(
        0,
        Route::get("/api/v3/core/applications/mastodon-old/")
            .request_header("authorization", &format!("Bearer {TOKEN_CANARY}"))
            .status(404)
            .header("content-type", "application/json")
            .body(r#"{"detail": "No Application matches the given query."}"#),
    );
    let list = format!(r#"{{"pagination": {{"next": 0, "count": 1}}, "results": [{}], "autocomplete": {{}}}}"#, read("replay/api/provider-mastodon.json"));
    routes.insert(0, Route::get("/api/v3/providers/oauth2/").query("client_id", "mastodon").request_header("authorization", &format!("Bearer {TOKEN_CANARY}")).header("content-type", "application/json").body(list));
    let server = ReplayServer::https(&pki, "auth.example", CertVariant::Valid, routes);
    let workspace = workspace(&env, TOKEN_CANARY);
    let (report, _) = check_json(&workspace, &server, &pki, &with_token(&workspace, &[]));

    let admin_api = report["checked"]["authentik"]["admin_api"].as_str().unwrap();
    assert!(admin_api.contains("through its client ID"), "{admin_api}");
    let incomplete = findings_of(&report, "authentik-api-incomplete");
    assert_eq!(incomplete.len(), 1, "the missing application is named");
    assert!(incomplete[0]["message"].as_str().unwrap().contains("No Application matches"));
}
