//! Mastodon's reading of its OIDC settings.
//!
//! Facts hold for Mastodon 4.3 to 4.5: `config/initializers/3_omniauth.rb`
//! with omniauth_openid_connect 0.6.1, openid_connect 1.4.2 and rack-oauth2
//! 1.21.3 as locked in Mastodon's Gemfile.lock.

use url::Url;

use crate::envfile::EnvSet;

/// Parsing rule Mastodon applies to a variable's string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parse {
    /// `ENV[..] == 'true'`; anything else, `True` and `1` included, is false.
    Flag,
    /// Used verbatim.
    Text,
    /// `split(',')` without trimming.
    CommaList,
    /// Used verbatim and never printed.
    Secret,
    /// Ignored by the current code, and listed so typo suggestions recognise it.
    Removed,
}

/// One variable Mastodon reads for its OIDC login.
#[derive(Clone, Copy, Debug)]
pub struct Variable {
    pub name: &'static str,
    pub parse: Parse,
    /// Mastodon's behaviour when the variable is unset.
    pub default: &'static str,
    pub summary: &'static str,
}

const fn var(name: &'static str, parse: Parse, default: &'static str, summary: &'static str) -> Variable {
    Variable { name, parse, default, summary }
}

/// Every variable of Mastodon's OIDC block and the adjacent ones that change the login.
pub const VARIABLES: &[Variable] = &[
    var("OIDC_ENABLED", Parse::Flag, "false", "turns the OIDC login on"),
    var("OIDC_DISPLAY_NAME", Parse::Text, "the locale's provider name", "label of the login button"),
    var("OIDC_ISSUER", Parse::Text, "none (WebFinger on OIDC_HOST)", "issuer, compared byte for byte with the discovery document and the ID token"),
    var("OIDC_DISCOVERY", Parse::Flag, "false", "fetch endpoints from the discovery document"),
    var("OIDC_CLIENT_AUTH_METHOD", Parse::Text, "basic (HTTP Basic)", "client authentication at the token endpoint, in rack-oauth2 names"),
    var("OIDC_SCOPE", Parse::CommaList, "none: Mastodon fails to boot", "scopes, separated by commas"),
    var("OIDC_RESPONSE_TYPE", Parse::Text, "code", "response type of the authorization request"),
    var("OIDC_RESPONSE_MODE", Parse::Text, "not sent", "response mode of the authorization request"),
    var("OIDC_DISPLAY", Parse::Text, "not sent", "never sent by omniauth_openid_connect 0.6"),
    var("OIDC_PROMPT", Parse::Text, "not sent", "prompt parameter of the authorization request"),
    var("OIDC_USE_PKCE", Parse::Flag, "false", "send a PKCE S256 challenge (Mastodon 4.3 and later)"),
    var("OIDC_SEND_NONCE", Parse::Flag, "true", "send a nonce; any value but `true` turns it off"),
    var("OIDC_SEND_SCOPE_TO_TOKEN_ENDPOINT", Parse::Flag, "true", "send the scope in the token request; any value but `true` turns it off"),
    var("OIDC_IDP_LOGOUT_REDIRECT_URI", Parse::Text, "not sent", "post_logout_redirect_uri sent to the end-session endpoint"),
    var("OIDC_UID_FIELD", Parse::Text, "sub", "claim that identifies the user; a missing claim silently falls back to sub"),
    var("OIDC_CLIENT_ID", Parse::Text, "none: every login fails", "client identifier registered at the provider"),
    var("OIDC_CLIENT_SECRET", Parse::Secret, "none", "client secret registered at the provider"),
    var("OIDC_REDIRECT_URI", Parse::Text, "none: every login fails", "redirect URI, sent verbatim"),
    var("OIDC_HTTP_SCHEME", Parse::Text, "https", "scheme for relative endpoints"),
    var("OIDC_HOST", Parse::Text, "none", "host for relative endpoints and WebFinger"),
    var("OIDC_PORT", Parse::Text, "443", "port for relative endpoints"),
    var("OIDC_AUTH_ENDPOINT", Parse::Text, "/authorize", "authorization endpoint without discovery; always used for the CSP form-action"),
    var("OIDC_TOKEN_ENDPOINT", Parse::Text, "/token", "token endpoint without discovery"),
    var("OIDC_USER_INFO_ENDPOINT", Parse::Text, "/userinfo", "userinfo endpoint without discovery"),
    var("OIDC_JWKS_URI", Parse::Text, "/jwk", "JWKS URI without discovery"),
    var("OIDC_END_SESSION_ENDPOINT", Parse::Text, "none", "end-session endpoint without discovery"),
    var("OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED", Parse::Flag, "false", "treat every email from the provider as verified"),
    var("OMNIAUTH_ONLY", Parse::Flag, "false", "hide the password login; sign-out goes to the provider"),
    var("ONE_CLICK_SSO_LOGIN", Parse::Flag, "false", "the web UI's login button goes straight to the provider"),
    var("ALLOW_UNSAFE_AUTH_PROVIDER_REATTACH", Parse::Flag, "false", "link an OIDC login to a local account with the same verified email"),
    var("LOCAL_DOMAIN", Parse::Text, "localhost:3000", "the instance's domain"),
    var("WEB_DOMAIN", Parse::Text, "LOCAL_DOMAIN", "host of the web interface and the session cookie"),
    var("ALTERNATE_DOMAINS", Parse::Text, "none", "further allowed hosts, separated by commas"),
    var("SSO_ACCOUNT_SETTINGS", Parse::Text, "none", "link to the provider's account page"),
    var("OAUTH_REDIRECT_AT_SIGN_IN", Parse::Removed, "ignored", "removed in Mastodon 3.5; replaced by OMNIAUTH_ONLY"),
];

