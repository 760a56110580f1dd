//! Probes of the provider: the authorization request and the token request
//! that Mastodon would send, without a user and with a random code.
//!
//! The classification reads only the provider's response (status, the
//! `Location` header, the OAuth `error` code, the error page's text), never
//! the provider's name, so it holds for authentik, oidc-provider and others
//! whose error pages use the same words. The decision matrix is in the
//! documentation of [`super`].

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use url::Url;

use super::html;
use super::http::{random_hex, snippet, Response, Sender, TransportError};
use crate::mastodon::{ClientAuth, Settings};

/// The OAuth error codes of an authorization redirect that mean the provider
/// accepted the client and the redirect URI and only wants a user: it
/// redirected back because `prompt=none` forbids a login page.
const NEEDS_USER: &[&str] = &["login_required", "interaction_required", "consent_required", "account_selection_required"];

/// Phrases of error pages that reject the redirect URI, lower case. They are
/// the texts of authentik ("Redirect URI Error"), oidc-provider, Keycloak,
/// Authelia, Google and Entra ID (AADSTS50011).
const REDIRECT_URI_PHRASES: &[&str] = &[
    "invalid_redirect_uri",
    "redirect_uri_mismatch",
    "redirect uri error",
    "mismatching redirection uri",
    "redirect_uri did not match",
    "invalid parameter: redirect_uri",
    "pre-registered redirect",
    "redirect uri is not registered",
    "aadsts50011",
];

/// Phrases of error pages that reject the client id, lower case: authentik
/// ("Client ID Error"), oidc-provider (`invalid_client`), Keycloak ("Client
/// not found."), Entra ID (AADSTS700016).
const UNKNOWN_CLIENT_PHRASES: &[&str] = &[
    "invalid_client",
    "client id error",
    "client identifier (client_id) is missing or invalid",
    "client not found",
    "unknown client",
    "client is invalid",
    "aadsts700016",
];

/// The requests of the provider probes, derived from the settings as
/// Mastodon 4.3 to 4.5 builds them (omniauth_openid_connect 0.6.1,
/// openid_connect 1.4.2, rack-oauth2 1.21.3).
#[derive(Clone, Debug)]
pub struct ProviderRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// OIDC_CLIENT_SECRET; `None` when unset or empty. Never printed.
    pub secret: Option<String>,
    pub client_auth: ClientAuth,
    pub response_type: String,
    pub response_mode: Option<String>,
    /// The `scope` of the authorization request, `openid` appended when missing.
    pub authorize_scope: String,
    /// The `scope` of the token request, unless OIDC_SEND_SCOPE_TO_TOKEN_ENDPOINT turns it off.
    pub token_scope: Option<String>,
    pub pkce: bool,
    pub nonce: bool,
}

impl ProviderRequest {
    /// Returns the request Mastodon would send, or the name of the missing setting.
    pub fn from_settings(settings: &Settings) -> Result<Self, &'static str> {
        let client_id = settings.raw("OIDC_CLIENT_ID").filter(|value| !value.is_empty()).ok_or("OIDC_CLIENT_ID")?;
        let redirect_uri = settings.raw("OIDC_REDIRECT_URI").filter(|value| !value.is_empty()).ok_or("OIDC_REDIRECT_URI")?;
        let scopes = settings.scopes().unwrap_or_default();
        let token_scope = scopes.join(" ");
        Ok(ProviderRequest {
            client_id: client_id.to_string(),
            redirect_uri: redirect_uri.to_string(),
            secret: settings.raw("OIDC_CLIENT_SECRET").filter(|value| !value.is_empty()).map(str::to_string),
            client_auth: settings.client_auth(),
            response_type: settings.response_type().to_string(),
            response_mode: settings.raw("OIDC_RESPONSE_MODE").filter(|value| !value.is_empty()).map(str::to_string),
            authorize_scope: settings.authorize_scopes().join(" "),
            token_scope: (settings.flag("OIDC_SEND_SCOPE_TO_TOKEN_ENDPOINT", true) && !token_scope.trim().is_empty()).then_some(token_scope),
            pkce: settings.pkce(),
            nonce: settings.flag("OIDC_SEND_NONCE", true),
        })
    }
}

