//! Checks that the test servers in `tests/support` behave as the other tests rely on.

mod support;

use std::future::Future;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{CertVariant, ParamRule, ReplayServer, Route, TestPki, WRONG_HOST_NAME};

const HOST: &str = "auth.example";

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("failed to build the test runtime")
        .block_on(future)
}

/// Builds a client that trusts only the CA PEM file and sends `server.host()` to the server.
fn client_for(server: &ReplayServer, pki: &TestPki) -> reqwest::Client {
    client_builder(server, pki)
        .build()
        .expect("failed to build the client")
}

fn client_builder(server: &ReplayServer, pki: &TestPki) -> reqwest::ClientBuilder {
    let pem = std::fs::read(pki.ca_pem_path()).expect("CA PEM file is readable");
    let ca = reqwest::Certificate::from_pem(&pem).expect("CA PEM file parses");
    reqwest::Client::builder()
        .resolve(server.host(), server.addr())
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .redirect(reqwest::redirect::Policy::none())
}

struct Fetched {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

fn fetch(request: reqwest::RequestBuilder) -> Result<Fetched, reqwest::Error> {
    block_on(async {
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await?;
        Ok(Fetched {
            status,
            headers,
            body,
        })
    })
}

/// Joins an error and its sources, because reqwest puts the TLS reason in a source.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Polls `condition` every 10 ms for up to 2 s, because the server thread logs asynchronously.
fn wait_until(condition: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    condition()
}

fn hello_routes() -> Vec<Route> {
    vec![Route::get("/hello").body("hello")]
}

#[test]
fn pki_writes_ca_pem_file() {
    let pki = TestPki::new();

    let pem = std::fs::read_to_string(pki.ca_pem_path()).expect("CA PEM file exists");

    assert_eq!(pem, pki.ca_pem());
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 1, "{pem}");
}

#[test]
fn pki_valid_certificate_verifies() {
    let pki = TestPki::new();
    let server = ReplayServer::https(&pki, HOST, CertVariant::Valid, hello_routes());
    let client = client_for(&server, &pki);

    let fetched = fetch(client.get(server.url("/hello"))).expect("TLS fetch succeeds");

    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body, "hello");
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].sni.as_deref(), Some(HOST));
}

#[test]
fn pki_bad_certificates_fail_verification() {
    let cases = [
        (CertVariant::Expired, "certificate expired"),
        (CertVariant::SelfSigned, "UnknownIssuer"),
        (CertVariant::WrongHost, "not valid for name"),
        (CertVariant::UnknownCa, "UnknownIssuer"),
    ];
    let pki = TestPki::new();

    for (variant, expected) in cases {
        let server = ReplayServer::https(&pki, HOST, variant, hello_routes());
        let client = client_for(&server, &pki);

        let error = match fetch(client.get(server.url("/hello"))) {
            Ok(fetched) => panic!("{variant:?}: fetch succeeded with {}", fetched.status),
            Err(error) => error_chain(&error),
        };

        assert!(error.contains(expected), "{variant:?}: {error}");
        assert!(
            server.requests().is_empty(),
            "{variant:?}: a request got through"
        );
        assert!(
            wait_until(|| !server.handshake_errors().is_empty()),
            "{variant:?}: server logged no handshake error"
        );
    }
}

#[test]
fn pki_wrong_host_certificate_names_other_host() {
    let pki = TestPki::new();

    let cert = pki.issue(&[HOST], CertVariant::WrongHost);

    let (_, parsed) = x509_parser::parse_x509_certificate(&cert.chain[0]).expect("leaf parses");
    let san = parsed
        .subject_alternative_name()
        .expect("SAN extension is valid")
        .expect("SAN extension exists");
    let names: Vec<String> = san
        .value
        .general_names
        .iter()
        .map(|name| name.to_string())
        .collect();
    assert_eq!(names, vec![format!("DNSName({WRONG_HOST_NAME})")]);
}

#[test]
fn pki_expires_in_days_sets_not_after() {
    let pki = TestPki::new();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    let cert = pki.issue(&[HOST], CertVariant::ExpiresInDays(10));

    let (_, parsed) = x509_parser::parse_x509_certificate(&cert.chain[0]).expect("leaf parses");
    let seconds_left = parsed.validity().not_after.timestamp() - now;
    // X.509 times have whole seconds and the clock moves between the two reads, so allow 2 s.
    assert!(
        (10 * 86_400 - 2..=10 * 86_400 + 2).contains(&seconds_left),
        "not_after is {seconds_left} s from now"
    );
}

