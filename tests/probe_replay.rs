//! The probes against loopback replays: authentik 2025.10's real responses to
//! authorization and token requests (token errors are 400, never 401), and a
//! Mastodon sign-in page and request phase.
//!
//! One TLS server on 127.0.0.1 presents a certificate for both auth.example
//! and mastodon.example, and `--resolve` sends both names to it. Statuses,
//! `Location` headers and JSON bodies are authentik's as captured in
//! fixtures/authentik-2025.10/responses.json; its HTML error pages are
//! rebuilt from their captured visible text. The token routes apply
//! authentik's order of checks (client, secret, missing code, redirect URI)
//! to the POST body, so the env files use OIDC_CLIENT_AUTH_METHOD=post.

mod support;

use std::process::Output;

use serde_json::{json, Value};
use support::{
    assert_client_secret_not_printed, assert_reported_urls, assert_secret_not_in_urls, authentik_discovery, authentik_discovery_routes, env_file, fixtures, json_stdout, network_args, output_text, reported_requests, run, stdout, CertVariant, ParamRule, RecordedRequest, ReplayServer, Route, TestPki,
};

/// The client secret of every replay; it must never appear in output or a URL.
const CANARY: &str = "canary-replay-5b1f-SECRET-77ad";

const REDIRECT_URI: &str = "https://mastodon.example/auth/auth/openid_connect/callback";
const TOKEN_PATH: &str = "/application/o/token/";
const AUTHORIZE_PATH: &str = "/application/o/authorize/";
const CSRF_TOKEN: &str = "c3JmLXRva2VuLWZyb20tbWV0YQ==";

/// Returns one captured authentik response, from responses.json or api-responses.json.
fn capture(name: &str) -> Value {
    for file in ["responses.json", "api-responses.json"] {
        let text = std::fs::read_to_string(fixtures().join("authentik-2025.10").join(file)).expect("capture file");
        let captures: Value = serde_json::from_str(&text).expect("capture JSON");
        if let Some(found) = captures.get(name) {
            return found.clone();
        }
    }
    panic!("no capture named {name}");
}

/// Answers `route` as authentik did in `name`, with its host rewritten to auth.example.
fn replay(route: Route, name: &str) -> Route {
    let captured = capture(name);
    let mut route = route.status(captured["status"].as_u64().expect("status") as u16);
    if let Some(location) = captured["location"].as_str() {
        route = route.header("location", &location.replace("http://127.0.0.1:9000", "{{PUBLIC_ORIGIN}}"));
    }
    if let Some(body) = captured.get("json") {
        return route.json(body);
    }
    let content_type = captured["content_type"].as_str().unwrap_or("text/html; charset=utf-8");
    let text = captured["text"].as_str().unwrap_or_default();
    let body = if text.is_empty() { String::new() } else { format!("<!DOCTYPE html><html><head><title>authentik</title></head><body><main>{text}</main></body></html>") };
    route.header("content-type", content_type).body(body)
}

fn discovery_routes() -> Vec<Route> {
    authentik_discovery_routes(authentik_discovery())
}

/// authentik's authorize and token endpoints for a confidential client
/// `mastodon` with the secret CANARY and the one redirect URI REDIRECT_URI,
/// and a public client `mastodon-public`.
fn authentik_routes() -> Vec<Route> {
    let mut routes = discovery_routes();
    routes.extend(endpoint_routes());
    routes
}

