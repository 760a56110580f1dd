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

// ---------------------------------------------------------------------------
// Shared helpers

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

fn check_oidc_not_configured(context: &Context, sink: &mut Sink) {
    if !oidc_keys(context).is_empty() {
        return;
    }
    let files: Vec<String> = context.env.files.iter().map(|file| file.source.path.display().to_string()).collect();
    sink.emit(format!("no OIDC_* variable is set in {}: Mastodon's OIDC login is off", files.join(", ")))
        .help("check the Mastodon directory (the settings may be in .env.production.local), pass the service's environment with --env, or add OIDC_ENABLED=true and the OIDC_* settings");
}

fn check_oidc_not_enabled(context: &Context, sink: &mut Sink) {
    let enabled = context.var("OIDC_ENABLED");
    if enabled.as_ref().is_some_and(|var| var.value == "true") {
        return;
    }
    let others: Vec<&str> = context.env.keys().into_iter().filter(|key| key.starts_with("OIDC_") && *key != "OIDC_ENABLED").collect();
    let count = match others.len() {
        0 => String::new(),
        1 => "the other OIDC_* variable".to_string(),
        count => format!("the {count} other OIDC_* variables"),
    };

    match enabled {
        Some(var) if var.value == "false" => {
            if others.is_empty() {
                return;
            }
            sink.emit(format!("OIDC_ENABLED is `false`, so Mastodon ignores {count} and shows no OIDC login"))
                .severity(Severity::Info)
                .at(value_label(&var, "the OIDC login is off"))
                .help("if the OIDC login should be on, write OIDC_ENABLED=true");
        }
        Some(var) => {
            let mut message =
                format!("OIDC_ENABLED is {}, not `true`: Mastodon compares it with the exact string `true`, so the OIDC login is off", describe(var.value));
            if !others.is_empty() {
                message.push_str(&format!(" and {count} {} no effect", if others.len() == 1 { "has" } else { "have" }));
            }
            sink.emit(message)
            .at(value_label(&var, "Mastodon reads this as false"))
            .help("write OIDC_ENABLED=true in lowercase, with no spaces inside the value");
        }
        None => {
            let Some(first) = others.first() else { return };
            let miscased = context.env.keys().into_iter().find(|key| *key != "OIDC_ENABLED" && key.eq_ignore_ascii_case("OIDC_ENABLED"));
            let help = match miscased {
                Some(key) => format!("rename `{key}` to OIDC_ENABLED, because variable names are case-sensitive, and set it to `true`"),
                None => "add OIDC_ENABLED=true".to_string(),
            };
            let all = match others.len() {
                1 => "the OIDC_* variable".to_string(),
                count => format!("the {count} OIDC_* variables"),
            };
            sink.emit(format!("OIDC_ENABLED is not set, so Mastodon ignores {all} and shows no OIDC login"))
                .at(context.key_label(first).map(|label| label.with_message("ignored while OIDC_ENABLED is not `true`")))
                .help(help);
        }
    }
}

/// Returns true for values that clearly mean false, so Mastodon does what the admin meant.
fn means_false(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "false" | "0" | "no" | "off" | "n" | "disabled")
}

/// Returns true for values that clearly mean true, which Mastodon reads as false.
fn means_true(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on" | "y" | "enabled")
}

fn check_boolean_not_true(context: &Context, sink: &mut Sink) {
    for name in FALSE_BY_DEFAULT_FLAGS {
        let Some(var) = context.var(name) else { continue };
        if var.value == "true" || var.value == "false" {
            continue;
        }
        let message = format!("{name} is {}, which Mastodon reads as false: only the exact lowercase string `true` turns it on", describe(var.value));
        let finding = sink.emit(message).at(value_label(&var, "read as false"));
        if means_false(var.value) {
            finding.severity(Severity::Info).help(format!("write {name}=false, or delete the line: false is the default"));
        } else if means_true(var.value) {
            finding.help(format!("write {name}=true"));
        } else {
            finding.help(format!("write {name}=true to turn it on, or {name}=false"));
        }
    }
}

