//! The requests that learn an authentik server's release and read its admin API.
//!
//! Every request goes to the issuer's host over https, the way Mastodon
//! builds the discovery URL. Without a token at most two unauthenticated
//! GETs learn the release (`/robots.txt`, then one flow page). With a token
//! the admin API returns the release and the provider. The token is sent
//! only in the `Authorization` header, marked sensitive so no log shows it.

use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};
use serde_json::Value;
use url::Url;

use super::api::{self, requests, ApiFacts, ApiFailure, Token};
use super::version::{self, KnownVersion, Version, VersionSource};
use super::{ApiSkipped, Facts};
use crate::document::Document;
use crate::fetch::{self, HttpOptions, Response};

/// The flow page asked for the release when `/robots.txt` does not show it:
/// the default authentication flow, which every installation starts with.
const FLOW_PAGE: &str = "/if/flow/default-authentication-flow/";

/// Pages of scope mappings read at most; 100 mappings each.
const MAX_MAPPING_PAGES: u64 = 10;

/// The settings and inputs of the run that the collection reads.
pub struct Request<'a> {
    /// OIDC_ISSUER as Mastodon reads it.
    pub issuer: &'a str,
    pub client_id: Option<&'a str>,
    pub discovery: Option<&'a Document>,
    /// `--authentik-version`, already parsed.
    pub cli_version: Option<(Version, String)>,
    pub token: Option<&'a Token>,
}

/// Builds the facts without any request: `--offline`, or saved documents.
pub fn collect_offline(request: &Request, reason: &str) -> Facts {
    let mut facts = Facts { minimum: minimum(request), ..Facts::default() };
    if let Some(token) = request.token {
        facts.secrets.push(token.expose().to_string());
        facts.api_skipped = Some(ApiSkipped::NotAsked(reason.to_string()));
    } else {
        facts.api_skipped = Some(ApiSkipped::NoToken);
    }
    match cli_known(request) {
        Some(known) => facts.version = Some(known),
        None => facts.version_notes.push(format!("the server was not asked: {reason}")),
    }
    facts
}

/// Learns the release and reads the admin API, as far as the options allow.
pub async fn collect(client: &reqwest::Client, options: &HttpOptions, request: &Request<'_>) -> Facts {
    let mut facts = Facts { minimum: minimum(request), ..Facts::default() };
    let Some(origin) = origin(request.issuer) else {
        facts.version = cli_known(request);
        facts.version_notes.push("OIDC_ISSUER is not a URL with a host".to_string());
        facts.api_skipped = Some(ApiSkipped::NotAsked("OIDC_ISSUER is not a URL with a host".to_string()));
        return facts;
    };

    match request.token {
        Some(token) => {
            log::info!("reading authentik's admin API at {origin} with the given token");
            facts.secrets.push(token.expose().to_string());
            let api = read_api(client, options, &origin, token, request).await;
            if let Some(secret) = api.provider.as_ref().and_then(|provider| provider.secret_for_redaction()) {
                crate::logging::add_secret(secret);
                facts.secrets.push(secret.to_string());
            }
            facts.version = api.version.as_deref().and_then(|text| {
                let (version, shown) = version::parse(text)?;
                Some(KnownVersion {
                    version,
                    text: shown,
                    source: VersionSource::AdminApi,
                    detail: format!("version_current of {}admin/version/", api.base_url),
                })
            });
            facts.api = Some(api);
        }
        None => facts.api_skipped = Some(ApiSkipped::NoToken),
    }

    if let (Some(known), Some((_, cli_text))) = (&facts.version, &request.cli_version) {
        if known.text != *cli_text {
            facts.version_notes.push(format!("--authentik-version {cli_text} was ignored because the admin API reports {}", known.text));
        }
    }
    if facts.version.is_none() {
        facts.version = cli_known(request);
    }
    if facts.version.is_none() {
        facts.version = discovery_header(request);
    }
    if facts.version.is_none() {
        let (known, notes) = probe_version(client, options, &origin).await;
        facts.version = known;
        facts.version_notes.extend(notes);
    }
    if let Some(known) = &facts.version {
        log::info!("authentik {} ({})", known.text, known.detail);
    }
    facts
}

