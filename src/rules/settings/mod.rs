//! Rules about Mastodon's OIDC settings as Mastodon 4.3 to 4.5 reads them
//! (`config/initializers/3_omniauth.rb` with omniauth_openid_connect 0.6.1,
//! openid_connect 1.4.2 and rack-oauth2 1.21.3). They need only the env files,
//! and a few also use the discovery document when one is present.

use std::sync::LazyLock;

use regex::Regex;
use url::Url;

use crate::finding::{Label, Severity};
use crate::mastodon::{self, ClientAuth, Parse};
use crate::providers::ProviderKind;

use super::{Context, Input, Rule, Sink, Var};

mod endpoints;
mod placeholders;
mod presence;
mod request;
mod scope;

use endpoints::*;
use placeholders::*;
use presence::*;
use request::*;
use scope::*;

/// Flags that Mastodon compares with the exact string `true` and that default to false.
const FALSE_BY_DEFAULT_FLAGS: [&str; 6] = [
    "OIDC_DISCOVERY",
    "OIDC_USE_PKCE",
    "OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED",
    "OMNIAUTH_ONLY",
    "ONE_CLICK_SSO_LOGIN",
    "ALLOW_UNSAFE_AUTH_PROVIDER_REATTACH",
];

/// The endpoint variables used without discovery, the gem's default for each,
/// and the discovery field that replaces it.
const ENDPOINTS: [(&str, &str, &str); 4] = [
    ("OIDC_AUTH_ENDPOINT", "/authorize", "authorization_endpoint"),
    ("OIDC_TOKEN_ENDPOINT", "/token", "token_endpoint"),
    ("OIDC_USER_INFO_ENDPOINT", "/userinfo", "userinfo_endpoint"),
    ("OIDC_JWKS_URI", "/jwk", "jwks_uri"),
];

