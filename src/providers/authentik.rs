//! authentik: issuer layout, fingerprints, the release a server runs, and
//! the admin API objects of the provider Mastodon logs in with.
//!
//! Facts from authentik's source (`authentik/providers/oauth2/`), 2024.2 to 2026.8.
//! The rules that judge them are in `crate::rules` (`authentik-*`).

pub mod api;
mod gather;
pub mod redirect;
pub mod version;

pub use gather::{collect, collect_offline, Request};

use api::ApiFacts;
use version::{KnownVersion, Version, VersionSource};

/// The ACR value authentik's discovery document always lists
/// (`ACR_AUTHENTIK_DEFAULT`, `authentik/common/oauth/constants.py`).
pub const ACR_DEFAULT: &str = "goauthentik.io/providers/oauth2/default";

/// Returns the application slug of a per-provider issuer path,
/// `/application/o/<slug>/`, with or without the trailing slash.
pub fn slug_from_issuer_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/application/o/")?;
    let slug = rest.strip_suffix('/').unwrap_or(rest);
    let valid = !slug.is_empty()
        && !slug.contains('/')
        && !matches!(slug, "authorize" | "token" | "userinfo" | "introspect" | "revoke" | "device");
    valid.then_some(slug)
}

/// Facts about an authentik server beyond its discovery document: the
/// release, and the admin API objects when a token was given.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// The release the version caveats are judged for.
    pub version: Option<KnownVersion>,
    /// Sources tried without success, or the reason none was tried.
    pub version_notes: Vec<String>,
    /// The oldest release the discovery document can come from, with the field that shows it.
    pub minimum: Option<(Version, &'static str)>,
    /// The admin API objects, when a token was given and the API was asked.
    pub api: Option<ApiFacts>,
    /// The reason the admin API was not asked, when it was not.
    pub api_skipped: Option<ApiSkipped>,
    /// Secrets met on the way (the token, the provider's client secret) that
    /// every output must mask.
    pub secrets: Vec<String>,
}

impl Facts {
    /// Returns the reason version-specific rules cannot run, or `None` when a release is known.
    pub fn version_unavailable(&self) -> Option<String> {
        if self.version.is_some() {
            return None;
        }
        // The details (what was tried) are in the summary's version_detail.
        Some("no authentik version known: pass --authentik-version X.Y.Z".to_string())
    }

    /// Lists the sources tried to learn the release, and the next step.
    fn unknown_version_detail(&self) -> String {
        let mut details = self.version_notes.clone();
        if let Some((minimum, field)) = &self.minimum {
            details.push(format!("the discovery document lists {field}, so it is at least {}.{}", minimum.year, minimum.minor));
        }
        details.push("pass --authentik-version X.Y.Z".to_string());
        details.join("; ")
    }

    /// Returns the reason the admin API cross-check cannot run, or `None`
    /// when the provider object was read.
    pub fn api_unavailable(&self) -> Option<String> {
        if let Some(skipped) = &self.api_skipped {
            return Some(skipped.reason());
        }
        let api = self.api.as_ref()?;
        if api.provider.is_some() {
            return None;
        }
        Some(format!("the authentik admin API did not return the OAuth2 provider ({})", api_failures(api)))
    }

    /// Returns the provider object read through the admin API.
    pub fn provider(&self) -> Option<&api::ProviderObject> {
        self.api.as_ref()?.provider.as_ref()
    }

    /// Describes the judged release for messages: "authentik 2025.10.0-rc1 (from the admin API)".
    pub fn judged_version(&self) -> String {
        match &self.version {
            Some(known) => format!("authentik {} ({})", known.text, source_phrase(known.source)),
            None => "authentik (release unknown)".to_string(),
        }
    }

    /// Summarises the version and admin API state for the report.
    pub fn summary(&self) -> Summary {
        let admin_api = match (&self.api_skipped, &self.api) {
            (Some(skipped), _) => format!("not read ({})", skipped.cause()),
            (None, Some(api)) => match (&api.provider, &api.found_through) {
                (Some(provider), Some(through)) => {
                    let mut text = format!("read the OAuth2 provider {} through {through}", provider.describe());
                    if !api.failures.is_empty() {
                        let failed: Vec<&str> = api.failures.iter().map(|failure| failure.what).collect();
                        text.push_str(&format!("; could not read: {}", failed.join(", ")));
                    }
                    text
                }
                _ => format!("not read: the OAuth2 provider was not returned ({})", api_failures(api)),
            },
            (None, None) => "not read".to_string(),
        };
        Summary {
            version: self.version.as_ref().map(|known| known.text.clone()),
            version_source: self.version.as_ref().map(|known| known.source),
            version_detail: match &self.version {
                Some(known) if self.version_notes.is_empty() => known.detail.clone(),
                Some(known) => format!("{}; {}", known.detail, self.version_notes.join("; ")),
                None => self.unknown_version_detail(),
            },
            minimum_version: self.minimum.as_ref().map(|(minimum, field)| format!("{}.{} ({field} in the discovery document)", minimum.year, minimum.minor)),
            admin_api_read: self.provider().is_some(),
            admin_api,
        }
    }
}

/// The reason the admin API was not asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiSkipped {
    /// Neither --authentik-token-file nor AUTHENTIK_TOKEN was given.
    NoToken,
    /// A token was given, but the run sent no request to the server, for the stated cause.
    NotAsked(String),
}

impl ApiSkipped {
    /// Returns the cause alone: "--offline was given".
    pub fn cause(&self) -> String {
        match self {
            ApiSkipped::NoToken => format!("no admin API token given: pass --authentik-token-file FILE or set {}", api::TOKEN_VARIABLE),
            ApiSkipped::NotAsked(cause) => cause.clone(),
        }
    }

    /// Returns the reason the cross-check rules are skipped, for the report.
    pub fn reason(&self) -> String {
        match self {
            ApiSkipped::NoToken => self.cause(),
            ApiSkipped::NotAsked(cause) => format!("the authentik admin API was not read: {cause}"),
        }
    }
}

/// Lists the failed admin API requests: "version: HTTP 403: Token invalid/expired".
fn api_failures(api: &ApiFacts) -> String {
    let failures: Vec<String> = api.failures.iter().map(|failure| format!("{}: {}", failure.what, failure.detail)).collect();
    failures.join("; ")
}

fn source_phrase(source: VersionSource) -> &'static str {
    match source {
        VersionSource::AdminApi => "from the admin API",
        VersionSource::Header => "from the X-authentik-version header",
        VersionSource::AssetNames => "from the asset names of an authentik page",
        VersionSource::CommandLine => "from --authentik-version",
    }
}

/// The authentik part of the report's `checked` section.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    /// The release the version caveats were judged for, as the source wrote it.
    pub version: Option<String>,
    pub version_source: Option<VersionSource>,
    /// The source of the version, or the sources tried and the next step when it is unknown.
    pub version_detail: String,
    /// The oldest release the discovery document allows, when it shows one.
    pub minimum_version: Option<String>,
    /// The objects the admin API cross-check read, or the reason it did not run.
    pub admin_api: String,
    pub admin_api_read: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_from_per_provider_issuer() {
        assert_eq!(slug_from_issuer_path("/application/o/mastodon/"), Some("mastodon"));
        assert_eq!(slug_from_issuer_path("/application/o/mastodon"), Some("mastodon"));
    }

    #[test]
    fn shared_endpoints_are_not_slugs() {
        assert_eq!(slug_from_issuer_path("/application/o/authorize/"), None);
        assert_eq!(slug_from_issuer_path("/application/o/"), None);
        assert_eq!(slug_from_issuer_path("/"), None);
    }
}
