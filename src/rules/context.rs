//! Shared input of every rule: the env files, the Mastodon settings, the provider
//! documents and the outcome of the requests made for them.

use crate::document::{Document, DocumentKind};
use crate::envfile::{EnvSet, Origin};
use crate::finding::Label;
use crate::mastodon::Settings;
use crate::providers::{Provider, ProviderKind};

use super::tls::ExpiryThresholds;
use super::Input;

/// Cause of a failed request for a provider document. Each kind has its own rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchFailureKind {
    Dns,
    Connect,
    Timeout,
    TlsExpired,
    TlsUntrusted,
    TlsHostname,
    Tls,
    HttpStatus(u16),
    Redirect(Option<String>),
    ContentType(String),
    InvalidJson,
    TooLarge(u64),
    InvalidUrl,
}

/// A failed request for a provider document.
#[derive(Clone, Debug)]
pub struct FetchFailure {
    pub document: DocumentKind,
    pub url: String,
    pub kind: FetchFailureKind,
    /// The underlying error, for the message.
    pub detail: String,
    /// False when the document was fetched only for a cross-check that
    /// Mastodon itself does not need (discovery turned off).
    pub required: bool,
}

/// An effective variable with the place it was written.
#[derive(Clone, Debug)]
pub struct Var<'a> {
    pub name: &'a str,
    pub value: &'a str,
    /// Points at the value, or at the key when the value is empty or the
    /// variable comes from the process environment.
    pub label: Option<Label>,
}

/// The shared, already fetched input of every rule.
pub struct Context<'a> {
    pub env: &'a EnvSet,
    pub settings: Settings<'a>,
    pub discovery: Option<&'a Document>,
    pub jwks: Option<&'a Document>,
    pub provider: Provider,
    pub fetch_failures: &'a [FetchFailure],
    /// Inputs that are absent, with the reason the report gives.
    pub unavailable: Vec<(Input, String)>,
    /// Seconds since the Unix epoch that time-dependent rules compare with:
    /// the clock by default, a fixed moment in tests.
    pub now: i64,
    /// `--cert-warn-days` and `--cert-error-days`.
    pub certificate_expiry: ExpiryThresholds,
    /// The results of the live probes (`--probe`); `None` when none ran.
    pub probes: Option<&'a crate::probe::ProbeResults>,
    /// The authentik release and admin API objects; `None` unless the provider is authentik.
    pub authentik: Option<&'a crate::providers::authentik::Facts>,
}

impl<'a> Context<'a> {
    pub fn new(env: &'a EnvSet) -> Self {
        let settings = Settings::new(env);
        let provider = crate::providers::detect(settings.raw("OIDC_ISSUER"), None);
        Context {
            env,
            settings,
            discovery: None,
            jwks: None,
            provider,
            fetch_failures: &[],
            unavailable: Vec::new(),
            now: unix_now(),
            certificate_expiry: ExpiryThresholds::default(),
            probes: None,
            authentik: None,
        }
    }

    /// Returns the reason the first missing input is missing.
    pub fn missing_input(&self, needs: &[Input]) -> Option<String> {
        needs.iter().find_map(|input| {
            self.unavailable.iter().find(|(missing, _)| missing == input).map(|(_, reason)| reason.clone())
        })
    }

    /// Returns the effective value of a variable, with its location.
    pub fn var(&self, name: &str) -> Option<Var<'a>> {
        let value = self.env.get(name)?;
        let label = match (value.origin, value.entry) {
            (Origin::File(file), Some(entry)) => {
                let span = if entry.value_span.is_empty() { entry.key_span } else { entry.value_span };
                Some(Label::new(file, span))
            }
            _ => None,
        };
        Some(Var { name: value.key, value: value.value, label })
    }

    /// Returns a label on the key of a variable, for findings about the whole line.
    pub fn key_label(&self, name: &str) -> Option<Label> {
        let value = self.env.get(name)?;
        match (value.origin, value.entry) {
            (Origin::File(file), Some(entry)) => Some(Label::new(file, entry.key_span)),
            _ => None,
        }
    }

    /// Returns a label spanning the whole `KEY=value` assignment.
    pub fn line_label(&self, name: &str) -> Option<Label> {
        let value = self.env.get(name)?;
        match (value.origin, value.entry) {
            (Origin::File(file), Some(entry)) => {
                let end = entry.value_span.end.max(entry.key_span.end);
                Some(Label::new(file, crate::envfile::Span::new(entry.key_span.start, end)))
            }
            _ => None,
        }
    }

    pub fn is_provider(&self, kind: ProviderKind) -> bool {
        self.provider.kind == kind
    }

    /// Returns the discovery document when it contains a JSON object.
    pub fn discovery_object(&self) -> Option<&'a Document> {
        self.discovery.filter(|document| document.object().is_some())
    }
}

/// Returns the current time in seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}
