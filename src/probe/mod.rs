//! Live probes (`check --probe`): a few requests that show what the provider
//! has registered and what the running Mastodon has loaded, which no static
//! check can see. No user logs in and no real code is exchanged. They change
//! nothing at the provider, with one exception: authentik's first-use
//! registration of a redirect URI, described below.
//!
//! # What is sent, and to whom
//!
//! - **Authorization probe**: one GET of the discovered
//!   `authorization_endpoint` with the client id, redirect URI, response
//!   type, scope, nonce and PKCE challenge Mastodon would send, a random
//!   `state` and `prompt=none`. No cookies; the redirect is read, not followed.
//! - **Token probe**: at most three POSTs to the discovered `token_endpoint`,
//!   each an `authorization_code` grant with a random code. The client secret
//!   travels only in the form the configured client authentication method sets: in an
//!   HTTP Basic header, in the POST body, or as the key of an HS256
//!   `client_assertion`. It never goes into a URL. It goes only over https,
//!   and only to a token endpoint on the issuer's host and port or on a host
//!   that `--allow-secret-host` names. Redirects are never followed, so the
//!   secret never reaches a redirect target.
//! - **Mastodon probe**: up to six requests to `--mastodon-url` (default
//!   `https://WEB_DOMAIN`, else `https://LOCAL_DOMAIN`): the version from
//!   `/api/v2/instance` (or `/api/v1/instance`, or `/nodeinfo/2.0` when the
//!   API responds with 401), `/auth/sign_in`, and the request phase `POST
//!   /auth/auth/openid_connect` with the page's CSRF token. Its redirect to
//!   the provider is parsed and never followed. Nothing of the provider's
//!   configuration and no secret is sent to Mastodon.
//!
//! # Decision matrix
//!
//! The verdicts rest on the provider's responses, never on its name. The
//! table below was built from authentik 2025.10 and oidc-provider 9.13.3
//! (OpenID Certified), whose responses differ: authentik returns 400 for every
//! token error, checks the redirect URI at the token endpoint before the code
//! (a mismatch is `invalid_client`), and skips the secret check for public
//! clients; oidc-provider returns 401 for `invalid_client`, checks the
//! redirect URI only against the code, and rejects any secret sent for a
//! public (`none`) client.
//!
//! Authorization probe:
//!
//! | response | verdict |
//! |---|---|
//! | redirect to the redirect URI with `login_required`, `interaction_required`, `consent_required`, `account_selection_required`, or a code | accepted |
//! | redirect to another URL without `error` (authentik's login flow when `prompt=none` is not honoured), or a 200 login page | accepted |
//! | redirect to the redirect URI with `unsupported_response_type` (in the query, or the fragment as oidc-provider sends it for implicit types) | unsupported response type |
//! | redirect to the redirect URI with `invalid_request` that names PKCE or `code_challenge` | PKCE required |
//! | redirect to the redirect URI with another `error` | rejected with that error |
//! | a `form_post` page whose form posts to the redirect URI | as the redirect with the form's fields |
//! | a page or JSON with `invalid_redirect_uri`, `redirect_uri_mismatch`, "Redirect URI Error" and similar | redirect URI not registered |
//! | a page or JSON with `invalid_client`, "Client ID Error", "Client not found" and similar | unknown client |
//! | 5xx, 429, no response | could not check |
//! | anything else | inconclusive |
//!
//! Token probe (A: configured secret and a random code; B: configured
//! secret, no `code`; C: the control request):
//!
//! | A | B | C | verdict |
//! |---|---|---|---|
//! | `invalid_grant` | not sent | wrong secret, random code: `invalid_client` | client id and secret accepted, secret checked |
//! | `invalid_grant` | not sent | wrong secret, random code: `invalid_grant` | accepted, but the secret is not checked (a public client, or authentik 2026.5 without the `authorization_code` grant type) |
//! | `invalid_client` | `invalid_grant` | wrong secret, no code | credentials accepted, the token endpoint rejects the redirect URI (authentik); C tells whether the secret is checked |
//! | `invalid_client` | anything else | no client authentication, random code: `invalid_grant` | public client: a request without a secret passes and the configured secret is rejected (oidc-provider) |
//! | `invalid_client` | anything else | no client authentication: anything else | client id unknown or secret wrong; the authorization probe tells which |
//! | another OAuth error | not sent | not sent | the token request is rejected with that error |
//! | 5xx, 429, no response | not sent | not sent | could not check |
//!
//! Without a configured secret the wrong-secret control is not sent. At most
//! three requests reach the token endpoint in every branch.
//!
//! # authentik's first-use registration
//!
//! authentik stores the redirect URI of the first authorization request when
//! a provider has no redirect URI at all. When another part of the run knows
//! (from the admin API) that the provider has none, the authorization probe
//! is not sent unless `--allow-first-use-registration` is given; without that
//! knowledge the probe is sent, with a warning in the log before the request
//! and a note in the report.