/// The scope value to suggest when nothing better is known.
const EXAMPLE_SCOPE: &str = "openid,profile,email";

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: "oidc-not-configured",
        severity: Severity::Warning,
        summary: "No OIDC_* variable is set, so Mastodon's OIDC login is off",
        explanation: "Mastodon registers its OpenID Connect login only when OIDC_ENABLED=true and the other \
OIDC_* variables are set. A checked configuration without any of them has no OIDC login at all, which \
usually means the wrong file was checked: the settings may live in .env.production.local, or in the \
service manager's environment.\n\nFix: check the Mastodon directory (mastodon-oidc-check check DIR), pass \
variables from systemd or Docker with --env, or add the OIDC_* settings.",
        needs: &[Input::Env],
        check: check_oidc_not_configured,
    },
    Rule {
        id: "oidc-not-enabled",
        severity: Severity::Error,
        summary: "OIDC_* variables are set, but OIDC_ENABLED is not exactly `true`, so the OIDC login is off",
        explanation: "Mastodon turns the OIDC login on only when OIDC_ENABLED is the exact string `true`. \
`True`, `TRUE`, `1`, `yes`, `on` and `true ` with a space inside quotes all mean false, and an unset \
OIDC_ENABLED means false too. Mastodon then ignores every other OIDC_* variable and shows no OIDC login \
button, without any error in the log. When OIDC_ENABLED is exactly `false`, the login was turned off \
on purpose, so the finding is only info.\n\nFix: write OIDC_ENABLED=true.",
        needs: &[Input::Env],
        check: check_oidc_not_enabled,
    },
    Rule {
        id: "boolean-not-true",
        severity: Severity::Warning,
        summary: "A Mastodon flag is set to something other than `true` or `false`, and reads as false",
        explanation: "Mastodon compares OIDC_DISCOVERY, OIDC_USE_PKCE, OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED, \
OMNIAUTH_ONLY, ONE_CLICK_SSO_LOGIN and ALLOW_UNSAFE_AUTH_PROVIDER_REATTACH with the exact string `true`. \
Any other value, such as `True`, `1`, `yes` or an empty value, turns the feature off. A value that \
clearly means false (`False`, `0`, `no`, `off`) is reported as info, because Mastodon does what it \
says.\n\nFix: write `true` or `false` in lowercase.",
        needs: &[Input::Env],
        check: check_boolean_not_true,
    },
    Rule {
        id: "default-on-flag-disabled",
        severity: Severity::Warning,
        summary: "OIDC_SEND_NONCE or OIDC_SEND_SCOPE_TO_TOKEN_ENDPOINT is set to a value other than `true`, which turns the feature off",
        explanation: "Both features are on by default in omniauth_openid_connect 0.6.1. Mastodon sets the \
option to `value == 'true'` whenever the variable is set, so any value but `true` turns the feature OFF: \
`OIDC_SEND_NONCE=True` or `=1` stops sending the nonce. Without a nonce the ID token is not bound to \
the login attempt, so a replayed ID token is not detected. Without the scope in the token request, \
the provider grants the scope of the authorization code, as RFC 6749 specifies, which is usually \
harmless. A value of exactly `false` is deliberate and reported as info; any other value is a warning, \
because it turns off what the admin most likely meant to keep on.\n\nFix: delete the line to keep the \
default, or write `true`.",
        needs: &[Input::Env],
        check: check_default_on_flag_disabled,
    },
    Rule {
        id: "missing-scope",
        severity: Severity::Error,
        summary: "OIDC_ENABLED=true without OIDC_SCOPE, and Mastodon fails to boot",
        explanation: "Mastodon's OIDC initializer calls `ENV['OIDC_SCOPE'].split(',')` without a guard. When \
OIDC_SCOPE is unset this is `nil.split`, which raises NoMethodError while Rails boots, so Mastodon does \
not start at all.\n\nFix: set OIDC_SCOPE=openid,profile,email.",
        needs: &[Input::Env],
        check: check_missing_scope,
    },
    Rule {
        id: "missing-required-setting",
        severity: Severity::Error,
        summary: "OIDC_ENABLED=true, but OIDC_CLIENT_ID, OIDC_REDIRECT_URI or OIDC_ISSUER is unset or empty",
        explanation: "Every OIDC login needs these three values. Without OIDC_CLIENT_ID, rack-oauth2 raises \
AttrMissing when the client is built. Mastodon sends OIDC_REDIRECT_URI verbatim as the redirect_uri, \
so without it the provider rejects the authorization request. Without OIDC_ISSUER, discovery has no \
URL, and the ID token's `iss` claim can never equal the configured issuer. With OIDC_HOST set, the gem \
looks the issuer up with WebFinger at that host instead, which few providers serve, so a missing \
OIDC_ISSUER is then a warning. Each missing variable is one finding.\n\nFix: set the variable. The \
redirect URI is https://<WEB_DOMAIN or LOCAL_DOMAIN>/auth/auth/openid_connect/callback.",
        needs: &[Input::Env],
        check: check_missing_required_setting,
    },
    Rule {
        id: "missing-client-secret",
        severity: Severity::Warning,
        summary: "OIDC_ENABLED=true without OIDC_CLIENT_SECRET",
        explanation: "Mastodon authenticates at the token endpoint with the client id and OIDC_CLIENT_SECRET \
(HTTP Basic by default). Without a secret, a provider that registered Mastodon as a confidential client \
answers the token request with `invalid_client`, and ID tokens signed with HS256 cannot be verified, \
because the secret is their key. The rule stays quiet when the discovery document lists `none` in \
token_endpoint_auth_methods_supported, which means the provider accepts public clients.\n\nFix: copy \
the client secret from the provider's client settings into OIDC_CLIENT_SECRET.",
        needs: &[Input::Env],
        check: check_missing_client_secret,
    },
    Rule {
        id: "unknown-variable",
        severity: Severity::Warning,
        summary: "An OIDC_* variable that Mastodon does not read, or the removed OAUTH_REDIRECT_AT_SIGN_IN",
        explanation: "Mastodon reads a fixed list of OIDC_* variables; any other name has no effect, so the \
setting it was meant to change keeps its default. Common wrong names are OIDC_USERINFO_ENDPOINT (the \
variable is OIDC_USER_INFO_ENDPOINT), OIDC_AUTHORIZATION_ENDPOINT (OIDC_AUTH_ENDPOINT), OIDC_PKCE \
(OIDC_USE_PKCE) and OIDC_IDP_LOGOUT (OIDC_IDP_LOGOUT_REDIRECT_URI). Mastodon has no setting at all for \
OIDC_CLIENT_SIGNING_ALG or OIDC_JWT_SECRET. OAUTH_REDIRECT_AT_SIGN_IN was removed in Mastodon 3.5 and \
replaced by OMNIAUTH_ONLY. Names that differ from a real variable only in letter case are reported by \
key-case-mismatch instead.\n\nFix: rename the key to the suggested variable, or delete the line.",
        needs: &[Input::Env],
        check: check_unknown_variable,
    },
    Rule {
        id: "scope-missing-openid",
        severity: Severity::Error,
        summary: "OIDC_SCOPE does not contain `openid`",
        explanation: "openid_connect 1.4.2 adds `openid` to the scope of the authorization request only. The \
token request, which carries the scope by default, gets OIDC_SCOPE as written. Providers that take the \
token's scope from that request then issue an access token without `openid`: authentik 2024.2 and \
later answer the userinfo request, which Mastodon makes on every login, with 403 and log \"Scope \
mismatch\". A discovery document that lists `openid` in scopes_supported does not help, because the \
scope Mastodon requests is what counts. Scope values are case-sensitive, so `OpenID` is not \
`openid`.\n\nFix: put `openid` first in the comma-separated list, for example \
OIDC_SCOPE=openid,profile,email.",
        needs: &[Input::Env],
        check: check_scope_missing_openid,
    },
    Rule {
        id: "scope-format",
        severity: Severity::Warning,
        summary: "OIDC_SCOPE is not a plain comma-separated list",
        explanation: "Mastodon splits OIDC_SCOPE on `,` without trimming. A space around a comma stays part \
of the scope: `openid, profile` is sent to the token endpoint as `openid  profile` with two spaces. A \
leading comma or `,,` adds an empty scope with the same effect. Semicolons do not separate anything: \
`openid;profile` is one scope. These are warnings. A list separated by spaces only (`openid profile \
email`) is info: it works by accident, because it becomes one scope that openid_connect joins and \
splits on whitespace again, but it is not the documented form. A trailing comma is dropped by Ruby's \
split and is harmless.\n\nFix: separate the scopes with commas and nothing else, for example \
OIDC_SCOPE=openid,profile,email.",
        needs: &[Input::Env],
        check: check_scope_format,
    },
    Rule {
        id: "client-auth-method-name",
        severity: Severity::Warning,
        summary: "OIDC_CLIENT_AUTH_METHOD is not a name rack-oauth2 understands",
        explanation: "Mastodon passes OIDC_CLIENT_AUTH_METHOD to rack-oauth2 1.21.3, which knows only its own \
names: `basic` (HTTP Basic, the default), `basic_without_www_form_urlencode`, `jwt_bearer` (a \
client_assertion signed with the client secret, which is client_secret_jwt), `saml2_bearer` and `mtls`. \
Every other value, including the standard metadata names, sends client_id and client_secret in the \
POST body (client_secret_post). So `client_secret_basic` silently becomes a POST-body request, and \
providers that pin the client to HTTP Basic answer `invalid_client`. `saml2_bearer` and `mtls` are \
errors: Mastodon can supply neither a SAML assertion nor a client certificate. `client_secret_post` is \
info: it works only because every unknown name means the POST body.\n\nFix: delete the line to use \
HTTP Basic, or write OIDC_CLIENT_AUTH_METHOD=basic.",
        needs: &[Input::Env],
        check: check_client_auth_method_name,
    },
    Rule {
        id: "response-type",
        severity: Severity::Error,
        summary: "OIDC_RESPONSE_TYPE is not `code`",
        explanation: "omniauth_openid_connect 0.6.1 handles only the response types `code` (the default) and \
`id_token` in the callback. Any other value, such as `code id_token` or `Code`, makes its response-type \
check raise, so every login fails. `id_token` is a warning: it is the implicit flow, whose ID token the \
provider returns in the URL fragment by default, and the browser never sends a fragment to \
Mastodon.\n\nFix: delete the line; `code` is the default.",
        needs: &[Input::Env],
        check: check_response_type,
    },
    Rule {
        id: "response-mode",
        severity: Severity::Error,
        summary: "OIDC_RESPONSE_MODE makes the callback lose the code or the session",
        explanation: "With `form_post` the provider returns the code in a cross-site POST to Mastodon. \
Mastodon's session cookie is SameSite=Lax, so the browser does not send it with that POST, the stored \
state is missing, and the login fails with \"Invalid 'state' parameter\". With `fragment` the code is \
in the URL fragment, which never reaches the server. Other values are not response modes Mastodon can \
receive. `query` is info: it is what the provider uses anyway when no response_mode is sent.\n\nFix: \
delete the line.",
        needs: &[Input::Env],
        check: check_response_mode,
    },
    Rule {
        id: "display-ignored",
        severity: Severity::Info,
        summary: "OIDC_DISPLAY has no effect",
        explanation: "Mastodon passes OIDC_DISPLAY to omniauth_openid_connect as the `display` option, but \
version 0.6.1 never adds `display` to the authorization request. The provider shows its default \
page.\n\nFix: delete the line.",
        needs: &[Input::Env],
        check: check_display_ignored,
    },
    Rule {
        id: "prompt-value",
        severity: Severity::Warning,
        summary: "OIDC_PROMPT contains an unknown value or `none`",
        explanation: "Mastodon sends OIDC_PROMPT as the `prompt` parameter. OpenID Connect Core 1.0 defines the \
space-separated values `none`, `login`, `consent` and `select_account`; they are case-sensitive, and \
providers reject or ignore other values. `prompt=none` asks the provider not to show any page: a user \
without a session at the provider gets `login_required`, so the first login of every user fails.\n\n\
Fix: delete the line, or use the defined values separated by spaces, for example OIDC_PROMPT=login.",
        needs: &[Input::Env],
        check: check_prompt_value,
    },
    Rule {
        id: "endpoint-ignored-with-discovery",
        severity: Severity::Warning,
        summary: "An endpoint variable is set while OIDC_DISCOVERY=true, which overwrites it",
        explanation: "With OIDC_DISCOVERY=true, omniauth_openid_connect 0.6.1 replaces the token, userinfo, \
JWKS and end-session endpoints with the values of the discovery document on every login. \
OIDC_END_SESSION_ENDPOINT is replaced even when the document has no end_session_endpoint; it then \
becomes empty, so sign-out does not reach the provider. OIDC_AUTH_ENDPOINT is not reported, because \
Mastodon still uses it for the Content-Security-Policy. When a discovery document is present and the \
variable holds the same URL, the finding is only info.\n\nFix: delete the line, or turn discovery off \
and set every endpoint variable.",
        needs: &[Input::Env],
        check: check_endpoint_ignored_with_discovery,
    },
    Rule {
        id: "manual-endpoints",
        severity: Severity::Error,
        summary: "Discovery is off and an endpoint variable is unset or not an absolute URL",
        explanation: "Without OIDC_DISCOVERY=true, Mastodon takes the endpoints from OIDC_AUTH_ENDPOINT, \
OIDC_TOKEN_ENDPOINT, OIDC_USER_INFO_ENDPOINT and OIDC_JWKS_URI. An unset one keeps the gem's relative \
default (`/authorize`, `/token`, `/userinfo`, `/jwk`). rack-oauth2 completes relative authorization, \
token and userinfo endpoints with OIDC_HTTP_SCHEME, OIDC_HOST and OIDC_PORT, and raises 'No Host Info' \
when OIDC_HOST is unset. The JWKS is fetched as written, without that completion, so a relative \
OIDC_JWKS_URI fails with \"Request URI must have schema\" whenever the ID token is signed with RS* or \
ES*. OIDC_JWKS_URI is not needed when the discovery document lists only HS* signing algorithms, \
because those tokens are verified with the client secret. Each variable is one finding.\n\nFix: set \
OIDC_DISCOVERY=true, or set each endpoint to the provider's absolute https URL.",
        needs: &[Input::Env],
        check: check_manual_endpoints,
    },
    Rule {
        id: "discovery-disabled",
        severity: Severity::Warning,
        summary: "OIDC_ENABLED=true and OIDC_DISCOVERY is not `true`",
        explanation: "Without discovery, Mastodon needs every endpoint variable (OIDC_AUTH_ENDPOINT, \
OIDC_TOKEN_ENDPOINT, OIDC_USER_INFO_ENDPOINT, OIDC_JWKS_URI) as an absolute URL, and they go stale \
silently when the provider moves them or rotates its keys to another URL. With OIDC_DISCOVERY=true \
Mastodon reads them from the provider's discovery document at OIDC_ISSUER + \
/.well-known/openid-configuration, and checks that the document's issuer equals OIDC_ISSUER. Microsoft \
Entra ID supports discovery for the issuer https://login.microsoftonline.com/<tenant-guid>/v2.0.\n\n\
Fix: set OIDC_DISCOVERY=true.",
        needs: &[Input::Env],
        check: check_discovery_disabled,
    },
    Rule {
        id: "host-settings-unused",
        severity: Severity::Info,
        summary: "OIDC_HTTP_SCHEME, OIDC_HOST or OIDC_PORT is set, but every endpoint is absolute",
        explanation: "rack-oauth2 uses these three variables only to complete relative endpoints, and the gem \
uses them for a WebFinger lookup only when OIDC_ISSUER is empty. With OIDC_ISSUER set and every \
endpoint absolute (OIDC_DISCOVERY=true, or all four endpoint variables absolute URLs), they have no \
effect.\n\nFix: delete the lines.",
        needs: &[Input::Env],
        check: check_host_settings_unused,
    },
    Rule {
        id: "one-click-boot-discovery",
        severity: Severity::Warning,
        summary: "One-click SSO without OIDC_AUTH_ENDPOINT makes Mastodon's boot depend on the provider",
        explanation: "With ONE_CLICK_SSO_LOGIN=true, OMNIAUTH_ONLY=true and OIDC as the only login provider, \
Mastodon adds the provider's authorization endpoint to the Content-Security-Policy form-action. It \
takes OIDC_AUTH_ENDPOINT, and when that is unset it runs OIDC discovery while booting. If the provider \
is down or unreachable then, Mastodon does not start. With CAS_ENABLED=true or SAML_ENABLED=true \
there is more than one provider, no one-click login, and no finding.\n\nFix: set OIDC_AUTH_ENDPOINT \
to the authorization_endpoint of the discovery document.",
        needs: &[Input::Env],
        check: check_one_click_boot_discovery,
    },
    Rule {
        id: "auth-endpoint-is-discovery-url",
        severity: Severity::Error,
        summary: "OIDC_AUTH_ENDPOINT points at the discovery document instead of the authorization endpoint",
        explanation: "Some setup notes put the `/.well-known/openid-configuration` URL into \
OIDC_AUTH_ENDPOINT. Without discovery, Mastodon then sends browsers to that JSON document instead of \
the provider's login page. With discovery, the login flow uses the discovered endpoint, but Mastodon \
still builds the Content-Security-Policy form-action from OIDC_AUTH_ENDPOINT, and the login breaks \
the day discovery is turned off.\n\nFix: set OIDC_AUTH_ENDPOINT to the authorization_endpoint value \
of that document.",
        needs: &[Input::Env],
        check: check_auth_endpoint_is_discovery_url,
    },
    Rule {
        id: "placeholder-value",
        severity: Severity::Error,
        summary: "An OIDC_*, LOCAL_DOMAIN or WEB_DOMAIN value still holds a placeholder from a setup guide",
        explanation: "Setup guides write placeholders that must be replaced: text in angle brackets such as \
`<application_slug>` or `<Client Secret from authentik>`, authentik's example hosts \
`authentik.company` and `mastodon.company`, `changeme`, `your-client-id`, or an unrendered template \
such as `{{ domain }}`. Mastodon uses such a value as written, so discovery, the redirect or the \
client authentication fails. Secret values are never shown.\n\nFix: replace the placeholder with the \
real value from the provider or from the instance's setup.",
        needs: &[Input::Env],
        check: check_placeholder_value,
    },
];

