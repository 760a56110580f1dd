//! HTTP requests for provider documents: rustls with the system trust store
//! plus `--ca-file`, bounded in time, size and redirects.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::document::{CertificateInfo, Document, DocumentKind};
use crate::rules::{FetchFailure, FetchFailureKind};

/// Largest response body read; discovery documents and JWKS are a few kilobytes.
pub const DEFAULT_MAX_BYTES: u64 = 1024 * 1024;

/// Settings shared by every request of one run.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    pub timeout: Duration,
    pub ca_file: Option<PathBuf>,
    /// `--resolve HOST=IP:PORT`: connect to that address for HOST while TLS
    /// still verifies HOST. A port written in the URL itself takes precedence.
    pub resolve: Vec<(String, SocketAddr)>,
    /// `--resolve-only`: never ask DNS; a host missing from `resolve` fails
    /// as a DNS error. Keeps a run, and the test suite, off every network
    /// but the addresses listed.
    pub resolve_only: bool,
    pub max_bytes: u64,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(10),
            ca_file: None,
            resolve: Vec::new(),
            resolve_only: false,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// Failure to set up the HTTP client; the CLI exits with status 2.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read the CA file {path}: {source}")]
    ReadCaFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the CA file {path} holds no PEM certificate: {detail}")]
    InvalidCaFile { path: PathBuf, detail: String },
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// Reads at most `limit` bytes of a file, failing when it is larger.
pub(crate) fn read_bounded(path: &std::path::Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;

    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("larger than {limit} bytes")));
    }
    Ok(bytes)
}

/// Builds the client: no redirects followed, no proxy, no cookies.
pub fn build_client(options: &HttpOptions) -> Result<reqwest::Client, ClientError> {
    let _ = rustls::crypto::ring::default_provider().install_default();

    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_info(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(options.timeout)
        .connect_timeout(options.timeout)
        .user_agent(concat!("mastodon-oidc-check/", env!("CARGO_PKG_VERSION")));

    if let Some(path) = &options.ca_file {
        // A CA bundle is a few hundred kilobytes; the limit only stops a device or FIFO.
        let pem = read_bounded(path, 16 * 1024 * 1024).map_err(|source| ClientError::ReadCaFile { path: path.clone(), source })?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|error| ClientError::InvalidCaFile { path: path.clone(), detail: error.to_string() })?;
        if certificates.is_empty() {
            return Err(ClientError::InvalidCaFile { path: path.clone(), detail: "no certificate found".into() });
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    for (host, address) in &options.resolve {
        builder = builder.resolve(host, *address);
    }
    if options.resolve_only {
        // reqwest consults the `resolve` overrides before this resolver.
        builder = builder.dns_resolver(std::sync::Arc::new(NoDns));
    }
    builder.build().map_err(|error| ClientError::Build(error.to_string()))
}

/// A resolver that never queries DNS, for `--resolve-only`.
struct NoDns;

impl reqwest::dns::Resolve for NoDns {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let error: Box<dyn std::error::Error + Send + Sync> = format!("{host} is not listed with --resolve, and --resolve-only forbids DNS").into();
            Err(error)
        })
    }
}

/// Fetches a provider document. `required` is false for a document fetched
/// only to cross-check a setting that Mastodon does not need it for.
pub async fn fetch_document(
    client: &reqwest::Client,
    options: &HttpOptions,
    kind: DocumentKind,
    url: &str,
    required: bool,
) -> Result<Document, FetchFailure> {
    let failure = |kind_of_failure: FetchFailureKind, detail: String| FetchFailure {
        document: kind,
        url: url.to_string(),
        kind: kind_of_failure,
        detail,
        required,
    };

    let parsed = url::Url::parse(url).map_err(|error| failure(FetchFailureKind::InvalidUrl, error.to_string()))?;
    log::debug!("fetching the {} from {parsed}", kind.noun());
    let started = Instant::now();
    let response = client
        .get(parsed)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|error| {
            let (kind_of_failure, detail) = classify(&error);
            failure(kind_of_failure, detail)
        })?;

    let status = response.status();
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_ascii_lowercase(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let certificate = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .and_then(certificate_info);

    if status.is_redirection() {
        let location = response.headers().get(reqwest::header::LOCATION).map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        return Err(failure(FetchFailureKind::Redirect(location), format!("HTTP {status}")));
    }
    if !status.is_success() {
        return Err(failure(FetchFailureKind::HttpStatus(status.as_u16()), format!("HTTP {status}")));
    }

    let body = read_limited(response, options.max_bytes).await.map_err(|error| match error {
        ReadError::TooLarge => failure(FetchFailureKind::TooLarge(options.max_bytes), format!("larger than {} bytes", options.max_bytes)),
        ReadError::Http(error) => {
            let (kind_of_failure, detail) = classify(&error);
            failure(kind_of_failure, detail)
        }
    })?;
    let latency = started.elapsed();

    let text = String::from_utf8_lossy(&body).into_owned();
    if let Err(error) = serde_json::from_str::<serde_json::Value>(&text) {
        return Err(failure(FetchFailureKind::InvalidJson, error.to_string()));
    }
    let mut document = Document::from_text(kind, url, text, false);
    document.latency = Some(latency);
    document.certificate = certificate;
    document.headers = headers;
    Ok(document)
}