/// The reason a provider probe was not sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotSent {
    /// A setting that the request needs is unset; other rules report it.
    MissingSetting(&'static str),
    /// The discovery document lacks the endpoint, or its value is not a URL.
    NoEndpoint { field: &'static str, value: Option<String> },
    /// authentik has no redirect URI for the provider and would register the
    /// probed one, and --allow-first-use-registration was not given.
    FirstUseRisk,
    /// The token endpoint is not https, so the secret would travel in clear.
    InsecureTokenEndpoint { url: String },
    /// The token endpoint's host is not the issuer's, and --allow-secret-host
    /// does not name it.
    ForeignTokenHost { host: String, issuer_host: String },
    /// Mastodon's client authentication method cannot be reproduced: a SAML
    /// assertion or a TLS client certificate.
    UnsupportedClientAuth(ClientAuth),
    /// Discovery is off and OIDC_TOKEN_ENDPOINT, which Mastodon uses, is not
    /// the discovered token endpoint; the secret goes only to the latter.
    ManualTokenEndpoint { manual: Option<String>, discovered: Option<String> },
}

/// A probe that ran, or why it did not.
#[derive(Clone, Debug)]
pub enum Probe<T> {
    Sent(T),
    NotSent(NotSent),
}

impl<T> Probe<T> {
    pub fn sent(&self) -> Option<&T> {
        match self {
            Probe::Sent(result) => Some(result),
            Probe::NotSent(_) => None,
        }
    }
}

/// The risk of authentik's first-use registration of redirect URIs in this
/// probe run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstUse {
    /// The provider is not authentik, or it has a redirect URI: no risk.
    NoRisk,
    /// authentik, without admin-API facts: a provider without redirect URIs
    /// would have stored the probed one.
    Unknown,
    /// authentik without redirect URIs; the authorize probe was not sent.
    Refused,
    /// authentik without redirect URIs, and --allow-first-use-registration
    /// was given: the probe registered OIDC_REDIRECT_URI.
    Registered,
}

/// The outcome of the authorization request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizeVerdict {
    /// The provider redirected back to the redirect URI with `login_required`
    /// or a similar error, or responded with its login page: the client id,
    /// redirect URI and response type are accepted.
    Accepted { via: String },
    /// The provider does not know OIDC_CLIENT_ID.
    UnknownClient { evidence: String },
    /// OIDC_REDIRECT_URI is not registered for the client.
    RedirectUriNotRegistered { evidence: String },
    /// The provider redirected back with `unsupported_response_type`.
    UnsupportedResponseType { description: Option<String> },
    /// The provider redirected back with `invalid_request` because the
    /// request lacks a PKCE challenge.
    PkceRequired { description: Option<String> },
    /// The provider redirected back with another error, such as
    /// `invalid_scope`, `unauthorized_client` or `invalid_request`.
    CallbackError { error: String, description: Option<String> },
    /// A response the matrix does not cover.
    Unclassified { detail: String },
    /// No response (DNS, connection, TLS, timeout), or a server error or rate limit.
    Failed { detail: String, incomplete: bool },
}

/// The authorization probe's request and response.
#[derive(Clone, Debug)]
pub struct AuthorizeResult {
    /// The request URL, with the public parameters a browser would send.
    pub url: String,
    pub status: Option<u16>,
    pub location: Option<String>,
    pub verdict: AuthorizeVerdict,
    /// Whether a redirect back to the client carried the probe's `state`;
    /// `None` when the response was not such a redirect.
    pub state_returned: Option<bool>,
}

/// One request of the token probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exchange {
    /// The configured client authentication with a random code.
    Configured,
    /// The configured client authentication without `code`.
    WithoutCode,
    /// A random wrong secret, with or without a random code.
    WrongSecret { with_code: bool },
    /// No client authentication at all: `client_id` in the body only.
    WithoutSecret,
}

impl Exchange {
    pub fn describe(self) -> &'static str {
        match self {
            Exchange::Configured => "token probe with the configured secret and a random code",
            Exchange::WithoutCode => "token probe with the configured secret and no code",
            Exchange::WrongSecret { with_code: true } => "token probe with a wrong secret and a random code",
            Exchange::WrongSecret { with_code: false } => "token probe with a wrong secret and no code",
            Exchange::WithoutSecret => "token probe without client authentication",
        }
    }
}

/// One token request and its response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenExchange {
    pub kind: Exchange,
    pub status: Option<u16>,
    /// The OAuth `error` of a JSON response.
    pub error: Option<String>,
    pub description: Option<String>,
    /// The response when it carries no OAuth error, or the transport error.
    pub detail: Option<String>,
    pub incomplete: bool,
}

impl TokenExchange {
    fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
}

/// The outcome of the token probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenVerdict {
    /// `invalid_grant` for the random code: the client id and secret passed.
    /// `secret_checked` is the control request's result: `Some(false)` when a
    /// wrong secret passed too; `None` when it was not sent or inconclusive.
    Accepted { secret_checked: Option<bool> },
    /// The credentials passed (`invalid_grant` without a code), but the token
    /// endpoint rejected the redirect URI (`invalid_client` with the code).
    RedirectUriRejected { secret_checked: Option<bool> },
    /// `invalid_client` with and without a code, and without a secret: the
    /// client id is unknown or the secret is wrong.
    ClientRejected,
    /// The configured secret is rejected, but a request without any secret
    /// passes: the client is registered as public.
    PublicClient,
    /// An OAuth error other than `invalid_grant` or `invalid_client`.
    RequestRejected { error: String, description: Option<String> },
    /// A response without an OAuth error.
    Unclassified { detail: String },
    /// No response, a server error or a rate limit.
    Failed { detail: String, incomplete: bool },
}

