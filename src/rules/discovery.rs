//! Rules that compare the env files with the discovery document and the JWKS.
//!
//! Mastodon's discovery is openid_connect 1.4.2: `Discovery::Provider::Config`
//! requires six fields, validates URL fields, and compares `issuer` with
//! OIDC_ISSUER as an exact string.

use url::Url;

use crate::document::Document;
use crate::finding::Severity;
use crate::mastodon::ClientAuth;
use crate::providers::ProviderKind;

use super::{Context, Input, Rule, Sink};

/// Fields `OpenIDConnect::Discovery::Provider::Config::Response` requires.
const REQUIRED_FIELDS: [&str; 6] = [
    "issuer",
    "authorization_endpoint",
    "jwks_uri",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
];

/// Fields the gem validates as URLs when present.
const URL_FIELDS: [&str; 11] = [
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "registration_endpoint",
    "end_session_endpoint",
    "service_documentation",
    "check_session_iframe",
    "op_policy_uri",
    "op_tos_uri",
];

/// Algorithms json-jwt 1.15 (Mastodon 4.3 to 4.5) verifies.
const VERIFIABLE_ALGORITHMS: [&str; 12] = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"];

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: "issuer-mismatch",
        severity: Severity::Error,
        summary: "OIDC_ISSUER differs from the discovery document's `issuer`",
        explanation: "Mastodon's gem compares the discovery document's `issuer` with OIDC_ISSUER as an exact \
string, trailing slash included, and aborts the login with \"Issuer mismatch\" when they differ. With \
discovery off, the ID token's `iss` claim must equal OIDC_ISSUER the same way (\"Invalid ID token: Issuer \
does not match\"). Both spellings with and without a trailing slash fetch the same discovery URL, so the \
document is found and only the comparison fails. authentik's per-provider issuer ends with `/`; Keycloak's, \
Google's and Kanidm's do not. An `http://` issuer in the document means the provider sits behind a proxy \
that does not send X-Forwarded-Proto.\n\nFix: copy the `issuer` value of the discovery document into \
OIDC_ISSUER byte for byte; the finding gives the exact value.",
        needs: &[Input::Env, Input::Discovery],
        check: check_issuer_mismatch,
    },
    Rule {
        id: "issuer-not-https",
        severity: Severity::Error,
        summary: "OIDC_ISSUER is not an absolute https URL",
        explanation: "openid_connect 1.4.2 always fetches discovery over https, whatever scheme OIDC_ISSUER has, \
and then compares the document's issuer with OIDC_ISSUER byte for byte. An `http://` issuer therefore only \
works when the provider wrongly builds an http issuer (a proxy without X-Forwarded-Proto), and a value \
without a scheme is no URL at all: discovery cannot run and the ID token check fails.\n\nFix: write the \
issuer as https://HOST/PATH exactly as the provider's discovery document states it, and make the proxy \
send X-Forwarded-Proto: https.",
        needs: &[Input::Env],
        check: check_issuer_scheme,
    },
    Rule {
        id: "clock-skew",
        severity: Severity::Warning,
        summary: "This host's clock differs from the provider's by more than 30 seconds",
        explanation: "openid_connect 1.4.2 checks the ID token's `exp` against the local clock with no leeway, \
so a Mastodon host whose clock runs ahead of the provider's by more than the token lifetime rejects every \
token (\"Invalid ID token: Expired token\"), and smaller skews cut into it. The comparison uses the Date \
header of the provider's answers and this machine's clock; it speaks for Mastodon only when the tool runs \
on the Mastodon host. The Date header has a resolution of one second, so only skews above 30 seconds are \
reported.\n\nFix: run NTP (systemd-timesyncd, chrony) on the Mastodon host and on the provider.",
        needs: &[Input::Network],
        check: check_clock_skew,
    },
    Rule {
        id: "discovery-issuer-http",
        severity: Severity::Warning,
        summary: "The discovery document's issuer uses http",
        explanation: "The provider builds its issuer from the request it receives. An `http://` issuer on a \
provider reached over https means a reverse proxy terminates TLS but does not pass X-Forwarded-Proto: \
https (authentik and Keycloak both derive the scheme from it). Mastodon fetches discovery over https \
anyway, so its issuer comparison then needs an http OIDC_ISSUER, and ID tokens carry the http issuer.\n\n\
Fix: make the proxy send X-Forwarded-Proto: https (and the original Host), then use the https issuer.",
        needs: &[Input::Discovery],
        check: check_issuer_http,
    },
    Rule {
        id: "discovery-required-fields",
        severity: Severity::Error,
        summary: "The discovery document lacks a field Mastodon's gem requires, or has an invalid URL",
        explanation: "openid_connect 1.4.2 rejects a discovery document without issuer, \
authorization_endpoint, jwks_uri, response_types_supported, subject_types_supported or \
id_token_signing_alg_values_supported, and one whose URL fields are not valid URLs; Mastodon then fails \
every login with messages such as \"Jwks uri can't be blank\". With discovery off Mastodon does not read \
the document, and the finding is info.\n\nFix: correct the provider's configuration; a document missing \
these fields is usually not an OpenID Connect discovery document.",
        needs: &[Input::Discovery],
        check: check_required_fields,
    },
    Rule {
        id: "discovery-runtime-endpoints",
        severity: Severity::Error,
        summary: "The discovery document lacks the token or userinfo endpoint",
        explanation: "The discovery schema makes token_endpoint and userinfo_endpoint optional, but Mastodon \
uses both on every login: the code is exchanged at the token endpoint, and the strategy always calls \
userinfo. A missing one falls back to a relative default and fails with 'No Host Info'.\n\nFix: enable \
the authorization code flow and userinfo at the provider.",
        needs: &[Input::Discovery],
        check: check_runtime_endpoints,
    },
    Rule {
        id: "provider-metadata-invalid",
        severity: Severity::Warning,
        summary: "The discovery document is not valid OpenID Provider Metadata for the openidconnect crate",
        explanation: "The document was read with the openidconnect crate's CoreProviderMetadata, a strict \
reading of OpenID Connect Discovery 1.0. Mastodon's gem is more lenient, so this is a warning: other \
relying parties (and future Mastodon versions) may reject the document. The finding names the offending \
field.\n\nFix: correct that field in the provider's configuration, or report it to the provider's \
developers.",
        needs: &[Input::Discovery],
        check: check_provider_metadata,
    },
    Rule {
        id: "response-type-not-supported",
        severity: Severity::Error,
        summary: "The provider does not support Mastodon's response type or response mode",
        explanation: "Mastodon sends OIDC_RESPONSE_TYPE (default `code`) and, when set, OIDC_RESPONSE_MODE. A \
provider whose response_types_supported (or response_modes_supported) lacks them rejects the \
authorization request.\n\nFix: use `code` (unset OIDC_RESPONSE_TYPE) and leave OIDC_RESPONSE_MODE unset.",
        needs: &[Input::Env, Input::Discovery],
        check: check_response_type_supported,
    },
    Rule {
        id: "client-auth-method-unsupported",
        severity: Severity::Error,
        summary: "The provider does not accept the client authentication method Mastodon will use",
        explanation: "rack-oauth2 1.21.3 authenticates at the token endpoint with HTTP Basic by default \
(client_secret_basic); OIDC_CLIENT_AUTH_METHOD=jwt_bearer gives client_secret_jwt, and any name it does not \
know (including `client_secret_basic` itself) gives client_secret_post. When \
token_endpoint_auth_methods_supported lacks that method, the token request fails with invalid_client. \
Some providers (Authelia) also pin one method per client, which the document cannot show.\n\nFix: set \
OIDC_CLIENT_AUTH_METHOD to the rack-oauth2 name of a supported method: unset or `basic` for \
client_secret_basic, any other name such as `post` for client_secret_post.",
        needs: &[Input::Env, Input::Discovery],
        check: check_client_auth_supported,
    },
    Rule {
        id: "signing-alg-symmetric-only",
        severity: Severity::Warning,
        summary: "The provider signs ID tokens only with a shared-secret (HS*) algorithm",
        explanation: "When id_token_signing_alg_values_supported lists only HS256/HS384/HS512, ID tokens are \
signed with the client secret. Current Mastodon verifies them with OIDC_CLIENT_SECRET, so a wrong secret \
shows up as a signature failure, and anyone holding the secret can mint tokens; releases before \
omniauth_openid_connect's HS256 fix cannot verify them at all. On authentik this means the provider has no \
signing key selected, and its JWKS is empty; when the authentik admin API confirms it, \
authentik-signing-key-missing reports it instead, with the keys that could sign. It does not fire when \
HS256 is one of several algorithms.\n\n\
Fix: give the provider an asymmetric signing key (on authentik, select a certificate such as \"authentik \
Self-signed Certificate\" as the provider's signing key).",
        needs: &[Input::Discovery],
        check: check_symmetric_only,
    },
    Rule {
        id: "signing-alg-unsupported",
        severity: Severity::Warning,
        summary: "No advertised ID token algorithm can be verified by Mastodon",
        explanation: "json-jwt 1.15, which Mastodon 4.3 to 4.5 use, verifies HS256/384/512, RS256/384/512, \
PS256/384/512 and ES256/384/512. A provider that advertises only other algorithms (EdDSA, Ed448, `none`) \
issues ID tokens Mastodon rejects.\n\nFix: select an RSA or EC P-256 signing key at the provider.",
        needs: &[Input::Discovery],
        check: check_unsupported_algorithms,
    },
    Rule {
        id: "scope-not-supported",
        severity: Severity::Warning,
        summary: "A requested scope is not in the provider's scopes_supported",
        explanation: "Mastodon requests every scope in OIDC_SCOPE (plus `openid`). Providers treat unknown \
scopes differently: authentik silently drops them, so claims are missing later; Authelia rejects the \
request with invalid_scope. scopes_supported may not list every scope a provider accepts, so this is a \
warning.\n\nFix: request only scopes the provider offers, or add the scope (on authentik, a scope mapping \
attached to the provider).",
        needs: &[Input::Env, Input::Discovery],
        check: check_scopes_supported,
    },
    Rule {
        id: "auth-endpoint-mismatch",
        severity: Severity::Warning,
        summary: "OIDC_AUTH_ENDPOINT differs from the discovered authorization endpoint",
        explanation: "With discovery on, the login flow uses the discovered authorization_endpoint and ignores \
OIDC_AUTH_ENDPOINT, but Mastodon's Content-Security-Policy still takes OIDC_AUTH_ENDPOINT for form-action \
when ONE_CLICK_SSO_LOGIN and OMNIAUTH_ONLY are on. Chromium applies form-action to the redirect after the \
login form's POST, so another origin blocks the login button there. A different origin is a warning, and \
an error in that one-click mode; a different path on the same origin is info (a warning in one-click \
mode). With discovery off, OIDC_AUTH_ENDPOINT is the endpoint in use and should equal the document's.\n\n\
Fix: set OIDC_AUTH_ENDPOINT to the discovered authorization_endpoint, exactly.",
        needs: &[Input::Env, Input::Discovery],
        check: check_auth_endpoint,
    },
    Rule {
        id: "endpoint-mismatch",
        severity: Severity::Warning,
        summary: "A manually set endpoint differs from the discovery document",
        explanation: "With discovery off, Mastodon uses OIDC_TOKEN_ENDPOINT, OIDC_USER_INFO_ENDPOINT, \
OIDC_JWKS_URI and OIDC_END_SESSION_ENDPOINT as written. When the provider's discovery document names \
other URLs, the manual values are probably outdated.\n\nFix: copy the endpoints from the discovery \
document, or set OIDC_DISCOVERY=true.",
        needs: &[Input::Env, Input::Discovery],
        check: check_manual_endpoints,
    },
    Rule {
        id: "pkce-recommended",
        severity: Severity::Info,
        summary: "The provider supports PKCE, and Mastodon does not send it",
        explanation: "The provider lists S256 in code_challenge_methods_supported. Mastodon 4.3 and later send \
a PKCE challenge when OIDC_USE_PKCE=true, which protects the authorization code against interception. \
Providers that enforce PKCE (Kanidm) reject logins without it; see pkce-required.\n\nFix: set \
OIDC_USE_PKCE=true (Mastodon 4.3 or later).",
        needs: &[Input::Env, Input::Discovery],
        check: check_pkce_recommended,
    },
    Rule {
        id: "end-session-missing",
        severity: Severity::Info,
        summary: "Sign-out goes to the provider, which has no end-session endpoint",
        explanation: "With OMNIAUTH_ONLY=true Mastodon sends signed-out users to /auth/auth/openid_connect/logout, \
which redirects to the provider's end_session_endpoint. Without one the request falls through to Rails and \
the user sees a 404 page. With OIDC_IDP_LOGOUT_REDIRECT_URI set this is a warning, since that setting can \
never take effect.\n\nFix: enable RP-initiated logout at the provider, or accept the 404 after sign-out.",
        needs: &[Input::Env, Input::Discovery],
        check: check_end_session,
    },
    Rule {
        id: "jwks-invalid",
        severity: Severity::Error,
        summary: "The JWKS has no usable signing key",
        explanation: "Mastodon verifies asymmetrically signed ID tokens with the keys of the JWKS. A JWKS that \
is not an object with a `keys` array, that has no key, or whose keys lack `kty` cannot verify any token, so \
every login fails with a signature error. It stays quiet when the provider signs with HS* only, where the \
JWKS is legitimately empty (authentik without a signing key serves `{}`).\n\nFix: give the provider a \
signing key.",
        needs: &[Input::Jwks],
        check: check_jwks_invalid,
    },
    Rule {
        id: "jwks-no-key-for-alg",
        severity: Severity::Warning,
        summary: "The JWKS holds no key for any advertised asymmetric algorithm",
        explanation: "Every advertised asymmetric ID token algorithm needs a key of its type in the JWKS (RSA \
for RS*/PS*, EC for ES*, OKP for EdDSA). When no key fits any of them, ID tokens cannot be verified; this \
often follows a key rotation where the JWKS was not updated.\n\nFix: publish the signing key in the JWKS \
(on authentik, the provider's signing key appears there automatically).",
        needs: &[Input::Discovery, Input::Jwks],
        check: check_jwks_algorithms,
    },
    Rule {
        id: "jwks-duplicate-kid",
        severity: Severity::Warning,
        summary: "Two keys in the JWKS share a `kid`",
        explanation: "Mastodon's gem selects the verification key by the ID token's `kid` header. With two keys \
under one `kid`, verification may pick the wrong key and fail intermittently after a rotation.\n\nFix: give \
every key a unique `kid`.",
        needs: &[Input::Jwks],
        check: check_duplicate_kid,
    },
];