/// Names that people write but Mastodon never reads, with the real name.
pub const MISNAMED: &[(&str, &str)] = &[
    ("OIDC_IDP_LOGOUT", "OIDC_IDP_LOGOUT_REDIRECT_URI"),
    ("OIDC_USERINFO_ENDPOINT", "OIDC_USER_INFO_ENDPOINT"),
    ("OIDC_AUTHORIZATION_ENDPOINT", "OIDC_AUTH_ENDPOINT"),
    ("OIDC_PKCE", "OIDC_USE_PKCE"),
    ("OIDC_CLIENT_SIGNING_ALG", ""),
    ("OIDC_JWT_SECRET", ""),
];

/// The callback path: Devise's `auth` mapping plus OmniAuth's `/auth` prefix
/// plus the provider name `openid_connect`.
pub const CALLBACK_PATH: &str = "/auth/auth/openid_connect/callback";

pub fn variable(name: &str) -> Option<&'static Variable> {
    VARIABLES.iter().find(|variable| variable.name == name)
}

/// Returns true when a variable name marks a secret that must never be printed.
///
/// Names ending in `_ENDPOINT`, `_URI` or `_URL` are addresses even when they
/// contain `TOKEN` (OIDC_TOKEN_ENDPOINT); a URL with a password is caught by
/// [`is_secret_value`] instead.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let segments: Vec<&str> = upper.split(['_', '.', '-']).collect();
    if matches!(segments.last(), Some(&"ENDPOINT") | Some(&"URI") | Some(&"URL")) {
        return false;
    }
    let secret_segments = ["SECRET", "PASSWORD", "PASSWD", "PASS", "PWD", "TOKEN", "PRIVATE", "CREDENTIAL", "CREDENTIALS", "APIKEY"];
    let secret_phrases = ["SECRET", "PASSWORD", "KEY_BASE", "API_KEY", "ACCESS_KEY", "PRIVATE_KEY", "ENCRYPTION"];
    segments.iter().any(|segment| secret_segments.contains(segment)) || secret_phrases.iter().any(|phrase| upper.contains(phrase))
}

/// Returns true when a value carries credentials: a URL with a password
/// (`postgres://user:pass@db/x`) or with a secret-named query parameter
/// (`?client_secret=...`).
pub fn is_secret_value(value: &str) -> bool {
    let Ok(url) = Url::parse(value) else { return false };
    url.password().is_some() || url.query_pairs().any(|(name, _)| is_secret_name(&name))
}

/// Ruby's `String#split(',')`: empty fields are kept, except trailing ones.
pub fn ruby_split_commas(value: &str) -> Vec<String> {
    let mut parts: Vec<String> = value.split(',').map(str::to_string).collect();
    while parts.last().is_some_and(String::is_empty) {
        parts.pop();
    }
    parts
}

/// The Mastodon settings derived from an [`EnvSet`].
pub struct Settings<'a> {
    env: &'a EnvSet,
}