/// The token probe: its requests (at most three) and its verdict.
#[derive(Clone, Debug)]
pub struct TokenResult {
    pub url: String,
    pub exchanges: Vec<TokenExchange>,
    pub verdict: TokenVerdict,
}

/// Everything the provider probes found.
#[derive(Clone, Debug)]
pub struct ProviderResults {
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub authorize: Probe<AuthorizeResult>,
    pub token: Probe<TokenResult>,
    pub first_use: FirstUse,
}

/// The endpoints the provider probes may send to, or why they may not.
#[derive(Clone, Debug)]
pub struct Endpoints {
    pub authorization: Result<Url, NotSent>,
    pub token: Result<Url, NotSent>,
}

impl Endpoints {
    /// Reads both endpoints from the discovery document. The token endpoint
    /// must be https and on `issuer_origin`'s host and port, or on a host of
    /// `allowed_hosts` (written `HOST` or `HOST:PORT`).
    pub fn from_discovery(discovery: &crate::document::Document, issuer_origin: &Url, allowed_hosts: &[String]) -> Endpoints {
        let read = |field: &'static str| -> Result<Url, NotSent> {
            let value = discovery.str(field);
            value
                .and_then(|text| Url::parse(text).ok())
                .filter(|url| matches!(url.scheme(), "https" | "http") && url.host_str().is_some())
                .ok_or(NotSent::NoEndpoint { field, value: value.map(str::to_string) })
        };
        let token = read("token_endpoint").and_then(|url| secret_may_go_to(&url, issuer_origin, allowed_hosts).map(|()| url));
        Endpoints { authorization: read("authorization_endpoint"), token }
    }

    /// Applies Mastodon's endpoints with discovery off: the authorization probe
    /// goes to OIDC_AUTH_ENDPOINT (completed as rack-oauth2 does), and the token
    /// probe only when OIDC_TOKEN_ENDPOINT is the discovered token endpoint,
    /// because the secret goes to no other URL.
    pub fn with_manual_settings(self, settings: &crate::mastodon::Settings<'_>) -> Endpoints {
        let authorization = match manual_endpoint(settings, "OIDC_AUTH_ENDPOINT", "/authorize") {
            Some(url) => Ok(url),
            None => Err(NotSent::NoEndpoint { field: "OIDC_AUTH_ENDPOINT", value: settings.raw("OIDC_AUTH_ENDPOINT").map(str::to_string) }),
        };
        let manual_token = manual_endpoint(settings, "OIDC_TOKEN_ENDPOINT", "/token");
        let token = match (&self.token, &manual_token) {
            (Ok(discovered), Some(manual)) if discovered == manual => self.token,
            (Err(reason), _) => Err(reason.clone()),
            (Ok(discovered), manual) => Err(NotSent::ManualTokenEndpoint {
                manual: manual.as_ref().map(Url::to_string),
                discovered: Some(discovered.to_string()),
            }),
        };
        Endpoints { authorization, token }
    }
}

/// Resolves an endpoint variable as rack-oauth2 1.21.3 does without discovery:
/// an absolute URL as written, else the path (or the gem's default) completed
/// with OIDC_HTTP_SCHEME (https), OIDC_HOST and OIDC_PORT. `None` without a host.
fn manual_endpoint(settings: &crate::mastodon::Settings<'_>, name: &str, default: &str) -> Option<Url> {
    let value = settings.raw(name).filter(|value| !value.is_empty()).unwrap_or(default);
    if let Ok(url) = Url::parse(value) {
        return url.has_host().then_some(url);
    }
    let host = settings.raw("OIDC_HOST").filter(|host| !host.is_empty())?;
    let scheme = settings.raw("OIDC_HTTP_SCHEME").filter(|scheme| !scheme.is_empty()).unwrap_or("https");
    let port = settings.raw("OIDC_PORT").map(|port| format!(":{port}")).unwrap_or_default();
    Url::parse(&format!("{scheme}://{host}{port}{value}")).ok()
}