fn is_symmetric(algorithm: &str) -> bool {
    algorithm.starts_with("HS")
}

/// Describes how two issuers differ, for the help text.
fn issuer_difference(configured: &str, discovered: &str) -> String {
    if configured.trim_end_matches('/') == discovered.trim_end_matches('/') {
        return if discovered.ends_with('/') {
            "the only difference is the trailing slash: the discovered issuer ends with `/`".to_string()
        } else {
            "the only difference is the trailing slash: the discovered issuer has none".to_string()
        };
    }
    match (Url::parse(configured), Url::parse(discovered)) {
        (Ok(ours), Ok(theirs)) => {
            let same_rest = ours.host_str().map(str::to_ascii_lowercase) == theirs.host_str().map(str::to_ascii_lowercase)
                && ours.path().trim_end_matches('/') == theirs.path().trim_end_matches('/');
            if ours.scheme() != theirs.scheme() && same_rest {
                if theirs.scheme() == "http" {
                    return "the discovered issuer uses http: the provider's reverse proxy does not send X-Forwarded-Proto: https".to_string();
                }
                return format!("only the scheme differs ({} vs {})", ours.scheme(), theirs.scheme());
            }
            if configured.eq_ignore_ascii_case(discovered) {
                return "only letter case differs; the comparison is case-sensitive".to_string();
            }
            if ours.host_str() != theirs.host_str() {
                return format!(
                    "the host differs ({} vs {}): the provider builds its issuer from the Host header it receives",
                    ours.host_str().unwrap_or(""),
                    theirs.host_str().unwrap_or("")
                );
            }
            if ours.port() != theirs.port() {
                return "the port differs".to_string();
            }
            if theirs.path() == "/" && ours.path().starts_with("/application/o/") {
                return "the discovered issuer is the bare host: the authentik provider uses the global issuer mode".to_string();
            }
            "the paths differ".to_string()
        }
        _ => "the values differ".to_string(),
    }
}