#[test]
fn pki_expires_in_days_still_verifies() {
    let pki = TestPki::new();
    let server = ReplayServer::https(&pki, HOST, CertVariant::ExpiresInDays(3), hello_routes());
    let client = client_for(&server, &pki);

    let fetched = fetch(client.get(server.url("/hello"))).expect("TLS fetch succeeds");

    assert_eq!(fetched.status, 200);
}

#[test]
fn server_delayed_route_times_out() {
    let pki = TestPki::new();
    let routes = vec![Route::get("/slow").delay_ms(3_000).body("late")];
    let server = ReplayServer::https(&pki, HOST, CertVariant::Valid, routes);
    let client = client_builder(&server, &pki)
        .timeout(Duration::from_millis(300))
        .build()
        .expect("failed to build the client");

    let started = Instant::now();
    let error = fetch(client.get(server.url("/slow")))
        .err()
        .expect("fetch times out");

    assert!(error.is_timeout(), "{}", error_chain(&error));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        server.requests().len(),
        1,
        "the request is logged before the delay"
    );
}

#[test]
fn server_log_records_request_parts() {
    let pki = TestPki::new();
    let server = ReplayServer::https(&pki, HOST, CertVariant::Valid, vec![Route::post("/token")]);
    let client = client_for(&server, &pki);

    let request = client
        .post(server.url("/token?trace=1&x=a%20b"))
        .header("x-test", "yes")
        .form(&[("grant_type", "authorization_code"), ("code", "abc")]);
    fetch(request).expect("fetch succeeds");

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let logged = &requests[0];
    assert_eq!(logged.method, "POST");
    assert_eq!(logged.path, "/token");
    assert_eq!(logged.query.as_deref(), Some("trace=1&x=a%20b"));
    assert_eq!(logged.target(), "/token?trace=1&x=a%20b");
    assert_eq!(logged.body_text(), "grant_type=authorization_code&code=abc");
    assert_eq!(logged.header("X-Test"), Some("yes"));
    assert_eq!(
        logged.header("host"),
        Some(&*format!("{HOST}:{}", server.port()))
    );
    let query = logged.query_pairs();
    assert!(
        query.contains(&("x".to_string(), "a b".to_string())),
        "{query:?}"
    );
    let form = logged.form_pairs();
    assert!(
        form.contains(&("code".to_string(), "abc".to_string())),
        "{form:?}"
    );
}

#[test]
fn server_query_rules_select_route() {
    let routes = vec![
        Route::get("/authorize")
            .query("response_type", "code")
            .query_rule("state", ParamRule::Present)
            .query_rule("prompt", ParamRule::Absent)
            .body("code flow"),
        Route::get("/authorize")
            .query("response_type", "code")
            .body("code flow with prompt or without state"),
        Route::get("/authorize").status(400).body("other"),
    ];
    let server = ReplayServer::http(HOST, routes);
    let cases = [
        ("/authorize?response_type=code&state=s1", 200, "code flow"),
        (
            "/authorize?response_type=code&state=s1&prompt=login",
            200,
            "code flow with prompt or without state",
        ),
        (
            "/authorize?response_type=code",
            200,
            "code flow with prompt or without state",
        ),
        ("/authorize?response_type=token&state=s1", 400, "other"),
        ("/authorize", 400, "other"),
    ];
    let client = reqwest::Client::new();

    for (target, status, body) in cases {
        let url = format!("http://{}{target}", server.addr());
        let fetched = fetch(client.get(url)).expect("fetch succeeds");

        assert_eq!(fetched.status, status, "{target}");
        assert_eq!(fetched.body, body, "{target}");
    }
}

#[test]
fn server_form_rules_select_route() {
    let routes = vec![
        Route::post("/token")
            .form("grant_type", "authorization_code")
            .form_rule("client_secret", ParamRule::Present)
            .body("code grant"),
        Route::post("/token")
            .form("grant_type", "refresh_token")
            .body("refresh grant"),
        Route::post("/token").status(400).body("no grant"),
    ];
    let server = ReplayServer::http(HOST, routes);
    let url = format!("http://{}/token", server.addr());
    let client = reqwest::Client::new();

    let code = [("grant_type", "authorization_code"), ("client_secret", "s")];
    let code_without_secret = [("grant_type", "authorization_code")];
    let refresh = [("grant_type", "refresh_token")];
    let cases: [(&[(&str, &str)], &str); 3] = [
        (&code, "code grant"),
        (&code_without_secret, "no grant"),
        (&refresh, "refresh grant"),
    ];
    for (form, body) in cases {
        let fetched = fetch(client.post(&url).form(form)).expect("fetch succeeds");

        assert_eq!(fetched.body, body, "{form:?}");
    }

    // A JSON body has no form parameters even when its fields have the same names.
    let json_request = client
        .post(&url)
        .header("content-type", "application/json")
        .body(json!({"grant_type": "refresh_token"}).to_string());
    let fetched = fetch(json_request).expect("fetch succeeds");
    assert_eq!(fetched.body, "no grant");
}