/// Checks that the client secret may go to `url`: https only, and the issuer's
/// host and port or an allowed host.
pub fn secret_may_go_to(url: &Url, issuer_origin: &Url, allowed_hosts: &[String]) -> Result<(), NotSent> {
    if url.scheme() != "https" {
        return Err(NotSent::InsecureTokenEndpoint { url: url.to_string() });
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let port = url.port_or_known_default().unwrap_or(443);
    let issuer_host = issuer_origin.host_str().unwrap_or_default().to_ascii_lowercase();
    let issuer_port = issuer_origin.port_or_known_default().unwrap_or(443);
    if host == issuer_host && port == issuer_port {
        return Ok(());
    }
    let with_port = format!("{host}:{port}");
    let allowed = allowed_hosts.iter().any(|allowed| {
        let allowed = allowed.to_ascii_lowercase();
        allowed == host || allowed == with_port
    });
    if allowed {
        Ok(())
    } else {
        let shown_issuer = if issuer_port == 443 { issuer_host } else { format!("{issuer_host}:{issuer_port}") };
        let shown_host = if port == 443 { host } else { with_port };
        Err(NotSent::ForeignTokenHost { host: shown_host, issuer_host: shown_issuer })
    }
}

/// Sends the authorization probe: a GET of the authorization endpoint with
/// the client id, redirect URI, response type and scope of the settings, a
/// random `state` and `prompt=none`, no cookies, the redirect not followed.
pub async fn probe_authorize(sender: &mut Sender<'_>, endpoint: &Url, request: &ProviderRequest) -> AuthorizeResult {
    let state = random_hex(32);
    let mut url = endpoint.clone();
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("client_id", &request.client_id);
        query.append_pair("redirect_uri", &request.redirect_uri);
        // Mastodon's gem drops a blank response_type, so the probe does too.
        if !request.response_type.trim().is_empty() {
            query.append_pair("response_type", &request.response_type);
        }
        query.append_pair("scope", &request.authorize_scope);
        query.append_pair("state", &state);
        query.append_pair("prompt", "none");
        if request.nonce {
            query.append_pair("nonce", &random_hex(32));
        }
        if request.pkce {
            query.append_pair("code_challenge", &pkce_challenge(&random_hex(128)));
            query.append_pair("code_challenge_method", "S256");
        }
        if let Some(mode) = &request.response_mode {
            query.append_pair("response_mode", mode);
        }
    }

    let http_request = sender
        .client()
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "text/html,application/xhtml+xml")
        .header(reqwest::header::ACCEPT_LANGUAGE, "en");
    let answer = sender.send("authorization probe", http_request).await;
    let redirect_uri = Url::parse(&request.redirect_uri).ok();
    let (verdict, state_returned) = match &answer {
        Ok(response) => classify_authorize(response, &url, redirect_uri.as_ref(), &state),
        Err(error) => (failed(error), None),
    };
    AuthorizeResult {
        url: url.to_string(),
        status: answer.as_ref().ok().map(|response| response.status),
        location: answer.as_ref().ok().and_then(|response| response.location().map(str::to_string)),
        verdict,
        state_returned,
    }
}

fn failed(error: &TransportError) -> AuthorizeVerdict {
    AuthorizeVerdict::Failed { detail: error.detail.clone(), incomplete: error.is_incomplete() }
}

/// Returns the S256 PKCE challenge of a verifier: base64url of its SHA-256, unpadded.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Classifies the response to the authorization probe. Returns the verdict and,
/// for a redirect back to the client, whether it carried `state`.
pub fn classify_authorize(response: &Response, request_url: &Url, redirect_uri: Option<&Url>, state: &str) -> (AuthorizeVerdict, Option<bool>) {
    if response.status >= 500 || response.status == 429 {
        let detail = format!("HTTP {}: {}", response.status, page_text(response, 160));
        return (AuthorizeVerdict::Failed { detail, incomplete: true }, None);
    }

    if response.is_redirect() {
        let Some(location) = response.location().and_then(|location| request_url.join(location).ok()) else {
            let detail = format!("HTTP {} without a usable Location header", response.status);
            return (AuthorizeVerdict::Unclassified { detail }, None);
        };
        if let Some(callback) = redirect_uri.filter(|callback| html::same_endpoint(&location, callback)) {
            let params = callback_params(&location, callback);
            return classify_callback(&params, state);
        }
        if let Some((error, description)) = query_error(&location) {
            let text = format!("{error} {}", description.clone().unwrap_or_default());
            return (classify_error_page(&error, &text, location.as_str()), None);
        }
        let via = format!("the provider redirected to its login page at {}", shown_without_query(&location));
        return (AuthorizeVerdict::Accepted { via }, None);
    }

    if let Some(callback) = redirect_uri {
        let is_html = response.media_type().is_none_or(|media| media.contains("html"));
        if let Some(fields) = is_html.then(|| html::form_post_fields(&response.body, request_url, callback)).flatten() {
            return classify_callback(&fields, state);
        }
    }

    if let Some((error, description)) = response.json_error() {
        let text = format!("{error} {}", description.clone().unwrap_or_default());
        return (classify_error_page(&error, &text, &text), None);
    }

    let text = page_text(response, usize::MAX);
    if let Some(verdict) = classify_by_phrases(&text) {
        return (verdict, None);
    }
    if response.status == 200 {
        return (AuthorizeVerdict::Accepted { via: "the provider responded with its login page".into() }, None);
    }
    let detail = format!("HTTP {}: {}", response.status, snippet(&text, 160));
    (AuthorizeVerdict::Unclassified { detail }, None)
}

/// Returns the visible text of an HTML page, or the body as it is.
fn page_text(response: &Response, max: usize) -> String {
    let is_html = response.media_type().is_some_and(|media| media.contains("html")) || response.body.trim_start().starts_with('<');
    let text = if is_html { html::visible_text(&response.body) } else { response.body.clone() };
    snippet(&text, max)
}

