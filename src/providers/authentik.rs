//! authentik: issuer layout and fingerprints.
//!
//! Facts from authentik's source (`authentik/providers/oauth2/`), 2024.2 to 2026.8.

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
