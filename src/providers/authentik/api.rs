//! authentik's admin API: the token, and the objects the cross-check reads.
//!
//! Objects are read from raw JSON field by field, so a field that a release
//! does not have (or shapes differently) is recorded as unreadable instead of
//! failing the whole object. Shapes hold for authentik 2024.2 to 2026.8:
//! `redirect_uris` is one newline-separated string before 2024.8.5 and
//! 2024.10.3, `redirect_uri_type` exists from 2026.5, `grant_types` from 2026.5.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::redirect::{MatchingMode, RedirectEntry, RedirectUris, UriType};

/// The environment variable read when `--authentik-token-file` is not given.
pub const TOKEN_VARIABLE: &str = "AUTHENTIK_TOKEN";

/// An admin API token. It is never printed: `Debug` shows a placeholder, and
/// the report masks the value wherever it would appear.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Reads the token from `file`, or from AUTHENTIK_TOKEN when no file is
    /// given. Returns `None` when neither is set.
    pub fn load(file: Option<&Path>) -> Result<Option<Token>, TokenError> {
        if let Some(path) = file {
            let bytes = crate::fetch::read_bounded(path, 64 * 1024).map_err(|source| TokenError::Read { path: path.to_path_buf(), source })?;
            let text = String::from_utf8_lossy(&bytes);
            return Token::from_text(&text).map(Some).ok_or_else(|| TokenError::Empty(path.display().to_string()));
        }
        match std::env::var(TOKEN_VARIABLE) {
            Ok(value) => Token::from_text(&value).map(Some).ok_or_else(|| TokenError::Empty(TOKEN_VARIABLE.to_string())),
            Err(_) => Ok(None),
        }
    }

    /// Takes the first non-empty line, trimmed, so a trailing newline or a
    /// comment-free file written by `echo` works.
    fn from_text(text: &str) -> Option<Token> {
        let line = text.lines().map(str::trim).find(|line| !line.is_empty())?;
        Some(Token(line.to_string()))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<hidden>)")
    }
}

/// Failure to read the admin API token; the run stops with status 2.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read the authentik token file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the authentik token in {0} is empty")]
    Empty(String),
}

/// A provider's OAuth2 settings as `/api/v3/providers/oauth2/<pk>/` returns them.
#[derive(Clone)]
pub struct ProviderObject {
    pub pk: Option<String>,
    pub name: Option<String>,
    pub client_id: Option<String>,
    /// Never shown; compared with OIDC_CLIENT_SECRET only.
    client_secret: Option<String>,
    pub client_type: Option<String>,
    /// `Some(None)`: the field is null, so the provider has no signing key.
    pub signing_key: Option<Option<String>>,
    pub encryption_key: Option<Option<String>>,
    pub redirect_uris: Option<RedirectUris>,
    /// Scope mapping ids (UUIDs) attached to the provider.
    pub property_mappings: Option<Vec<String>>,
    pub sub_mode: Option<String>,
    pub issuer_mode: Option<String>,
    /// `None` when the field is absent, as before 2026.5.
    pub grant_types: Option<Vec<String>>,
    pub application_slug: Option<String>,
    /// Fields that were present but not in a readable shape, with what was found.
    pub unreadable: Vec<String>,
}

impl fmt::Debug for ProviderObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderObject")
            .field("pk", &self.pk)
            .field("name", &self.name)
            .field("client_id", &self.client_id)
            .field("client_type", &self.client_type)
            .field("redirect_uris", &self.redirect_uris)
            .finish_non_exhaustive()
    }
}

/// The client secret comparison, without revealing either value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretComparison {
    Equal,
    /// Equal after trimming whitespace on Mastodon's side.
    DiffersInWhitespace,
    /// Mastodon's value is a proper prefix of the provider's: it was cut short.
    Truncated,
    Different,
    /// The provider object has no readable `client_secret`.
    Unknown,
}

impl ProviderObject {
    /// Describes the provider for messages: "`mastodon` (pk 2)".
    pub fn describe(&self) -> String {
        match (&self.name, &self.pk) {
            (Some(name), Some(pk)) => format!("`{name}` (pk {pk})"),
            (Some(name), None) => format!("`{name}`"),
            (None, Some(pk)) => format!("pk {pk}"),
            (None, None) => "of this application".to_string(),
        }
    }