/// Returns the fix for an issuer mismatch. Copying the discovered value is wrong when
/// the provider itself builds a broken issuer (http behind a proxy, authentik's
/// global mode with discovery on).
fn issuer_fix(context: &Context, configured: &str, discovered: &str) -> String {
    let (Ok(ours), Ok(theirs)) = (Url::parse(configured), Url::parse(discovered)) else {
        return format!("set OIDC_ISSUER={discovered}");
    };
    if theirs.scheme() == "http" && ours.scheme() == "https" {
        return "make the provider's reverse proxy send X-Forwarded-Proto: https (and the original Host), so the provider builds an https issuer; do not copy the http issuer".to_string();
    }
    let global_mode = theirs.path() == "/" && ours.path().starts_with("/application/o/");
    if global_mode && context.settings.discovery() {
        return "switch the authentik provider's issuer mode to \"Each provider has a different issuer\"; the global issuer cannot pass Mastodon's discovery".to_string();
    }
    format!("set OIDC_ISSUER={discovered}")
}

fn check_issuer_mismatch(context: &Context, sink: &mut Sink) {
    let Some(document) = context.discovery_object() else { return };
    let Some(discovered) = document.str("issuer") else { return };
    let Some(configured) = context.var("OIDC_ISSUER") else { return };
    if configured.value == discovered {
        return;
    }
    let consequence = if context.settings.discovery() {
        "Mastodon's discovery fails with \"Issuer mismatch\" on every login"
    } else {
        "the ID token's `iss` check fails (\"Invalid ID token: Issuer does not match\") on every login"
    };
    sink.emit(format!("OIDC_ISSUER `{}` is not the discovered issuer `{discovered}`: {consequence}", configured.value))
        .at(configured.label.map(|label| label.with_message(issuer_difference(configured.value, discovered))))
        .help(issuer_fix(context, configured.value, discovered));
}