fn endpoint_routes() -> Vec<Route> {
    let confidential = |route: Route| route.form("client_id", "mastodon").form("client_secret", CANARY);
    vec![
        replay(Route::get(AUTHORIZE_PATH).query("client_id", "mastodon").query("redirect_uri", REDIRECT_URI), "10-authorize-good"),
        replay(Route::get(AUTHORIZE_PATH).query("client_id", "mastodon-public").query("redirect_uri", REDIRECT_URI), "413-authorize-public-provider-good"),
        replay(Route::get(AUTHORIZE_PATH).query("client_id", "mastodon"), "11-authorize-wrong-redirect"),
        replay(Route::get(AUTHORIZE_PATH), "12-authorize-unknown-client"),
        // A public client's secret is never checked.
        replay(Route::post(TOKEN_PATH).form("client_id", "mastodon-public"), "431-token-public-client-wrong-secret-bogus-code"),
        // Right credentials: a missing code fails before the redirect URI check.
        replay(confidential(Route::post(TOKEN_PATH)).form_rule("code", ParamRule::Absent), "21-token-bogus-code-basic"),
        replay(confidential(Route::post(TOKEN_PATH)).form("redirect_uri", REDIRECT_URI), "23-token-bogus-code-post"),
        // Right credentials, another redirect URI: authentik responds with invalid_client.
        replay(confidential(Route::post(TOKEN_PATH)), "20-token-wrong-secret-basic"),
        // Unknown client, wrong secret, or no client authentication.
        replay(Route::post(TOKEN_PATH), "22-token-wrong-secret-post"),
    ]
}

const SIGN_IN_PAGE: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Log in - Mastodon</title>
<meta name="csrf-param" content="authenticity_token">
<meta name="csrf-token" content="c3JmLXRva2VuLWZyb20tbWV0YQ==">
</head><body class="lighter">
<div class="flash-message alert"><strong>Could not authenticate you from OpenIDConnect because "Issuer mismatch".</strong></div>
<form class="simple_form new_user" id="new_user" novalidate="novalidate" action="/auth/sign_in" accept-charset="UTF-8" method="post">
<input type="hidden" name="authenticity_token" value="per-form-token-bound-to-sign-in" autocomplete="off">
<input class="email" type="email" name="user[email]"><input type="password" name="user[password]">
<button name="button" type="submit" class="btn">Log in</button></form>
<div class="simple_form alternative-login"><h4>Or log in with</h4><div class="actions">
<a class="button button-openid_connect" rel="nofollow" data-method="post" href="/auth/auth/openid_connect">SSO</a>
</div></div></body></html>"#;

/// Builds the authorization URL the running Mastodon redirects to, as
/// omniauth_openid_connect 0.6.1 does: keys sorted, spaces as %20.
fn authorization_location(client_id: &str, scope: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(REDIRECT_URI.as_bytes()).collect();
    format!(
        "https://auth.example/application/o/authorize/?client_id={client_id}&nonce=105b7f95fac9f323e68123fff8e28a5b&redirect_uri={encoded}&response_type=code&scope={}&state=c55f73aaab9d3122e749bc6b9f772600",
        scope.replace(' ', "%20")
    )
}

/// Returns the routes of a Mastodon `version` on mastodon.example whose request phase redirects to `location`.
fn mastodon_routes(version: &str, location: &str) -> Vec<Route> {
    let mut routes = vec![Route::get("/api/v2/instance").json(&json!({"domain": "mastodon.example", "title": "Mastodon", "version": version, "source_url": "https://github.com/mastodon/mastodon"}))];
    routes.extend(sign_in_routes(location));
    routes
}

/// Returns the routes of Mastodon's sign-in page and of a request phase that redirects to `location`.
fn sign_in_routes(location: &str) -> Vec<Route> {
    vec![
        Route::get("/auth/sign_in")
            .header("content-type", "text/html; charset=utf-8")
            .header("set-cookie", "_mastodon_session=first-session; path=/; secure; httponly; samesite=lax")
            .body(SIGN_IN_PAGE),
        Route::post("/auth/auth/openid_connect")
            .form("authenticity_token", CSRF_TOKEN)
            .form("_method", "post")
            .redirect(302, location)
            .header("set-cookie", "_mastodon_session=second-session; path=/; secure; httponly; samesite=lax")
            .body("Redirecting…"),
        Route::post("/auth/auth/openid_connect").redirect(302, "https://mastodon.example/auth/sign_in"),
    ]
}