    /// Compares the provider's client secret with Mastodon's.
    pub fn compare_secret(&self, mastodon: &str) -> SecretComparison {
        let Some(secret) = &self.client_secret else { return SecretComparison::Unknown };
        if constant_time_equal(secret.as_bytes(), mastodon.as_bytes()) {
            SecretComparison::Equal
        } else if constant_time_equal(secret.as_bytes(), mastodon.trim().as_bytes()) {
            SecretComparison::DiffersInWhitespace
        } else if !mastodon.is_empty() && secret.starts_with(mastodon) {
            SecretComparison::Truncated
        } else {
            SecretComparison::Different
        }
    }

    /// Returns the client secret so the report can mask it.
    pub fn secret_for_redaction(&self) -> Option<&str> {
        self.client_secret.as_deref()
    }

    /// Returns true for a provider whose `signing_key` field is null.
    pub fn lacks_signing_key(&self) -> bool {
        matches!(self.signing_key, Some(None))
    }
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_equal(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    left.iter().zip(right).fold(0u8, |difference, (a, b)| difference | (a ^ b)) == 0
}

fn string_field(object: &Map<String, Value>, name: &str, unreadable: &mut Vec<String>) -> Option<String> {
    match object.get(name)? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Null => None,
        other => {
            unreadable.push(format!("`{name}` is {}", kind_of(other)));
            None
        }
    }
}

/// Reads a field that is a UUID string or null.
fn nullable_field(object: &Map<String, Value>, name: &str, unreadable: &mut Vec<String>) -> Option<Option<String>> {
    match object.get(name)? {
        Value::Null => Some(None),
        Value::String(text) if text.is_empty() => Some(None),
        Value::String(text) => Some(Some(text.clone())),
        other => {
            unreadable.push(format!("`{name}` is {}", kind_of(other)));
            None
        }
    }
}

