//! One check run: load the env files, gather the provider documents, run the rules.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::document::{Document, DocumentKind};
use crate::envfile::{EnvSet, LoadError};
use crate::fetch::{self, ClientError, HttpOptions};
use crate::finding::Finding;
use crate::mastodon::{self, Settings};
use crate::probe::{self, ProbeOptions, ProbeResults, ProbeScope};
use crate::progress::Progress;
use crate::providers::{self, authentik, Provider, ProviderKind};
use crate::rules::{self, Context, ExpiryThresholds, FetchFailure, Input, Skipped};

/// Everything a run needs to know, independent of the output format.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// A file, or a Mastodon directory whose env files are read in Rails order.
    pub path: PathBuf,
    /// Variables of Mastodon's process environment (`--env`), which beat the files.
    pub process_env: HashMap<String, String>,
    pub offline: bool,
    pub discovery_file: Option<PathBuf>,
    pub jwks_file: Option<PathBuf>,
    /// Severity overrides and ignores (`--config`).
    pub config: Option<PathBuf>,
    /// `--authentik-version`, for when the server does not reveal it.
    pub authentik_version: Option<String>,
    /// `--authentik-token-file`; the token itself is never kept in the options.
    pub authentik_token_file: Option<PathBuf>,
    /// `--probe`: send the live authorization, token and Mastodon probes.
    pub probe: bool,
    /// `--probe=provider` or `--probe=mastodon`: which probes `--probe` sends.
    pub probe_scope: ProbeScope,
    /// `--allow-first-use-registration`: send the authorization probe even to
    /// an authentik provider without redirect URIs, which then registers it.
    pub allow_first_use_registration: bool,
    pub mastodon_url: Option<String>,
    /// Hosts besides the issuer's that may receive the client secret.
    pub allowed_secret_hosts: Vec<String>,
    pub http: HttpOptions,
    /// `--cert-warn-days` and `--cert-error-days`.
    pub certificate_expiry: ExpiryThresholds,
    /// The moment rules compare certificate dates with, in seconds since the
    /// Unix epoch; `None` uses the clock.
    pub now: Option<i64>,
    /// The progress line that names each request while it runs.
    pub progress: Progress,
}