fn check_issuer_scheme(context: &Context, sink: &mut Sink) {
    if !context.settings.oidc_enabled() {
        return;
    }
    let Some(issuer) = context.var("OIDC_ISSUER").filter(|var| !var.value.is_empty()) else { return };
    match Url::parse(issuer.value) {
        Ok(url) if url.scheme() == "https" && url.has_host() => {}
        Ok(url) if url.scheme() == "http" => {
            let https = issuer.value.replacen("http://", "https://", 1);
            sink.emit(format!("OIDC_ISSUER `{}` uses http; Mastodon fetches discovery over https anyway and compares the issuer exactly", issuer.value))
                .at(issuer.label)
                .help(format!("set OIDC_ISSUER={https} and make the provider's proxy send X-Forwarded-Proto: https"));
        }
        _ => {
            sink.emit(format!("OIDC_ISSUER `{}` is not an absolute URL; discovery and the ID token issuer check cannot work", issuer.value))
                .at(issuer.label)
                .help("write the issuer as https://HOST/PATH, as the provider's discovery document states it");
        }
    }
}

/// Skew below which the Date header's one-second resolution and the request
/// time make a difference meaningless.
const CLOCK_SKEW_LIMIT_SECONDS: i64 = 30;

fn check_clock_skew(context: &Context, sink: &mut Sink) {
    let fetched = [context.discovery, context.jwks].into_iter().flatten().find(|document| !document.from_file);
    let Some(document) = fetched else { return };
    let Some(date) = document.header("date").and_then(|value| httpdate::parse_http_date(value).ok()) else { return };
    let Ok(provider_time) = date.duration_since(std::time::UNIX_EPOCH) else { return };
    let skew = context.now - provider_time.as_secs() as i64;
    if skew.abs() <= CLOCK_SKEW_LIMIT_SECONDS {
        return;
    }
    let direction = if skew > 0 { "ahead of" } else { "behind" };
    sink.emit(format!(
        "this host's clock is {} seconds {direction} the provider's (Date header of {}); Mastodon checks ID token expiry with no leeway",
        skew.abs(),
        document.source
    ))
    .help("run NTP (systemd-timesyncd or chrony) on the Mastodon host and on the provider");
}

