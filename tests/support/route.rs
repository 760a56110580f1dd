//! Routes that a `ReplayServer` serves, and the requests it records.

use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};

/// Condition on one query or form parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamRule {
    /// The parameter occurs with this value (any occurrence counts when it repeats).
    Equals(String),
    /// The parameter occurs, with any value.
    Present,
    /// The parameter does not occur.
    Absent,
}

/// Canned response for requests that match a method, an exact path, parameter rules and
/// request header rules.
#[derive(Clone, Debug)]
pub struct Route {
    method: String,
    path: String,
    query: Vec<(String, ParamRule)>,
    form: Vec<(String, ParamRule)>,
    /// Rules on request headers; names are compared case-insensitively.
    request_headers: Vec<(String, ParamRule)>,
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
    default_content_type: Option<&'static str>,
    padded_size: Option<usize>,
    delay: Duration,
}

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Raw query string without the `?`, or `None` when the target had no `?`.
    pub query: Option<String>,
    /// Header names in lower case, in the order hyper returns them.
    pub headers: Vec<(String, String)>,
    /// Request body, which is empty when the client aborted while sending it.
    pub body: Vec<u8>,
    /// Server name (SNI) from the TLS handshake, or `None` for plain HTTP or a client without SNI.
    pub sni: Option<String>,
}

impl Route {
    /// Creates a route that responds `200` with an empty body.
    ///
    /// The method is upper-cased because a lower-case "get" in a fixture would otherwise
    /// never match, and all standard methods are upper case.
    pub fn new(method: &str, path: &str) -> Route {
        Route {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            query: Vec::new(),
            form: Vec::new(),
            request_headers: Vec::new(),
            status: 200,
            headers: Vec::new(),
            body: Bytes::new(),
            default_content_type: None,
            padded_size: None,
            delay: Duration::ZERO,
        }
    }

    pub fn get(path: &str) -> Route {
        Route::new("GET", path)
    }

    pub fn post(path: &str) -> Route {
        Route::new("POST", path)
    }

    /// Requires query parameter `name` to equal `value`.
    pub fn query(self, name: &str, value: &str) -> Route {
        self.query_rule(name, ParamRule::Equals(value.to_string()))
    }

    pub fn query_rule(mut self, name: &str, rule: ParamRule) -> Route {
        self.query.push((name.to_string(), rule));
        self
    }

    /// Requires form parameter `name` to equal `value`.
    ///
    /// Form rules read the body only when its content type is
    /// `application/x-www-form-urlencoded`, so any other body has no form parameters.
    pub fn form(self, name: &str, value: &str) -> Route {
        self.form_rule(name, ParamRule::Equals(value.to_string()))
    }

    pub fn form_rule(mut self, name: &str, rule: ParamRule) -> Route {
        self.form.push((name.to_string(), rule));
        self
    }

    /// Requires request header `name` to equal `value`, such as `authorization: Bearer x`.
    pub fn request_header(self, name: &str, value: &str) -> Route {
        self.request_header_rule(name, ParamRule::Equals(value.to_string()))
    }

    pub fn request_header_rule(mut self, name: &str, rule: ParamRule) -> Route {
        self.request_headers.push((name.to_ascii_lowercase(), rule));
        self
    }

    pub fn status(mut self, status: u16) -> Route {
        self.status = status;
        self
    }