/// Describes a value for a message: `value` in backticks, or "empty".
fn describe(value: &str) -> String {
    if value.is_empty() {
        "empty".to_string()
    } else {
        format!("`{value}`")
    }
}

fn value_label(var: &Var, message: impl Into<String>) -> Option<Label> {
    var.label.clone().map(|label| label.with_message(message))
}

/// Returns the variable when it is set to a non-empty value.
fn non_empty<'a>(context: &Context<'a>, name: &str) -> Option<Var<'a>> {
    context.var(name).filter(|var| !var.value.is_empty())
}

/// Returns the label on the `OIDC_ENABLED=true` line, where findings about
/// a missing variable point.
fn enabled_label(context: &Context, message: impl Into<String>) -> Option<Label> {
    context.line_label("OIDC_ENABLED").map(|label| label.with_message(message))
}

/// Returns true for a URL Ruby's URI would see with a scheme and a host.
fn is_absolute_url(value: &str) -> bool {
    Url::parse(value).is_ok_and(|url| url.has_host() && matches!(url.scheme(), "http" | "https"))
}

fn discovered<'a>(context: &Context<'a>, field: &str) -> Option<&'a str> {
    context.discovery_object().and_then(|document| document.str(field)).filter(|value| !value.is_empty())
}

/// Returns true when the discovery document lists signing algorithms and all of them are HS*.
fn discovery_signs_hs_only(context: &Context) -> bool {
    let algorithms = context.discovery_object().and_then(|document| document.strings("id_token_signing_alg_values_supported"));
    algorithms.is_some_and(|algorithms| !algorithms.is_empty() && algorithms.iter().all(|alg| alg.starts_with("HS")))
}