/// Returns the parameters of a redirect to the callback: query and fragment, without
/// those the registered redirect URI itself carries.
fn callback_params(location: &Url, callback: &Url) -> Vec<(String, String)> {
    let own: Vec<(String, String)> = callback.query_pairs().into_owned().collect();
    let mut params: Vec<(String, String)> = location.query_pairs().into_owned().filter(|pair| !own.contains(pair)).collect();
    if let Some(fragment) = location.fragment() {
        params.extend(url::form_urlencoded::parse(fragment.as_bytes()).into_owned());
    }
    params
}

fn param<'p>(params: &'p [(String, String)], name: &str) -> Option<&'p str> {
    params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
}

fn classify_callback(params: &[(String, String)], state: &str) -> (AuthorizeVerdict, Option<bool>) {
    let state_returned = Some(param(params, "state") == Some(state));
    let description = param(params, "error_description").map(str::to_string);
    let verdict = match param(params, "error") {
        None if param(params, "code").is_some() || param(params, "id_token").is_some() => {
            AuthorizeVerdict::Accepted { via: "the provider redirected back with a code".into() }
        }
        None => AuthorizeVerdict::Unclassified { detail: "a redirect back to the client without `error` or `code`".into() },
        Some(error) if NEEDS_USER.contains(&error) => AuthorizeVerdict::Accepted { via: format!("the provider redirected back with `{error}`") },
        Some("unsupported_response_type") => AuthorizeVerdict::UnsupportedResponseType { description },
        Some("invalid_request") if mentions_pkce(description.as_deref()) => AuthorizeVerdict::PkceRequired { description },
        Some(error) => AuthorizeVerdict::CallbackError { error: error.to_string(), description },
    };
    (verdict, state_returned)
}

fn mentions_pkce(description: Option<&str>) -> bool {
    description.is_some_and(|text| {
        let lowered = text.to_ascii_lowercase();
        lowered.contains("pkce") || lowered.contains("code_challenge") || lowered.contains("code challenge")
    })
}

/// Returns the `error` and `error_description` in a URL's query.
fn query_error(url: &Url) -> Option<(String, Option<String>)> {
    let params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let error = param(&params, "error")?.to_string();
    Some((error, param(&params, "error_description").map(str::to_string)))
}

/// Classifies an error shown by the provider itself (a page, a JSON body, an
/// error page it redirected to) rather than sent back to the client.
fn classify_error_page(error: &str, text: &str, evidence: &str) -> AuthorizeVerdict {
    match error {
        "invalid_client" => AuthorizeVerdict::UnknownClient { evidence: snippet(evidence, 160) },
        "invalid_redirect_uri" | "redirect_uri_mismatch" => AuthorizeVerdict::RedirectUriNotRegistered { evidence: snippet(evidence, 160) },
        "unsupported_response_type" => AuthorizeVerdict::UnsupportedResponseType { description: Some(snippet(text, 160)) },
        _ => classify_by_phrases(text)
            .unwrap_or_else(|| AuthorizeVerdict::Unclassified { detail: format!("the provider shows the error `{error}`: {}", snippet(evidence, 160)) }),
    }
}

/// Classifies page text by the phrases of known error pages; the evidence is
/// the text from the first phrase found. Redirect URI phrases are checked
/// first: some pages about a redirect URI also name the client.
fn classify_by_phrases(text: &str) -> Option<AuthorizeVerdict> {
    // ASCII lower-casing keeps byte offsets, so a match in `lowered` is a valid offset in `text`.
    let lowered = text.to_ascii_lowercase();
    let first_match = |phrases: &[&str]| phrases.iter().filter_map(|phrase| lowered.find(phrase)).min();
    if let Some(start) = first_match(REDIRECT_URI_PHRASES) {
        return Some(AuthorizeVerdict::RedirectUriNotRegistered { evidence: snippet(&text[start..], 160) });
    }
    if let Some(start) = first_match(UNKNOWN_CLIENT_PHRASES) {
        return Some(AuthorizeVerdict::UnknownClient { evidence: snippet(&text[start..], 160) });
    }
    None
}

