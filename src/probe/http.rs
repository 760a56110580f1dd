//! The probes' HTTP layer: one request at a time through the run's client
//! (rustls, redirects never followed, no cookie store, a timeout), bodies cut
//! at a limit, and a log of every request sent.

use crate::progress::Progress;
use crate::rules::FetchFailureKind;

/// Largest part of a probe response body that is read. Longer bodies are cut:
/// the classification needs only the error page's text or a JSON error.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// One request a probe sent, as the report lists it. The URL never carries a
/// secret: the client secret travels only in a header or a POST body.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SentRequest {
    /// The request's purpose, such as "token probe with a wrong secret".
    pub purpose: String,
    pub method: String,
    pub url: String,
    /// The response status, or `None` when no response arrived.
    pub status: Option<u16>,
}

/// A response as the probes read it.
#[derive(Clone, Debug, Default)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body, decoded as UTF-8 with invalid bytes replaced, cut at [`MAX_BODY_BYTES`].
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// Returns every value of a header that may repeat, such as `set-cookie`.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// Returns the media type without parameters, in lower case.
    pub fn media_type(&self) -> Option<String> {
        let value = self.header("content-type")?;
        Some(value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
    }

    pub fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status)
    }

    /// Returns the OAuth `error` and `error_description` of a JSON error body.
    pub fn json_error(&self) -> Option<(String, Option<String>)> {
        let value: serde_json::Value = serde_json::from_str(self.body.trim()).ok()?;
        let error = value.get("error")?.as_str()?.to_string();
        let description = value.get("error_description").and_then(|text| text.as_str()).map(str::to_string);
        Some((error, description))
    }

    /// Returns the first `max` characters of the body on one line, for messages.
    pub fn snippet(&self, max: usize) -> String {
        snippet(&self.body, max)
    }
}

/// Collapses whitespace and cuts `text` to `max` characters, for messages.
pub fn snippet(text: &str, max: usize) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= max {
        return collapsed;
    }
    let cut: String = collapsed.chars().take(max).collect();
    format!("{cut}…")
}

/// A request that got no response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportError {
    pub kind: FetchFailureKind,
    pub detail: String,
}

impl TransportError {
    /// Returns true for failures that the configuration does not cause: DNS,
    /// connection and timeout failures.
    pub fn is_incomplete(&self) -> bool {
        matches!(self.kind, FetchFailureKind::Dns | FetchFailureKind::Connect | FetchFailureKind::Timeout)
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

/// Sends the probes' requests in order and logs each one.
pub struct Sender<'a> {
    client: &'a reqwest::Client,
    progress: Progress,
    sent: Vec<SentRequest>,
}

impl<'a> Sender<'a> {
    pub fn new(client: &'a reqwest::Client, progress: Progress) -> Self {
        Sender { client, progress, sent: Vec::new() }
    }

    /// Returns the run's HTTP client, to build requests for [`Sender::send`].
    pub fn client(&self) -> &'a reqwest::Client {
        self.client
    }

    /// Sends `request`, reads at most [`MAX_BODY_BYTES`] of the body and logs
    /// the request under `purpose`. Redirects are returned, never followed,
    /// because the client is built without a redirect policy.
    pub async fn send(&mut self, purpose: &str, request: reqwest::RequestBuilder) -> Result<Response, TransportError> {
        let request = request.build().map_err(|error| TransportError { kind: FetchFailureKind::InvalidUrl, detail: error.to_string() })?;
        let method = request.method().to_string();
        let url = request.url().to_string();
        let _step = self.progress.start(format!("{purpose} ({})", shown_origin(request.url())));
        log::info!("{purpose}: {method} {}", shown_url(request.url()));

        let result = self.execute(request).await;
        let status = result.as_ref().ok().map(|response| response.status);
        match &result {
            Ok(response) => log::info!("{purpose}: HTTP {}", response.status),
            Err(error) => log::warn!("{purpose} failed: {}", error.detail),
        }
        self.sent.push(SentRequest { purpose: purpose.to_string(), method, url, status });
        result
    }

    async fn execute(&self, request: reqwest::Request) -> Result<Response, TransportError> {
        let transport_error = |error: reqwest::Error| {
            let (kind, detail) = crate::fetch::classify(&error);
            TransportError { kind, detail }
        };
        let mut response = self.client.execute(request).await.map_err(transport_error)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_ascii_lowercase(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();

        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            let room = MAX_BODY_BYTES - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= MAX_BODY_BYTES {
                break;
            }
        }
        Ok(Response { status, headers, body: String::from_utf8_lossy(&body).into_owned() })
    }

    /// Returns every request sent, in order.
    pub fn into_sent(self) -> Vec<SentRequest> {
        self.sent
    }
}

/// Returns the URL without its query, for logs: an authorization request's
/// query is public, but logs stay short.
fn shown_url(url: &url::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

fn shown_origin(url: &url::Url) -> String {
    url.origin().ascii_serialization()
}

/// Returns `length` random bytes as lower-case hex, for states, nonces, codes
/// and the deliberately wrong secret.
pub fn random_hex(length: usize) -> String {
    let mut bytes = vec![0u8; length.div_ceil(2)];
    // The operating system's generator fails only on a broken system. The
    // time-based fallback is predictable, which is harmless because a probe's
    // state, nonce, code and wrong secret protect nothing.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|elapsed| elapsed.as_nanos()).unwrap_or(0);
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = (nanos >> ((index % 16) * 8)) as u8 ^ index as u8;
        }
    }
    let mut text: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    text.truncate(length);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_hex_has_requested_length() {
        assert_eq!(random_hex(32).len(), 32);
        assert_eq!(random_hex(7).len(), 7);
        assert!(random_hex(32).chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn random_hex_differs_between_calls() {
        assert_ne!(random_hex(32), random_hex(32));
    }

    #[test]
    fn snippet_collapses_and_cuts() {
        assert_eq!(snippet("a  b\n\tc", 10), "a b c");
        assert_eq!(snippet("abcdef", 3), "abc…");
    }

    #[test]
    fn json_error_reads_oauth_error() {
        let response = Response { status: 400, headers: Vec::new(), body: r#"{"error":"invalid_grant","error_description":"bad code"}"#.into() };
        assert_eq!(response.json_error(), Some(("invalid_grant".to_string(), Some("bad code".to_string()))));
    }
}