fn minimum(request: &Request) -> Option<(Version, &'static str)> {
    request.discovery.and_then(version::minimum_from_discovery)
}

fn cli_known(request: &Request) -> Option<KnownVersion> {
    let (version, text) = request.cli_version.clone()?;
    Some(KnownVersion { version, text, source: VersionSource::CommandLine, detail: "--authentik-version".to_string() })
}

/// Returns `https://HOST[:PORT]` of the issuer, as Mastodon's discovery URL
/// uses it: always https, the port kept unless it is 80 or 443.
fn origin(issuer: &str) -> Option<String> {
    let parsed = Url::parse(issuer).ok()?;
    let host = parsed.host_str().filter(|host| !host.is_empty())?;
    let port = match parsed.port_or_known_default() {
        Some(80) | Some(443) | None => String::new(),
        Some(port) => format!(":{port}"),
    };
    Some(format!("https://{host}{port}"))
}

/// Reads `X-authentik-version` from the discovery response, which costs no request.
fn discovery_header(request: &Request) -> Option<KnownVersion> {
    let document = request.discovery.filter(|document| !document.from_file)?;
    let (version, text) = version::parse(document.header("x-authentik-version")?)?;
    Some(KnownVersion {
        version,
        text,
        source: VersionSource::Header,
        detail: format!("the X-authentik-version header of {}", document.source),
    })
}

/// Learns the release from `/robots.txt` (the X-authentik-version header of
/// the Go and Rust servers, 2024.12 and later) and, failing that, from the
/// asset names of the default flow page. Returns what was tried when neither shows it.
async fn probe_version(client: &reqwest::Client, options: &HttpOptions, origin: &str) -> (Option<KnownVersion>, Vec<String>) {
    let mut notes = Vec::new();
    for path in ["/robots.txt", FLOW_PAGE] {
        let url = format!("{origin}{path}");
        match fetch::get(client, options, &url, &[]).await {
            Ok(response) => match version_of(&response) {
                Some(known) => return (Some(known), notes),
                None => notes.push(format!("{url} showed no release (HTTP {}, no X-authentik-version header, no versioned asset name)", response.status)),
            },
            Err(error) => notes.push(format!("{url} could not be fetched: {error}")),
        }
    }
    (None, notes)
}

fn version_of(response: &Response) -> Option<KnownVersion> {
    if let Some((version, text)) = response.header("x-authentik-version").and_then(version::parse) {
        return Some(KnownVersion {
            version,
            text,
            source: VersionSource::Header,
            detail: format!("the X-authentik-version header of {}", response.url),
        });
    }
    let (version, text) = version::from_asset_names(&response.text())?;
    Some(KnownVersion { version, text, source: VersionSource::AssetNames, detail: format!("the asset names of {}", response.url) })
}

/// A GET with the token, and the JSON body of a 200 response.
struct ApiClient<'a> {
    client: &'a reqwest::Client,
    options: &'a HttpOptions,
    base: String,
    authorization: HeaderValue,
}

impl ApiClient<'_> {
    /// Returns the JSON body of a 200 response, or the failure to record.
    async fn get_json(&self, what: &'static str, path: &str) -> Result<Value, (ApiFailure, u16)> {
        let url = format!("{}{path}", self.base);
        let headers = [(AUTHORIZATION, self.authorization.clone()), (HeaderName::from_static("accept"), HeaderValue::from_static("application/json"))];
        let failure = |detail: String| ApiFailure { what, url: url.clone(), detail };
        let response = fetch::get(self.client, self.options, &url, &headers).await.map_err(|error| (failure(error), 0))?;
        let json = response.json();
        if response.status != 200 {
            let detail = json
                .as_ref()
                .and_then(|value| value.get("detail"))
                .and_then(Value::as_str)
                .map(|detail| format!("HTTP {}: {detail}", response.status))
                .unwrap_or_else(|| format!("HTTP {}{}", response.status, if json.is_some() { "" } else { ", not JSON" }));
            return Err((failure(detail), response.status));
        }
        json.ok_or_else(|| (failure("HTTP 200 with a body that is not JSON".to_string()), 200))
    }
}