impl<'a> Settings<'a> {
    pub fn new(env: &'a EnvSet) -> Self {
        Settings { env }
    }

    pub fn raw(&self, name: &str) -> Option<&'a str> {
        self.env.get(name).map(|value| value.value)
    }

    /// Returns a flag: true only for the literal `true`, else the default when unset.
    pub fn flag(&self, name: &str, default: bool) -> bool {
        match self.raw(name) {
            Some(value) => value == "true",
            None => default,
        }
    }

    pub fn oidc_enabled(&self) -> bool {
        self.flag("OIDC_ENABLED", false)
    }

    pub fn discovery(&self) -> bool {
        self.flag("OIDC_DISCOVERY", false)
    }

    pub fn pkce(&self) -> bool {
        self.flag("OIDC_USE_PKCE", false)
    }

    pub fn assume_email_verified(&self) -> bool {
        self.flag("OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED", false)
    }

    pub fn one_click_sso(&self) -> bool {
        self.flag("ONE_CLICK_SSO_LOGIN", false) && self.flag("OMNIAUTH_ONLY", false)
    }

    /// Returns the scope symbols Mastodon passes to the gem, or `None` when unset.
    pub fn scopes(&self) -> Option<Vec<String>> {
        self.raw("OIDC_SCOPE").map(ruby_split_commas)
    }

    /// Returns the scope of the authorization request: the symbols joined with a
    /// space, split on whitespace, and `openid` appended when missing
    /// (openid_connect 1.4.2 `Client#authorization_uri`).
    pub fn authorize_scopes(&self) -> Vec<String> {
        let joined = self.scopes().unwrap_or_default().join(" ");
        let mut scopes: Vec<String> = joined.split_whitespace().map(str::to_string).collect();
        if !scopes.iter().any(|scope| scope == "openid") {
            scopes.push("openid".to_string());
        }
        scopes
    }

    pub fn uid_field(&self) -> &'a str {
        self.raw("OIDC_UID_FIELD").unwrap_or("sub")
    }

    pub fn response_type(&self) -> &'a str {
        self.raw("OIDC_RESPONSE_TYPE").unwrap_or("code")
    }

    pub fn client_auth(&self) -> ClientAuth {
        ClientAuth::from_setting(self.raw("OIDC_CLIENT_AUTH_METHOD"))
    }

    /// Returns the host of the web interface and the session cookie.
    pub fn web_host(&self) -> Option<&'a str> {
        self.raw("WEB_DOMAIN").or_else(|| self.raw("LOCAL_DOMAIN")).filter(|host| !host.is_empty())
    }

    /// Returns every host Rails' host authorization allows.
    pub fn allowed_hosts(&self) -> Vec<String> {
        let mut hosts = Vec::new();
        for name in ["LOCAL_DOMAIN", "WEB_DOMAIN"] {
            if let Some(host) = self.raw(name).filter(|host| !host.is_empty()) {
                hosts.push(host.to_ascii_lowercase());
            }
        }
        if let Some(alternates) = self.raw("ALTERNATE_DOMAINS") {
            hosts.extend(alternates.split(',').map(|host| host.trim().to_ascii_lowercase()).filter(|host| !host.is_empty()));
        }
        hosts
    }

    /// The redirect URI an admin should configure for this instance.
    pub fn expected_redirect_uri(&self) -> Option<String> {
        self.web_host().map(|host| format!("https://{host}{CALLBACK_PATH}"))
    }
}

/// Client authentication at the token endpoint as rack-oauth2 1.21.3 applies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the id and secret form-urlencoded first (RFC 6749 2.3.1).
    Basic,
    /// HTTP Basic with the raw id and secret.
    BasicRaw,
    /// A `client_assertion` JWT signed with the client secret (HS256).
    JwtBearer,
    /// A SAML assertion type that Mastodon cannot fill.
    Saml2Bearer,
    /// A TLS client certificate that Mastodon cannot present.
    Mtls,
    /// `client_id` and `client_secret` in the POST body: any other name.
    Post,
}

impl ClientAuth {
    pub fn from_setting(value: Option<&str>) -> Self {
        match value {
            None | Some("basic") => ClientAuth::Basic,
            Some("basic_without_www_form_urlencode") => ClientAuth::BasicRaw,
            Some("jwt_bearer") => ClientAuth::JwtBearer,
            Some("saml2_bearer") => ClientAuth::Saml2Bearer,
            Some("mtls") => ClientAuth::Mtls,
            Some(_) => ClientAuth::Post,
        }
    }