    /// Adds a response header. Calling it twice with one name sends both values.
    pub fn header(mut self, name: &str, value: &str) -> Route {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the status and `Location` header of a redirect.
    pub fn redirect(self, status: u16, location: &str) -> Route {
        self.status(status).header("location", location)
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Route {
        self.body = Bytes::from(body.into());
        self
    }

    /// Sets a JSON body, and `Content-Type: application/json` unless a header sets another.
    pub fn json(mut self, value: &serde_json::Value) -> Route {
        self.body = Bytes::from(value.to_string());
        self.default_content_type = Some("application/json");
        self
    }

    /// Pads the body with trailing spaces to `size` bytes, so a JSON body stays valid JSON.
    ///
    /// Padding happens after placeholder substitution, so the served body is exactly `size`
    /// bytes unless the body is already longer.
    pub fn body_size(mut self, size: usize) -> Route {
        self.padded_size = Some(size);
        self
    }

    /// Delays the response by `millis` after the request body has been read.
    pub fn delay_ms(mut self, millis: u64) -> Route {
        self.delay = Duration::from_millis(millis);
        self
    }

    pub fn delay(&self) -> Duration {
        self.delay
    }

    pub fn matches(&self, request: &RecordedRequest) -> bool {
        self.method == request.method
            && self.path == request.path
            && rules_hold(&self.query, &request.query_pairs())
            && rules_hold(&self.form, &request.form_pairs())
            && rules_hold(&self.request_headers, &request.header_pairs())
    }

    /// Replaces `{{ORIGIN}}`, `{{PUBLIC_ORIGIN}}` and `{{PORT}}` in the body and header
    /// values, applies the
    /// padding and checks that the route can be served.
    ///
    /// Panics on a path without a leading `/`, a path with a `?`, an invalid status or an
    /// invalid header, because such a route would fail later with a less clear message.
    pub fn resolve(mut self, origin: &str, port: u16) -> Route {
        self.check_path();
        // Through `--resolve HOST=127.0.0.1:PORT` a client reaches the server at a URL
        // without a port, so documents that must match an env file use this form.
        let public_origin = origin.strip_suffix(&format!(":{port}")).unwrap_or(origin).to_string();
        let substitute = |text: &str| {
            text.replace("{{ORIGIN}}", origin)
                .replace("{{PUBLIC_ORIGIN}}", &public_origin)
                .replace("{{PORT}}", &port.to_string())
        };

        // Only UTF-8 bodies can hold a placeholder, so binary bodies stay as they are.
        if let Ok(text) = std::str::from_utf8(&self.body) {
            self.body = Bytes::from(substitute(text));
        }
        for (_, value) in &mut self.headers {
            *value = substitute(value);
        }

        self.add_default_content_type();
        self.pad_body();
        // Building a response now runs the status and header checks.
        self.response();
        self
    }

    /// Builds the response for a matching request.
    pub fn response(&self) -> Response<Full<Bytes>> {
        let status = StatusCode::from_u16(self.status)
            .unwrap_or_else(|_| panic!("route {}: invalid status {}", self.path, self.status));
        let mut response = Response::new(Full::new(self.body.clone()));
        *response.status_mut() = status;
        for (name, value) in &self.headers {
            let (name, value) = self.parse_header(name, value);
            response.headers_mut().append(name, value);
        }
        response
    }

    fn check_path(&self) {
        assert!(
            self.path.starts_with('/'),
            "route path {:?} must start with '/'",
            self.path
        );
        assert!(
            !self.path.contains('?'),
            "route path {:?} contains '?': match query parameters with query rules instead",
            self.path
        );
    }

    fn add_default_content_type(&mut self) {
        let Some(content_type) = self.default_content_type else {
            return;
        };
        let has_content_type = self
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case(CONTENT_TYPE.as_str()));
        if !has_content_type {
            self.headers
                .push((CONTENT_TYPE.as_str().to_string(), content_type.to_string()));
        }
    }

    fn pad_body(&mut self) {
        let Some(size) = self.padded_size else {
            return;
        };
        if self.body.len() < size {
            let mut padded = self.body.to_vec();
            padded.resize(size, b' ');
            self.body = Bytes::from(padded);
        }
    }

    fn parse_header(&self, name: &str, value: &str) -> (HeaderName, HeaderValue) {
        let parsed_name = HeaderName::from_bytes(name.as_bytes())
            .unwrap_or_else(|e| panic!("route {}: invalid header name {name:?}: {e}", self.path));
        let parsed_value = HeaderValue::from_str(value).unwrap_or_else(|e| {
            panic!(
                "route {}: invalid value {value:?} for header {name}: {e}",
                self.path
            )
        });
        (parsed_name, parsed_value)
    }
}

impl ParamRule {
    fn holds(&self, name: &str, pairs: &[(String, String)]) -> bool {
        let mut values = pairs
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value);
        match self {
            ParamRule::Equals(expected) => values.any(|value| value == expected),
            ParamRule::Present => values.next().is_some(),
            ParamRule::Absent => values.next().is_none(),
        }
    }
}

fn rules_hold(rules: &[(String, ParamRule)], pairs: &[(String, String)]) -> bool {
    rules.iter().all(|(name, rule)| rule.holds(name, pairs))
}

impl RecordedRequest {
    /// Returns the first value of header `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Returns the headers with lower-case names, for header rules.
    pub fn header_pairs(&self) -> Vec<(String, String)> {
        self.headers.iter().map(|(name, value)| (name.to_ascii_lowercase(), value.clone())).collect()
    }

    /// Decodes the query string as `application/x-www-form-urlencoded` pairs.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        let query = self.query.as_deref().unwrap_or("");
        decode_pairs(query.as_bytes())
    }

    /// Decodes the body as form pairs, or returns none when the content type is not a form.
    pub fn form_pairs(&self) -> Vec<(String, String)> {
        if self.is_form() {
            decode_pairs(&self.body)
        } else {
            Vec::new()
        }
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Request target as on the request line: the path, then `?` and the query if present.
    pub fn target(&self) -> String {
        match &self.query {
            Some(query) => format!("{}?{query}", self.path),
            None => self.path.clone(),
        }
    }

    fn is_form(&self) -> bool {
        let Some(content_type) = self.header(CONTENT_TYPE.as_str()) else {
            return false;
        };
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded")
    }
}

fn decode_pairs(input: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(input)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}