fn check_default_on_flag_disabled(context: &Context, sink: &mut Sink) {
    let flags = [
        ("OIDC_SEND_NONCE", "the nonce", "the ID token is then not bound to the login attempt"),
        (
            "OIDC_SEND_SCOPE_TO_TOKEN_ENDPOINT",
            "the scope in the token request",
            "the provider then grants the scope of the authorization code, as RFC 6749 specifies, which is usually harmless but not what the value meant",
        ),
    ];
    for (name, feature, effect) in flags {
        let Some(var) = context.var(name) else { continue };
        if var.value == "true" {
            continue;
        }
        if var.value == "false" {
            sink.emit(format!("{name}=false stops Mastodon from sending {feature}, which it sends by default; {effect}"))
                .severity(Severity::Info)
                .at(value_label(&var, "turns the default off"))
                .help(format!("keep it only if the provider rejects {feature}; otherwise delete the line"));
        } else {
            sink.emit(format!(
                "{name} is {}, not `true`, so Mastodon stops sending {feature}, which it sends by default; {effect}",
                describe(var.value)
            ))
            .at(value_label(&var, "Mastodon reads this as false"))
            .help(format!("delete the line to send {feature} again, or write {name}=true"));
        }
    }
}

// ---------------------------------------------------------------------------
// Required settings

fn check_missing_scope(context: &Context, sink: &mut Sink) {
    if !context.settings.oidc_enabled() || context.var("OIDC_SCOPE").is_some() {
        return;
    }
    sink.emit("OIDC_ENABLED=true but OIDC_SCOPE is not set: Mastodon calls `nil.split` while booting and does not start")
        .at(enabled_label(context, "OIDC_SCOPE is required with this"))
        .help(format!("add OIDC_SCOPE={EXAMPLE_SCOPE}"));
}

fn check_missing_required_setting(context: &Context, sink: &mut Sink) {
    if !context.settings.oidc_enabled() {
        return;
    }
    for name in ["OIDC_CLIENT_ID", "OIDC_REDIRECT_URI", "OIDC_ISSUER"] {
        let var = context.var(name);
        if var.as_ref().is_some_and(|var| !var.value.is_empty()) {
            continue;
        }
        let state = if var.is_some() { "empty" } else { "not set" };
        let (effect, help) = match name {
            "OIDC_CLIENT_ID" => (
                "rack-oauth2 raises AttrMissing when it builds the client, so every login fails",
                "set OIDC_CLIENT_ID to the client ID from the provider's client settings".to_string(),
            ),
            "OIDC_REDIRECT_URI" => (
                "Mastodon sends no redirect_uri, so the provider rejects every authorization request",
                match context.settings.expected_redirect_uri() {
                    Some(uri) => format!("add OIDC_REDIRECT_URI={uri}"),
                    None => "add OIDC_REDIRECT_URI=https://<WEB_DOMAIN or LOCAL_DOMAIN>/auth/auth/openid_connect/callback".to_string(),
                },
            ),
            _ => (
                "discovery has no URL and the ID token's `iss` claim can never match, so every login fails",
                match discovered(context, "issuer") {
                    Some(issuer) => format!("add OIDC_ISSUER={issuer}, the issuer of the discovery document"),
                    None => "set OIDC_ISSUER to the provider's issuer URL exactly as its discovery document writes it".to_string(),
                },
            ),
        };
        let label = match &var {
            Some(var) => value_label(var, "empty"),
            None => enabled_label(context, format!("{name} is required with this")),
        };
        if name == "OIDC_ISSUER" && non_empty(context, "OIDC_HOST").is_some() {
            sink.emit(format!(
                "OIDC_ENABLED=true but OIDC_ISSUER is {state}: on every login the gem looks the issuer up with WebFinger at OIDC_HOST, which works only with providers that serve WebFinger"
            ))
            .severity(Severity::Warning)
            .at(label)
            .help(help);
            continue;
        }
        sink.emit(format!("OIDC_ENABLED=true but {name} is {state}: {effect}")).at(label).help(help);
    }
}

fn check_missing_client_secret(context: &Context, sink: &mut Sink) {
    if !context.settings.oidc_enabled() || non_empty(context, "OIDC_CLIENT_SECRET").is_some() {
        return;
    }
    let methods = context.discovery_object().and_then(|document| document.strings("token_endpoint_auth_methods_supported"));
    if methods.as_ref().is_some_and(|methods| methods.contains(&"none")) {
        return;
    }
    let var = context.var("OIDC_CLIENT_SECRET");
    let state = if var.is_some() { "empty" } else { "not set" };
    let mut message = format!(
        "OIDC_CLIENT_SECRET is {state}: Mastodon sends no client secret to the token endpoint, so a provider that registered Mastodon as a confidential client answers `invalid_client`"
    );
    if methods.is_some() {
        message.push_str("; the discovery document does not list `none` in token_endpoint_auth_methods_supported, so the provider expects a secret");
    }
    let label = match &var {
        Some(var) => value_label(var, "empty"),
        None => enabled_label(context, "OIDC_CLIENT_SECRET is needed with this"),
    };
    sink.emit(message).at(label).help("set OIDC_CLIENT_SECRET to the client secret from the provider's client settings");
}