#[test]
fn server_unmatched_request_returns_404() {
    let server = ReplayServer::http(HOST, vec![Route::get("/known")]);
    let client = reqwest::Client::new();

    let unknown_path = format!("http://{}/unknown", server.addr());
    let wrong_method = format!("http://{}/known", server.addr());
    let fetched_path = fetch(client.get(unknown_path)).expect("fetch succeeds");
    let fetched_method = fetch(client.delete(wrong_method)).expect("fetch succeeds");

    assert_eq!(fetched_path.status, 404);
    assert_eq!(fetched_path.body, "no route matches GET /unknown\n");
    assert_eq!(fetched_method.status, 404);
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn server_placeholders_replaced_in_responses() {
    let pki = TestPki::new();
    let discovery = json!({"issuer": "{{ORIGIN}}", "token_endpoint": "{{ORIGIN}}/token"});
    let routes = vec![
        Route::get("/discovery").json(&discovery),
        Route::get("/login").redirect(302, "{{ORIGIN}}/callback?port={{PORT}}"),
    ];
    let server = ReplayServer::https(&pki, HOST, CertVariant::Valid, routes);
    let client = client_for(&server, &pki);
    let origin = format!("https://{HOST}:{}", server.port());

    let discovered = fetch(client.get(server.url("/discovery"))).expect("fetch succeeds");
    let redirected = fetch(client.get(server.url("/login"))).expect("fetch succeeds");

    assert_eq!(server.origin(), origin);
    let document: serde_json::Value = serde_json::from_str(&discovered.body).expect("JSON body");
    assert_eq!(document["issuer"], origin);
    assert_eq!(document["token_endpoint"], format!("{origin}/token"));
    assert_eq!(discovered.headers["content-type"], "application/json");
    assert_eq!(redirected.status, 302);
    let location = format!("{origin}/callback?port={}", server.port());
    assert_eq!(redirected.headers["location"], location.as_str());
}

#[test]
fn server_large_body_has_requested_size() {
    let size = 3 * 1024 * 1024;
    let routes = vec![Route::get("/big").json(&json!({"a": 1})).body_size(size)];
    let server = ReplayServer::http(HOST, routes);
    let url = format!("http://{}/big", server.addr());

    let fetched = fetch(reqwest::Client::new().get(url)).expect("fetch succeeds");

    assert_eq!(fetched.body.len(), size);
    assert_eq!(fetched.headers["content-length"], size.to_string().as_str());
    let document: serde_json::Value = serde_json::from_str(&fetched.body).expect("padded JSON");
    assert_eq!(document["a"], 1);
}

#[test]
fn server_resolve_arg_names_listener() {
    let server = ReplayServer::http(HOST, Vec::new());

    let argument = server.resolve_arg("mastodon.example");

    assert_eq!(
        argument,
        format!("mastodon.example=127.0.0.1:{}", server.port())
    );
    assert_eq!(server.addr().ip().to_string(), "127.0.0.1");
}

#[test]
fn server_serves_synchronous_client() {
    let server = ReplayServer::http(HOST, hello_routes());

    let mut stream = TcpStream::connect(server.addr()).expect("server accepts");
    stream
        .write_all(b"GET /hello HTTP/1.1\r\nHost: auth.example\r\nConnection: close\r\n\r\n")
        .expect("request is sent");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("response is read");

    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nhello"), "{response}");
}

#[test]
fn server_drop_closes_port() {
    let server = ReplayServer::http(HOST, hello_routes());
    let addr = server.addr();
    let open_connection = TcpStream::connect(addr).expect("server accepts before drop");

    drop(server);

    let error = TcpStream::connect(addr).expect_err("port still accepts after drop");
    assert_eq!(error.kind(), ErrorKind::ConnectionRefused);
    let mut buffer = [0u8; 1];
    let mut open_connection = open_connection;
    let read = open_connection.read(&mut buffer);
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "open connection still delivers data: {read:?}"
    );
}

fn write_fixture(dir: &Path, server_json: &serde_json::Value) {
    let text = serde_json::to_string_pretty(server_json).expect("fixture serializes");
    std::fs::write(dir.join("server.json"), text).expect("fixture is written");
}