fn check_issuer_http(context: &Context, sink: &mut Sink) {
    let Some(document) = context.discovery_object() else { return };
    let Some(issuer) = document.str("issuer") else { return };
    if !issuer.starts_with("http://") {
        return;
    }
    sink.emit(format!("the discovery document's issuer `{issuer}` uses http; the provider is probably behind a proxy that does not send X-Forwarded-Proto: https"))
        .at(context.var("OIDC_ISSUER").and_then(|var| var.label))
        .help("make the reverse proxy send X-Forwarded-Proto: https and the original Host header, then use the https issuer");
}

fn check_required_fields(context: &Context, sink: &mut Sink) {
    let Some(document) = context.discovery_object() else { return };
    let severity = if context.settings.discovery() { Severity::Error } else { Severity::Info };
    for field in REQUIRED_FIELDS {
        // ActiveModel's `presence` rejects nil, "" and [] alike.
        let present = document.object().and_then(|object| object.get(field)).is_some_and(|value| match value {
            serde_json::Value::Null => false,
            serde_json::Value::String(text) => !text.trim().is_empty(),
            serde_json::Value::Array(items) => !items.is_empty(),
            _ => true,
        });
        if !present {
            sink.emit(format!("the discovery document at {} has no `{field}`, or it is empty; Mastodon's discovery rejects it", document.source))
                .severity(severity)
                .help("correct the provider's configuration; the document must list every required OpenID Connect Discovery field");
        }
    }
    for field in URL_FIELDS {
        // The gem validates URL fields with `allow_nil`, so null is fine.
        let Some(value) = document.object().and_then(|object| object.get(field)).filter(|value| !value.is_null()) else { continue };
        let valid = value.as_str().is_some_and(|text| Url::parse(text).is_ok_and(|url| url.has_host()));
        if !valid {
            sink.emit(format!("`{field}` in the discovery document is not a valid URL: {value}"))
                .severity(severity)
                .help("correct the provider's configuration so the field holds an absolute URL");
        }
    }
}

fn check_runtime_endpoints(context: &Context, sink: &mut Sink) {
    let Some(document) = context.discovery_object() else { return };
    if !context.settings.discovery() {
        return;
    }
    for field in ["token_endpoint", "userinfo_endpoint"] {
        if document.str(field).is_none() {
            sink.emit(format!("the discovery document has no `{field}`, which Mastodon calls on every login"))
                .at(context.var("OIDC_DISCOVERY").and_then(|var| var.label))
                .help("enable the authorization code flow and userinfo at the provider");
        }
    }
}

fn check_provider_metadata(context: &Context, sink: &mut Sink) {
    let Some(document) = context.discovery_object() else { return };
    let Some(json) = &document.json else { return };
    let result: Result<openidconnect::core::CoreProviderMetadata, _> = serde_path_to_error::deserialize(json);
    if let Err(error) = result {
        let path = error.path().to_string();
        let field = if path == "." { "the document".to_string() } else { format!("`{path}`") };
        sink.emit(format!("{field} is not valid OpenID Provider Metadata: {}", error.inner()))
            .help("correct this field at the provider; strict relying parties reject the document");
    }
}