// ---------------------------------------------------------------------------
// Variable names

/// Returns the Mastodon variable closest to an unknown OIDC_* name, or `None`
/// when no variable is close enough to be a likely typo.
fn nearest_variable(name: &str) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    let rest = upper.strip_prefix("OIDC_").unwrap_or(&upper);
    let squashed = rest.replace('_', "");
    let mut best: Option<(&'static str, f64)> = None;
    for variable in mastodon::VARIABLES {
        if variable.parse == Parse::Removed {
            continue;
        }
        let Some(candidate) = variable.name.strip_prefix("OIDC_") else { continue };
        let candidate_squashed = candidate.replace('_', "");
        let levenshtein = strsim::normalized_levenshtein(rest, candidate);
        let jaro_winkler = strsim::jaro_winkler(rest, candidate);
        let (shorter, longer) =
            if squashed.len() <= candidate_squashed.len() { (&squashed, &candidate_squashed) } else { (&candidate_squashed, &squashed) };
        let contains = shorter.len() >= 5 && longer.contains(shorter.as_str());
        let close = levenshtein >= 0.75 || jaro_winkler >= 0.9 || contains;
        if !close {
            continue;
        }
        let score = levenshtein.max(jaro_winkler);
        if best.is_none_or(|(_, best_score)| score > best_score) {
            best = Some((variable.name, score));
        }
    }
    best.map(|(name, _)| name)
}

fn check_unknown_variable(context: &Context, sink: &mut Sink) {
    for key in context.env.keys() {
        let upper = key.to_ascii_uppercase();
        if upper != key && mastodon::variable(&upper).is_some() {
            continue;
        }
        let label = context.key_label(key).map(|label| label.with_message("Mastodon never reads this"));
        if upper == "OAUTH_REDIRECT_AT_SIGN_IN" {
            let help = if context.settings.flag("OMNIAUTH_ONLY", false) {
                "delete the line; OMNIAUTH_ONLY=true is already set".to_string()
            } else {
                "delete the line; to hide the password login, set OMNIAUTH_ONLY=true".to_string()
            };
            sink.emit(format!("{key} was removed in Mastodon 3.5 and has no effect; OMNIAUTH_ONLY replaced it")).at(label).help(help);
            continue;
        }
        if !upper.starts_with("OIDC_") || mastodon::variable(&upper).is_some() {
            continue;
        }
        let misnamed = mastodon::MISNAMED.iter().find(|(wrong, _)| *wrong == upper).map(|(_, right)| *right);
        let (message, help) = match misnamed {
            Some("") => (
                format!("Mastodon has no {key} setting: it never sets the corresponding omniauth_openid_connect option"),
                "delete the line".to_string(),
            ),
            Some(right) => (format!("{key} is not a variable Mastodon reads; the variable is {right}"), rename_help(context, right)),
            None => match nearest_variable(&upper) {
                Some(right) => (format!("{key} is not a variable Mastodon reads; did you mean {right}?"), rename_help(context, right)),
                None => (
                    format!("{key} is not a variable Mastodon reads, so it has no effect"),
                    "delete the line, or check the name against Mastodon's OIDC_* variables".to_string(),
                ),
            },
        };
        sink.emit(message).at(label).help(help);
    }
}

fn rename_help(context: &Context, right: &str) -> String {
    if context.var(right).is_some() {
        format!("delete the line; {right} is already set")
    } else {
        format!("rename the key to {right}")
    }
}

// ---------------------------------------------------------------------------
// Scope

/// Splits OIDC_SCOPE into the scope tokens a provider receives: the comma-separated
/// parts, each split on whitespace as openid_connect does for the authorization request.
fn scope_tokens(value: &str) -> Vec<String> {
    mastodon::ruby_split_commas(value).iter().flat_map(|part| part.split_whitespace().map(str::to_string).collect::<Vec<_>>()).collect()
}