/// Keys that start with `OIDC_` in any letter case, in first-seen order.
fn oidc_keys<'a>(context: &Context<'a>) -> Vec<&'a str> {
    context.env.keys().into_iter().filter(|key| key.len() > 5 && key[..5].eq_ignore_ascii_case("OIDC_")).collect()
}

/// Returns the endpoint URL Microsoft Entra ID publishes for an issuer of the form
/// `https://login.microsoftonline.com/<tenant>/v2.0`, from Entra's v2.0
/// discovery document.
fn entra_endpoint(context: &Context, field: &str) -> Option<String> {
    if !context.is_provider(ProviderKind::EntraId) {
        return None;
    }
    let issuer = Url::parse(context.settings.raw("OIDC_ISSUER")?).ok()?;
    if issuer.host_str() != Some("login.microsoftonline.com") {
        return None;
    }
    let segments: Vec<&str> = issuer.path_segments()?.filter(|segment| !segment.is_empty()).collect();
    let [tenant, "v2.0"] = segments.as_slice() else { return None };
    let url = match field {
        "authorization_endpoint" => format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize"),
        "token_endpoint" => format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"),
        "userinfo_endpoint" => "https://graph.microsoft.com/oidc/userinfo".to_string(),
        "jwks_uri" => format!("https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys"),
        _ => return None,
    };
    Some(url)
}