/// Failures that stop a run before any rule: the CLI exits with status 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{path} is {detail}")]
    InvalidDocument { path: PathBuf, detail: String },
    #[error("cannot read {path}: {source}")]
    ReadDocument {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    AuthentikVersion(#[from] authentik::version::InvalidVersion),
    #[error(transparent)]
    AuthentikToken(#[from] authentik::api::TokenError),
}

/// Summary of the checked inputs, for the report.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Checked {
    pub files: Vec<String>,
    pub issuer: Option<String>,
    pub discovery: Option<String>,
    pub jwks: Option<String>,
    pub provider: Option<Provider>,
    /// The authentik release the caveats were judged for and what the admin API read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentik: Option<authentik::Summary>,
    /// The requests the live probes sent, with `--probe`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probes: Option<probe::Summary>,
}

/// The result of a run, before overrides and output.
pub struct Outcome {
    pub env: EnvSet,
    pub discovery: Option<Document>,
    pub jwks: Option<Document>,
    pub fetch_failures: Vec<FetchFailure>,
    pub findings: Vec<Finding>,
    pub skipped: Vec<Skipped>,
    pub checked: Checked,
    /// Secrets learned during the run (an API token, a provider's client
    /// secret) that every output must mask besides the env files' secrets.
    pub secrets: Vec<String>,
}

/// Decides whether an AUTHENTIK_TOKEN from this tool's own environment may go
/// to the issuer's host. The token and the checked file may come from
/// different places, such as a CI job with AUTHENTIK_TOKEN set for Terraform
/// that checks a file from a pull request. So when AUTHENTIK_URL is set too,
/// as the authentik Terraform provider expects, its origin must be the issuer's.
fn environment_token_allowed(options: &Options, env: &EnvSet) -> bool {
    if options.authentik_token_file.is_some() {
        return true;
    }
    let Ok(authentik_url) = std::env::var("AUTHENTIK_URL") else { return true };
    let origin = |text: &str| url::Url::parse(text).ok().map(|url| url.origin().ascii_serialization());
    let issuer = Settings::new(env).raw("OIDC_ISSUER").and_then(origin);
    let allowed = issuer.is_some() && issuer == origin(&authentik_url);
    if !allowed {
        log::warn!("AUTHENTIK_TOKEN was not used: AUTHENTIK_URL names another origin than OIDC_ISSUER; pass --authentik-token-file to use a token for this issuer");
    }
    allowed
}

/// Runs every rule against the files and documents the options name.
pub fn run(options: &Options) -> Result<Outcome, Error> {
    let env = EnvSet::load(&options.path, options.process_env.clone())?;
    crate::logging::set_redactor(crate::redact::Redactor::from_env(&env));
    // Both are read before any request, so a bad flag or token file stops the run early.
    let authentik_version = options.authentik_version.as_deref().map(authentik::version::parse_cli).transpose()?;
    let authentik_token = authentik::api::Token::load(options.authentik_token_file.as_deref())?;
    if let Some(token) = &authentik_token {
        crate::logging::add_secret(token.expose());
    }
    let authentik_token = authentik_token.filter(|_| environment_token_allowed(options, &env));
    let mut gathered = gather_documents(options, &env)?;

    let settings = Settings::new(&env);
    let provider = providers::detect(settings.raw("OIDC_ISSUER"), gathered.discovery.as_ref());
    let authentik_facts = gather_authentik(options, &settings, &provider, &mut gathered, authentik_version, authentik_token.as_ref())?;
    let probes = gather_probes(options, &settings, &provider, &mut gathered, authentik_facts.as_ref())?;
    let mut context = Context::new(&env);
    context.discovery = gathered.discovery.as_ref();
    context.jwks = gathered.jwks.as_ref();
    context.provider = provider.clone();
    context.fetch_failures = &gathered.failures;
    context.unavailable = gathered.unavailable.clone();
    context.authentik = authentik_facts.as_ref();
    context.probes = probes.as_ref();
    context.certificate_expiry = options.certificate_expiry;
    if let Some(now) = options.now {
        context.now = now;
    }
    let (findings, skipped) = rules::run(&context);

    let checked = Checked {
        files: env.files.iter().map(|file| file.source.path.display().to_string()).collect(),
        issuer: settings.raw("OIDC_ISSUER").map(str::to_string),
        discovery: gathered.discovery.as_ref().map(|document| document.source.clone()).or(gathered.discovery_url.clone()),
        jwks: gathered.jwks.as_ref().map(|document| document.source.clone()).or(gathered.jwks_url.clone()),
        provider: Some(provider),
        authentik: authentik_facts.as_ref().map(authentik::Facts::summary),
        probes: probes.as_ref().map(ProbeResults::summary),
    };
    let mut secrets: Vec<String> = authentik_token.iter().map(|token| token.expose().to_string()).collect();
    secrets.extend(authentik_facts.iter().flat_map(|facts| facts.secrets.iter().cloned()));
    Ok(Outcome {
        discovery: gathered.discovery,
        jwks: gathered.jwks,
        fetch_failures: gathered.failures,
        findings,
        skipped,
        checked,
        secrets,
        env,
    })
}

/// Learns the authentik release and reads the admin API, for authentik
/// servers only. Saved documents and --offline keep it off the network, like
/// the documents. Marks the authentik inputs the facts cannot supply.
fn gather_authentik(
    options: &Options,
    settings: &Settings<'_>,
    provider: &Provider,
    gathered: &mut Gathered,
    cli_version: Option<(authentik::version::Version, String)>,
    token: Option<&authentik::api::Token>,
) -> Result<Option<authentik::Facts>, Error> {
    if provider.kind != ProviderKind::Authentik {
        if token.is_some() {
            log::warn!("an authentik admin API token was given, but the provider is not authentik; the token was not used");
        }
        if let Some((_, text)) = &cli_version {
            log::warn!("--authentik-version {text} was given, but the provider is not authentik; it was not used");
        }
        return Ok(None);
    }
    let request = authentik::Request {
        issuer: settings.raw("OIDC_ISSUER").unwrap_or_default(),
        client_id: settings.raw("OIDC_CLIENT_ID"),
        discovery: gathered.discovery.as_ref(),
        cli_version,
        token,
    };
    let saved = options.discovery_file.is_some() || options.jwks_file.is_some();
    let facts = if options.offline || saved {
        let reason = if options.offline { "--offline was given" } else { "saved documents were given, so nothing is fetched" };
        authentik::collect_offline(&request, reason)
    } else {
        let client = fetch::build_client(&options.http)?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|error| ClientError::Build(error.to_string()))?;
        let facts = {
            let _step = options.progress.start("asking authentik for its release and provider");
            runtime.block_on(authentik::collect(&client, &options.http, &request))
        };
        options.progress.finish();
        facts
    };
    if let Some(reason) = facts.version_unavailable() {
        gathered.unavailable(Input::AuthentikVersion, reason);
    }
    if let Some(reason) = facts.api_unavailable() {
        gathered.unavailable(Input::AuthentikApi, reason);
    }
    Ok(Some(facts))
}