/// Starts a TLS server on 127.0.0.1 for both auth.example and mastodon.example.
fn server(pki: &TestPki, routes: Vec<Route>) -> ReplayServer {
    let config = pki.server_config(&["auth.example", "mastodon.example"], CertVariant::Valid);
    ReplayServer::start("auth.example", Some(tokio_rustls::TlsAcceptor::from(config)), routes)
}

/// Returns the arguments that send auth.example and mastodon.example to `server` and trust the test CA.
fn network_args_both_hosts(pki: &TestPki, server: &ReplayServer) -> Vec<String> {
    let mut arguments = network_args(pki, server);
    arguments.extend(["--resolve".to_string(), server.resolve_arg("mastodon.example")]);
    arguments
}

fn env_text(client_id: &str, extra: &str) -> String {
    format!(
        "LOCAL_DOMAIN=mastodon.example
SECRET_KEY_BASE=placeholder-not-a-real-value
OIDC_ENABLED=true
OIDC_DISPLAY_NAME=SSO
OIDC_DISCOVERY=true
OIDC_ISSUER=https://auth.example/application/o/mastodon/
OIDC_SCOPE=openid,profile,email
OIDC_UID_FIELD=sub
OIDC_CLIENT_ID={client_id}
OIDC_CLIENT_SECRET={CANARY}
OIDC_CLIENT_AUTH_METHOD=post
OIDC_REDIRECT_URI={REDIRECT_URI}
OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED=true
{extra}"
    )
}

struct Run {
    output: Output,
    report: Value,
    requests: Vec<RecordedRequest>,
}

impl Run {
    /// Probe rules with errors or warnings; the first-use note of the
    /// authentik layout is left out.
    fn probe_rules(&self) -> Vec<String> {
        self.findings().iter().filter(|finding| finding["severity"] != "info").filter_map(|finding| finding["rule"].as_str()).filter(|rule| rule.starts_with("probe-") || rule.starts_with("mastodon-")).map(str::to_string).collect()
    }

    fn findings(&self) -> Vec<Value> {
        self.report["findings"].as_array().cloned().unwrap_or_default()
    }

    fn finding(&self, rule: &str) -> Value {
        self.findings().into_iter().find(|finding| finding["rule"] == rule).unwrap_or_else(|| panic!("no `{rule}` finding: {}", self.text()))
    }

    fn token_posts(&self) -> usize {
        self.requests.iter().filter(|request| request.method == "POST" && request.path == TOKEN_PATH).count()
    }

    fn text(&self) -> String {
        output_text(&self.output)
    }
}

/// Runs `check --probe=SCOPE` against the server and checks what holds for
/// every run: every probe request reached this server, at most three token
/// requests, and the secret in no URL and no output.
fn probe(pki: &TestPki, server: &ReplayServer, env: &str, scope: &str) -> Run {
    let (_dir, path) = env_file(env);
    let mut arguments = vec!["check".to_string(), path.display().to_string(), format!("--probe={scope}"), "--format".into(), "json".into(), "-vv".into()];
    arguments.extend(network_args_both_hosts(pki, server));
    let output = run(&arguments);
    let report = json_stdout(&output);
    let run = Run { output, report, requests: server.requests() };

    assert_client_secret_not_printed(&run.text(), CANARY);
    let reported = reported_requests(&run.report);
    assert_reported_urls(&reported, &["https://auth.example/", "https://mastodon.example/"], CANARY);
    let received: Vec<String> = run.requests.iter().map(RecordedRequest::target).collect();
    assert_secret_not_in_urls(&run.requests, CANARY);
    for request in &run.requests {
        assert!(matches!(request.sni.as_deref(), Some("auth.example" | "mastodon.example")), "a request for another host: {:?}", request.sni);
    }
    // Every probe request reached this server, besides the fetches and the authentik version probes.
    let probe_requests = received.iter().filter(|target| target.starts_with(AUTHORIZE_PATH) || target.starts_with(TOKEN_PATH) || target.starts_with("/auth/") || target.starts_with("/api/") || target.starts_with("/nodeinfo")).count();
    assert_eq!(probe_requests, reported.len(), "the report lists {reported:?}, the server received {received:?}");
    assert!(run.token_posts() <= 3, "{} token requests: {received:?}", run.token_posts());
    for request in run.requests.iter().filter(|request| request.path == TOKEN_PATH) {
        assert_eq!(request.header("authorization"), None, "OIDC_CLIENT_AUTH_METHOD=post sends no Authorization header");
    }
    run
}