/// Reads the release, the provider, its scope mappings, the system settings
/// and, for a provider without signing key, the certificates that could sign.
async fn read_api(client: &reqwest::Client, options: &HttpOptions, origin: &str, token: &Token, request: &Request<'_>) -> ApiFacts {
    let mut facts = ApiFacts { base_url: format!("{origin}/api/v3/"), ..ApiFacts::default() };
    let mut authorization = match HeaderValue::from_str(&format!("Bearer {}", token.expose())) {
        Ok(value) => value,
        Err(_) => {
            facts.failures.push(ApiFailure { what: requests::VERSION, url: facts.base_url.clone(), detail: "the token contains characters not allowed in an HTTP header".to_string() });
            return facts;
        }
    };
    authorization.set_sensitive(true);
    let api = ApiClient { client, options, base: facts.base_url.clone(), authorization };

    // Any authenticated token may read the version, so a 401 or 403 here means the token itself is refused.
    match api.get_json(requests::VERSION, "admin/version/").await {
        Ok(value) => facts.version = value.get("version_current").and_then(Value::as_str).map(str::to_string),
        Err((failure, status)) => {
            let refused = status == 401 || status == 403;
            facts.failures.push(failure);
            if refused {
                return facts;
            }
        }
    }

    read_provider(&api, request, &mut facts).await;
    read_scope_mappings(&api, &mut facts).await;

    match api.get_json(requests::SETTINGS, "admin/settings/").await {
        Ok(value) => facts.settings = api::system_settings(&value),
        Err((failure, _)) => facts.failures.push(failure),
    }

    if facts.provider.as_ref().is_some_and(api::ProviderObject::lacks_signing_key) {
        match api.get_json(requests::CERTIFICATES, "crypto/certificatekeypairs/?has_key=true&page_size=100").await {
            Ok(value) => facts.certificates = api::signing_certificates(&value),
            Err((failure, _)) => facts.failures.push(failure),
        }
    }
    facts
}

/// Finds the provider through the application the issuer names, or else
/// through OIDC_CLIENT_ID.
async fn read_provider(api: &ApiClient<'_>, request: &Request<'_>, facts: &mut ApiFacts) {
    let slug = Url::parse(request.issuer).ok().and_then(|url| super::slug_from_issuer_path(url.path()).map(str::to_string));

    if let Some(slug) = &slug {
        let path = format!("core/applications/{}/", encode_path(slug));
        match api.get_json(requests::APPLICATION, &path).await {
            Ok(application) => {
                let pk = match application.get("provider") {
                    Some(Value::Number(number)) => Some(number.to_string()),
                    Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
                    _ => None,
                };
                let Some(pk) = pk else {
                    facts.failures.push(ApiFailure {
                        what: requests::APPLICATION,
                        url: format!("{}{path}", api.base),
                        detail: format!("the application `{slug}` has no provider"),
                    });
                    return;
                };
                match api.get_json(requests::PROVIDER, &format!("providers/oauth2/{}/", encode_path(&pk))).await {
                    Ok(value) => {
                        facts.provider = api::provider_object(&value);
                        facts.found_through = Some(format!("the application `{slug}` named by OIDC_ISSUER"));
                    }
                    Err((mut failure, status)) => {
                        if status == 404 {
                            failure.detail = format!("{} (the application `{slug}` has provider {pk}, which is not an OAuth2 provider)", failure.detail);
                        }
                        facts.failures.push(failure);
                    }
                }
                return;
            }
            Err((failure, status)) => {
                facts.failures.push(failure);
                if status != 404 {
                    return;
                }
            }
        }
    }

    let Some(client_id) = request.client_id.filter(|client_id| !client_id.is_empty()) else { return };
    let path = format!("providers/oauth2/?client_id={}", url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect::<String>());
    match api.get_json(requests::PROVIDER, &path).await {
        Ok(value) => {
            let first = value.get("results").and_then(Value::as_array).and_then(|results| results.first());
            match first.and_then(api::provider_object) {
                Some(provider) => {
                    facts.provider = Some(provider);
                    facts.found_through = Some("its client ID, OIDC_CLIENT_ID".to_string());
                }
                None => facts.failures.push(ApiFailure {
                    what: requests::PROVIDER,
                    url: format!("{}{path}", api.base),
                    detail: "no OAuth2 provider has this client ID".to_string(),
                }),
            }
        }
        Err((failure, _)) => facts.failures.push(failure),
    }
}

