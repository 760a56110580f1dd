//! The provider probes against a real OpenID Provider: the npm package
//! oidc-provider (OpenID Certified), pinned in tests/op/package-lock.json and
//! started by tests/op/server.mjs on 127.0.0.1 with an authentik-like layout.
//!
//! Each test starts its own provider with every client it needs and runs the
//! built binary with `--probe=provider`. Besides the verdicts, every run
//! checks three things: every request went to the provider on 127.0.0.1, at
//! most three requests reached the token endpoint, and the client secret
//! appears in no request URL and no output.
//!
//! The provider needs Node.js and `npm ci --prefix tests/op`. Without them
//! the tests fail with that instruction, in CI and locally.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use support::{assert_client_secret_not_printed, assert_reported_urls, env_file, json_stdout, output_text, reported_requests, run, CertVariant, TestPki};

/// The secret of every confidential client; it must never appear in output.
const CANARY: &str = "canary-op-9d2e71-SECRET-c05f";

const REDIRECT_URI: &str = "https://mastodon.example/auth/auth/openid_connect/callback";

fn op_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/op")
}

/// Fails with the instruction to install the provider when it is missing.
/// In CI (`CI=true`) a missing install is a failure of the CI setup.
fn require_installed_provider() {
    let installed = op_dir().join("node_modules/oidc-provider/package.json").is_file();
    if installed {
        return;
    }
    if std::env::var("CI").is_ok_and(|value| value == "true") {
        panic!("tests/op/node_modules is missing in CI: .ci/run must run `npm ci --prefix tests/op` before `cargo test`");
    }
    panic!("the probe tests need the npm package oidc-provider: run `npm ci --prefix tests/op` (Node.js 20 or later), then run the tests again");
}

