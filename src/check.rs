//! One check run: load the env files, gather the provider documents, run the rules.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::document::{Document, DocumentKind};
use crate::envfile::{EnvSet, LoadError};
use crate::fetch::{self, ClientError, HttpOptions};
use crate::finding::Finding;
use crate::mastodon::{self, Settings};
use crate::providers::{self, Provider};
use crate::rules::{self, Context, FetchFailure, Input, Skipped};

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
    pub mastodon_url: Option<String>,
    /// Hosts besides the issuer's that may receive the client secret.
    pub allowed_secret_hosts: Vec<String>,
    pub http: HttpOptions,
}

/// Failures that stop a run before any rule: the CLI exits with status 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("cannot read {path}: {source}")]
    ReadDocument {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// What was checked, for the report.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Checked {
    pub files: Vec<String>,
    pub issuer: Option<String>,
    pub discovery: Option<String>,
    pub jwks: Option<String>,
    pub provider: Option<Provider>,
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
}

/// Runs every rule against the files and documents the options name.
pub fn run(options: &Options) -> Result<Outcome, Error> {
    let env = EnvSet::load(&options.path, options.process_env.clone())?;
    let gathered = gather_documents(options, &env)?;

    let settings = Settings::new(&env);
    let provider = providers::detect(settings.raw("OIDC_ISSUER"), gathered.discovery.as_ref());
    let mut context = Context::new(&env);
    context.discovery = gathered.discovery.as_ref();
    context.jwks = gathered.jwks.as_ref();
    context.provider = provider.clone();
    context.fetch_failures = &gathered.failures;
    context.unavailable = gathered.unavailable.clone();
    let (findings, skipped) = rules::run(&context);

    let checked = Checked {
        files: env.files.iter().map(|file| file.source.path.display().to_string()).collect(),
        issuer: settings.raw("OIDC_ISSUER").map(str::to_string),
        discovery: gathered.discovery.as_ref().map(|document| document.source.clone()).or(gathered.discovery_url.clone()),
        jwks: gathered.jwks.as_ref().map(|document| document.source.clone()).or(gathered.jwks_url.clone()),
        provider: Some(provider),
    };
    Ok(Outcome {
        discovery: gathered.discovery,
        jwks: gathered.jwks,
        fetch_failures: gathered.failures,
        findings,
        skipped,
        checked,
        env,
    })
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

fn read_document(kind: DocumentKind, path: &PathBuf) -> Result<Document, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadDocument { path: path.clone(), source })?;
    Ok(Document::from_text(kind, path.display().to_string(), text, true))
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
            Some(url) => Some(fetch::fetch_document(client, &options.http, DocumentKind::Discovery, url, discovery_on).await),
            None => None,
        }
    };
    let manual_jwks_request = async {
        match &manual_jwks {
            Some(url) => Some(fetch::fetch_document(client, &options.http, DocumentKind::Jwks, url, true).await),
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
                Some(url) => Some(fetch::fetch_document(client, &options.http, DocumentKind::Jwks, &url, discovery_on).await),
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