/// Builds the OIDC_SCOPE value to suggest: the scopes written, separated by commas,
/// with `openid` first and no duplicates.
fn suggested_scope(value: &str) -> String {
    let tokens: Vec<&str> = value.split(|c: char| c == ',' || c == ';' || c.is_whitespace()).filter(|token| !token.is_empty()).collect();
    if tokens.is_empty() {
        return EXAMPLE_SCOPE.to_string();
    }
    let mut scopes = vec!["openid"];
    for token in tokens {
        if !token.eq_ignore_ascii_case("openid") && !scopes.contains(&token) {
            scopes.push(token);
        }
    }
    scopes.join(",")
}

fn check_scope_missing_openid(context: &Context, sink: &mut Sink) {
    let Some(var) = context.var("OIDC_SCOPE") else { return };
    let tokens = scope_tokens(var.value);
    if tokens.iter().any(|token| token == "openid") {
        return;
    }
    let mut message = format!("OIDC_SCOPE is {}, which does not contain `openid`", describe(var.value));
    if tokens.iter().any(|token| token.eq_ignore_ascii_case("openid")) {
        message.push_str(" (scope values are case-sensitive)");
    }
    message.push_str(": the token request asks for a scope without `openid`, and providers such as authentik 2024.2+ then reject the userinfo request");
    sink.emit(message)
        .at(value_label(&var, "no `openid` here"))
        .help(format!("write OIDC_SCOPE={}", suggested_scope(var.value)));
}

fn check_scope_format(context: &Context, sink: &mut Sink) {
    let Some(var) = context.var("OIDC_SCOPE") else { return };
    let parts = mastodon::ruby_split_commas(var.value);
    let mut problems = Vec::new();
    if parts.iter().any(|part| !part.trim().is_empty() && part.trim() != part.as_str()) {
        problems.push(format!(
            "Mastodon does not trim the parts, so the token request sends the scope `{}` with extra spaces",
            parts.join(" ")
        ));
    }
    if parts.iter().any(|part| part.trim().is_empty()) {
        problems.push("an empty part (a leading comma or `,,`) becomes an empty scope".to_string());
    }
    if var.value.contains(';') {
        problems.push("`;` does not separate scopes: Mastodon splits on `,` only".to_string());
    }
    let suggestion = suggested_scope(var.value);
    if !problems.is_empty() {
        sink.emit(format!("OIDC_SCOPE is {}: {}", describe(var.value), problems.join("; ")))
            .at(value_label(&var, "not a plain comma-separated list"))
            .help(format!("write OIDC_SCOPE={suggestion}"));
        return;
    }
    if parts.iter().any(|part| part.split_whitespace().count() > 1) {
        sink.emit(format!(
            "OIDC_SCOPE is {}, separated by spaces: it works because openid_connect splits the scope on whitespace again, but Mastodon expects commas",
            describe(var.value)
        ))
        .severity(Severity::Info)
        .at(value_label(&var, "separated by spaces"))
        .help(format!("write OIDC_SCOPE={suggestion}"));
    }
}

// ---------------------------------------------------------------------------
// Authorization and token request parameters

fn check_client_auth_method_name(context: &Context, sink: &mut Sink) {
    let Some(var) = context.var("OIDC_CLIENT_AUTH_METHOD") else { return };
    let fix = "delete the line to use HTTP Basic (the default), or write OIDC_CLIENT_AUTH_METHOD=basic";
    let value_text = describe(var.value);
    match ClientAuth::from_setting(Some(var.value)) {
        ClientAuth::Basic | ClientAuth::BasicRaw | ClientAuth::JwtBearer => {}
        ClientAuth::Saml2Bearer => {
            sink.emit(format!(
                "OIDC_CLIENT_AUTH_METHOD is {value_text}: Mastodon has no SAML assertion to send, so the token request fails"
            ))
            .severity(Severity::Error)
            .at(value_label(&var, "not usable by Mastodon"))
            .help(fix);
        }
        ClientAuth::Mtls => {
            sink.emit(format!(
                "OIDC_CLIENT_AUTH_METHOD is {value_text}: Mastodon cannot present a TLS client certificate, so the token request fails"
            ))
            .severity(Severity::Error)
            .at(value_label(&var, "not usable by Mastodon"))
            .help(fix);
        }
        ClientAuth::Post => match var.value {
            "client_secret_post" => {
                sink.emit(
                    "OIDC_CLIENT_AUTH_METHOD is `client_secret_post`, which rack-oauth2 does not know; it works only because every unknown name sends client_id and client_secret in the POST body",
                )
                .severity(Severity::Info)
                .at(value_label(&var, "unknown name, POST body"))
                .help("keep it if the provider requires client_secret_post; otherwise delete the line to use HTTP Basic");
            }
            "client_secret_jwt" => {
                sink.emit(
                    "OIDC_CLIENT_AUTH_METHOD is `client_secret_jwt`, which rack-oauth2 does not know: Mastodon sends client_id and client_secret in the POST body (client_secret_post) instead of a JWT",
                )
                .at(value_label(&var, "becomes client_secret_post"))
                .help("write OIDC_CLIENT_AUTH_METHOD=jwt_bearer, rack-oauth2's name for client_secret_jwt");
            }
            "client_secret_basic" => {
                sink.emit(
                    "OIDC_CLIENT_AUTH_METHOD is `client_secret_basic`, which rack-oauth2 does not know: Mastodon silently sends client_id and client_secret in the POST body (client_secret_post), not HTTP Basic",
                )
                .at(value_label(&var, "becomes client_secret_post"))
                .help(fix);
            }
            _ => {
                sink.emit(format!(
                    "OIDC_CLIENT_AUTH_METHOD is {value_text}, which rack-oauth2 does not know: Mastodon sends client_id and client_secret in the POST body (client_secret_post)"
                ))
                .at(value_label(&var, "becomes client_secret_post"))
                .help(fix);
            }
        },
    }
}