/// Runs the live probes when --probe is given on a live run: saved documents
/// and --offline keep the run off the network. Marks the probe inputs that
/// did not run, with the reason.
fn gather_probes(
    options: &Options,
    settings: &Settings,
    provider: &Provider,
    gathered: &mut Gathered,
    authentik_facts: Option<&authentik::Facts>,
) -> Result<Option<ProbeResults>, Error> {
    let saved = options.discovery_file.is_some() || options.jwks_file.is_some();
    let not_run = if !options.probe {
        Some("--probe was not given")
    } else if options.offline {
        Some("--offline was given")
    } else if saved {
        Some("saved documents were given, and probes run only with fetched ones")
    } else {
        None
    };
    if let Some(reason) = not_run {
        gathered.unavailable(Input::ProviderProbe, format!("no probe: {reason}"));
        gathered.unavailable(Input::MastodonProbe, format!("no probe: {reason}"));
        return Ok(None);
    }

    // The admin API, when it was read, shows whether authentik would register
    // the probed redirect URI as the provider's first one.
    let registered_redirect_uris = authentik_facts
        .and_then(|facts| facts.api.as_ref())
        .and_then(|api| api.provider.as_ref())
        .and_then(|object| object.redirect_uris.as_ref())
        .map(|uris| uris.entries().iter().filter(|entry| entry.is_authorization()).count());
    let probe_options = ProbeOptions {
        scope: options.probe_scope,
        mastodon_url: options.mastodon_url.clone(),
        allowed_secret_hosts: options.allowed_secret_hosts.clone(),
        allow_first_use_registration: options.allow_first_use_registration,
        registered_redirect_uris,
        provider_kind: Some(provider.kind),
        http: options.http.clone(),
        progress: options.progress.clone(),
    };
    let results = probe::run(&probe_options, settings, gathered.discovery.as_ref())?;
    if let Err(reason) = &results.provider {
        gathered.unavailable(Input::ProviderProbe, format!("no provider probe: {reason}"));
    }
    if let Err(reason) = &results.mastodon {
        gathered.unavailable(Input::MastodonProbe, format!("no Mastodon probe: {reason}"));
    }
    Ok(Some(results))
}

#[derive(Default)]
struct Gathered {
    discovery: Option<Document>,
    jwks: Option<Document>,
    discovery_url: Option<String>,
    jwks_url: Option<String>,
    failures: Vec<FetchFailure>,
    unavailable: Vec<(Input, String)>,
}

impl Gathered {
    fn unavailable(&mut self, input: Input, reason: impl Into<String>) {
        self.unavailable.push((input, reason.into()));
    }
}

/// Reads a saved document. A file that is not JSON is unusable input (exit
/// status 2), not a finding: the admin chose the file, the provider did not.
fn read_document(kind: DocumentKind, path: &PathBuf) -> Result<Document, Error> {
    use std::io::Read;

    let read_error = |source| Error::ReadDocument { path: path.clone(), source };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(fetch::DEFAULT_MAX_BYTES + 1).read_to_end(&mut bytes).map_err(read_error)?;
    if bytes.len() as u64 > fetch::DEFAULT_MAX_BYTES {
        return Err(Error::InvalidDocument { path: path.clone(), detail: format!("larger than {} bytes", fetch::DEFAULT_MAX_BYTES) });
    }
    let text = String::from_utf8(bytes).map_err(|_| Error::InvalidDocument { path: path.clone(), detail: "not UTF-8 text".into() })?;
    let document = Document::from_text(kind, path.display().to_string(), text, true);
    if document.json.is_none() {
        let detail = serde_json::from_str::<serde_json::Value>(&document.text).err().map(|error| error.to_string()).unwrap_or_default();
        return Err(Error::InvalidDocument { path: path.clone(), detail: format!("not valid JSON ({detail})") });
    }
    if document.object().is_none() {
        return Err(Error::InvalidDocument { path: path.clone(), detail: format!("not a JSON object, so not a {}", kind.noun()) });
    }
    Ok(document)
}