    /// The name of this method in `token_endpoint_auth_methods_supported`.
    pub fn metadata_name(self) -> &'static str {
        match self {
            ClientAuth::Basic | ClientAuth::BasicRaw => "client_secret_basic",
            ClientAuth::JwtBearer => "client_secret_jwt",
            ClientAuth::Saml2Bearer => "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
            ClientAuth::Mtls => "tls_client_auth",
            ClientAuth::Post => "client_secret_post",
        }
    }
}

/// Builds the discovery URL as openid_connect 1.4.2 does: always https, the
/// issuer's host, its port unless 80 or 443, and the issuer path joined with
/// `.well-known/openid-configuration`. Query and fragment are dropped.
pub fn discovery_url(issuer: &str) -> Result<Url, url::ParseError> {
    let parsed = Url::parse(issuer)?;
    let host = parsed.host_str().ok_or(url::ParseError::EmptyHost)?;
    let port = match parsed.port_or_known_default() {
        Some(80) | Some(443) | None => String::new(),
        Some(port) => format!(":{port}"),
    };
    let path = parsed.path().strip_suffix('/').unwrap_or(parsed.path());
    Url::parse(&format!("https://{host}{port}{path}/.well-known/openid-configuration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_leading_empty_fields() {
        assert_eq!(ruby_split_commas(",openid"), vec!["", "openid"]);
    }

    #[test]
    fn split_drops_trailing_empty_fields() {
        assert_eq!(ruby_split_commas("openid,profile,,"), vec!["openid", "profile"]);
        assert!(ruby_split_commas("").is_empty());
    }

    #[test]
    fn split_does_not_trim() {
        assert_eq!(ruby_split_commas("openid, profile"), vec!["openid", " profile"]);
    }

    #[test]
    fn discovery_url_forces_https_and_drops_default_ports() {
        let cases = [
            ("https://auth.example/application/o/mastodon/", "https://auth.example/application/o/mastodon/.well-known/openid-configuration"),
            ("https://auth.example/application/o/mastodon", "https://auth.example/application/o/mastodon/.well-known/openid-configuration"),
            ("http://idp:8080/realms/x", "https://idp:8080/realms/x/.well-known/openid-configuration"),
            ("http://idp/realms/x", "https://idp/realms/x/.well-known/openid-configuration"),
            ("https://idp:443/x?y=1#z", "https://idp/x/.well-known/openid-configuration"),
            ("https://accounts.google.com", "https://accounts.google.com/.well-known/openid-configuration"),
        ];
        for (issuer, expected) in cases {
            assert_eq!(discovery_url(issuer).unwrap().as_str(), expected, "issuer {issuer}");
        }
    }

    #[test]
    fn secret_names_include_keys_and_passwords() {
        for name in ["OIDC_CLIENT_SECRET", "SECRET_KEY_BASE", "OTP_SECRET", "DB_PASS", "SMTP_PASSWORD", "VAPID_PRIVATE_KEY", "AWS_SECRET_ACCESS_KEY", "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY", "AUTHENTIK_TOKEN"] {
            assert!(is_secret_name(name), "{name} is a secret");
        }
    }

    #[test]
    fn urls_with_credentials_are_secrets() {
        assert!(is_secret_value("postgres://mastodon:pw@db/mastodon"));
        assert!(is_secret_value("https://auth.example/authorize/?client_secret=abc"));
        assert!(!is_secret_value("https://auth.example/authorize/?client_id=abc"));
    }

    #[test]
    fn endpoint_names_are_not_secrets() {
        for name in ["OIDC_TOKEN_ENDPOINT", "OIDC_SEND_SCOPE_TO_TOKEN_ENDPOINT", "OIDC_JWKS_URI", "OIDC_ISSUER", "LOCAL_DOMAIN", "OIDC_UID_FIELD"] {
            assert!(!is_secret_name(name), "{name} is not a secret");
        }
    }

    #[test]
    fn client_auth_standard_names_mean_post_body() {
        assert_eq!(ClientAuth::from_setting(Some("client_secret_basic")), ClientAuth::Post);
        assert_eq!(ClientAuth::from_setting(Some("client_secret_post")), ClientAuth::Post);
        assert_eq!(ClientAuth::from_setting(None), ClientAuth::Basic);
    }
}