/// Reads every scope mapping, at the path of the release (authentik moved it
/// in 2024.8) and, on a 404, at the other path.
async fn read_scope_mappings(api: &ApiClient<'_>, facts: &mut ApiFacts) {
    let old_release = facts.version.as_deref().and_then(version::parse).is_some_and(|(version, _)| version < version::SCOPE_MAPPING_PATH_SINCE);
    let paths = if old_release {
        ["propertymappings/scope/", "propertymappings/provider/scope/"]
    } else {
        ["propertymappings/provider/scope/", "propertymappings/scope/"]
    };
    let mut last_failure = None;
    for path in paths {
        let mut mappings = Vec::new();
        let mut page = 1;
        let mut outcome = Ok(());
        while page <= MAX_MAPPING_PAGES {
            match api.get_json(requests::SCOPE_MAPPINGS, &format!("{path}?page_size=100&page={page}")).await {
                Ok(value) => match api::scope_mapping_page(&value) {
                    Some((found, next)) => {
                        mappings.extend(found);
                        match next {
                            Some(next) if next > page => page = next,
                            _ => break,
                        }
                    }
                    None => {
                        outcome = Err((ApiFailure { what: requests::SCOPE_MAPPINGS, url: format!("{}{path}", api.base), detail: "the response has no `results` list".to_string() }, 200));
                        break;
                    }
                },
                Err(error) => {
                    outcome = Err(error);
                    break;
                }
            }
        }
        match outcome {
            Ok(()) => {
                facts.scope_mappings = Some(mappings);
                return;
            }
            Err((failure, 404)) => last_failure = Some(failure),
            Err((failure, _)) => {
                facts.failures.push(failure);
                return;
            }
        }
    }
    if let Some(failure) = last_failure {
        facts.failures.push(failure);
    }
}

/// Encodes text for a URL path with form encoding. NOTE: a space becomes
/// `+`, which a path reads literally; authentik slugs are ASCII letters,
/// digits, `-` and `_`, which pass unchanged.
fn encode_path(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_is_https_with_nondefault_port() {
        assert_eq!(origin("https://auth.example/application/o/mastodon/").as_deref(), Some("https://auth.example"));
        assert_eq!(origin("http://auth.example/application/o/mastodon/").as_deref(), Some("https://auth.example"));
        assert_eq!(origin("https://auth.example:9443/application/o/mastodon/").as_deref(), Some("https://auth.example:9443"));
        assert_eq!(origin("not a url"), None);
    }

    #[test]
    fn offline_facts_use_the_command_line() {
        let request = Request {
            issuer: "https://auth.example/application/o/mastodon/",
            client_id: Some("mastodon"),
            discovery: None,
            cli_version: version::parse("2026.5.0"),
            token: None,
        };
        let facts = collect_offline(&request, "--offline was given");
        assert_eq!(facts.version.as_ref().map(|known| known.source), Some(VersionSource::CommandLine));
        assert!(facts.api_unavailable().unwrap().contains("no admin API token"));
        assert!(facts.version_unavailable().is_none());
    }

    #[test]
    fn offline_facts_say_why_the_version_is_unknown() {
        let request = Request { issuer: "https://auth.example/application/o/mastodon/", client_id: None, discovery: None, cli_version: None, token: None };
        let facts = collect_offline(&request, "--offline was given");
        assert_eq!(facts.version_unavailable().as_deref(), Some("no authentik version known: pass --authentik-version X.Y.Z"));
        let detail = facts.summary().version_detail;
        assert!(detail.contains("--offline was given"), "{detail}");
        assert!(detail.contains("pass --authentik-version"), "{detail}");
    }
}
