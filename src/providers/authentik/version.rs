//! authentik release numbers: parsing, comparison, where a server reveals
//! its version without a login, and the releases each caveat applies to.
//!
//! authentik numbers releases `YEAR.MINOR.PATCH` (2024.12.3), with
//! pre-releases such as `2025.10.0-rc1` and, in asset names, a build hash
//! after `+` (2025.2 and later) or `.` (up to 2024.12).

use std::fmt;

use regex::Regex;

/// A release as `(year, minor, patch)`. Pre-release tags are not part of the
/// comparison: `2025.10.0-rc1` already contains the changes of 2025.10.0, so
/// every caveat judges it like the final release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub year: u16,
    pub minor: u16,
    pub patch: u16,
}

impl Version {
    pub const fn new(year: u16, minor: u16, patch: u16) -> Self {
        Version { year, minor, patch }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.year, self.minor, self.patch)
    }
}

/// The default email scope mapping returns `email_verified: false` from this
/// release on (`True` before; not backported to 2025.8.x).
pub const EMAIL_UNVERIFIED_SINCE: Version = Version::new(2025, 10, 0);

/// Redirect URI entries gain the `logout` type, and the end-session endpoint
/// requires `id_token_hint` with `post_logout_redirect_uri`, from this release on.
pub const LOGOUT_URI_TYPE_SINCE: Version = Version::new(2026, 5, 0);

/// Providers carry an allow-list of grant types from this release on.
pub const GRANT_TYPES_SINCE: Version = Version::new(2026, 5, 0);

/// Redirect URIs are strict/regex entries from these releases on (the
/// CVE-2024-52289 fix); before, every line of one string was a regex.
pub const REDIRECT_MODEL_SINCE_2024_8: Version = Version::new(2024, 8, 5);
pub const REDIRECT_MODEL_SINCE_2024_10: Version = Version::new(2024, 10, 3);

/// Scope mappings moved from `/api/v3/propertymappings/scope/` to
/// `/api/v3/propertymappings/provider/scope/` in this release.
pub const SCOPE_MAPPING_PATH_SINCE: Version = Version::new(2024, 8, 0);

/// Returns true for releases whose redirect URIs are all regular expressions
/// (CVE-2024-52289): before 2024.8.5, and 2024.10.0 to 2024.10.2.
pub fn every_redirect_uri_is_regex(version: Version) -> bool {
    let in_2024_10_before_fix = version >= Version::new(2024, 10, 0) && version < REDIRECT_MODEL_SINCE_2024_10;
    version < REDIRECT_MODEL_SINCE_2024_8 || in_2024_10_before_fix
}

/// Returns true for the releases whose migration to strict/regex entries
/// kept regex escapes (`\.`, `\?`) inside strict entries: 2024.8.5 and 2024.10.3.
pub fn has_redirect_migration_bug(version: Version) -> bool {
    version == REDIRECT_MODEL_SINCE_2024_8 || version == REDIRECT_MODEL_SINCE_2024_10
}