/// Returns the endpoint URL to suggest: from the discovery document, else from a known provider layout.
fn known_endpoint(context: &Context, field: &str) -> Option<String> {
    discovered(context, field).map(str::to_string).or_else(|| entra_endpoint(context, field))
}

// ---------------------------------------------------------------------------
// Enablement and flags

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_variable_finds_typos() {
        let cases = [
            ("OIDC_SCOPES", "OIDC_SCOPE"),
            ("OIDC_CLIENTID", "OIDC_CLIENT_ID"),
            ("OIDC_REDIRECT_URL", "OIDC_REDIRECT_URI"),
            ("OIDC_ISSUER_URL", "OIDC_ISSUER"),
            ("OIDC_CLIENT_SECRET_FILE", "OIDC_CLIENT_SECRET"),
            ("OIDC_END_SESSION_URI", "OIDC_END_SESSION_ENDPOINT"),
            ("OIDC_POST_LOGOUT_REDIRECT_URI", "OIDC_IDP_LOGOUT_REDIRECT_URI"),
            ("OIDC_USE_PCKE", "OIDC_USE_PKCE"),
            ("OIDC_DISCOVER", "OIDC_DISCOVERY"),
        ];
        for (name, expected) in cases {
            assert_eq!(nearest_variable(name), Some(expected), "name {name}");
        }
    }

    #[test]
    fn nearest_variable_stays_silent_when_nothing_is_close() {
        for name in ["OIDC_TENANT_ID", "OIDC_FOO", "OIDC_GROUPS_CLAIM", "OIDC_ADMIN_ROLE"] {
            assert_eq!(nearest_variable(name), None, "name {name}");
        }
    }

    #[test]
    fn scope_tokens_split_commas_and_spaces() {
        assert_eq!(scope_tokens("openid,profile"), vec!["openid", "profile"]);
        assert_eq!(scope_tokens("openid profile"), vec!["openid", "profile"]);
        assert_eq!(scope_tokens("profile, openid"), vec!["profile", "openid"]);
        assert_eq!(scope_tokens("openid;profile"), vec!["openid;profile"]);
        assert!(scope_tokens("").is_empty());
    }

    #[test]
    fn suggested_scope_puts_openid_first() {
        assert_eq!(suggested_scope("profile,email"), "openid,profile,email");
        assert_eq!(suggested_scope("openid, profile ,email"), "openid,profile,email");
        assert_eq!(suggested_scope("openid;profile"), "openid,profile");
        assert_eq!(suggested_scope("email OpenID"), "openid,email");
        assert_eq!(suggested_scope(" openid"), "openid");
        assert_eq!(suggested_scope(""), EXAMPLE_SCOPE);
    }

    #[test]
    fn placeholders_are_found() {
        let cases = [
            ("OIDC_ISSUER", "https://authentik.company/application/o/<application_slug>/", "<application_slug>"),
            ("OIDC_ISSUER", "https://authentik.company/application/o/mastodon/", "authentik.company"),
            ("LOCAL_DOMAIN", "mastodon.company", "mastodon.company"),
            ("OIDC_CLIENT_ID", "your-client-id", "your-client"),
            ("OIDC_CLIENT_SECRET", "CHANGEME", "CHANGEME"),
            ("WEB_DOMAIN", "{{ mastodon_domain }}", "{{ mastodon_domain }}"),
        ];
        for (name, value, found) in cases {
            assert_eq!(find_placeholder(name, value).map(|(text, _)| text), Some(found.to_string()), "value {value}");
        }
    }

    #[test]
    fn real_values_are_not_placeholders() {
        let cases = [
            ("OIDC_ISSUER", "https://auth.example/application/o/mastodon/"),
            ("OIDC_CLIENT_SECRET", "placeholder-client-secret-0000"),
            ("LOCAL_DOMAIN", "mastodon.example"),
            ("LOCAL_DOMAIN", "mastodon.company.example"),
            ("OIDC_DISPLAY_NAME", "Log in with your ID"),
            ("OIDC_DISPLAY_NAME", "Sign in with your Keycloak account"),
            ("OIDC_CLIENT_ID", "d3f1c2a4-changelog"),
        ];
        for (name, value) in cases {
            assert_eq!(find_placeholder(name, value), None, "value {value}");
        }
    }

    #[test]
    fn manual_endpoint_problems() {
        let token = |value: Option<&str>, host: bool| manual_endpoint_problem("OIDC_TOKEN_ENDPOINT", "/token", value, host);
        let jwks = |value: Option<&str>, host: bool| manual_endpoint_problem("OIDC_JWKS_URI", "/jwk", value, host);
        assert!(token(None, false).is_some_and(|message| message.contains("No Host Info")));
        assert!(token(None, true).is_none());
        assert!(token(Some("/oauth/token"), true).is_none());
        assert!(token(Some("/oauth/token"), false).is_some());
        assert!(token(Some("auth.example/token"), true).is_some());
        assert!(token(Some("https://auth.example/token"), false).is_none());
        assert!(token(Some(""), false).is_some());
        assert!(token(Some(""), true).is_some());
        assert!(jwks(None, true).is_some_and(|message| message.contains("Request URI must have schema")));
        assert!(jwks(Some("/jwks"), true).is_some());
        assert!(jwks(Some("https://auth.example/jwks"), false).is_none());
    }
}