fn authentik(env: &str) -> Run {
    let pki = TestPki::new();
    let server = server(&pki, authentik_routes());
    probe(&pki, &server, env, "provider")
}

#[test]
fn authentik_good_configuration_passes() {
    let run = authentik(&env_text("mastodon", ""));
    assert_eq!(run.probe_rules(), Vec::<String>::new(), "{}", run.text());
    assert_eq!(run.token_posts(), 2, "the configured request and the wrong-secret control");
    let first_use = run.finding("probe-first-use-registration");
    assert_eq!(first_use["severity"], "info", "without admin-API facts the first-use risk is a note");
}

#[test]
fn authentik_unknown_client_is_found() {
    let run = authentik(&env_text("mastodon-typo", ""));
    let rules = run.probe_rules();
    assert!(rules.contains(&"probe-authorize-unknown-client".to_string()), "{rules:?}");
    assert!(rules.contains(&"probe-token-client-rejected".to_string()), "{rules:?}");
    let message = run.finding("probe-token-client-rejected")["message"].as_str().unwrap().to_string();
    assert!(message.contains("is unknown"), "{message}");
}

#[test]
fn authentik_wrong_secret_is_found() {
    let env = env_text("mastodon", "").replace(&format!("OIDC_CLIENT_SECRET={CANARY}"), "OIDC_CLIENT_SECRET=not-the-secret");
    let run = authentik(&env);
    assert_eq!(run.probe_rules(), vec!["probe-token-client-rejected".to_string()], "{}", run.text());
    assert_eq!(run.token_posts(), 3);
    let statuses: Vec<u16> = run.report["checked"]["probes"]["requests"].as_array().unwrap().iter().filter_map(|request| request["status"].as_u64()).map(|status| status as u16).collect();
    assert!(statuses.iter().skip(1).all(|status| *status == 400), "authentik answers every token error with 400: {statuses:?}");
}

#[test]
fn authentik_redirect_uri_mismatch_is_found_twice() {
    let env = env_text("mastodon", "").replace(&format!("OIDC_REDIRECT_URI={REDIRECT_URI}"), "OIDC_REDIRECT_URI=https://mastodon.example/auth/openid_connect/callback");
    let run = authentik(&env);
    let rules = run.probe_rules();
    assert!(rules.contains(&"probe-authorize-redirect-uri".to_string()), "{rules:?}");
    assert!(rules.contains(&"probe-token-redirect-uri".to_string()), "{rules:?}");
    assert!(!rules.contains(&"probe-token-client-rejected".to_string()), "the credentials are right: {rules:?}");
    assert_eq!(run.token_posts(), 3, "with a code, without a code, and the control without a code");
    let control = run.requests.iter().rfind(|request| request.path == TOKEN_PATH).unwrap();
    let form = control.form_pairs();
    assert!(!form.iter().any(|(name, _)| name == "code"), "the control copies the request that passed: no code");
    let control_secret = form.iter().find(|(name, _)| name == "client_secret").map(|(_, value)| value.as_str());
    assert!(control_secret.is_some(), "the control sends a secret: {form:?}");
    assert_ne!(control_secret, Some(CANARY), "the control sends a wrong secret");
}

#[test]
fn authentik_public_client_secret_is_not_checked() {
    let run = authentik(&env_text("mastodon-public", ""));
    assert_eq!(run.probe_rules(), vec!["probe-token-secret-not-checked".to_string()], "{}", run.text());
    assert_eq!(run.finding("probe-token-secret-not-checked")["severity"], "warning");
}