fn check_response_type(context: &Context, sink: &mut Sink) {
    let Some(var) = context.var("OIDC_RESPONSE_TYPE") else { return };
    match var.value {
        "code" => {}
        "id_token" => {
            sink.emit(
                "OIDC_RESPONSE_TYPE is `id_token`, the implicit flow: the provider returns the ID token in the URL fragment by default, which the browser never sends to Mastodon",
            )
            .severity(Severity::Warning)
            .at(value_label(&var, "implicit flow"))
            .help("delete the line to use the authorization code flow (`code`, the default)");
        }
        other => {
            sink.emit(format!(
                "OIDC_RESPONSE_TYPE is {}: omniauth_openid_connect 0.6.1 handles only `code` and `id_token`, so every callback fails",
                describe(other)
            ))
            .at(value_label(&var, "not understood by the callback"))
            .help("delete the line; `code` is the default");
        }
    }
}

fn check_response_mode(context: &Context, sink: &mut Sink) {
    let Some(var) = context.var("OIDC_RESPONSE_MODE") else { return };
    let (message, severity) = match var.value {
        "query" => (
            "OIDC_RESPONSE_MODE is `query`, which the provider uses anyway for the code flow; the line has no effect".to_string(),
            Severity::Info,
        ),
        "form_post" => (
            "OIDC_RESPONSE_MODE is `form_post`: the provider posts the code cross-site, the browser does not send Mastodon's SameSite=Lax session cookie with it, and the login fails with \"Invalid 'state' parameter\"".to_string(),
            Severity::Error,
        ),
        "fragment" => (
            "OIDC_RESPONSE_MODE is `fragment`: the code arrives in the URL fragment, which never reaches Mastodon, so every login fails".to_string(),
            Severity::Error,
        ),
        other => (
            format!("OIDC_RESPONSE_MODE is {}, which is not a response mode Mastodon can receive; only `query`, the default, works", describe(other)),
            Severity::Error,
        ),
    };
    sink.emit(message).severity(severity).at(value_label(&var, "response_mode")).help("delete the line");
}

fn check_display_ignored(context: &Context, sink: &mut Sink) {
    let Some(var) = context.var("OIDC_DISPLAY") else { return };
    sink.emit(format!(
        "OIDC_DISPLAY is {}, but omniauth_openid_connect 0.6.1 never sends the `display` parameter, so it has no effect",
        describe(var.value)
    ))
    .at(value_label(&var, "never sent"))
    .help("delete the line");
}

const PROMPT_VALUES: [&str; 4] = ["none", "login", "consent", "select_account"];

