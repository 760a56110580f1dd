//! Identity providers the tool recognises, from the issuer and the discovery
//! document alone. Provider-specific knowledge lives in the submodules.

pub mod authentik;

use url::Url;

use crate::document::Document;

/// A provider family with its own caveats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    Authentik,
    Keycloak,
    Authelia,
    Kanidm,
    Zitadel,
    EntraId,
    Google,
    Unknown,
}

impl ProviderKind {
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::Authentik => "authentik",
            ProviderKind::Keycloak => "Keycloak",
            ProviderKind::Authelia => "Authelia",
            ProviderKind::Kanidm => "Kanidm",
            ProviderKind::Zitadel => "Zitadel",
            ProviderKind::EntraId => "Microsoft Entra ID",
            ProviderKind::Google => "Google",
            ProviderKind::Unknown => "unknown provider",
        }
    }
}

/// The recognised provider and what gave it away.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Provider {
    pub kind: ProviderKind,
    pub evidence: String,
}

/// Recognises the provider from the issuer URL and, when present, the discovery document.
pub fn detect(issuer: Option<&str>, discovery: Option<&Document>) -> Provider {
    if let Some(document) = discovery {
        if let Some(provider) = detect_from_discovery(document) {
            return provider;
        }
    }
    issuer
        .and_then(|issuer| Url::parse(issuer).ok())
        .and_then(|url| detect_from_issuer(&url))
        .unwrap_or(Provider { kind: ProviderKind::Unknown, evidence: String::new() })
}

fn provider(kind: ProviderKind, evidence: impl Into<String>) -> Option<Provider> {
    Some(Provider { kind, evidence: evidence.into() })
}

fn detect_from_discovery(document: &Document) -> Option<Provider> {
    let acr = document.strings("acr_values_supported").unwrap_or_default();
    if acr.contains(&authentik::ACR_DEFAULT) {
        return provider(ProviderKind::Authentik, format!("acr_values_supported lists {}", authentik::ACR_DEFAULT));
    }
    // authentik's Django views put a request id in X-authentik-id on every response.
    for header in ["x-authentik-version", "x-authentik-id"] {
        if document.header(header).is_some() {
            return provider(ProviderKind::Authentik, format!("the discovery response has an {header} header"));
        }
    }
    let authorize = document.str("authorization_endpoint").and_then(|url| Url::parse(url).ok())?;
    let path = authorize.path();
    if path.ends_with("/application/o/authorize/") {
        return provider(ProviderKind::Authentik, "authorization endpoint /application/o/authorize/");
    }
    if path.contains("/protocol/openid-connect/auth") {
        return provider(ProviderKind::Keycloak, "authorization endpoint /protocol/openid-connect/auth");
    }
    if path == "/api/oidc/authorization" {
        return provider(ProviderKind::Authelia, "authorization endpoint /api/oidc/authorization");
    }
    if path == "/ui/oauth2" {
        return provider(ProviderKind::Kanidm, "authorization endpoint /ui/oauth2");
    }
    if path == "/oauth/v2/authorize" {
        return provider(ProviderKind::Zitadel, "authorization endpoint /oauth/v2/authorize");
    }
    None
}

fn detect_from_issuer(issuer: &Url) -> Option<Provider> {
    let host = issuer.host_str().unwrap_or_default().to_ascii_lowercase();
    let path = issuer.path();
    if host == "login.microsoftonline.com" || host == "sts.windows.net" {
        return provider(ProviderKind::EntraId, format!("issuer host {host}"));
    }
    if host == "accounts.google.com" {
        return provider(ProviderKind::Google, "issuer host accounts.google.com");
    }
    if authentik::slug_from_issuer_path(path).is_some() {
        return provider(ProviderKind::Authentik, "issuer path /application/o/<slug>/");
    }
    if path.starts_with("/realms/") || path.starts_with("/auth/realms/") {
        return provider(ProviderKind::Keycloak, "issuer path /realms/<realm>");
    }
    if path.starts_with("/oauth2/openid/") {
        return provider(ProviderKind::Kanidm, "issuer path /oauth2/openid/<client>");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_paths_identify_providers() {
        let cases = [
            ("https://auth.example/application/o/mastodon/", ProviderKind::Authentik),
            ("https://auth.example/application/o/mastodon", ProviderKind::Authentik),
            ("https://auth.example/realms/example", ProviderKind::Keycloak),
            ("https://auth.example/auth/realms/example", ProviderKind::Keycloak),
            ("https://idm.example/oauth2/openid/mastodon", ProviderKind::Kanidm),
            ("https://login.microsoftonline.com/x/v2.0", ProviderKind::EntraId),
            ("https://accounts.google.com", ProviderKind::Google),
            ("https://auth.example/", ProviderKind::Unknown),
        ];
        for (issuer, kind) in cases {
            assert_eq!(detect(Some(issuer), None).kind, kind, "issuer {issuer}");
        }
    }
}