fn string_list(object: &Map<String, Value>, name: &str, unreadable: &mut Vec<String>) -> Option<Vec<String>> {
    match object.get(name)? {
        Value::Array(items) => {
            let strings: Vec<String> = items.iter().filter_map(|item| item.as_str().map(str::to_string)).collect();
            if strings.len() != items.len() {
                unreadable.push(format!("`{name}` holds values that are not strings"));
            }
            Some(strings)
        }
        other => {
            unreadable.push(format!("`{name}` is {}", kind_of(other)));
            None
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Reads `redirect_uris` in either shape; unreadable entries are recorded.
fn redirect_uris(object: &Map<String, Value>, unreadable: &mut Vec<String>) -> Option<RedirectUris> {
    match object.get("redirect_uris")? {
        Value::String(text) => {
            let lines = text.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_string).collect();
            Some(RedirectUris::Lines(lines))
        }
        Value::Array(items) => {
            let mut entries = Vec::new();
            for (index, item) in items.iter().enumerate() {
                match redirect_entry(item) {
                    Some(entry) => entries.push(entry),
                    None => unreadable.push(format!("`redirect_uris[{index}]` is not an object with `matching_mode` and `url`")),
                }
            }
            Some(RedirectUris::Entries(entries))
        }
        other => {
            unreadable.push(format!("`redirect_uris` is {}", kind_of(other)));
            None
        }
    }
}

fn redirect_entry(item: &Value) -> Option<RedirectEntry> {
    let object = item.as_object()?;
    let url = object.get("url")?.as_str()?.to_string();
    let matching_mode = match object.get("matching_mode").and_then(Value::as_str) {
        Some("strict") => MatchingMode::Strict,
        Some("regex") => MatchingMode::Regex,
        Some(other) => MatchingMode::Other(other.to_string()),
        None => return None,
    };
    // Entries stored before 2026.5 have no type and count as authorization URIs.
    let uri_type = match object.get("redirect_uri_type").and_then(Value::as_str) {
        None | Some("authorization") => UriType::Authorization,
        Some("logout") => UriType::Logout,
        Some(other) => UriType::Other(other.to_string()),
    };
    Some(RedirectEntry { matching_mode, url, uri_type })
}

/// Reads a provider object. Returns `None` when the value is not a JSON object.
pub fn provider_object(value: &Value) -> Option<ProviderObject> {
    let object = value.as_object()?;
    let mut unreadable = Vec::new();
    let provider = ProviderObject {
        pk: string_field(object, "pk", &mut unreadable),
        name: string_field(object, "name", &mut unreadable),
        client_id: string_field(object, "client_id", &mut unreadable),
        client_secret: string_field(object, "client_secret", &mut unreadable),
        client_type: string_field(object, "client_type", &mut unreadable),
        signing_key: nullable_field(object, "signing_key", &mut unreadable),
        encryption_key: nullable_field(object, "encryption_key", &mut unreadable),
        redirect_uris: redirect_uris(object, &mut unreadable),
        property_mappings: string_list(object, "property_mappings", &mut unreadable),
        sub_mode: string_field(object, "sub_mode", &mut unreadable),
        issuer_mode: string_field(object, "issuer_mode", &mut unreadable),
        grant_types: string_list(object, "grant_types", &mut unreadable),
        application_slug: string_field(object, "assigned_application_slug", &mut unreadable),
        unreadable,
    };
    Some(provider)
}

/// One scope mapping, as `/api/v3/propertymappings/provider/scope/` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeMapping {
    pub pk: String,
    pub name: String,
    pub scope_name: String,
    /// `goauthentik.io/providers/oauth2/scope-<name>` for authentik's own mappings.
    pub managed: Option<String>,
    pub expression: String,
}

/// Claims of authentik's managed scope mappings (blueprint
/// `system/providers-oauth2.yaml`, 2024.2 to 2026.8).
const MANAGED_CLAIMS: &[(&str, &[&str])] = &[
    ("goauthentik.io/providers/oauth2/scope-openid", &[]),
    ("goauthentik.io/providers/oauth2/scope-email", &["email", "email_verified"]),
    ("goauthentik.io/providers/oauth2/scope-profile", &["name", "given_name", "preferred_username", "nickname", "groups"]),
    ("goauthentik.io/providers/oauth2/scope-entitlements", &["entitlements", "roles"]),
    ("goauthentik.io/providers/oauth2/scope-offline_access", &[]),
    ("goauthentik.io/providers/oauth2/scope-authentik_api", &[]),
];

impl ScopeMapping {
    /// Returns true when the mapping probably returns `claim`: the managed
    /// mapping's known claims, or a custom expression that names the claim
    /// as a quoted key. Expressions are Python code, so this is an estimate
    /// for custom mappings.
    pub fn produces(&self, claim: &str) -> bool {
        // A managed mapping whose expression an admin edited is judged by its expression.
        if let Some(managed) = &self.managed {
            if let Some((_, claims)) = MANAGED_CLAIMS.iter().find(|(id, _)| id == managed) {
                if claims.contains(&claim) {
                    return true;
                }
            }
        }
        self.expression.contains(&format!("\"{claim}\"")) || self.expression.contains(&format!("'{claim}'"))
    }

    /// Returns how the mapping sets `email_verified`: `Some(false)` for the
    /// literal `False` (authentik 2025.10 and later), `Some(true)` for `True`.
    pub fn email_verified_literal(&self) -> Option<bool> {
        let compact: String = self.expression.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.contains("\"email_verified\":False") || compact.contains("'email_verified':False") {
            Some(false)
        } else if compact.contains("\"email_verified\":True") || compact.contains("'email_verified':True") {
            Some(true)
        } else {
            None
        }
    }
}

/// Reads one page of scope mappings. Returns the mappings and the number of
/// the next page, if any.
pub fn scope_mapping_page(value: &Value) -> Option<(Vec<ScopeMapping>, Option<u64>)> {
    let object = value.as_object()?;
    let results = object.get("results")?.as_array()?;
    let mappings = results
        .iter()
        .filter_map(|item| {
            let item = item.as_object()?;
            Some(ScopeMapping {
                pk: item.get("pk")?.as_str()?.to_string(),
                name: item.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
                scope_name: item.get("scope_name")?.as_str()?.to_string(),
                managed: item.get("managed").and_then(Value::as_str).map(str::to_string),
                expression: item.get("expression").and_then(Value::as_str).unwrap_or_default().to_string(),
            })
        })
        .collect();
    let next = object.get("pagination").and_then(|pagination| pagination.get("next")).and_then(Value::as_u64).filter(|next| *next > 0);
    Some((mappings, next))
}

/// The system settings that decide whether identity claims can change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SystemSettings {
    /// "Allow users to change username" (`default_user_change_username`, default false).
    pub change_username: Option<bool>,
    /// "Allow users to change email" (`default_user_change_email`, default false).
    pub change_email: Option<bool>,
}