#[test]
fn fixture_starts_described_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let discovery = "{\"issuer\": \"{{ORIGIN}}\", \"port\": {{PORT}}}";
    std::fs::write(dir.path().join("discovery.json"), discovery).expect("body file is written");
    let fixture = json!({
        "tls": "valid",
        "host": HOST,
        "routes": [
            {"path": "/.well-known/openid-configuration", "body_file": "discovery.json",
             "headers": {"content-type": "application/json", "x-origin": "{{ORIGIN}}"}},
            {"method": "post", "path": "/token", "form": {"code": "c1", "code_verifier": false},
             "status": 400, "json": {"error": "invalid_grant"}},
            {"method": "POST", "path": "/token", "form": {"code": "c1"},
             "json": {"access_token": "t"}},
            {"path": "/multi", "headers": {"set-cookie": ["a=1", "b=2"]}, "body": "m"},
            {"path": "/big", "body_size": 1000}
        ]
    });
    write_fixture(dir.path(), &fixture);
    let pki = TestPki::new();

    let server = ReplayServer::from_fixture(dir.path(), &pki);
    let client = client_for(&server, &pki);
    let discovery_url = server.url("/.well-known/openid-configuration");
    let discovered = fetch(client.get(discovery_url)).expect("fetch succeeds");
    let with_verifier = [("code", "c1"), ("code_verifier", "v")];
    let token = fetch(client.post(server.url("/token")).form(&with_verifier)).expect("fetch");
    let rejected = fetch(client.post(server.url("/token")).form(&[("code", "c1")])).expect("fetch");
    let multi = fetch(client.get(server.url("/multi"))).expect("fetch succeeds");
    let big = fetch(client.get(server.url("/big"))).expect("fetch succeeds");

    let expected = format!(
        "{{\"issuer\": \"{}\", \"port\": {}}}",
        server.origin(),
        server.port()
    );
    assert_eq!(discovered.body, expected);
    assert_eq!(discovered.headers["x-origin"], server.origin());
    assert_eq!(token.status, 200);
    assert_eq!(token.body, "{\"access_token\":\"t\"}");
    assert_eq!(token.headers["content-type"], "application/json");
    assert_eq!(rejected.status, 400);
    let cookies: Vec<_> = multi.headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(big.body.len(), 1000);
}

#[test]
fn fixture_plain_http_uses_http_origin() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fixture = json!({
        "tls": "none",
        "host": "mastodon.example",
        "routes": [{"path": "/origin", "body": "{{ORIGIN}}"}]
    });
    write_fixture(dir.path(), &fixture);
    let pki = TestPki::new();

    let server = ReplayServer::from_fixture(dir.path(), &pki);
    let url = format!("http://{}/origin", server.addr());
    let fetched = fetch(reqwest::Client::new().get(url)).expect("fetch succeeds");

    let expected = format!("http://mastodon.example:{}", server.port());
    assert_eq!(fetched.body, expected);
}

#[test]
fn fixture_expires_in_days_verifies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fixture = json!({
        "tls": {"expires_in_days": 5},
        "host": HOST,
        "routes": [{"path": "/hello", "body": "hello"}]
    });
    write_fixture(dir.path(), &fixture);
    let pki = TestPki::new();

    let server = ReplayServer::from_fixture(dir.path(), &pki);
    let client = client_for(&server, &pki);
    let fetched = fetch(client.get(server.url("/hello"))).expect("fetch succeeds");

    assert_eq!(fetched.body, "hello");
}

#[test]
fn fixture_bad_tls_variant_fails_fetch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fixture = json!({"tls": "unknown-ca", "host": HOST, "routes": []});
    write_fixture(dir.path(), &fixture);
    let pki = TestPki::new();

    let server = ReplayServer::from_fixture(dir.path(), &pki);
    let client = client_for(&server, &pki);
    let result = fetch(client.get(server.url("/")));

    let error = result.err().expect("fetch fails");
    assert!(
        error_chain(&error).contains("UnknownIssuer"),
        "{}",
        error_chain(&error)
    );
}

#[test]
#[should_panic(expected = "set at most one of body_file, body and json")]
fn fixture_two_bodies_rejected() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fixture = json!({
        "host": HOST,
        "routes": [{"path": "/x", "body": "a", "json": {"b": 1}}]
    });
    write_fixture(dir.path(), &fixture);

    ReplayServer::from_fixture(dir.path(), &TestPki::new());
}

#[test]
#[should_panic(expected = "routes[0]")]
fn fixture_unknown_field_rejected() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fixture = json!({"host": HOST, "routes": [{"path": "/x", "stauts": 200}]});
    write_fixture(dir.path(), &fixture);

    ReplayServer::from_fixture(dir.path(), &TestPki::new());
}