fn check_prompt_value(context: &Context, sink: &mut Sink) {
    let Some(var) = context.var("OIDC_PROMPT") else { return };
    let tokens: Vec<&str> = var.value.split_whitespace().collect();
    let unknown: Vec<&str> = tokens.iter().copied().filter(|token| !PROMPT_VALUES.contains(token)).collect();
    if !unknown.is_empty() {
        let listed: Vec<String> = unknown.iter().map(|token| format!("`{token}`")).collect();
        let mut message = format!(
            "OIDC_PROMPT is {}, and {} not a prompt value of OpenID Connect (none, login, consent, select_account)",
            describe(var.value),
            if unknown.len() == 1 { format!("{} is", listed[0]) } else { format!("{} are", listed.join(", ")) }
        );
        if var.value.contains(',') {
            message.push_str("; prompt values are separated by spaces, not commas");
        }
        let known: Vec<String> = var
            .value
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter_map(|token| PROMPT_VALUES.iter().find(|value| value.eq_ignore_ascii_case(token)))
            .filter(|value| **value != "none")
            .map(|value| value.to_string())
            .collect();
        let help = if known.is_empty() {
            "delete the line, or use values from none, login, consent and select_account".to_string()
        } else {
            format!("write OIDC_PROMPT={}", known.join(" "))
        };
        sink.emit(message).at(value_label(&var, "unknown prompt value")).help(help);
    }
    if tokens.contains(&"none") {
        sink.emit(
            "OIDC_PROMPT contains `none`: the provider shows no login page, so every user without a session at the provider gets `login_required` and cannot sign in",
        )
        .at(value_label(&var, "prompt=none"))
        .help("delete the line, or use OIDC_PROMPT=login to force a fresh login");
    }
}

// ---------------------------------------------------------------------------
// Endpoints and discovery

fn check_endpoint_ignored_with_discovery(context: &Context, sink: &mut Sink) {
    if !context.settings.discovery() {
        return;
    }
    let variables = [
        ("OIDC_TOKEN_ENDPOINT", "token_endpoint"),
        ("OIDC_USER_INFO_ENDPOINT", "userinfo_endpoint"),
        ("OIDC_JWKS_URI", "jwks_uri"),
        ("OIDC_END_SESSION_ENDPOINT", "end_session_endpoint"),
    ];
    for (name, field) in variables {
        let Some(var) = context.var(name) else { continue };
        let replacement = discovered(context, field);
        let same = replacement == Some(var.value);
        let mut message = format!("{name} is set, but OIDC_DISCOVERY=true replaces it with the discovery document's {field} on every login");
        if name == "OIDC_END_SESSION_ENDPOINT" {
            if context.discovery_object().is_some() && replacement.is_none() {
                message.push_str("; the document has no end_session_endpoint, so sign-out does not reach the provider");
            } else {
                message.push_str(", even when the document has none");
            }
        }
        if same {
            message.push_str(" (the same URL here)");
        }
        let help = match replacement {
            Some(url) if !same => format!("delete the line; Mastodon uses {url} from the discovery document"),
            _ => "delete the line".to_string(),
        };
        let finding = sink.emit(message).at(value_label(&var, "overwritten by discovery")).help(help);
        if same {
            finding.severity(Severity::Info);
        }
    }
}

/// Describes why an endpoint variable cannot be used without discovery, or returns `None` when it can.
fn manual_endpoint_problem(name: &str, default: &str, value: Option<&str>, host_set: bool) -> Option<String> {
    let is_jwks = name == "OIDC_JWKS_URI";
    // rack-oauth2 completes relative endpoints with OIDC_HOST, but the gem fetches the JWKS URI as written.
    let completed = host_set && !is_jwks;
    let failure = if is_jwks {
        "Mastodon fetches the JWKS from it as written, which fails with \"Request URI must have schema\" for every ID token signed with RS* or ES*"
    } else if host_set {
        "rack-oauth2 prefixes it with OIDC_HOST, which gives no usable URL, so every login fails"
    } else {
        "rack-oauth2 raises 'No Host Info' because OIDC_HOST is not set, so every login fails"
    };
    match value {
        None if completed => None,
        None => Some(format!("{name} is not set, so Mastodon uses the relative default `{default}`: {failure}")),
        Some("") if completed => Some(format!("{name} is empty, so rack-oauth2 sends the request to the root URL of OIDC_HOST")),
        Some("") => Some(format!("{name} is empty: {failure}")),
        Some(value) if is_absolute_url(value) => None,
        Some(value) if !value.starts_with('/') => Some(format!("{name} is `{value}`, which is not a URL (no https:// scheme): {failure}")),
        Some(_) if completed => None,
        Some(value) => Some(format!("{name} is the relative path `{value}`: {failure}")),
    }
}