fn check_response_type_supported(context: &Context, sink: &mut Sink) {
    let Some(document) = context.discovery_object() else { return };
    let response_type = context.settings.response_type();
    if let Some(supported) = document.strings("response_types_supported") {
        let requested: Vec<&str> = response_type.split_whitespace().collect();
        let listed = supported.iter().any(|entry| {
            let mut entry_parts: Vec<&str> = entry.split_whitespace().collect();
            let mut requested_parts = requested.clone();
            entry_parts.sort_unstable();
            requested_parts.sort_unstable();
            entry_parts == requested_parts
        });
        if !listed {
            sink.emit(format!("the provider does not list response type `{response_type}` (it lists {})", supported.join(", ")))
                .at(context.var("OIDC_RESPONSE_TYPE").and_then(|var| var.label))
                .help("unset OIDC_RESPONSE_TYPE so Mastodon uses `code`");
        }
    }
    let Some(mode) = context.var("OIDC_RESPONSE_MODE") else { return };
    if let Some(modes) = document.strings("response_modes_supported") {
        if !modes.contains(&mode.value) {
            sink.emit(format!("the provider does not list response mode `{}` (it lists {})", mode.value, modes.join(", ")))
                .at(mode.label)
                .help("unset OIDC_RESPONSE_MODE");
        }
    }
}

fn check_client_auth_supported(context: &Context, sink: &mut Sink) {
    let Some(document) = context.discovery_object() else { return };
    let method = context.settings.client_auth();
    // OpenID Connect Discovery 1.0: an absent list means client_secret_basic.
    let supported = document.strings("token_endpoint_auth_methods_supported").unwrap_or_else(|| vec!["client_secret_basic"]);
    if supported.contains(&method.metadata_name()) {
        return;
    }
    let setting = context.var("OIDC_CLIENT_AUTH_METHOD");
    let written = setting.as_ref().map_or("unset".to_string(), |var| format!("`{}`", var.value));
    let suggestion = if supported.contains(&"client_secret_basic") {
        "unset OIDC_CLIENT_AUTH_METHOD (HTTP Basic)"
    } else if supported.contains(&"client_secret_post") {
        "set OIDC_CLIENT_AUTH_METHOD=post (any name rack-oauth2 does not know sends the secret in the POST body)"
    } else {
        "the provider supports no method Mastodon can use with a client secret"
    };
    let help = if method == ClientAuth::Saml2Bearer || method == ClientAuth::Mtls {
        format!("{suggestion}; Mastodon cannot present a SAML assertion or a TLS client certificate")
    } else {
        suggestion.to_string()
    };
    sink.emit(format!(
        "OIDC_CLIENT_AUTH_METHOD {written} makes Mastodon use {}, which the provider does not list (it lists {})",
        method.metadata_name(),
        supported.join(", ")
    ))
    .at(setting.and_then(|var| var.label))
    .help(help);
}

fn check_symmetric_only(context: &Context, sink: &mut Sink) {
    let Some(document) = context.discovery_object() else { return };
    let Some(algorithms) = document.strings("id_token_signing_alg_values_supported") else { return };
    if algorithms.is_empty() || !algorithms.iter().all(|algorithm| is_symmetric(algorithm)) {
        return;
    }
    let confirmed_by_api = context.authentik.and_then(|facts| facts.provider()).is_some_and(|provider| provider.lacks_signing_key());
    if confirmed_by_api {
        return;
    }
    let help = if context.is_provider(ProviderKind::Authentik) {
        "select a signing key for the authentik provider (for example the RSA \"authentik Self-signed Certificate\"); its JWKS is empty without one"
    } else {
        "configure an asymmetric signing key (RS256 or ES256) for this client at the provider"
    };
    sink.emit(format!(
        "the provider signs ID tokens only with {}: tokens are verified with OIDC_CLIENT_SECRET, and anyone holding the secret can mint them",
        algorithms.join(", ")
    ))
    .help(help);
}

fn check_unsupported_algorithms(context: &Context, sink: &mut Sink) {
    let Some(document) = context.discovery_object() else { return };
    let Some(algorithms) = document.strings("id_token_signing_alg_values_supported") else { return };
    if algorithms.is_empty() || algorithms.iter().any(|algorithm| VERIFIABLE_ALGORITHMS.contains(algorithm)) {
        return;
    }
    sink.emit(format!("the provider signs ID tokens only with {}, which Mastodon's JWT library cannot verify", algorithms.join(", ")))
        .help("select an RSA (RS256) or EC P-256 (ES256) signing key at the provider");
}