fn pem(label: &str, der: &[u8]) -> String {
    let encoded = STANDARD.encode(der);
    let lines: Vec<&str> = encoded.as_bytes().chunks(64).map(|chunk| std::str::from_utf8(chunk).expect("base64 is ASCII")).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

/// A running oidc-provider, stopped by PID when dropped.
struct Provider {
    child: Child,
    port: u16,
    pki: TestPki,
    dir: tempfile::TempDir,
}

impl Provider {
    /// Starts the provider with the issuer `https://auth.example/application/o/mastodon/`
    /// and the given clients, and waits for its `listening PORT` line.
    fn start(clients: Value) -> Provider {
        require_installed_provider();
        let pki = TestPki::new();
        let dir = tempfile::tempdir().expect("temporary directory");
        let certificate = pki.issue(&["auth.example"], CertVariant::Valid);
        let cert_path = dir.path().join("cert.pem");
        let key_path = dir.path().join("key.pem");
        let chain: String = certificate.chain.iter().map(|der| pem("CERTIFICATE", der)).collect();
        std::fs::write(&cert_path, chain).expect("certificate written");
        std::fs::write(&key_path, pem("PRIVATE KEY", certificate.key.secret_der())).expect("key written");
        let config_path = dir.path().join("config.json");
        let config = json!({"issuer": "https://auth.example/application/o/mastodon/", "clients": clients});
        std::fs::write(&config_path, config.to_string()).expect("config written");
        let log = std::fs::File::create(dir.path().join("provider.log")).expect("log file");

        let mut child = Command::new("node")
            .arg(op_dir().join("server.mjs"))
            .args(["--cert", cert_path.to_str().unwrap(), "--key", key_path.to_str().unwrap(), "--exit-with-stdin"])
            .arg(&config_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start `node` for the test provider ({error}): install Node.js 20 or later"));

        let stdout = child.stdout.take().expect("piped stdout");
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = lines.send(line);
        });
        let line = received.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let port = line.trim().strip_prefix("listening ").and_then(|port| port.parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.path().join("provider.log")).unwrap_or_default();
            panic!("the test provider did not start (first line {line:?}); its log:\n{log}");
        };
        Provider { child, port, pki, dir }
    }

    fn resolve(&self) -> String {
        format!("auth.example=127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("provider.log")).unwrap_or_default()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        if let Some(stdin) = self.child.stdin.as_mut() {
            let _ = stdin.flush();
        }
        // Child::kill sends SIGKILL to this child's PID only.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Returns the clients registered at every test provider.
fn clients() -> Value {
    json!([
        {"client_id": "mastodon", "client_secret": CANARY, "redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "client_secret_basic"},
        {"client_id": "mastodon-post", "client_secret": CANARY, "redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "client_secret_post"},
        {"client_id": "mastodon-jwt", "client_secret": CANARY, "redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "client_secret_jwt"},
        {"client_id": "mastodon-public", "redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"}
    ])
}

fn env_text(client_id: &str, secret: &str, extra: &str) -> String {
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
OIDC_CLIENT_SECRET={secret}
OIDC_REDIRECT_URI={REDIRECT_URI}
OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED=true
{extra}"
    )
}

/// The result of one probe run.
struct Run {
    output: Output,
    report: Value,
}

impl Run {
    fn rules(&self) -> Vec<String> {
        self.report["findings"].as_array().unwrap().iter().filter_map(|finding| finding["rule"].as_str().map(str::to_string)).collect()
    }

    /// Returns the probe rules with errors or warnings. The layout looks like
    /// authentik's, so the first-use note appears in every run and is left out.
    fn probe_rules(&self) -> Vec<String> {
        self.report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|finding| finding["severity"] != "info")
            .filter_map(|finding| finding["rule"].as_str())
            .filter(|rule| rule.starts_with("probe-"))
            .map(str::to_string)
            .collect()
    }

    fn requests(&self) -> Vec<Value> {
        reported_requests(&self.report)
    }

    fn token_posts(&self) -> usize {
        self.requests()
            .iter()
            .filter(|request| request["method"] == "POST" && request["url"].as_str().is_some_and(|url| url.ends_with("/application/o/token/")))
            .count()
    }

    fn text(&self) -> String {
        output_text(&self.output)
    }
}

/// Runs `check --probe=provider` against the provider and checks what holds
/// for every run: only the provider on 127.0.0.1 was contacted, at most three
/// token requests, and the secret in no URL and no output.
fn probe(provider: &Provider, env: &str) -> Run {
    let (_dir, path) = env_file(env);
    let resolve = provider.resolve();
    let output = run(&["check", path.to_str().unwrap(), "--probe=provider", "--format", "json", "-vv", "--resolve", &resolve, "--ca-file", provider.pki.ca_pem_path().to_str().unwrap()]);
    let report = json_stdout(&output);
    let run = Run { output, report };

    assert_client_secret_not_printed(&run.text(), CANARY);
    let requests = run.requests();
    assert!(!requests.is_empty(), "the probes sent nothing: {}", run.text());
    assert_reported_urls(&requests, &["https://auth.example/"], CANARY);
    assert!(run.token_posts() <= 3, "{} token requests: {requests:?}", run.token_posts());
    assert_eq!(run.report["checked"]["probes"]["token_requests"], run.token_posts());
    run
}

#[test]
fn good_configuration_passes_both_probes() {
    let provider = Provider::start(clients());
    let run = probe(&provider, &env_text("mastodon", CANARY, ""));
    assert_eq!(run.probe_rules(), Vec::<String>::new(), "{}\n{}", run.text(), provider.log());
    assert_eq!(run.token_posts(), 2, "the configured request and the wrong-secret control");
    assert_eq!(run.requests().len(), 3, "the authorization probe and two token requests");
    assert!(run.rules().contains(&"probe-first-use-registration".to_string()), "the authentik-like layout gets the first-use note");
}

#[test]
fn client_secret_post_passes() {
    let provider = Provider::start(clients());
    let run = probe(&provider, &env_text("mastodon-post", CANARY, "OIDC_CLIENT_AUTH_METHOD=post\n"));
    assert_eq!(run.probe_rules(), Vec::<String>::new(), "{}", run.text());
}

#[test]
fn client_secret_jwt_passes() {
    let provider = Provider::start(clients());
    let run = probe(&provider, &env_text("mastodon-jwt", CANARY, "OIDC_CLIENT_AUTH_METHOD=jwt_bearer\n"));
    assert_eq!(run.probe_rules(), Vec::<String>::new(), "{}\n{}", run.text(), provider.log());
}

#[test]
fn wrong_client_id_is_unknown() {
    let provider = Provider::start(clients());
    let run = probe(&provider, &env_text("not-registered", CANARY, ""));
    let rules = run.probe_rules();
    assert!(rules.contains(&"probe-authorize-unknown-client".to_string()), "{rules:?}");
    assert!(rules.contains(&"probe-token-client-rejected".to_string()), "{rules:?}");
    assert_eq!(run.token_posts(), 3, "with a code, without a code, without a secret");
    assert_eq!(run.output.status.code(), Some(1));
}

#[test]
fn unregistered_redirect_uri_is_rejected() {
    let provider = Provider::start(clients());
    let env = env_text("mastodon", CANARY, "").replace(&format!("OIDC_REDIRECT_URI={REDIRECT_URI}"), &format!("OIDC_REDIRECT_URI={REDIRECT_URI}/"));
    let run = probe(&provider, &env);
    let rules = run.probe_rules();
    assert!(rules.contains(&"probe-authorize-redirect-uri".to_string()), "{rules:?}");
    // oidc-provider checks the redirect URI against the code only, so the
    // token probe with a random code cannot see it.
    assert!(!rules.contains(&"probe-token-client-rejected".to_string()), "{rules:?}");
}

#[test]
fn wrong_secret_is_rejected() {
    let provider = Provider::start(clients());
    let run = probe(&provider, &env_text("mastodon", "not-the-registered-secret", ""));
    let rules = run.probe_rules();
    assert_eq!(rules, vec!["probe-token-client-rejected".to_string()], "{}", run.text());
    let finding = run.report["findings"].as_array().unwrap().iter().find(|finding| finding["rule"] == "probe-token-client-rejected").unwrap();
    assert!(finding["message"].as_str().unwrap().contains("the client id is known"), "{finding}");
    assert_eq!(run.token_posts(), 3);
}

#[test]
fn public_client_is_recognised() {
    let provider = Provider::start(clients());
    let run = probe(&provider, &env_text("mastodon-public", CANARY, "OIDC_USE_PKCE=true\n"));
    let rules = run.probe_rules();
    assert_eq!(rules, vec!["probe-token-public-client".to_string()], "{}", run.text());
    assert_eq!(run.token_posts(), 3);
}

#[test]
fn public_client_without_pkce_needs_pkce() {
    let provider = Provider::start(clients());
    let run = probe(&provider, &env_text("mastodon-public", CANARY, ""));
    let rules = run.probe_rules();
    assert!(rules.contains(&"probe-authorize-pkce-required".to_string()), "{rules:?}");
    assert!(rules.contains(&"probe-token-public-client".to_string()), "{rules:?}");
}

#[test]
fn unsupported_response_type_is_read_from_fragment() {
    let provider = Provider::start(clients());
    let run = probe(&provider, &env_text("mastodon", CANARY, "OIDC_RESPONSE_TYPE=token\n"));
    let rules = run.probe_rules();
    assert!(rules.contains(&"probe-authorize-response-type".to_string()), "{rules:?}");
}