fn check_manual_endpoints(context: &Context, sink: &mut Sink) {
    if !context.settings.oidc_enabled() || context.settings.discovery() {
        return;
    }
    let host_set = non_empty(context, "OIDC_HOST").is_some();
    for (name, default, field) in ENDPOINTS {
        if name == "OIDC_JWKS_URI" && discovery_signs_hs_only(context) {
            continue;
        }
        let var = context.var(name);
        let Some(message) = manual_endpoint_problem(name, default, var.as_ref().map(|var| var.value), host_set) else { continue };
        let help = match known_endpoint(context, field) {
            Some(url) => format!("set {name}={url}, or set OIDC_DISCOVERY=true"),
            None => format!("set {name} to the provider's absolute https URL (its {field}), or set OIDC_DISCOVERY=true"),
        };
        let label = match &var {
            Some(var) if !var.value.is_empty() => value_label(var, "not an absolute URL"),
            Some(var) => value_label(var, "empty"),
            None => context.line_label("OIDC_DISCOVERY").or_else(|| context.line_label("OIDC_ENABLED")).map(|label| {
                label.with_message(format!("{name} is required without discovery"))
            }),
        };
        sink.emit(message).at(label).help(help);
    }
}

fn check_discovery_disabled(context: &Context, sink: &mut Sink) {
    if !context.settings.oidc_enabled() || context.settings.discovery() {
        return;
    }
    let var = context.var("OIDC_DISCOVERY");
    let state = match &var {
        Some(var) => format!("OIDC_DISCOVERY is {}", describe(var.value)),
        None => "OIDC_DISCOVERY is not set".to_string(),
    };
    let mut help = "set OIDC_DISCOVERY=true".to_string();
    if context.is_provider(ProviderKind::EntraId) {
        help.push_str(
            "; Microsoft Entra ID supports discovery when OIDC_ISSUER is https://login.microsoftonline.com/<tenant-guid>/v2.0",
        );
    }
    let label = match &var {
        Some(var) => value_label(var, "discovery off"),
        None => enabled_label(context, "discovery is off"),
    };
    sink.emit(format!(
        "{state}, so Mastodon takes every endpoint from the OIDC_*_ENDPOINT and OIDC_JWKS_URI variables, which must be absolute URLs and do not follow changes at the provider"
    ))
        .at(label)
        .help(help);
}

fn check_host_settings_unused(context: &Context, sink: &mut Sink) {
    if non_empty(context, "OIDC_ISSUER").is_none() {
        return;
    }
    let all_absolute = context.settings.discovery()
        || ENDPOINTS.iter().all(|(name, _, _)| context.settings.raw(name).is_some_and(is_absolute_url));
    if !all_absolute {
        return;
    }
    let reason = if context.settings.discovery() { "OIDC_DISCOVERY=true supplies absolute endpoints" } else { "every endpoint variable is an absolute URL" };
    for name in ["OIDC_HTTP_SCHEME", "OIDC_HOST", "OIDC_PORT"] {
        let Some(var) = context.var(name) else { continue };
        sink.emit(format!("{name} is {}, but it has no effect: OIDC_ISSUER is set and {reason}", describe(var.value)))
            .at(value_label(&var, "unused"))
            .help("delete the line");
    }
}

fn check_one_click_boot_discovery(context: &Context, sink: &mut Sink) {
    let settings = &context.settings;
    if !(settings.oidc_enabled() && settings.one_click_sso()) || context.var("OIDC_AUTH_ENDPOINT").is_some() {
        return;
    }
    if settings.flag("CAS_ENABLED", false) || settings.flag("SAML_ENABLED", false) {
        return;
    }
    let help = match known_endpoint(context, "authorization_endpoint") {
        Some(url) => format!("add OIDC_AUTH_ENDPOINT={url}"),
        None => "add OIDC_AUTH_ENDPOINT set to the authorization_endpoint of the provider's discovery document".to_string(),
    };
    sink.emit(
        "ONE_CLICK_SSO_LOGIN=true and OMNIAUTH_ONLY=true without OIDC_AUTH_ENDPOINT: Mastodon runs OIDC discovery while booting to build its Content-Security-Policy, so it does not start while the provider is unreachable",
    )
    .at(context.line_label("ONE_CLICK_SSO_LOGIN").map(|label| label.with_message("discovery at boot")))
    .help(help);
}