fn check_scopes_supported(context: &Context, sink: &mut Sink) {
    let Some(document) = context.discovery_object() else { return };
    let Some(supported) = document.strings("scopes_supported") else { return };
    if context.settings.scopes().is_none() {
        return;
    }
    for scope in context.settings.authorize_scopes() {
        if supported.contains(&scope.as_str()) {
            continue;
        }
        sink.emit(format!("scope `{scope}` is not in the provider's scopes_supported ({})", supported.join(", ")))
            .at(context.var("OIDC_SCOPE").and_then(|var| var.label))
            .help("request only scopes the provider offers, or add this scope at the provider");
    }
}

fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

fn check_auth_endpoint(context: &Context, sink: &mut Sink) {
    let Some(document) = context.discovery_object() else { return };
    let Some(discovered) = document.str("authorization_endpoint") else { return };
    let Some(configured) = context.var("OIDC_AUTH_ENDPOINT") else { return };
    if configured.value == discovered {
        return;
    }
    let one_click = context.settings.one_click_sso() && context.settings.oidc_enabled();
    let (Ok(ours), Ok(theirs)) = (Url::parse(configured.value), Url::parse(discovered)) else {
        sink.emit(format!("OIDC_AUTH_ENDPOINT `{}` is not the discovered authorization endpoint `{discovered}`", configured.value))
            .at(configured.label)
            .help(format!("set OIDC_AUTH_ENDPOINT={discovered}"));
        return;
    };
    let same_origin = origin(&ours) == origin(&theirs);
    let severity = match (same_origin, one_click) {
        (false, true) => Severity::Error,
        (false, false) => Severity::Warning,
        (true, true) => Severity::Warning,
        // Without discovery this is the URL users are sent to.
        (true, false) if !context.settings.discovery() => Severity::Warning,
        (true, false) => Severity::Info,
    };
    let effect = if !context.settings.discovery() {
        "with discovery off Mastodon sends users to OIDC_AUTH_ENDPOINT"
    } else if one_click {
        "the CSP form-action Mastodon builds from it blocks the login redirect in Chromium"
    } else {
        "the login flow ignores it, but the CSP uses it once one-click login is turned on"
    };
    let what = if same_origin { "its path differs from" } else { "its origin differs from" };
    // An http endpoint from an https provider is the proxy's mistake, not the setting's.
    let help = if theirs.scheme() == "http" && ours.scheme() == "https" {
        "make the provider's reverse proxy send X-Forwarded-Proto: https so it advertises https endpoints; keep OIDC_AUTH_ENDPOINT on https".to_string()
    } else {
        format!("set OIDC_AUTH_ENDPOINT={discovered}")
    };
    sink.emit(format!("OIDC_AUTH_ENDPOINT `{}`: {what} the discovered authorization endpoint `{discovered}`; {effect}", configured.value))
        .severity(severity)
        .at(configured.label)
        .help(help);
}

fn check_manual_endpoints(context: &Context, sink: &mut Sink) {
    if context.settings.discovery() {
        return;
    }
    let Some(document) = context.discovery_object() else { return };
    let pairs = [
        ("OIDC_TOKEN_ENDPOINT", "token_endpoint"),
        ("OIDC_USER_INFO_ENDPOINT", "userinfo_endpoint"),
        ("OIDC_JWKS_URI", "jwks_uri"),
        ("OIDC_END_SESSION_ENDPOINT", "end_session_endpoint"),
    ];
    for (name, field) in pairs {
        let (Some(var), Some(discovered)) = (context.var(name), document.str(field)) else { continue };
        if var.value != discovered {
            sink.emit(format!("{name} `{}` differs from the provider's {field} `{discovered}`", var.value))
                .at(var.label)
                .help(format!("set {name}={discovered}, or set OIDC_DISCOVERY=true"));
        }
    }
}

fn check_pkce_recommended(context: &Context, sink: &mut Sink) {
    let Some(document) = context.discovery_object() else { return };
    if context.settings.pkce() || context.is_provider(ProviderKind::Kanidm) || !context.settings.oidc_enabled() {
        return;
    }
    let methods = document.strings("code_challenge_methods_supported").unwrap_or_default();
    if methods.contains(&"S256") {
        sink.emit("the provider supports PKCE (S256), and Mastodon does not send it: OIDC_USE_PKCE is not `true`")
            .at(context.var("OIDC_USE_PKCE").and_then(|var| var.label))
            .help("set OIDC_USE_PKCE=true (Mastodon 4.3 or later)");
    }
}