fn shown_without_query(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// Sends the token probe: at most three POSTs to the token endpoint, chosen
/// by the decision matrix in [`super`].
pub async fn probe_token(sender: &mut Sender<'_>, endpoint: &Url, request: &ProviderRequest) -> TokenResult {
    let mut exchanges = Vec::new();

    let first = send_token(sender, endpoint, request, Exchange::Configured).await;
    exchanges.push(first.clone());
    let verdict = match first.error() {
        Some("invalid_grant") => {
            let secret_checked = control(sender, endpoint, request, true, &mut exchanges).await;
            TokenVerdict::Accepted { secret_checked }
        }
        Some("invalid_client") => {
            let without_code = send_token(sender, endpoint, request, Exchange::WithoutCode).await;
            exchanges.push(without_code.clone());
            if without_code.error() == Some("invalid_grant") {
                let secret_checked = control(sender, endpoint, request, false, &mut exchanges).await;
                TokenVerdict::RedirectUriRejected { secret_checked }
            } else if without_code.incomplete {
                incomplete_verdict(&without_code)
            } else {
                let without_secret = send_token(sender, endpoint, request, Exchange::WithoutSecret).await;
                exchanges.push(without_secret.clone());
                match without_secret.error() {
                    Some("invalid_grant") => TokenVerdict::PublicClient,
                    _ if without_secret.incomplete => incomplete_verdict(&without_secret),
                    _ => TokenVerdict::ClientRejected,
                }
            }
        }
        Some(error) => TokenVerdict::RequestRejected { error: error.to_string(), description: first.description.clone() },
        None if first.incomplete => incomplete_verdict(&first),
        None => TokenVerdict::Unclassified { detail: first.detail.clone().unwrap_or_default() },
    };
    TokenResult { url: endpoint.to_string(), exchanges, verdict }
}

fn incomplete_verdict(exchange: &TokenExchange) -> TokenVerdict {
    TokenVerdict::Failed { detail: exchange.detail.clone().unwrap_or_default(), incomplete: true }
}

/// Sends the control request, a random wrong secret in the shape of the
/// request that returned `invalid_grant`. Returns `Some(true)` when the
/// provider rejects it (it checks the secret), `Some(false)` when it passes.
/// Without a configured secret there is nothing to check and nothing is sent.
async fn control(sender: &mut Sender<'_>, endpoint: &Url, request: &ProviderRequest, with_code: bool, exchanges: &mut Vec<TokenExchange>) -> Option<bool> {
    request.secret.as_ref()?;
    let exchange = send_token(sender, endpoint, request, Exchange::WrongSecret { with_code }).await;
    exchanges.push(exchange.clone());
    match exchange.error() {
        Some("invalid_client") | Some("unauthorized_client") => Some(true),
        Some("invalid_grant") => Some(false),
        _ => None,
    }
}

async fn send_token(sender: &mut Sender<'_>, endpoint: &Url, request: &ProviderRequest, kind: Exchange) -> TokenExchange {
    let wrong_secret;
    let secret = match kind {
        Exchange::WrongSecret { .. } => {
            wrong_secret = random_hex(40);
            Some(wrong_secret.as_str())
        }
        Exchange::WithoutSecret => None,
        Exchange::Configured | Exchange::WithoutCode => request.secret.as_deref(),
    };

    let mut form: Vec<(&str, String)> = vec![("grant_type", "authorization_code".into())];
    if kind != Exchange::WithoutCode && kind != (Exchange::WrongSecret { with_code: false }) {
        form.push(("code", random_hex(32)));
    }
    form.push(("redirect_uri", request.redirect_uri.clone()));
    if let Some(scope) = &request.token_scope {
        form.push(("scope", scope.clone()));
    }
    if request.pkce {
        form.push(("code_verifier", random_hex(128)));
    }

    let mut http_request = sender.client().post(endpoint.clone()).header(reqwest::header::ACCEPT, "application/json");
    if kind == Exchange::WithoutSecret {
        form.push(("client_id", request.client_id.clone()));
    } else {
        match request.client_auth {
            ClientAuth::Basic => {
                let credentials = format!("{}:{}", form_encode(&request.client_id), form_encode(secret.unwrap_or_default()));
                http_request = http_request.header(reqwest::header::AUTHORIZATION, format!("Basic {}", STANDARD.encode(credentials)));
            }
            ClientAuth::BasicRaw => {
                let credentials = format!("{}:{}", request.client_id, secret.unwrap_or_default());
                http_request = http_request.header(reqwest::header::AUTHORIZATION, format!("Basic {}", STANDARD.encode(credentials)));
            }
            ClientAuth::JwtBearer => {
                form.push(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()));
                form.push(("client_assertion", client_assertion(&request.client_id, secret.unwrap_or_default(), endpoint.as_str())));
            }
            // Refused before any request: see `NotSent::UnsupportedClientAuth`.
            ClientAuth::Saml2Bearer | ClientAuth::Mtls => {}
            ClientAuth::Post => {
                form.push(("client_id", request.client_id.clone()));
                if let Some(secret) = secret {
                    form.push(("client_secret", secret.to_string()));
                }
            }
        }
    }
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form.iter().map(|(name, value)| (*name, value.as_str()))).finish();
    http_request = http_request.header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(body);

    match sender.send(kind.describe(), http_request).await {
        Ok(response) => token_exchange(kind, &response),
        Err(error) => TokenExchange {
            kind,
            status: None,
            error: None,
            description: None,
            detail: Some(error.detail.clone()),
            incomplete: error.is_incomplete(),
        },
    }
}

