//! `server.json` fixtures that describe a `ReplayServer` without Rust code.
//!
//! ```json
//! {
//!   "tls": "valid",
//!   "host": "auth.example",
//!   "routes": [
//!     {"method": "GET", "path": "/.well-known/openid-configuration",
//!      "headers": {"content-type": "application/json"}, "body_file": "discovery.json"},
//!     {"method": "POST", "path": "/token", "form": {"grant_type": "authorization_code",
//!      "client_secret": true, "code_verifier": false}, "status": 400, "json": {"error": "x"}},
//!     {"path": "/slow", "delay_ms": 5000, "body": "late"},
//!     {"path": "/huge", "body_size": 10485760}
//!   ]
//! }
//! ```
//!
//! - `tls`: `"valid"` (the default), `"expired"`, `"self-signed"`, `"wrong-host"`,
//!   `"unknown-ca"`, `"none"` for plain HTTP, or `{"expires_in_days": N}`.
//! - `host`: DNS name in the certificate and in `{{ORIGIN}}`.
//! - Route matching: `method` (default `GET`) and `path` (exact match). In `query`, `form`
//!   and `request_headers` (names in any case), a string value must be equal, `true` means
//!   present and `false` means absent.
//! - Route response: `status` (default 200), `headers` (a string, or a list of strings to
//!   send the header several times), and `delay_ms`.
//! - Route body: at most one of `body_file` (relative to the fixture directory), `body`
//!   (text) or `json`. The `json` body sets `content-type: application/json` unless
//!   `headers` sets one. `body_size` pads the body with spaces to that many bytes.
//! - `{{ORIGIN}}` (`https://HOST:PORT`, or `http://` for `"none"`), `{{PUBLIC_ORIGIN}}`
//!   (the same without the port, as a client using `--resolve` writes it) and `{{PORT}}`
//!   are replaced in bodies and header values when the server starts.
//! - The first route that matches responds, and unmatched requests get 404.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::pki::{CertVariant, TestPki};
use super::route::{ParamRule, Route};
use super::server::ReplayServer;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerFixture {
    #[serde(default)]
    tls: TlsFixture,
    host: String,
    routes: Vec<RouteFixture>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
enum TlsFixture {
    #[default]
    Valid,
    Expired,
    SelfSigned,
    WrongHost,
    UnknownCa,
    None,
    #[serde(rename = "expires_in_days")]
    ExpiresInDays(u32),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteFixture {
    #[serde(default = "default_method")]
    method: String,
    path: String,
    #[serde(default)]
    query: BTreeMap<String, ParamFixture>,
    #[serde(default)]
    form: BTreeMap<String, ParamFixture>,
    #[serde(default)]
    request_headers: BTreeMap<String, ParamFixture>,
    #[serde(default = "default_status")]
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, HeaderFixture>,
    body_file: Option<PathBuf>,
    body: Option<String>,
    json: Option<serde_json::Value>,
    #[serde(default)]
    delay_ms: u64,
    body_size: Option<usize>,
}

/// Parameter rule: a string to compare with, or `true`/`false` for present/absent.
#[derive(Deserialize)]
#[serde(untagged)]
enum ParamFixture {
    Equals(String),
    Presence(bool),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum HeaderFixture {
    One(String),
    Many(Vec<String>),
}

fn default_method() -> String {
    "GET".to_string()
}

fn default_status() -> u16 {
    200
}

impl ReplayServer {
    /// Starts the server that `dir/server.json` describes, with certificates from `pki`.
    ///
    /// Panics with the file and the JSON path of the problem when the fixture is invalid.
    pub fn from_fixture(dir: &Path, pki: &TestPki) -> ReplayServer {
        let path = dir.join("server.json");
        let fixture = read_fixture(&path);
        let routes = fixture
            .routes
            .into_iter()
            .enumerate()
            .map(|(index, route)| {
                route
                    .into_route(dir)
                    .unwrap_or_else(|e| panic!("{}: routes[{index}]: {e}", path.display()))
            })
            .collect();

        match fixture.tls.variant() {
            Some(variant) => ReplayServer::https(pki, &fixture.host, variant, routes),
            None => ReplayServer::http(&fixture.host, routes),
        }
    }
}

fn read_fixture(path: &Path) -> ServerFixture {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("failed to read fixture {}: {e}", path.display()));
    let mut deserializer = serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(&mut deserializer)
        .unwrap_or_else(|e| panic!("invalid fixture {}: at {}: {}", path.display(), e.path(), e))
}

impl TlsFixture {
    /// Returns the certificate variant, or `None` for plain HTTP.
    fn variant(&self) -> Option<CertVariant> {
        match self {
            TlsFixture::Valid => Some(CertVariant::Valid),
            TlsFixture::Expired => Some(CertVariant::Expired),
            TlsFixture::SelfSigned => Some(CertVariant::SelfSigned),
            TlsFixture::WrongHost => Some(CertVariant::WrongHost),
            TlsFixture::UnknownCa => Some(CertVariant::UnknownCa),
            TlsFixture::None => None,
            TlsFixture::ExpiresInDays(days) => Some(CertVariant::ExpiresInDays(*days)),
        }
    }
}

impl RouteFixture {
    fn into_route(self, dir: &Path) -> Result<Route, String> {
        let mut route = Route::new(&self.method, &self.path).status(self.status);
        for (name, param) in &self.query {
            route = route.query_rule(name, param.rule());
        }
        for (name, param) in &self.form {
            route = route.form_rule(name, param.rule());
        }
        for (name, param) in &self.request_headers {
            route = route.request_header_rule(name, param.rule());
        }
        for (name, header) in &self.headers {
            for value in header.values() {
                route = route.header(name, value);
            }
        }

        route = self.apply_body(route, dir)?;
        if let Some(size) = self.body_size {
            route = route.body_size(size);
        }
        Ok(route.delay_ms(self.delay_ms))
    }

    fn apply_body(&self, route: Route, dir: &Path) -> Result<Route, String> {
        let sources = [
            self.body_file.is_some(),
            self.body.is_some(),
            self.json.is_some(),
        ];
        if sources.iter().filter(|&&set| set).count() > 1 {
            return Err("set at most one of body_file, body and json".to_string());
        }

        if let Some(file) = &self.body_file {
            let path = dir.join(file);
            let bytes = std::fs::read(&path)
                .map_err(|e| format!("failed to read body_file {}: {e}", path.display()))?;
            return Ok(route.body(bytes));
        }
        if let Some(text) = &self.body {
            return Ok(route.body(text.as_str()));
        }
        if let Some(value) = &self.json {
            return Ok(route.json(value));
        }
        Ok(route)
    }
}

impl ParamFixture {
    fn rule(&self) -> ParamRule {
        match self {
            ParamFixture::Equals(value) => ParamRule::Equals(value.clone()),
            ParamFixture::Presence(true) => ParamRule::Present,
            ParamFixture::Presence(false) => ParamRule::Absent,
        }
    }
}

impl HeaderFixture {
    fn values(&self) -> &[String] {
        match self {
            HeaderFixture::One(value) => std::slice::from_ref(value),
            HeaderFixture::Many(values) => values,
        }
    }
}