/// Failure to read `--authentik-version`.
#[derive(Debug, thiserror::Error)]
#[error("invalid --authentik-version `{0}`: {1}")]
pub struct InvalidVersion(pub String, pub &'static str);

/// Parses a release number such as `2024.12.3`, `2025.10.0-rc1`,
/// `version/2026.5.0` or `2025.2.1+abc123`. Returns the comparable version
/// and the text as written without a build hash, or `None` for anything else.
pub fn parse(text: &str) -> Option<(Version, String)> {
    let text = text.trim();
    let text = text.strip_prefix("version/").or_else(|| text.strip_prefix('v')).unwrap_or(text);
    let pattern = version_pattern();
    let captures = pattern.captures(text)?;
    if captures.get(0)?.start() != 0 {
        return None;
    }
    let rest = &text[captures.get(0)?.end()..];
    // A build hash may follow; anything else makes the text something other than a version.
    let rest_is_build = rest.is_empty() || rest.starts_with('+') || (rest.starts_with('.') && rest[1..].chars().all(|c| c.is_ascii_alphanumeric()));
    if !rest_is_build {
        return None;
    }
    let version = version_from(&captures)?;
    Some((version, captures.get(0)?.as_str().to_string()))
}

/// Parses `--authentik-version`.
pub fn parse_cli(text: &str) -> Result<(Version, String), InvalidVersion> {
    let invalid = |reason| InvalidVersion(text.to_string(), reason);
    let shape = "write the full release number YEAR.MINOR.PATCH as authentik's admin interface shows it, such as 2025.10.1";
    let captures = version_pattern().captures(text.trim()).ok_or_else(|| invalid(shape))?;
    let whole = captures.get(0).ok_or_else(|| invalid(shape))?;
    // A build hash belongs to asset names, not to a release an admin types.
    if whole.start() != 0 || whole.end() != text.trim().len() {
        return Err(invalid(shape));
    }
    let version = version_from(&captures).ok_or_else(|| invalid("authentik numbers releases YEAR.MONTH.PATCH, with a year from 2018 to 2100 and a month from 1 to 12"))?;
    Ok((version, whole.as_str().to_string()))
}

fn version_pattern() -> Regex {
    Regex::new(r"(\d{4})\.(\d{1,2})\.(\d{1,3})(-(?:rc|beta|alpha)\d*)?").expect("the version pattern is valid")
}

fn version_from(captures: &regex::Captures<'_>) -> Option<Version> {
    let year: u16 = captures.get(1)?.as_str().parse().ok()?;
    let minor: u16 = captures.get(2)?.as_str().parse().ok()?;
    let patch: u16 = captures.get(3)?.as_str().parse().ok()?;
    let plausible = (2018..=2100).contains(&year) && (1..=12).contains(&minor);
    plausible.then_some(Version::new(year, minor, patch))
}

/// Finds the release in the asset names of an authentik HTML page, such as
/// `/static/dist/flow/FlowInterface-2025.10.0-rc1.js` or `poly-2025.10.0-rc1.js`.
/// The flow page and authentik's HTML error pages (400, 404) carry them.
pub fn from_asset_names(html: &str) -> Option<(Version, String)> {
    let pattern = Regex::new(
        r"(?:FlowInterface|AdminInterface|UserInterface|poly|flow|static|index|authentik)-(\d{4})\.(\d{1,2})\.(\d{1,3})(-(?:rc|beta|alpha)\d*)?(?:[+.][0-9A-Za-z]+)?\.(?:js|css)",
    )
    .expect("the asset pattern is valid");
    let captures = pattern.captures(html)?;
    let version = version_from(&captures)?;
    let pre = captures.get(4).map_or("", |tag| tag.as_str());
    Some((version, format!("{version}{pre}")))
}

/// Returns the oldest release a discovery document can come from, judged by
/// the fields authentik added over time, with the field that shows it.
pub fn minimum_from_discovery(document: &crate::document::Document) -> Option<(Version, &'static str)> {
    let markers: [(&str, Version); 3] = [
        ("frontchannel_logout_supported", Version::new(2026, 5, 0)),
        ("backchannel_logout_supported", Version::new(2025, 8, 0)),
        ("id_token_encryption_alg_values_supported", Version::new(2024, 10, 0)),
    ];
    markers.into_iter().find(|(field, _)| document.has(field)).map(|(field, version)| (version, field))
}

/// The source the version was learned from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionSource {
    /// `/api/v3/admin/version/`, read with the admin API token.
    AdminApi,
    /// The `X-authentik-version` response header.
    Header,
    /// Version-stamped asset names in an HTML page.
    AssetNames,
    /// `--authentik-version`.
    CommandLine,
}