fn check_auth_endpoint_is_discovery_url(context: &Context, sink: &mut Sink) {
    let Some(var) = context.var("OIDC_AUTH_ENDPOINT") else { return };
    let trimmed = var.value.strip_suffix('/').unwrap_or(var.value);
    if !trimmed.ends_with("/.well-known/openid-configuration") {
        return;
    }
    let effect = if context.settings.discovery() {
        "the login uses the discovered endpoint, but the Content-Security-Policy form-action is built from this value, and the login breaks when discovery is turned off"
    } else {
        "without discovery Mastodon sends browsers to this JSON document instead of the login page"
    };
    let help = match known_endpoint(context, "authorization_endpoint") {
        Some(url) => format!("write OIDC_AUTH_ENDPOINT={url}"),
        None => "set OIDC_AUTH_ENDPOINT to the authorization_endpoint value of that document".to_string(),
    };
    sink.emit(format!("OIDC_AUTH_ENDPOINT is the discovery document `{}`, not the authorization endpoint: {effect}", var.value))
        .at(value_label(&var, "the discovery document"))
        .help(help);
}

// ---------------------------------------------------------------------------
// Placeholders

/// Placeholder forms from setup guides, each with the description a message uses.
static PLACEHOLDERS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    let patterns: [(&str, &str); 5] = [
        (r"<[^<>\s][^<>]*>", "text in angle brackets"),
        (r"(?i)(^|[^a-z0-9-])(authentik|mastodon)\.company($|[^a-z0-9.-])", "authentik's example host"),
        (r"(?i)change[-_]?me|replace[-_]?me", "a change-me value"),
        (
            r"(?i)\byour[-_]?(client|domain|app|tenant|realm|issuer|secret|instance|server|idp|provider|host|keycloak|authentik|mastodon)",
            "a your-… value",
        ),
        (r"\{\{[^{}]*\}\}", "an unrendered template"),
    ];
    patterns.into_iter().map(|(pattern, what)| (Regex::new(pattern).expect("placeholder patterns are valid"), what)).collect()
});

/// Returns the placeholder text found in a value and its description.
fn find_placeholder(name: &str, value: &str) -> Option<(String, &'static str)> {
    PLACEHOLDERS.iter().enumerate().find_map(|(index, (pattern, what))| {
        // The button label is free text: only a bracketed placeholder is certain there.
        if name == "OIDC_DISPLAY_NAME" && index != 0 {
            return None;
        }
        pattern.find(value).map(|found| (found.as_str().trim_matches(|c: char| !c.is_ascii_alphanumeric() && !"<>{}".contains(c)).to_string(), *what))
    })
}

fn placeholder_help(context: &Context, name: &str) -> String {
    let endpoint = ENDPOINTS.iter().find(|(endpoint, _, _)| *endpoint == name).map(|(_, _, field)| *field);
    match name {
        "OIDC_ISSUER" => match discovered(context, "issuer") {
            Some(issuer) => format!("write OIDC_ISSUER={issuer}"),
            None => "write the provider's issuer URL (in authentik, the provider's \"OpenID Configuration Issuer\")".to_string(),
        },
        "OIDC_CLIENT_ID" => "copy the client ID from the provider's client settings".to_string(),
        "OIDC_CLIENT_SECRET" => "copy the client secret from the provider's client settings".to_string(),
        "OIDC_REDIRECT_URI" => match context.settings.expected_redirect_uri() {
            Some(uri) if find_placeholder("WEB_DOMAIN", &uri).is_none() => format!("write OIDC_REDIRECT_URI={uri}"),
            _ => "write https://<your instance's domain>/auth/auth/openid_connect/callback with the real domain".to_string(),
        },
        "LOCAL_DOMAIN" | "WEB_DOMAIN" => format!("write the instance's real domain name into {name}"),
        _ => match endpoint.and_then(|field| known_endpoint(context, field)) {
            Some(url) => format!("write {name}={url}"),
            None => format!("replace the placeholder in {name} with the real value"),
        },
    }
}

fn check_placeholder_value(context: &Context, sink: &mut Sink) {
    let mut names: Vec<&str> = oidc_keys(context);
    names.extend(["LOCAL_DOMAIN", "WEB_DOMAIN"]);
    for name in names {
        let Some(var) = context.var(name) else { continue };
        let Some((found, what)) = find_placeholder(name, var.value) else { continue };
        let message = if mastodon::is_secret_name(name) {
            format!("{name} looks like a placeholder from a setup guide, not a real value")
        } else {
            format!("{name} contains {what} `{found}`, a placeholder from a setup guide; Mastodon uses the value as written")
        };
        sink.emit(message).at(value_label(&var, "placeholder")).help(placeholder_help(context, name));
    }
}

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