fn check_end_session(context: &Context, sink: &mut Sink) {
    let Some(document) = context.discovery_object() else { return };
    if !context.settings.flag("OMNIAUTH_ONLY", false) || !context.settings.oidc_enabled() {
        return;
    }
    let endpoint_known = if context.settings.discovery() {
        document.str("end_session_endpoint").is_some()
    } else {
        context.var("OIDC_END_SESSION_ENDPOINT").is_some()
    };
    if endpoint_known {
        return;
    }
    let logout_uri = context.var("OIDC_IDP_LOGOUT_REDIRECT_URI");
    let severity = if logout_uri.is_some() { Severity::Warning } else { Severity::Info };
    sink.emit("OMNIAUTH_ONLY sends signed-out users to the provider's end-session endpoint, and the provider has none: they land on a 404 page")
        .severity(severity)
        .at(logout_uri.and_then(|var| var.label).or_else(|| context.var("OMNIAUTH_ONLY").and_then(|var| var.label)))
        .help("enable RP-initiated logout at the provider, or accept the 404 after sign-out");
}

/// Returns the advertised signing algorithms, or `None` when unknown.
fn advertised_algorithms<'a>(context: &Context<'a>) -> Option<Vec<&'a str>> {
    context.discovery_object()?.strings("id_token_signing_alg_values_supported")
}

fn jwks_keys(document: &Document) -> Option<&Vec<serde_json::Value>> {
    document.object()?.get("keys")?.as_array()
}

fn check_jwks_invalid(context: &Context, sink: &mut Sink) {
    let Some(jwks) = context.jwks else { return };
    let symmetric_only = advertised_algorithms(context).is_some_and(|algorithms| !algorithms.is_empty() && algorithms.iter().all(|algorithm| is_symmetric(algorithm)));
    if symmetric_only {
        return;
    }
    let problem = match jwks_keys(jwks) {
        None => Some("has no `keys` array".to_string()),
        Some(keys) if keys.is_empty() => Some("has no key".to_string()),
        Some(keys) => {
            let without_type = keys.iter().filter(|key| key.get("kty").and_then(|kty| kty.as_str()).is_none()).count();
            (without_type == keys.len()).then(|| "has no key with a `kty`".to_string())
        }
    };
    if let Some(problem) = problem {
        sink.emit(format!("the JWKS at {} {problem}; Mastodon cannot verify any ID token", jwks.source))
            .help("give the provider a signing key so it publishes it in the JWKS");
    }
}

/// Returns the JWK key type that verifies an algorithm.
fn key_type(algorithm: &str) -> Option<&'static str> {
    match algorithm.get(..2)? {
        "RS" | "PS" => Some("RSA"),
        "ES" => Some("EC"),
        "Ed" => Some("OKP"),
        _ => None,
    }
}

fn check_jwks_algorithms(context: &Context, sink: &mut Sink) {
    let (Some(jwks), Some(algorithms)) = (context.jwks, advertised_algorithms(context)) else { return };
    let Some(keys) = jwks_keys(jwks) else { return };
    let asymmetric: Vec<&str> = algorithms.iter().copied().filter(|algorithm| !is_symmetric(algorithm) && *algorithm != "none").collect();
    if asymmetric.is_empty() || keys.is_empty() {
        return;
    }
    let signing_keys: Vec<&serde_json::Value> = keys
        .iter()
        .filter(|key| key.get("use").and_then(|value| value.as_str()).is_none_or(|value| value == "sig"))
        .collect();
    let fits = |algorithm: &str| {
        signing_keys.iter().any(|key| {
            let key_alg = key.get("alg").and_then(|value| value.as_str());
            let kty = key.get("kty").and_then(|value| value.as_str());
            match key_alg {
                Some(key_alg) => key_alg == algorithm,
                None => kty.is_some() && kty == key_type(algorithm),
            }
        })
    };
    if !asymmetric.iter().any(|algorithm| fits(algorithm)) {
        sink.emit(format!("the JWKS at {} holds no signing key for {}", jwks.source, asymmetric.join(", ")))
            .help("publish the provider's current signing key in the JWKS");
    }
}

fn check_duplicate_kid(context: &Context, sink: &mut Sink) {
    let Some(jwks) = context.jwks else { return };
    let Some(keys) = jwks_keys(jwks) else { return };
    let mut seen = std::collections::HashMap::new();
    for key in keys {
        let Some(kid) = key.get("kid").and_then(|value| value.as_str()) else { continue };
        let usage = key.get("use").and_then(|value| value.as_str()).unwrap_or("sig");
        *seen.entry((kid, usage)).or_insert(0) += 1;
    }
    let mut duplicates: Vec<_> = seen.into_iter().filter(|(_, count)| *count > 1).collect();
    duplicates.sort();
    for ((kid, _), count) in duplicates {
        sink.emit(format!("{count} keys in the JWKS at {} share the kid `{kid}`", jwks.source))
            .help("give every key a unique kid");
    }
}