/// Reads a token endpoint response. A server error or rate limit makes the
/// exchange incomplete even when it carries an OAuth error.
fn token_exchange(kind: Exchange, response: &Response) -> TokenExchange {
    let incomplete = response.status >= 500 || response.status == 429;
    let (error, description) = match response.json_error() {
        // Older Keycloak releases report a failed client authentication as
        // 401 `unauthorized_client` ("Invalid client or Invalid client
        // credentials"); RFC 6749 gives 401 to `invalid_client` only.
        Some((error, description)) if !incomplete && error == "unauthorized_client" && response.status == 401 => (Some("invalid_client".to_string()), description),
        Some((error, description)) if !incomplete => (Some(error), description),
        _ => (None, None),
    };
    let detail = error.is_none().then(|| format!("HTTP {}: {}", response.status, page_text(response, 160)));
    TokenExchange { kind, status: Some(response.status), error, description, detail, incomplete }
}

/// `application/x-www-form-urlencoded` encoding, as Ruby's
/// `URI.encode_www_form_component` that rack-oauth2 applies to Basic credentials.
fn form_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Builds a `client_secret_jwt` assertion as rack-oauth2 1.21.3 does: HS256
/// with the client secret, `iss` and `sub` the client id, `aud` the token
/// endpoint, a random `jti`, valid for three minutes.
fn client_assertion(client_id: &str, secret: &str, token_endpoint: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0);
    let header = serde_json::json!({"typ": "JWT", "alg": "HS256"});
    let claims = serde_json::json!({
        "iss": client_id,
        "sub": client_id,
        "aud": token_endpoint,
        "jti": random_hex(32),
        "iat": now,
        "exp": now + 180,
    });
    let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALLBACK: &str = "https://mastodon.example/auth/auth/openid_connect/callback";
    const AUTHORIZE: &str = "https://auth.example/application/o/authorize/?client_id=mastodon";

    fn redirect(status: u16, location: &str) -> Response {
        Response { status, headers: vec![("location".into(), location.into()), ("content-type".into(), "text/html; charset=utf-8".into())], body: String::new() }
    }

    fn page(status: u16, body: &str) -> Response {
        Response { status, headers: vec![("content-type".into(), "text/html; charset=utf-8".into())], body: body.into() }
    }

    fn classify(response: &Response) -> (AuthorizeVerdict, Option<bool>) {
        let request = Url::parse(AUTHORIZE).unwrap();
        let callback = Url::parse(CALLBACK).unwrap();
        classify_authorize(response, &request, Some(&callback), "s1")
    }

    fn is_accepted(verdict: &AuthorizeVerdict) -> bool {
        matches!(verdict, AuthorizeVerdict::Accepted { .. })
    }

    #[test]
    fn login_required_redirect_is_accepted() {
        let location = format!("{CALLBACK}?error=login_required&error_description=End-User+authentication+is+required&state=s1&iss=https%3A%2F%2Fauth.example%2F");
        let (verdict, state) = classify(&redirect(303, &location));
        assert!(is_accepted(&verdict), "{verdict:?}");
        assert_eq!(state, Some(true));
    }

    #[test]
    fn authentik_login_flow_redirect_is_accepted() {
        let (verdict, state) = classify(&redirect(302, "/flows/-/default/authentication/?next=/application/o/authorize/%3Fclient_id%3Dmastodon"));
        assert!(is_accepted(&verdict), "{verdict:?}");
        assert_eq!(state, None);
    }

    #[test]
    fn missing_state_is_reported() {
        let (verdict, state) = classify(&redirect(302, &format!("{CALLBACK}?error=login_required")));
        assert!(is_accepted(&verdict));
        assert_eq!(state, Some(false));
    }

    #[test]
    fn authentik_error_pages_are_classified() {
        let client = page(400, "<html><body><h1>Client ID Error</h1><p>The client identifier (client_id) is missing or invalid.</p></body></html>");
        assert!(matches!(classify(&client).0, AuthorizeVerdict::UnknownClient { .. }));
        let redirect_uri = page(400, "<html><body><h1>Redirect URI Error</h1><p>The request fails due to a missing, invalid, or mismatching redirection URI (redirect_uri).</p></body></html>");
        assert!(matches!(classify(&redirect_uri).0, AuthorizeVerdict::RedirectUriNotRegistered { .. }));
    }

    #[test]
    fn oidc_provider_error_pages_are_classified() {
        let style = "<style>body{font-family:Roboto}</style>";
        let client = page(400, &format!("<html><head>{style}</head><body><h1>oops! something went wrong</h1><pre>error: invalid_client\nerror_description: client is invalid</pre></body></html>"));
        assert!(matches!(classify(&client).0, AuthorizeVerdict::UnknownClient { .. }));
        let redirect_uri = page(400, &format!("<html><head>{style}</head><body><pre>error: invalid_redirect_uri\nerror_description: redirect_uri did not match any of the client's registered redirect_uris</pre></body></html>"));
        assert!(matches!(classify(&redirect_uri).0, AuthorizeVerdict::RedirectUriNotRegistered { .. }));
    }

    #[test]
    fn unsupported_response_type_in_fragment() {
        let location = format!("{CALLBACK}#error=unsupported_response_type&error_description=unsupported+response_type+requested&state=s1");
        assert!(matches!(classify(&redirect(303, &location)).0, AuthorizeVerdict::UnsupportedResponseType { .. }));
    }

    #[test]
    fn unsupported_response_type_in_query() {
        let location = format!("{CALLBACK}?error=unsupported_response_type&error_description=The%20authorization%20server%20does%20not%20support&state=s1");
        assert!(matches!(classify(&redirect(302, &location)).0, AuthorizeVerdict::UnsupportedResponseType { .. }));
    }

    #[test]
    fn pkce_required_is_recognised() {
        let location = format!("{CALLBACK}?error=invalid_request&error_description=Authorization+Server+policy+requires+PKCE+to+be+used+for+this+request&state=s1");
        assert!(matches!(classify(&redirect(303, &location)).0, AuthorizeVerdict::PkceRequired { .. }));
    }

    #[test]
    fn other_callback_error_keeps_its_code() {
        let location = format!("{CALLBACK}?error=invalid_request&error_description=grant+type+not+configured&state=s1");
        let (verdict, _) = classify(&redirect(302, &location));
        assert_eq!(verdict, AuthorizeVerdict::CallbackError { error: "invalid_request".into(), description: Some("grant type not configured".into()) });
    }

    #[test]
    fn form_post_error_is_read_from_the_form() {
        let body = format!(r#"<html><body><form method="post" action="{CALLBACK}"><input type="hidden" name="error" value="login_required"/><input type="hidden" name="state" value="s1"/></form></body></html>"#);
        let (verdict, state) = classify(&page(400, &body));
        assert!(is_accepted(&verdict), "{verdict:?}");
        assert_eq!(state, Some(true));
    }

    #[test]
    fn server_error_is_incomplete() {
        assert!(matches!(classify(&page(502, "Bad Gateway")).0, AuthorizeVerdict::Failed { incomplete: true, .. }));
    }

    #[test]
    fn unknown_page_is_unclassified() {
        assert!(matches!(classify(&page(404, "<html><body>Not Found</body></html>")).0, AuthorizeVerdict::Unclassified { .. }));
    }

    #[test]
    fn secret_goes_only_to_issuer_host_over_https() {
        let issuer = Url::parse("https://auth.example/application/o/mastodon/.well-known/openid-configuration").unwrap();
        let same = Url::parse("https://AUTH.example/application/o/token/").unwrap();
        assert_eq!(secret_may_go_to(&same, &issuer, &[]), Ok(()));

        let http = Url::parse("http://auth.example/application/o/token/").unwrap();
        assert!(matches!(secret_may_go_to(&http, &issuer, &[]), Err(NotSent::InsecureTokenEndpoint { .. })));

        let other = Url::parse("https://tokens.example/token").unwrap();
        assert_eq!(
            secret_may_go_to(&other, &issuer, &[]),
            Err(NotSent::ForeignTokenHost { host: "tokens.example".into(), issuer_host: "auth.example".into() })
        );
        assert_eq!(secret_may_go_to(&other, &issuer, &["tokens.example".into()]), Ok(()));

        let other_port = Url::parse("https://auth.example:8443/token").unwrap();
        assert!(matches!(secret_may_go_to(&other_port, &issuer, &[]), Err(NotSent::ForeignTokenHost { .. })));
        assert_eq!(secret_may_go_to(&other_port, &issuer, &["auth.example:8443".into()]), Ok(()));
    }

    #[test]
    fn pkce_challenge_matches_rfc_7636_example() {
        assert_eq!(pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn client_assertion_is_hs256_jwt() {
        let assertion = client_assertion("mastodon", "secret", "https://auth.example/token");
        let parts: Vec<&str> = assertion.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "HS256");
        let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "mastodon");
        assert_eq!(claims["aud"], "https://auth.example/token");

        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret").unwrap();
        mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
        assert_eq!(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()), parts[2]);
    }

    #[test]
    fn keycloak_unauthorized_client_401_is_client_authentication() {
        let response = Response { status: 401, headers: Vec::new(), body: r#"{"error":"unauthorized_client","error_description":"Invalid client or Invalid client credentials"}"#.into() };
        assert_eq!(token_exchange(Exchange::Configured, &response).error.as_deref(), Some("invalid_client"));
        let grant = Response { status: 400, ..response };
        assert_eq!(token_exchange(Exchange::Configured, &grant).error.as_deref(), Some("unauthorized_client"));
    }

    #[test]
    fn basic_credentials_are_form_encoded() {
        assert_eq!(form_encode("a b:c/d"), "a+b%3Ac%2Fd");
    }
}