pub mod html;
pub mod http;
pub mod mastodon;
pub mod provider;

use url::Url;

use crate::document::Document;
use crate::fetch::{self, ClientError, HttpOptions};
use crate::mastodon::{ClientAuth, Settings};
use crate::progress::Progress;
use crate::providers::ProviderKind;

pub use http::SentRequest;
pub use mastodon::MastodonResults;
pub use provider::ProviderResults;

/// The probes that `--probe` sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeScope {
    /// The provider probes and the Mastodon probe.
    #[default]
    All,
    /// Only the authorization and token probes of the provider.
    Provider,
    /// Only the probe of the running Mastodon.
    Mastodon,
}

impl ProbeScope {
    fn includes_provider(self) -> bool {
        matches!(self, ProbeScope::All | ProbeScope::Provider)
    }

    fn includes_mastodon(self) -> bool {
        matches!(self, ProbeScope::All | ProbeScope::Mastodon)
    }
}

/// Everything the probes need besides the settings and the discovery document.
#[derive(Clone, Debug, Default)]
pub struct ProbeOptions {
    pub scope: ProbeScope,
    /// `--mastodon-url`.
    pub mastodon_url: Option<String>,
    /// `--allow-secret-host`: hosts (`HOST` or `HOST:PORT`) besides the
    /// issuer's that may receive the client secret.
    pub allowed_secret_hosts: Vec<String>,
    /// `--allow-first-use-registration`.
    pub allow_first_use_registration: bool,
    /// The number of authorization redirect URIs of the provider, when the
    /// admin API reported it; `None` when unknown.
    pub registered_redirect_uris: Option<usize>,
    pub provider_kind: Option<ProviderKind>,
    pub http: HttpOptions,
    pub progress: Progress,
}

/// The results of the probes. Each part is `Err` with the reason when it did not run.
#[derive(Clone, Debug)]
pub struct ProbeResults {
    pub provider: Result<ProviderResults, String>,
    pub mastodon: Result<MastodonResults, String>,
    /// Every request sent, in order.
    pub requests: Vec<SentRequest>,
}

impl ProbeResults {
    /// Returns the provider results, when the provider probes ran.
    pub fn provider(&self) -> Option<&ProviderResults> {
        self.provider.as_ref().ok()
    }

    /// Returns the Mastodon results, when the Mastodon probe ran.
    pub fn mastodon(&self) -> Option<&MastodonResults> {
        self.mastodon.as_ref().ok()
    }

    /// Counts the requests that reached the token endpoint.
    pub fn token_requests(&self) -> usize {
        self.provider().and_then(|provider| provider.token.sent()).map(|token| token.exchanges.len()).unwrap_or(0)
    }

    /// Returns the report's view of the probes: every request and the Mastodon version.
    pub fn summary(&self) -> Summary {
        Summary {
            requests: self.requests.clone(),
            token_requests: self.token_requests(),
            mastodon_version: self.mastodon().and_then(|results| results.version.as_ref()).map(|version| version.raw.clone()),
        }
    }
}

/// The probes as the report's `checked` section lists them.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    /// Every request sent, in order, with its purpose and status.
    pub requests: Vec<SentRequest>,
    /// How many of them went to the token endpoint (at most three).
    pub token_requests: usize,
    /// The running Mastodon's version, when the Mastodon probe read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mastodon_version: Option<String>,
}

impl Summary {
    /// Describes in one line, for the human report, how many requests went where.
    pub fn describe(&self) -> String {
        let count = |prefix: &str| self.requests.iter().filter(|request| request.purpose.starts_with(prefix)).count();
        let mut origins: Vec<String> = Vec::new();
        for url in self.requests.iter().filter_map(|request| url::Url::parse(&request.url).ok()) {
            let origin = url.origin().ascii_serialization();
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        let noun = if self.requests.len() == 1 { "request" } else { "requests" };
        let mut text = format!(
            "{} {noun} ({} authorization, {} token, {} Mastodon) to {}",
            self.requests.len(),
            count("authorization probe"),
            self.token_requests,
            count("Mastodon"),
            if origins.is_empty() { "no host".to_string() } else { origins.join(", ") }
        );
        if let Some(version) = &self.mastodon_version {
            text.push_str(&format!("; running Mastodon {version}"));
        }
        text
    }
}

/// Runs the probes that `options.scope` selects, one request at a time.
/// `discovery` must be the document fetched in this run: its URL's host and
/// port are the issuer's for the secret rule.
pub fn run(options: &ProbeOptions, settings: &Settings, discovery: Option<&Document>) -> Result<ProbeResults, ClientError> {
    let client = fetch::build_client(&options.http)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|error| ClientError::Build(error.to_string()))?;
    let mut sender = http::Sender::new(&client, options.progress.clone());