pub fn system_settings(value: &Value) -> Option<SystemSettings> {
    let object = value.as_object()?;
    Some(SystemSettings {
        change_username: object.get("default_user_change_username").and_then(Value::as_bool),
        change_email: object.get("default_user_change_email").and_then(Value::as_bool),
    })
}

/// A certificate-key pair that can sign ID tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    pub name: String,
    pub key_type: Option<String>,
}

/// Reads the certificate list and keeps pairs with a private key.
pub fn signing_certificates(value: &Value) -> Option<Vec<Certificate>> {
    let results = value.get("results")?.as_array()?;
    let certificates = results
        .iter()
        .filter(|item| item.get("private_key_available").and_then(Value::as_bool).unwrap_or(false))
        .filter_map(|item| {
            Some(Certificate {
                name: item.get("name")?.as_str()?.to_string(),
                key_type: item.get("private_key_type").and_then(Value::as_str).map(str::to_string),
            })
        })
        .collect();
    Some(certificates)
}

/// An admin API request that failed or returned no usable object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiFailure {
    /// The object requested, such as "system settings".
    pub what: &'static str,
    pub url: String,
    /// Status and authentik's `detail`, or the connection error.
    pub detail: String,
}

/// Everything the admin API returned.
#[derive(Clone, Debug, Default)]
pub struct ApiFacts {
    /// `https://HOST/api/v3/`.
    pub base_url: String,
    /// `version_current` of `/api/v3/admin/version/`.
    pub version: Option<String>,
    pub provider: Option<ProviderObject>,
    /// The lookup that found the provider: "the application `mastodon`" or "its client ID".
    pub found_through: Option<String>,
    /// Every scope mapping of the instance, to resolve the provider's mapping ids.
    pub scope_mappings: Option<Vec<ScopeMapping>>,
    pub settings: Option<SystemSettings>,
    /// Certificate-key pairs with a private key, read only when the provider has no signing key.
    pub certificates: Option<Vec<Certificate>>,
    pub failures: Vec<ApiFailure>,
}

impl ApiFacts {
    /// Returns the scope mappings attached to the provider, and the ids that
    /// name no known scope mapping (such as a property mapping of another kind).
    pub fn attached_mappings(&self) -> Option<(Vec<&ScopeMapping>, Vec<&str>)> {
        let provider = self.provider.as_ref()?;
        let ids = provider.property_mappings.as_ref()?;
        let all = self.scope_mappings.as_ref()?;
        let mut attached = Vec::new();
        let mut unknown = Vec::new();
        for id in ids {
            match all.iter().find(|mapping| &mapping.pk == id) {
                Some(mapping) => attached.push(mapping),
                None => unknown.push(id.as_str()),
            }
        }
        Some((attached, unknown))
    }

    /// Returns the failure of the request for `what`, if it failed.
    pub fn failure(&self, what: &str) -> Option<&ApiFailure> {
        self.failures.iter().find(|failure| failure.what == what)
    }
}

/// Names of the objects each admin API request reads, used in failures.
pub mod requests {
    pub const VERSION: &str = "version";
    pub const APPLICATION: &str = "application";
    pub const PROVIDER: &str = "OAuth2 provider";
    pub const SCOPE_MAPPINGS: &str = "scope mappings";
    pub const SETTINGS: &str = "system settings";
    pub const CERTIFICATES: &str = "certificate-key pairs";
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn provider(value: Value) -> ProviderObject {
        provider_object(&value).expect("an object")
    }

    #[test]
    fn token_takes_first_non_empty_line() {
        assert_eq!(Token::from_text("\n  abc123  \nignored\n").map(|token| token.0), Some("abc123".to_string()));
        assert!(Token::from_text(" \n\t\n").is_none());
    }