#[test]
fn authorize_probe_sends_mastodon_parameters() {
    let run = authentik(&env_text("mastodon", "OIDC_USE_PKCE=true\n"));
    let authorize = run.requests.iter().find(|request| request.path == AUTHORIZE_PATH).expect("the authorization probe");
    let query = authorize.query_pairs();
    let get = |name: &str| query.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone());
    assert_eq!(get("client_id").as_deref(), Some("mastodon"));
    assert_eq!(get("redirect_uri").as_deref(), Some(REDIRECT_URI));
    assert_eq!(get("response_type").as_deref(), Some("code"));
    assert_eq!(get("scope").as_deref(), Some("openid profile email"));
    assert_eq!(get("prompt").as_deref(), Some("none"));
    assert_eq!(get("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(get("state").map(|state| state.len()), Some(32));
    assert!(get("nonce").is_some());
    assert_eq!(authorize.header("cookie"), None, "the authorization probe sends no cookies");
    let token = run.requests.iter().find(|request| request.path == TOKEN_PATH).expect("a token probe");
    let form = token.form_pairs();
    let field = |wanted: &str| form.iter().find(|(name, _)| name == wanted).map(|(_, value)| value.clone());
    assert_eq!(field("code_verifier").map(|verifier| verifier.len()), Some(128), "PKCE sends a verifier: {form:?}");
    assert_eq!(field("scope").as_deref(), Some("openid profile email"), "{form:?}");
}

/// Returns the discovery document with the token endpoint on mastodon.example, a host other than the issuer's.
fn foreign_token_endpoint() -> String {
    let foreign = authentik_discovery().replace("\"token_endpoint\": \"{{PUBLIC_ORIGIN}}/application/o/token/\"", "\"token_endpoint\": \"https://mastodon.example/application/o/token/\"");
    assert!(foreign.contains("https://mastodon.example/application/o/token/"), "the discovery fixture changed its layout");
    foreign
}

#[test]
fn secret_is_not_sent_to_another_host() {
    let pki = TestPki::new();
    let mut routes = authentik_discovery_routes(foreign_token_endpoint());
    routes.extend(endpoint_routes());
    let server = server(&pki, routes);
    let run = probe(&pki, &server, &env_text("mastodon", ""), "provider");
    assert_eq!(run.token_posts(), 0, "no token request may leave for another host");
    let finding = run.finding("probe-token-not-sent");
    assert!(finding["message"].as_str().unwrap().contains("mastodon.example"), "{finding}");
    assert!(finding["help"].as_str().unwrap().contains("--allow-secret-host mastodon.example"), "{finding}");
}

#[test]
fn allowed_secret_host_receives_the_probe() {
    let pki = TestPki::new();
    let mut routes = authentik_discovery_routes(foreign_token_endpoint());
    routes.extend(endpoint_routes());
    let server = server(&pki, routes);
    let (_dir, path) = env_file(&env_text("mastodon", ""));
    let mut arguments = vec!["check".to_string(), path.display().to_string(), "--probe=provider".into(), "--allow-secret-host".into(), "mastodon.example".into(), "--format".into(), "json".into()];
    arguments.extend(network_args_both_hosts(&pki, &server));
    let output = run(&arguments);
    assert!(!stdout(&output).contains(CANARY));
    let token_requests: Vec<RecordedRequest> = server.requests().into_iter().filter(|request| request.path == TOKEN_PATH).collect();
    assert_eq!(token_requests.len(), 2);
    assert!(token_requests.iter().all(|request| request.sni.as_deref() == Some("mastodon.example")));
}

#[test]
fn mastodon_matching_configuration_is_quiet() {
    let pki = TestPki::new();
    let mut routes = discovery_routes();
    routes.extend(mastodon_routes("4.3.2", &authorization_location("mastodon", "openid profile email")));
    let server = server(&pki, routes);
    let run = probe(&pki, &server, &env_text("mastodon", ""), "mastodon");
    assert_eq!(run.probe_rules(), Vec::<String>::new(), "{}", run.text());
    assert_eq!(run.report["checked"]["probes"]["mastodon_version"], "4.3.2");

    let phase = run.requests.iter().find(|request| request.method == "POST" && request.path == "/auth/auth/openid_connect").expect("the request phase");
    assert_eq!(phase.header("cookie"), Some("_mastodon_session=first-session"), "the session cookie of the sign-in page");
    assert_eq!(phase.header("origin"), None, "no Origin header");
    assert!(phase.form_pairs().contains(&("authenticity_token".to_string(), CSRF_TOKEN.to_string())), "the meta token, not the password form's");
    assert!(run.requests.iter().all(|request| !request.path.starts_with(AUTHORIZE_PATH)), "the redirect to the provider is never followed");
}

#[test]
fn mastodon_stale_client_id_is_found() {
    let pki = TestPki::new();
    let mut routes = discovery_routes();
    routes.extend(mastodon_routes("4.3.2", &authorization_location("old-client", "openid profile")));
    let server = server(&pki, routes);
    let run = probe(&pki, &server, &env_text("mastodon", ""), "mastodon");
    let differences: Vec<String> = run.findings().iter().filter(|finding| finding["rule"] == "mastodon-running-config-differs").map(|finding| finding["message"].as_str().unwrap().to_string()).collect();
    assert_eq!(differences.len(), 2, "client_id and scope: {differences:?}");
    assert!(differences[0].contains("client_id=`old-client`"), "{differences:?}");
    assert!(differences[0].contains("OIDC_CLIENT_ID is `mastodon`"), "{differences:?}");
    assert!(differences[1].contains("scope=`openid profile`"), "{differences:?}");
    let finding = run.finding("mastodon-running-config-differs");
    assert_eq!(finding["location"]["line"], 9, "points at OIDC_CLIENT_ID");
    assert!(finding["help"].as_str().unwrap().contains("restart"), "{finding}");
    assert_eq!(run.output.status.code(), Some(1));
}

#[test]
fn mastodon_request_phase_failure_reads_the_flash() {
    let pki = TestPki::new();
    let mut routes = discovery_routes();
    routes.extend(sign_in_routes("https://mastodon.example/auth/sign_in"));
    routes.push(Route::get("/api/v2/instance").status(401).json(&json!({"error": "This API requires an authenticated user"})));
    routes.push(Route::get("/nodeinfo/2.0").json(&json!({"version": "2.0", "software": {"name": "mastodon", "version": "4.4.1"}})));
    let server = server(&pki, routes);
    let run = probe(&pki, &server, &env_text("mastodon", ""), "mastodon");
    let finding = run.finding("mastodon-request-phase-failed");
    assert!(finding["message"].as_str().unwrap().contains("Issuer mismatch"), "{finding}");
    assert_eq!(run.report["checked"]["probes"]["mastodon_version"], "4.4.1", "read from NodeInfo after a 401");
}

#[test]
fn mastodon_without_oidc_is_found() {
    let pki = TestPki::new();
    let mut routes = discovery_routes();
    routes.push(Route::get("/api/v2/instance").json(&json!({"domain": "mastodon.example", "version": "4.3.2"})));
    routes.push(Route::get("/auth/sign_in").header("content-type", "text/html").body("<html><head><meta name=\"csrf-token\" content=\"x\"></head><body><form action=\"/auth/sign_in\" method=\"post\"></form></body></html>"));
    routes.push(Route::get("/auth/auth/openid_connect").status(404).header("content-type", "text/html").body("<html><body><h1>The page you are looking for isn't here.</h1></body></html>"));
    let server = server(&pki, routes);
    let run = probe(&pki, &server, &env_text("mastodon", ""), "mastodon");
    assert_eq!(run.probe_rules(), vec!["mastodon-oidc-not-loaded".to_string()], "{}", run.text());
    assert!(run.requests.iter().all(|request| request.method != "POST"), "no request phase without a button");
}

#[test]
fn mastodon_blocked_host_stops_the_probe() {
    let pki = TestPki::new();
    let mut routes = discovery_routes();
    routes.push(Route::get("/api/v2/instance").status(403).header("content-type", "text/html").body("<html><body><h1>Blocked host: mastodon.example</h1><p>To allow requests to mastodon.example make sure it is a valid hostname.</p></body></html>"));
    let server = server(&pki, routes);
    let run = probe(&pki, &server, &env_text("mastodon", ""), "mastodon");
    assert_eq!(run.probe_rules(), vec!["mastodon-blocked-host".to_string()], "{}", run.text());
    let finding = run.finding("mastodon-blocked-host");
    assert!(finding["message"].as_str().unwrap().contains("is in LOCAL_DOMAIN"), "{finding}");
    assert_eq!(run.report["checked"]["probes"]["requests"].as_array().unwrap().len(), 1, "nothing after the blocked host");
}

#[test]
fn mastodon_old_release_ignores_pkce() {
    let pki = TestPki::new();
    let mut routes = discovery_routes();
    routes.extend(mastodon_routes("4.2.10", &authorization_location("mastodon", "openid profile email")));
    let server = server(&pki, routes);
    let run = probe(&pki, &server, &env_text("mastodon", "OIDC_USE_PKCE=true\n"), "mastodon");
    let rules = run.probe_rules();
    assert!(rules.contains(&"mastodon-pkce-unsupported".to_string()), "{rules:?}");
    assert!(rules.contains(&"mastodon-version-untested".to_string()), "{rules:?}");
    assert!(!rules.contains(&"mastodon-running-config-differs".to_string()), "the missing challenge is the old release's, not a stale file: {rules:?}");
}

#[test]
fn both_probes_in_one_run() {
    let pki = TestPki::new();
    let mut routes = authentik_routes();
    routes.extend(mastodon_routes("4.3.2", &authorization_location("mastodon", "openid profile email")));
    let server = server(&pki, routes);
    let run = probe(&pki, &server, &env_text("mastodon", ""), "all");
    assert_eq!(run.probe_rules(), Vec::<String>::new(), "{}", run.text());
    let hosts: Vec<&str> = run.requests.iter().filter_map(|request| request.sni.as_deref()).collect();
    assert!(hosts.contains(&"auth.example"), "{hosts:?}");
    assert!(hosts.contains(&"mastodon.example"), "{hosts:?}");
    assert_eq!(run.report["checked"]["probes"]["token_requests"], 2);
}

#[test]
fn probes_need_the_probe_flag() {
    let pki = TestPki::new();
    let server = server(&pki, authentik_routes());
    let (_dir, path) = env_file(&env_text("mastodon", ""));
    let mut arguments = vec!["check".to_string(), path.display().to_string(), "--format".into(), "json".into()];
    arguments.extend(network_args(&pki, &server));
    let output = run(&arguments);
    let report = json_stdout(&output);
    let skipped = report["skipped"].as_array().unwrap();
    let reason = skipped.iter().find(|skipped| skipped["rule"] == "probe-token-client-rejected").expect("the probe rule is skipped");
    assert_eq!(reason["reason"], "no probe: --probe was not given");
    assert!(server.requests().iter().all(|request| request.path != TOKEN_PATH && request.path != AUTHORIZE_PATH));
}

mod first_use {
    //! The first-use guard, driven through the library: the admin-API facts
    //! that withhold the authorization probe come from another part of the
    //! run, so the test sets them directly.

    use std::collections::HashMap;

    use mastodon_oidc_check::document::{Document, DocumentKind};
    use mastodon_oidc_check::envfile::EnvSet;
    use mastodon_oidc_check::fetch::HttpOptions;
    use mastodon_oidc_check::finding::Severity;
    use mastodon_oidc_check::mastodon::Settings;
    use mastodon_oidc_check::probe::provider::{FirstUse, NotSent, Probe};
    use mastodon_oidc_check::probe::{self, ProbeOptions, ProbeResults, ProbeScope};
    use mastodon_oidc_check::providers::ProviderKind;
    use mastodon_oidc_check::rules::{self, Context};

    use super::*;

    fn run_with(server: &ReplayServer, pki: &TestPki, env: &EnvSet, registered: Option<usize>, allow: bool) -> ProbeResults {
        let settings = Settings::new(env);
        let text = authentik_discovery().replace("{{PUBLIC_ORIGIN}}", "https://auth.example");
        let document = Document::from_text(DocumentKind::Discovery, "https://auth.example/application/o/mastodon/.well-known/openid-configuration", text, false);
        let options = ProbeOptions {
            scope: ProbeScope::Provider,
            allow_first_use_registration: allow,
            registered_redirect_uris: registered,
            provider_kind: Some(ProviderKind::Authentik),
            http: HttpOptions { ca_file: Some(pki.ca_pem_path().to_path_buf()), resolve: vec![("auth.example".to_string(), server.addr())], ..HttpOptions::default() },
            ..ProbeOptions::default()
        };
        probe::run(&options, &settings, Some(&document)).expect("the probe client builds")
    }

    fn env_set() -> (tempfile::TempDir, EnvSet) {
        let (dir, path) = env_file(&env_text("mastodon", ""));
        let env = EnvSet::load(&path, HashMap::new()).expect("env file loads");
        (dir, env)
    }

    #[test]
    fn provider_without_redirect_uris_gets_no_authorization_probe() {
        let pki = TestPki::new();
        let server = server(&pki, authentik_routes());
        let (_dir, env) = env_set();
        let results = run_with(&server, &pki, &env, Some(0), false);

        let provider = results.provider.as_ref().expect("the provider probes ran");
        assert_eq!(provider.first_use, FirstUse::Refused);
        assert!(matches!(provider.authorize, Probe::NotSent(NotSent::FirstUseRisk)), "{:?}", provider.authorize);
        assert!(server.requests().iter().all(|request| request.path != AUTHORIZE_PATH), "nothing reached the authorization endpoint");
        assert!(matches!(provider.token, Probe::Sent(_)), "the token probe registers nothing and still runs");

        let mut context = Context::new(&env);
        context.probes = Some(&results);
        let (findings, _) = rules::run(&context);
        let finding = findings.iter().find(|finding| finding.rule == "probe-first-use-registration").expect("the first-use finding");
        assert_eq!(finding.severity, Severity::Warning);
        assert!(finding.message.contains("was not sent"), "{}", finding.message);
        assert!(finding.help.as_deref().unwrap_or_default().contains("--allow-first-use-registration"));
    }

    #[test]
    fn explicit_allowance_sends_the_authorization_probe() {
        let pki = TestPki::new();
        let server = server(&pki, authentik_routes());
        let (_dir, env) = env_set();
        let results = run_with(&server, &pki, &env, Some(0), true);
        let provider = results.provider.as_ref().unwrap();
        assert_eq!(provider.first_use, FirstUse::Registered);
        assert!(matches!(provider.authorize, Probe::Sent(_)));
        assert_eq!(server.requests().iter().filter(|request| request.path == AUTHORIZE_PATH).count(), 1);
    }

    #[test]
    fn registered_redirect_uri_means_no_risk() {
        let pki = TestPki::new();
        let server = server(&pki, authentik_routes());
        let (_dir, env) = env_set();
        let results = run_with(&server, &pki, &env, Some(1), false);
        assert_eq!(results.provider.as_ref().unwrap().first_use, FirstUse::NoRisk);

        let mut context = Context::new(&env);
        context.probes = Some(&results);
        let (findings, _) = rules::run(&context);
        assert!(findings.iter().all(|finding| finding.rule != "probe-first-use-registration"));
    }
}