    let disabled = (!settings.oidc_enabled()).then(|| "OIDC_ENABLED is not `true`, so Mastodon does not use OIDC".to_string());
    let provider = match (&disabled, options.scope.includes_provider()) {
        (Some(reason), _) => Err(reason.clone()),
        (None, false) => Err("--probe=mastodon was given".to_string()),
        (None, true) => runtime.block_on(run_provider(&mut sender, options, settings, discovery)),
    };
    let mastodon = match (&disabled, options.scope.includes_mastodon()) {
        (Some(reason), _) => Err(reason.clone()),
        (None, false) => Err("--probe=provider was given".to_string()),
        (None, true) => match mastodon::base_url(options.mastodon_url.as_deref(), settings.web_host()) {
            Ok(base) => Ok(runtime.block_on(mastodon::probe_mastodon(&mut sender, base))),
            Err(reason) => Err(format!("no Mastodon URL to probe: {reason}")),
        },
    };
    options.progress.finish();
    Ok(ProbeResults { provider, mastodon, requests: sender.into_sent() })
}

async fn run_provider(sender: &mut http::Sender<'_>, options: &ProbeOptions, settings: &Settings<'_>, discovery: Option<&Document>) -> Result<ProviderResults, String> {
    let discovery = discovery
        .filter(|document| !document.from_file && document.object().is_some())
        .ok_or("no discovery document was fetched, so the endpoints to probe are unknown")?;
    let issuer_origin = url::Url::parse(&discovery.source).map_err(|error| format!("the discovery URL {} is invalid: {error}", discovery.source))?;
    let mut endpoints = provider::Endpoints::from_discovery(discovery, &issuer_origin, &options.allowed_secret_hosts);
    if !settings.discovery() {
        endpoints = endpoints.with_manual_settings(settings);
    }
    let first_use = first_use(options);

    let mut results = ProviderResults {
        authorization_endpoint: endpoints.authorization.as_ref().ok().map(Url::to_string).or_else(|| discovery.str("authorization_endpoint").map(str::to_string)),
        token_endpoint: endpoints.token.as_ref().ok().map(Url::to_string).or_else(|| discovery.str("token_endpoint").map(str::to_string)),
        authorize: provider::Probe::NotSent(provider::NotSent::MissingSetting("OIDC_CLIENT_ID")),
        token: provider::Probe::NotSent(provider::NotSent::MissingSetting("OIDC_CLIENT_ID")),
        first_use,
    };
    let request = match provider::ProviderRequest::from_settings(settings) {
        Ok(request) => request,
        Err(missing) => {
            results.authorize = provider::Probe::NotSent(provider::NotSent::MissingSetting(missing));
            results.token = provider::Probe::NotSent(provider::NotSent::MissingSetting(missing));
            return Ok(results);
        }
    };

    results.authorize = match (&endpoints.authorization, first_use) {
        (_, provider::FirstUse::Refused) => provider::Probe::NotSent(provider::NotSent::FirstUseRisk),
        (Err(not_sent), _) => provider::Probe::NotSent(not_sent.clone()),
        (Ok(endpoint), _) => {
            if first_use == provider::FirstUse::Unknown {
                log::warn!(
                    "authentik stores the redirect URI of the first authorization request when its provider has none; \
                     the authorization probe sends OIDC_REDIRECT_URI"
                );
            }
            provider::Probe::Sent(provider::probe_authorize(sender, endpoint, &request).await)
        }
    };

    results.token = match (&endpoints.token, request.client_auth) {
        (_, method @ (ClientAuth::Saml2Bearer | ClientAuth::Mtls)) => provider::Probe::NotSent(provider::NotSent::UnsupportedClientAuth(method)),
        (Err(not_sent), _) => provider::Probe::NotSent(not_sent.clone()),
        (Ok(endpoint), _) => provider::Probe::Sent(provider::probe_token(sender, endpoint, &request).await),
    };
    Ok(results)
}

fn first_use(options: &ProbeOptions) -> provider::FirstUse {
    if options.provider_kind != Some(ProviderKind::Authentik) {
        return provider::FirstUse::NoRisk;
    }
    match options.registered_redirect_uris {
        Some(0) if options.allow_first_use_registration => provider::FirstUse::Registered,
        Some(0) => provider::FirstUse::Refused,
        Some(_) => provider::FirstUse::NoRisk,
        None => provider::FirstUse::Unknown,
    }
}