/// A response of [`get`], with the body read up to the size limit.
#[derive(Clone, Debug)]
pub struct Response {
    pub url: String,
    pub status: u16,
    /// Response headers, lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Returns the body as JSON, or `None` when it is not JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Sends a GET with extra request headers, bounded like [`fetch_document`]:
/// no redirect is followed (a 3xx is returned as is) and at most
/// `options.max_bytes` of the body are read. Any status is a response; the
/// error is the one-line reason a request failed. Mark a credential header
/// value sensitive (`HeaderValue::set_sensitive`) so it is kept out of logs.
pub async fn get(
    client: &reqwest::Client,
    options: &HttpOptions,
    url: &str,
    headers: &[(reqwest::header::HeaderName, reqwest::header::HeaderValue)],
) -> Result<Response, String> {
    let parsed = url::Url::parse(url).map_err(|error| format!("invalid URL {url}: {error}"))?;
    log::debug!("GET {parsed}");
    let mut request = client.get(parsed);
    for (name, value) in headers {
        request = request.header(name.clone(), value.clone());
    }
    let response = request.send().await.map_err(|error| classify(&error).1)?;
    let status = response.status().as_u16();
    let response_headers = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_ascii_lowercase(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let body = read_limited(response, options.max_bytes).await.map_err(|error| match error {
        ReadError::TooLarge => format!("the response is larger than {} bytes", options.max_bytes),
        ReadError::Http(error) => classify(&error).1,
    })?;
    Ok(Response { url: url.to_string(), status, headers: response_headers, body })
}

enum ReadError {
    TooLarge,
    Http(reqwest::Error),
}

async fn read_limited(mut response: reqwest::Response, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
    if response.content_length().is_some_and(|length| length > max_bytes) {
        return Err(ReadError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Http)? {
        if body.len() as u64 + chunk.len() as u64 > max_bytes {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Sorts a request error into the failure a user can act on.
pub(crate) fn classify(error: &reqwest::Error) -> (FetchFailureKind, String) {
    let detail = error_chain(error);
    if let Some(tls) = find_rustls_error(error) {
        let kind = match tls {
            rustls::Error::InvalidCertificate(certificate_error) => match certificate_error {
                rustls::CertificateError::Expired | rustls::CertificateError::ExpiredContext { .. } => FetchFailureKind::TlsExpired,
                rustls::CertificateError::NotValidForName | rustls::CertificateError::NotValidForNameContext { .. } => FetchFailureKind::TlsHostname,
                rustls::CertificateError::UnknownIssuer | rustls::CertificateError::BadSignature => FetchFailureKind::TlsUntrusted,
                _ => FetchFailureKind::Tls,
            },
            _ => FetchFailureKind::Tls,
        };
        return (kind, detail);
    }
    if error.is_timeout() {
        return (FetchFailureKind::Timeout, detail);
    }
    let lowered = detail.to_ascii_lowercase();
    if lowered.contains("dns error") || lowered.contains("failed to lookup address") {
        return (FetchFailureKind::Dns, detail);
    }
    if error.is_connect() {
        return (FetchFailureKind::Connect, detail);
    }
    (FetchFailureKind::Connect, detail)
}

fn find_rustls_error<'e>(error: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
    let mut current: Option<&'e (dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = current {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // hyper-rustls wraps the rustls error in `io::Error::other`, sometimes
        // twice, and `io::Error::source` skips that inner error.
        let mut io = error.downcast_ref::<std::io::Error>();
        while let Some(inner) = io.and_then(std::io::Error::get_ref) {
            if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                return Some(tls);
            }
            io = inner.downcast_ref::<std::io::Error>();
        }
        current = error.source();
    }
    None
}

/// Joins an error and its sources, skipping repeats, for a one-line message.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = current {
        let text = error.to_string();
        // The URL is already in every message; reqwest repeats it in its own text.
        if text.starts_with("error sending request for url") || text.starts_with("client error (") {
            current = error.source();
            continue;
        }
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = error.source();
    }
    parts.join(": ")
}

fn certificate_info(der: &[u8]) -> Option<CertificateInfo> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    let dns_names = certificate
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|extension| {
            extension
                .value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    x509_parser::extensions::GeneralName::DNSName(dns) => Some(dns.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Some(CertificateInfo {
        subject: certificate.subject().to_string(),
        issuer: certificate.issuer().to_string(),
        not_after: certificate.validity().not_after.timestamp(),
        dns_names,
    })
}