/// The release the version caveats are judged for, and where it came from.
#[derive(Clone, Debug)]
pub struct KnownVersion {
    pub version: Version,
    /// The release number as the source wrote it, such as `2025.10.0-rc1`.
    pub text: String,
    pub source: VersionSource,
    /// The exact place, for the report: "the X-authentik-version header of https://auth.example/robots.txt".
    pub detail: String,
}

impl KnownVersion {
    /// Returns true when the release is at least `since`.
    pub fn at_least(&self, since: Version) -> bool {
        self.version >= since
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_release_numbers() {
        let cases = [
            ("2024.12.3", Version::new(2024, 12, 3), "2024.12.3"),
            ("2025.10.0-rc1", Version::new(2025, 10, 0), "2025.10.0-rc1"),
            ("version/2026.5.0", Version::new(2026, 5, 0), "2026.5.0"),
            ("2025.2.1+abc123", Version::new(2025, 2, 1), "2025.2.1"),
            ("2024.12.0.1a2b3c", Version::new(2024, 12, 0), "2024.12.0"),
            (" 2024.8.5\n", Version::new(2024, 8, 5), "2024.8.5"),
        ];
        for (text, version, shown) in cases {
            assert_eq!(parse(text), Some((version, shown.to_string())), "text {text:?}");
        }
    }

    #[test]
    fn parse_rejects_other_text() {
        for text in ["2025.10", "25.10.1", "2025.13.0", "latest", "2025.10.1 beta", "x2025.10.1", ""] {
            assert_eq!(parse(text), None, "text {text:?}");
        }
    }

    #[test]
    fn prerelease_compares_like_final() {
        let (candidate, _) = parse("2025.10.0-rc1").unwrap();
        assert!(candidate >= EMAIL_UNVERIFIED_SINCE);
        assert!(parse("2025.8.6").unwrap().0 < EMAIL_UNVERIFIED_SINCE);
    }

    #[test]
    fn versions_order_numerically() {
        assert!(Version::new(2024, 10, 0) > Version::new(2024, 8, 5));
        assert!(Version::new(2024, 12, 0) > Version::new(2024, 2, 9));
        assert!(Version::new(2026, 5, 0) > Version::new(2025, 12, 3));
    }

    #[test]
    fn cve_2024_52289_releases() {
        let affected = ["2024.2.0", "2024.6.5", "2024.8.4", "2024.10.0", "2024.10.2"];
        let fixed = ["2024.8.5", "2024.8.6", "2024.10.3", "2024.12.0", "2025.10.0"];
        for text in affected {
            assert!(every_redirect_uri_is_regex(parse(text).unwrap().0), "{text} is affected");
        }
        for text in fixed {
            assert!(!every_redirect_uri_is_regex(parse(text).unwrap().0), "{text} is fixed");
        }
    }

    #[test]
    fn migration_bug_releases() {
        assert!(has_redirect_migration_bug(Version::new(2024, 8, 5)));
        assert!(has_redirect_migration_bug(Version::new(2024, 10, 3)));
        assert!(!has_redirect_migration_bug(Version::new(2024, 8, 6)));
        assert!(!has_redirect_migration_bug(Version::new(2024, 12, 0)));
    }

    #[test]
    fn asset_names_carry_the_release() {
        let page = r#"<script src="/static/dist/poly-2025.10.0-rc1.js" type="module"></script>
<script src="/static/dist/flow/FlowInterface-2025.10.0-rc1.js" type="module"></script>"#;
        assert_eq!(from_asset_names(page), Some((Version::new(2025, 10, 0), "2025.10.0-rc1".to_string())));
        let hashed = r#"<link rel="stylesheet" href="/static/dist/styles/flow-2025.2.3+0a1b2c.css">"#;
        assert_eq!(from_asset_names(hashed), Some((Version::new(2025, 2, 3), "2025.2.3".to_string())));
        assert_eq!(from_asset_names("<html><body>Not Found</body></html>"), None);
    }
}