    #[test]
    fn token_debug_hides_the_value() {
        let token = Token("very-secret-token".into());
        assert!(!format!("{token:?}").contains("very-secret"));
    }

    #[test]
    fn redirect_uris_as_list_without_type() {
        let object = provider(json!({"redirect_uris": [{"matching_mode": "strict", "url": "https://a/cb"}]}));
        let entries = object.redirect_uris.unwrap().entries();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].uri_type, UriType::Authorization);
        assert_eq!(entries[0].matching_mode, MatchingMode::Strict);
    }

    #[test]
    fn redirect_uris_with_logout_type() {
        let object = provider(json!({"redirect_uris": [
            {"matching_mode": "strict", "url": "https://a/cb", "redirect_uri_type": "authorization"},
            {"matching_mode": "regex", "url": "https://a/.*", "redirect_uri_type": "logout"}
        ]}));
        let entries = object.redirect_uris.unwrap().entries();
        assert_eq!(entries[1].uri_type, UriType::Logout);
        assert_eq!(entries[1].matching_mode, MatchingMode::Regex);
    }

    #[test]
    fn redirect_uris_as_legacy_string() {
        let object = provider(json!({"redirect_uris": "https://a/cb\nhttps://b/cb\n"}));
        let uris = object.redirect_uris.unwrap();
        assert!(uris.is_legacy_string());
        assert_eq!(uris.entries().len(), 2);
        assert!(uris.entries().iter().all(|entry| entry.matching_mode == MatchingMode::Regex));
    }

    #[test]
    fn unreadable_fields_are_recorded() {
        let object = provider(json!({"redirect_uris": 5, "grant_types": "authorization_code", "signing_key": 3}));
        assert!(object.redirect_uris.is_none());
        assert!(object.grant_types.is_none());
        assert_eq!(object.unreadable.len(), 3, "{:?}", object.unreadable);
    }

    #[test]
    fn signing_key_null_and_absent_differ() {
        assert!(provider(json!({"signing_key": null})).lacks_signing_key());
        assert!(!provider(json!({})).lacks_signing_key());
        assert!(!provider(json!({"signing_key": "61241a89"})).lacks_signing_key());
    }

    #[test]
    fn secret_comparison() {
        let object = provider(json!({"client_secret": "mastodon-test-secret"}));
        assert_eq!(object.compare_secret("mastodon-test-secret"), SecretComparison::Equal);
        assert_eq!(object.compare_secret("mastodon-test-secret "), SecretComparison::DiffersInWhitespace);
        assert_eq!(object.compare_secret("mastodon-test"), SecretComparison::Truncated);
        assert_eq!(object.compare_secret("other"), SecretComparison::Different);
        assert_eq!(object.compare_secret(""), SecretComparison::Different);
        assert_eq!(provider(json!({})).compare_secret("x"), SecretComparison::Unknown);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let object = provider(json!({"client_secret": "mastodon-test-secret", "name": "m"}));
        assert!(!format!("{object:?}").contains("mastodon-test-secret"));
    }

    #[test]
    fn managed_mappings_produce_their_claims() {
        let profile = ScopeMapping {
            pk: "b9".into(),
            name: "profile".into(),
            scope_name: "profile".into(),
            managed: Some("goauthentik.io/providers/oauth2/scope-profile".into()),
            expression: String::new(),
        };
        assert!(profile.produces("preferred_username"));
        assert!(!profile.produces("email"));
        let custom = ScopeMapping { managed: None, expression: "return {\"mastodon_name\": request.user.username}".into(), ..profile };
        assert!(custom.produces("mastodon_name"));
        assert!(!custom.produces("preferred_username"));
    }

    #[test]
    fn email_verified_literals() {
        let mapping = |expression: &str| ScopeMapping {
            pk: "f6".into(),
            name: "email".into(),
            scope_name: "email".into(),
            managed: None,
            expression: expression.into(),
        };
        assert_eq!(mapping("return {\n    \"email\": request.user.email,\n    \"email_verified\": False\n}").email_verified_literal(), Some(false));
        assert_eq!(mapping("return {'email': request.user.email, 'email_verified': True}").email_verified_literal(), Some(true));
        assert_eq!(mapping("return {'email': request.user.email}").email_verified_literal(), None);
    }
}