/// Reads saved documents, or fetches them. Saved documents keep the run off
/// the network: a document not given as a file is then skipped, not fetched.
fn gather_documents(options: &Options, env: &EnvSet) -> Result<Gathered, Error> {
    let mut gathered = Gathered::default();
    let settings = Settings::new(env);
    let saved = options.discovery_file.is_some() || options.jwks_file.is_some();

    if let Some(path) = &options.discovery_file {
        gathered.discovery = Some(read_document(DocumentKind::Discovery, path)?);
    }
    if let Some(path) = &options.jwks_file {
        gathered.jwks = Some(read_document(DocumentKind::Jwks, path)?);
    }

    if options.offline || saved {
        let reason = if options.offline { "--offline was given" } else { "saved documents were given, so nothing is fetched" };
        if gathered.discovery.is_none() {
            gathered.unavailable(Input::Discovery, format!("no discovery document: {reason}"));
        }
        if gathered.jwks.is_none() {
            gathered.unavailable(Input::Jwks, format!("no JWKS: {reason}"));
        }
        gathered.unavailable(Input::Network, format!("no network request: {reason}"));
        mark_unusable(&mut gathered);
        return Ok(gathered);
    }

    let client = fetch::build_client(&options.http)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|error| ClientError::Build(error.to_string()))?;
    runtime.block_on(fetch_all(&client, options, &settings, &mut gathered));
    options.progress.finish();
    mark_unusable(&mut gathered);
    Ok(gathered)
}

/// Marks documents that are not JSON objects as unavailable for the rules that read them.
fn mark_unusable(gathered: &mut Gathered) {
    if gathered.discovery.as_ref().is_some_and(|document| document.object().is_none()) {
        gathered.unavailable(Input::Discovery, "the discovery document is not a JSON object");
    }
    if gathered.jwks.as_ref().is_some_and(|document| document.object().is_none()) {
        gathered.unavailable(Input::Jwks, "the JWKS is not a JSON object");
    }
}

async fn fetch_all(client: &reqwest::Client, options: &Options, settings: &Settings<'_>, gathered: &mut Gathered) {
    let discovery_on = settings.discovery();
    let discovery_url = settings.raw("OIDC_ISSUER").filter(|issuer| !issuer.is_empty()).map(mastodon::discovery_url);
    let discovery_url = match discovery_url {
        Some(Ok(url)) => Some(url.to_string()),
        Some(Err(error)) => {
            gathered.unavailable(Input::Discovery, format!("no discovery document: OIDC_ISSUER is not a valid URL ({error})"));
            gathered.failures.push(FetchFailure {
                document: DocumentKind::Discovery,
                url: settings.raw("OIDC_ISSUER").unwrap_or_default().to_string(),
                kind: crate::rules::FetchFailureKind::InvalidUrl,
                detail: error.to_string(),
                required: discovery_on,
            });
            None
        }
        None => {
            gathered.unavailable(Input::Discovery, "no discovery document: OIDC_ISSUER is not set");
            None
        }
    };
    gathered.discovery_url = discovery_url.clone();

    // Without discovery Mastodon reads the JWKS from OIDC_JWKS_URI, which does
    // not depend on the discovery document, so both requests run at once.
    let manual_jwks = (!discovery_on)
        .then(|| settings.raw("OIDC_JWKS_URI"))
        .flatten()
        .filter(|uri| uri.starts_with("https://") || uri.starts_with("http://"))
        .map(str::to_string);

    let discovery_request = async {
        match &discovery_url {
            Some(url) => {
                let _step = options.progress.fetching(DocumentKind::Discovery, url);
                Some(fetch::fetch_document(client, &options.http, DocumentKind::Discovery, url, discovery_on).await)
            }
            None => None,
        }
    };
    let manual_jwks_request = async {
        match &manual_jwks {
            Some(url) => {
                let _step = options.progress.fetching(DocumentKind::Jwks, url);
                Some(fetch::fetch_document(client, &options.http, DocumentKind::Jwks, url, true).await)
            }
            None => None,
        }
    };
    let (discovery, jwks) = tokio::join!(discovery_request, manual_jwks_request);

    match discovery {
        Some(Ok(document)) => gathered.discovery = Some(document),
        Some(Err(failure)) => {
            gathered.unavailable(Input::Discovery, format!("the discovery document could not be fetched from {}", failure.url));
            gathered.failures.push(failure);
        }
        None => {}
    }

    let jwks = match jwks {
        Some(result) => {
            gathered.jwks_url = manual_jwks.clone();
            Some(result)
        }
        None => {
            let url = gathered.discovery.as_ref().and_then(|document| document.str("jwks_uri")).map(str::to_string);
            gathered.jwks_url = url.clone();
            match url {
                Some(url) => {
                    let _step = options.progress.fetching(DocumentKind::Jwks, &url);
                    Some(fetch::fetch_document(client, &options.http, DocumentKind::Jwks, &url, discovery_on).await)
                }
                None => None,
            }
        }
    };
    match jwks {
        Some(Ok(document)) => gathered.jwks = Some(document),
        Some(Err(failure)) => {
            gathered.unavailable(Input::Jwks, format!("the JWKS could not be fetched from {}", failure.url));
            gathered.failures.push(failure);
        }
        None => gathered.unavailable(Input::Jwks, "no JWKS: no jwks_uri is known"),
    }
}
