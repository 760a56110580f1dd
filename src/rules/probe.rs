//! Rules on the live provider probes (`check --probe`): the provider's
//! responses to the authorization and token requests Mastodon would send.
//! The probes and their decision matrix are in `crate::probe`; these rules
//! only turn verdicts into findings. The Mastodon probe's rules are in
//! [`mastodon`].

mod mastodon;

use crate::finding::{Label, Severity};
use crate::probe::provider::{AuthorizeResult, AuthorizeVerdict, FirstUse, NotSent, Probe, ProviderResults, TokenResult, TokenVerdict};

use super::{Context, Input, Rule, Sink};

pub(super) use mastodon::RULES as MASTODON_RULES;

/// The fix that every "the running configuration is wrong at the provider"
/// finding ends with: Mastodon reads its env files only when it starts.
const RESTART: &str = "then restart Mastodon's web service so it reads the change";

fn provider<'a>(context: &Context<'a>) -> Option<&'a ProviderResults> {
    context.probes.and_then(|probes| probes.provider())
}

fn authorize<'a>(context: &Context<'a>) -> Option<&'a AuthorizeResult> {
    provider(context).and_then(|results| results.authorize.sent())
}

fn token<'a>(context: &Context<'a>) -> Option<&'a TokenResult> {
    provider(context).and_then(|results| results.token.sent())
}

fn label(context: &Context, name: &str) -> Option<Label> {
    context.var(name).and_then(|var| var.label)
}

/// Formats the value of a variable for a message, or notes that it is unset.
fn shown(context: &Context, name: &str) -> String {
    match context.var(name) {
        Some(var) => format!("`{}`", var.value),
        None => "unset".to_string(),
    }
}

/// ` (DESCRIPTION)` when the provider sent one.
fn described(description: &Option<String>) -> String {
    description.as_ref().map(|text| format!(" ({text})")).unwrap_or_default()
}

pub(super) const PROVIDER_RULES: &[Rule] = &[
    Rule {
        id: "probe-authorize-unknown-client",
        severity: Severity::Error,
        summary: "The provider's authorization endpoint does not know OIDC_CLIENT_ID",
        explanation: "The authorization probe sent the authorization request Mastodon sends when a user clicks \
the login button, with `prompt=none` so that no login page is needed. The provider responded that it does not \
know the client id: authentik shows its \"Client ID Error\" page, oidc-provider and most others an \
`invalid_client` error page, Keycloak \"Client not found\". Providers show this page without redirecting \
back, so every login ends on it.\n\nFix: copy the client id of the provider's Mastodon application into \
OIDC_CLIENT_ID exactly (the finding shows the value sent), then restart Mastodon's web service.",
        needs: &[Input::ProviderProbe],
        check: check_unknown_client,
    },
    Rule {
        id: "probe-authorize-redirect-uri",
        severity: Severity::Error,
        summary: "The provider does not accept OIDC_REDIRECT_URI for this client",
        explanation: "The provider compared the redirect URI of the authorization probe, which is \
OIDC_REDIRECT_URI as Mastodon sends it, with the client's registered redirect URIs and rejected it. \
Providers show this error on their own page and never redirect to an unregistered URI, so every login ends \
there. authentik shows \"Redirect URI Error\", oidc-provider `invalid_redirect_uri`, Keycloak \"Invalid \
parameter: redirect_uri\", Google `redirect_uri_mismatch`. The comparison is an exact string match in \
authentik (strict mode) and oidc-provider: scheme, host, port, path, trailing slash and letter case all \
count. Keycloak matches exactly too, unless the registered URI ends with its `*` wildcard.\n\nFix: register exactly the value of OIDC_REDIRECT_URI at the provider, or correct \
OIDC_REDIRECT_URI to the registered value. Mastodon's callback is \
`https://<WEB_DOMAIN, else LOCAL_DOMAIN>/auth/auth/openid_connect/callback`.",
        needs: &[Input::ProviderProbe],
        check: check_redirect_uri,
    },
    Rule {
        id: "probe-authorize-response-type",
        severity: Severity::Error,
        summary: "The provider rejects the response type Mastodon requests",
        explanation: "The provider redirected the authorization probe back with `unsupported_response_type`: the \
client may not use the response type Mastodon requests (OIDC_RESPONSE_TYPE, `code` when unset). The user \
lands on Mastodon's callback with that error and the login fails. oidc-provider puts the error in the URL \
fragment for implicit response types, authentik in the query; both are read.\n\nFix: remove \
OIDC_RESPONSE_TYPE so that Mastodon requests `code`, the only response type Mastodon's callback handles \
fully, or allow the response type for the client at the provider.",
        needs: &[Input::ProviderProbe],
        check: check_response_type,
    },
    Rule {
        id: "probe-authorize-pkce-required",
        severity: Severity::Error,
        summary: "The provider requires PKCE, and the authorization request has no PKCE challenge",
        explanation: "The provider redirected the authorization probe back with `invalid_request` and a \
description that asks for PKCE: it requires a `code_challenge`, as oidc-provider does for public clients \
and Kanidm for every client. Mastodon 4.3 and later send a PKCE S256 challenge only with \
OIDC_USE_PKCE=true; earlier releases never do. Without it every login fails with this error.\n\nFix: set \
OIDC_USE_PKCE=true (Mastodon 4.3 or later), or turn off the PKCE requirement for the client at the \
provider.",
        needs: &[Input::ProviderProbe],
        check: check_pkce_required,
    },
    Rule {
        id: "probe-authorize-rejected",
        severity: Severity::Error,
        summary: "The provider redirects the authorization request back to Mastodon with an error",
        explanation: "The provider accepted the client id and the redirect URI (it redirected back to them) but \
responded to the authorization probe with an OAuth error other than the expected `login_required`. The user \
would land on Mastodon's callback with the same error and see \"Could not authenticate you from \
OpenIDConnect\". Common errors: `invalid_scope` (a scope of OIDC_SCOPE is not allowed for the client), \
`unauthorized_client` (the client may not use the authorization code flow), `invalid_request` (authentik \
2026.5 and later send it when the provider's grant types lack `authorization_code`, the default for \
providers created through the API, a blueprint or Terraform), `access_denied` (a policy denies the \
application).\n\nFix: follow the provider's error description in the finding; the help names the usual \
setting.",
        needs: &[Input::ProviderProbe],
        check: check_rejected,
    },
    Rule {
        id: "probe-authorize-state",
        severity: Severity::Warning,
        summary: "The provider's redirect back to Mastodon does not carry the request's state",
        explanation: "Mastodon (omniauth_openid_connect 0.6.1) stores a random `state` in the session and \
compares it with the `state` of the callback. The provider redirected the authorization probe back without \
the probe's `state`, or with another value, so Mastodon would fail the callback with \"Invalid 'state' \
parameter\" (csrf_detected). A proxy that rewrites query strings causes the same.\n\nFix: make the provider \
(or the proxy in front of it) return the `state` parameter unchanged.",
        needs: &[Input::ProviderProbe],
        check: check_state,
    },
    Rule {
        id: "probe-authorize-inconclusive",
        severity: Severity::Warning,
        summary: "The authorization probe got a response it cannot classify, or no response",
        explanation: "The authorization endpoint responded with a status or page that the probe's decision matrix \
does not cover, such as a 404 or a page without a known error, so the probe cannot tell whether the client \
id and redirect URI are accepted. No response (DNS, connection, timeout), a server error (5xx) or a rate limit \
(429) means the check could not complete: the exit status is then 3 unless another finding is an error. \
The finding shows the response.\n\nFix: open the request URL of the finding in a browser that is not logged in \
to the provider and read the page; check that the provider is up.",
        needs: &[Input::ProviderProbe],
        check: check_authorize_inconclusive,
    },
    Rule {
        id: "probe-first-use-registration",
        severity: Severity::Warning,
        summary: "On authentik the authorization probe can register OIDC_REDIRECT_URI for a provider without redirect URIs",
        explanation: "authentik stores the redirect URI of the first authorization request, from any \
unauthenticated caller, as a strict redirect URI when the provider has none (in 2026.5 and later this \
replaces the whole list, logout entries included). The authorization probe sends OIDC_REDIRECT_URI, so on \
such a provider it registers Mastodon's own callback: harmless for the login, but a change to the \
provider. When the run knows from authentik's admin API that the provider has no redirect URI, the probe \
is not sent (warning) unless --allow-first-use-registration is given (warning: the URI was registered). \
Without that knowledge the probe is sent and the finding is a note.\n\nFix: register the redirect URI at \
the provider before the first login, so no caller can choose it; give --authentik-token-file so the run \
can check the provider's redirect URIs first.",
        needs: &[Input::ProviderProbe],
        check: check_first_use,
    },
    Rule {
        id: "probe-token-client-rejected",
        severity: Severity::Error,
        summary: "The token endpoint rejects the client id or OIDC_CLIENT_SECRET",
        explanation: "The token probe sent the token request Mastodon sends after a login, with a random code \
and the configured client authentication (OIDC_CLIENT_AUTH_METHOD, HTTP Basic when unset). The provider \
responded with `invalid_client` to that request, and the follow-up requests (without the code, and without \
any secret) did not show the credentials passing: it does not accept the client id together with \
OIDC_CLIENT_SECRET. Mastodon gets the same response after every \
login, and the user sees \"Could not authenticate you from OpenIDConnect\". When the authorization probe \
found the client id known, the secret is wrong, or the client is registered for another authentication \
method (Authelia allows one method per client).\n\nFix: copy the client secret from the provider into \
OIDC_CLIENT_SECRET, in single quotes when it contains `#`, `$` or spaces, and make OIDC_CLIENT_AUTH_METHOD \
match the client's registration at the provider.",
        needs: &[Input::ProviderProbe],
        check: check_client_rejected,
    },
    Rule {
        id: "probe-token-redirect-uri",
        severity: Severity::Error,
        summary: "The token endpoint accepts the credentials but rejects OIDC_REDIRECT_URI",
        explanation: "With a random code the token endpoint responded with `invalid_client`; without a code it \
responded with `invalid_grant`, which it gives only after the client authentication passed. authentik checks the \
redirect URI before the code and reports a mismatch as `invalid_client`, so the credentials are right and \
the redirect URI is not registered (authentik also records a \"configuration_error\" event). The login \
fails at the token request after the user has signed in.\n\nFix: register exactly the value of \
OIDC_REDIRECT_URI at the provider.",
        needs: &[Input::ProviderProbe],
        check: check_token_redirect_uri,
    },
    Rule {
        id: "probe-token-secret-not-checked",
        severity: Severity::Warning,
        summary: "The token endpoint accepts a wrong client secret as well",
        explanation: "After the configured secret passed, the token probe sent a control request with a random \
wrong secret, and the provider let it pass too (`invalid_grant` for the random code, not `invalid_client`). \
The provider does not check the secret: the client is registered as public (authentik skips the secret \
check for public clients), or, in authentik 2026.5 and later, the provider's grant types lack \
`authorization_code`, so every token request fails with `invalid_grant` before the secret is checked. \
Either anyone who knows the client id can redeem codes for Mastodon's client, or no login works at \
all.\n\nFix: make the client confidential at the provider and keep OIDC_CLIENT_SECRET in Mastodon; in \
authentik 2026.5 and later also enable the `authorization_code` grant type for the provider.",
        needs: &[Input::ProviderProbe],
        check: check_secret_not_checked,
    },
    Rule {
        id: "probe-token-public-client",
        severity: Severity::Error,
        summary: "The provider treats the client as public and rejects the secret Mastodon sends",
        explanation: "The token endpoint responded with `invalid_client` to the configured secret but with `invalid_grant` to \
a request without any client authentication: the client is registered as public (token endpoint \
authentication method `none`). Providers such as oidc-provider then reject any secret the client sends, \
and Mastodon always sends client authentication (HTTP Basic unless OIDC_CLIENT_AUTH_METHOD says \
otherwise), so every login fails at the token request.\n\nFix: register the client as confidential at the \
provider with the secret of OIDC_CLIENT_SECRET and the authentication method Mastodon uses \
(client_secret_basic by default).",
        needs: &[Input::ProviderProbe],
        check: check_public_client,
    },
    Rule {
        id: "probe-token-rejected",
        severity: Severity::Error,
        summary: "The token endpoint rejects Mastodon's token request with another OAuth error",
        explanation: "The token endpoint responded to the token probe with an OAuth error other than `invalid_grant` \
(the expected response for a random code) and `invalid_client`. `unauthorized_client` means the client may \
not use the authorization code grant and `unsupported_grant_type` that the provider does not offer it: \
both are errors, because every login fails at the token request. Any rejection is an error too when \
OIDC_CLIENT_SECRET is empty, because the provider then rejects the missing secret. Other errors such as \
`invalid_request` are warnings, because the random code may be what the provider rejects; the finding \
shows the provider's description.\n\nFix: allow the authorization code grant for the client at the provider, or follow the \
error description.",
        needs: &[Input::ProviderProbe],
        check: check_token_rejected,
    },
    Rule {
        id: "probe-token-inconclusive",
        severity: Severity::Warning,
        summary: "The token probe got a response it cannot classify, or no response",
        explanation: "The token endpoint responded without an OAuth error (for example an HTML page or a 404), \
so the probe cannot tell whether the credentials pass. No response (DNS, connection, timeout), a server \
error (5xx) or a rate limit (429) means the check could not complete: the exit status is then 3 unless \
another finding is an error. authentik 2026.8 and later throttle requests per IP address, so repeated \
runs can hit the limit.\n\nFix: check that the token endpoint of the discovery document is the provider's \
and that it is up, then run the probe again later.",
        needs: &[Input::ProviderProbe],
        check: check_token_inconclusive,
    },
    Rule {
        id: "probe-token-not-sent",
        severity: Severity::Info,
        summary: "The token probe was not sent, to keep the client secret safe or because Mastodon's method cannot be reproduced",
        explanation: "The token probe sends the client secret, so it goes only to the token endpoint of the \
discovery document, only over https, and only when that endpoint is on the issuer's host and port or on \
a host given with --allow-secret-host. A token endpoint on another host is a note: pass \
--allow-secret-host HOST when that host is the provider's. An `http://` token endpoint is a warning: \
Mastodon itself sends the secret there in clear text. OIDC_CLIENT_AUTH_METHOD `saml2_bearer` and `mtls` \
cannot be reproduced (Mastodon cannot use them either).\n\nFix: use an https token endpoint on the \
provider's host, or allow the host explicitly when it is yours.",
        needs: &[Input::ProviderProbe],
        check: check_token_not_sent,
    },
];

fn check_unknown_client(context: &Context, sink: &mut Sink) {
    let Some(result) = authorize(context) else { return };
    let AuthorizeVerdict::UnknownClient { evidence } = &result.verdict else { return };
    sink.emit(format!(
        "the authorization endpoint does not know OIDC_CLIENT_ID {}: it responded with HTTP {} \"{evidence}\", so every login ends on the provider's error page",
        shown(context, "OIDC_CLIENT_ID"),
        result.status.unwrap_or_default()
    ))
    .help(format!("copy the client id of the provider's Mastodon application into OIDC_CLIENT_ID, {RESTART}"))
    .at(label(context, "OIDC_CLIENT_ID"));
}

fn check_redirect_uri(context: &Context, sink: &mut Sink) {
    let Some(result) = authorize(context) else { return };
    let AuthorizeVerdict::RedirectUriNotRegistered { evidence } = &result.verdict else { return };
    let redirect_uri = context.var("OIDC_REDIRECT_URI").map(|var| var.value).unwrap_or_default();
    let mut help = format!("register exactly `{redirect_uri}` as a redirect URI of client {} at the provider", shown(context, "OIDC_CLIENT_ID"));
    if let Some(expected) = context.settings.expected_redirect_uri().filter(|expected| expected != redirect_uri) {
        help = format!("set OIDC_REDIRECT_URI={expected} and register exactly that value at the provider, {RESTART}");
    }
    sink.emit(format!(
        "the provider rejects OIDC_REDIRECT_URI `{redirect_uri}` for client {}: it responded with HTTP {} \"{evidence}\", so every login ends on the provider's error page",
        shown(context, "OIDC_CLIENT_ID"),
        result.status.unwrap_or_default()
    ))
    .help(help)
    .at(label(context, "OIDC_REDIRECT_URI"))
    .related(label(context, "OIDC_CLIENT_ID"));
}

fn check_response_type(context: &Context, sink: &mut Sink) {
    let Some(result) = authorize(context) else { return };
    let AuthorizeVerdict::UnsupportedResponseType { description } = &result.verdict else { return };
    let response_type = context.settings.response_type();
    let at = label(context, "OIDC_RESPONSE_TYPE").or_else(|| label(context, "OIDC_CLIENT_ID"));
    let help = if response_type == "code" {
        "allow the authorization code flow (response type `code`) for the client at the provider".to_string()
    } else {
        format!("delete the OIDC_RESPONSE_TYPE line so that Mastodon requests `code`, {RESTART}")
    };
    sink.emit(format!(
        "the provider responds with `unsupported_response_type` to response type `{response_type}`{}: Mastodon's callback gets this error and the login fails",
        described(description)
    ))
    .help(help)
    .at(at);
}

fn check_pkce_required(context: &Context, sink: &mut Sink) {
    let Some(result) = authorize(context) else { return };
    let AuthorizeVerdict::PkceRequired { description } = &result.verdict else { return };
    let at = label(context, "OIDC_USE_PKCE").or_else(|| label(context, "OIDC_CLIENT_ID"));
    if context.settings.pkce() {
        sink.emit(format!(
            "the provider rejects the authorization request's PKCE challenge{}: Mastodon sends S256, and the provider wants another method",
            described(description)
        ))
        .help("allow the S256 PKCE method for the client at the provider")
        .at(at);
        return;
    }
    sink.emit(format!(
        "the provider requires PKCE{}, and OIDC_USE_PKCE is {}: Mastodon sends no code_challenge, so every login fails",
        described(description),
        shown(context, "OIDC_USE_PKCE")
    ))
    .help(format!("set OIDC_USE_PKCE=true (Mastodon 4.3 and later), {RESTART}"))
    .at(at);
}

fn check_rejected(context: &Context, sink: &mut Sink) {
    let Some(result) = authorize(context) else { return };
    let AuthorizeVerdict::CallbackError { error, description } = &result.verdict else { return };
    let (help, at) = match error.as_str() {
        "invalid_scope" => (
            format!("allow every scope of OIDC_SCOPE {} for the client at the provider, or remove the scopes it does not offer", shown(context, "OIDC_SCOPE")),
            label(context, "OIDC_SCOPE"),
        ),
        "unauthorized_client" => (
            "allow the authorization code flow for the client at the provider".to_string(),
            label(context, "OIDC_CLIENT_ID"),
        ),
        "invalid_request" => (
            "read the provider's description; on authentik 2026.5 and later enable the `authorization_code` grant type for the provider".to_string(),
            label(context, "OIDC_CLIENT_ID"),
        ),
        "access_denied" => (
            "check the provider's access policies for the application".to_string(),
            label(context, "OIDC_CLIENT_ID"),
        ),
        _ => ("fix the setting the provider's error description names".to_string(), label(context, "OIDC_CLIENT_ID")),
    };
    sink.emit(format!(
        "the provider redirects the authorization request back with `{error}`{}: Mastodon's callback gets this error and the login fails",
        described(description)
    ))
    .help(help)
    .at(at);
}

fn check_state(context: &Context, sink: &mut Sink) {
    let Some(result) = authorize(context) else { return };
    if result.state_returned != Some(false) {
        return;
    }
    let location = result.location.as_deref().unwrap_or("a form_post page");
    sink.emit(format!(
        "the provider redirects back to Mastodon without the request's `state` ({location}): Mastodon fails such a callback with \"Invalid 'state' parameter\""
    ))
    .help("make the provider, and any proxy in front of it, return the `state` parameter unchanged")
    .at(label(context, "OIDC_REDIRECT_URI"));
}

fn check_authorize_inconclusive(context: &Context, sink: &mut Sink) {
    let Some(result) = authorize(context) else { return };
    match &result.verdict {
        AuthorizeVerdict::Unclassified { detail } => {
            sink.emit(format!("the authorization probe cannot tell whether the client id and redirect URI are accepted: the provider responded with {detail}"))
                .help(format!("open {} in a browser that is not logged in to the provider and read the page", result.url))
                .at(label(context, "OIDC_CLIENT_ID"));
        }
        AuthorizeVerdict::Failed { detail, incomplete } => {
            let finding = sink
                .emit(format!("the authorization probe could not complete: {detail}"))
                .help("check that the provider is up and reachable from this host, then run the probe again")
                .at(label(context, "OIDC_ISSUER"));
            if *incomplete {
                finding.incomplete();
            }
        }
        _ => {}
    }
}

fn check_first_use(context: &Context, sink: &mut Sink) {
    let Some(results) = provider(context) else { return };
    let redirect_uri = context.var("OIDC_REDIRECT_URI").map(|var| var.value).unwrap_or_default();
    let at = label(context, "OIDC_REDIRECT_URI");
    match results.first_use {
        FirstUse::NoRisk => {}
        FirstUse::Unknown => {
            if !matches!(results.authorize, Probe::Sent(_)) {
                return;
            }
            sink.emit(format!(
                "the authorization probe sent `{redirect_uri}` to authentik without knowing the provider's redirect URIs: a provider without any stores the first one it receives"
            ))
            .help("register the redirect URI in authentik before the first login; give --authentik-token-file so the run checks the provider's redirect URIs first")
            .at(at)
            .severity(Severity::Info);
        }
        FirstUse::Refused => {
            sink.emit(format!(
                "the authorization probe was not sent: the authentik provider has no redirect URI, and the probe would register `{redirect_uri}` as its first one"
            ))
            .help(format!("register `{redirect_uri}` as a strict redirect URI of the provider, or pass --allow-first-use-registration to let the probe register it"))
            .at(at);
        }
        FirstUse::Registered => {
            sink.emit(format!("the authorization probe registered `{redirect_uri}` as the authentik provider's first redirect URI (--allow-first-use-registration)"))
                .help("check the provider's redirect URIs in authentik: it now holds exactly this strict entry")
                .at(at);
        }
    }
}

/// Describes the client id as the authorization probe found it, for token messages.
fn client_id_status(context: &Context) -> Option<bool> {
    match authorize(context).map(|result| &result.verdict) {
        Some(AuthorizeVerdict::UnknownClient { .. }) => Some(false),
        Some(AuthorizeVerdict::Accepted { .. })
        | Some(AuthorizeVerdict::RedirectUriNotRegistered { .. })
        | Some(AuthorizeVerdict::UnsupportedResponseType { .. })
        | Some(AuthorizeVerdict::PkceRequired { .. })
        | Some(AuthorizeVerdict::CallbackError { .. }) => Some(true),
        _ => None,
    }
}

fn check_client_rejected(context: &Context, sink: &mut Sink) {
    let Some(result) = token(context) else { return };
    if result.verdict != TokenVerdict::ClientRejected {
        return;
    }
    let method = context.settings.client_auth().metadata_name();
    let has_secret = context.var("OIDC_CLIENT_SECRET").is_some_and(|var| !var.value.is_empty());
    let cause = match (client_id_status(context), has_secret) {
        (Some(false), _) => format!("the client id {} is unknown (the authorization probe found so too)", shown(context, "OIDC_CLIENT_ID")),
        (_, false) => "OIDC_CLIENT_SECRET is unset, and the client needs a secret".to_string(),
        (Some(true), true) => format!("the client id is known, so OIDC_CLIENT_SECRET is wrong or the client is not registered for {method}"),
        (None, true) => format!("the client id is unknown, OIDC_CLIENT_SECRET is wrong, or the client is not registered for {method}"),
    };
    // The fix depends on which credential the authorization probe cleared.
    let help = if client_id_status(context) == Some(false) {
        format!("copy the client id from the provider into OIDC_CLIENT_ID, {RESTART}")
    } else {
        format!(
            "copy the client secret from the provider into OIDC_CLIENT_SECRET (in single quotes when it contains `#`, `$` or spaces) and register the client for {method}, {RESTART}"
        )
    };
    sink.emit(format!(
        "the token endpoint responds with `invalid_client` to client {} with the configured secret ({method}): {cause}, and Mastodon fails every login at the token request",
        shown(context, "OIDC_CLIENT_ID")
    ))
    .help(help)
    .at(context.key_label("OIDC_CLIENT_SECRET").or_else(|| label(context, "OIDC_CLIENT_ID")))
    .related(label(context, "OIDC_CLIENT_ID"));
}

fn check_token_redirect_uri(context: &Context, sink: &mut Sink) {
    let Some(result) = token(context) else { return };
    let TokenVerdict::RedirectUriRejected { .. } = result.verdict else { return };
    let redirect_uri = context.var("OIDC_REDIRECT_URI").map(|var| var.value).unwrap_or_default();
    sink.emit(format!(
        "the token endpoint accepts the client credentials but rejects OIDC_REDIRECT_URI `{redirect_uri}` (`invalid_client` with a code, `invalid_grant` without one): every login fails after the user signs in"
    ))
    .help(format!("register exactly `{redirect_uri}` as a redirect URI of the client at the provider"))
    .at(label(context, "OIDC_REDIRECT_URI"));
}

fn check_secret_not_checked(context: &Context, sink: &mut Sink) {
    let Some(result) = token(context) else { return };
    let checked = match result.verdict {
        TokenVerdict::Accepted { secret_checked } | TokenVerdict::RedirectUriRejected { secret_checked } => secret_checked,
        _ => None,
    };
    if checked != Some(false) {
        return;
    }
    sink.emit(format!(
        "the token endpoint lets a request with a random wrong secret for client {} pass as well: the provider does not check OIDC_CLIENT_SECRET (a public client, or on authentik 2026.5 and later a provider without the `authorization_code` grant type)",
        shown(context, "OIDC_CLIENT_ID")
    ))
    .help("make the client confidential at the provider; on authentik 2026.5 and later enable the `authorization_code` grant type for the provider")
    .at(context.key_label("OIDC_CLIENT_SECRET").or_else(|| label(context, "OIDC_CLIENT_ID")));
}

fn check_public_client(context: &Context, sink: &mut Sink) {
    let Some(result) = token(context) else { return };
    if result.verdict != TokenVerdict::PublicClient {
        return;
    }
    let method = context.settings.client_auth().metadata_name();
    sink.emit(format!(
        "the provider treats client {} as public: a token request without a secret passes, and the one with OIDC_CLIENT_SECRET ({method}) gets `invalid_client`, so Mastodon fails every login at the token request",
        shown(context, "OIDC_CLIENT_ID")
    ))
    .help(format!("register the client as confidential at the provider, with the secret of OIDC_CLIENT_SECRET and the method {method}"))
    .at(context.key_label("OIDC_CLIENT_SECRET").or_else(|| label(context, "OIDC_CLIENT_ID")));
}

fn check_token_rejected(context: &Context, sink: &mut Sink) {
    let Some(result) = token(context) else { return };
    let TokenVerdict::RequestRejected { error, description } = &result.verdict else { return };

    // Without a secret, a request the provider rejects is the missing secret,
    // not the random code: a confidential client fails every login.
    let no_secret = context.var("OIDC_CLIENT_SECRET").is_none_or(|var| var.value.is_empty());
    let certain = matches!(error.as_str(), "unauthorized_client" | "unsupported_grant_type") || no_secret;
    let help = if no_secret {
        "OIDC_CLIENT_SECRET is empty: copy the client secret from the provider into it, or make the client public at the provider if it should have none"
    } else {
        "allow the authorization code grant for the client at the provider, or fix what the error description names"
    };
    let finding = sink
        .emit(format!("the token endpoint responds with `{error}`{} to the token request Mastodon would send", described(description)))
        .help(help)
        .at(label(context, "OIDC_CLIENT_ID"));
    if !certain {
        finding.severity(Severity::Warning);
    }
}

fn check_token_inconclusive(context: &Context, sink: &mut Sink) {
    let Some(result) = token(context) else { return };
    match &result.verdict {
        TokenVerdict::Unclassified { detail } => {
            sink.emit(format!("the token probe cannot tell whether the client credentials pass: {} responded with {detail}", result.url))
                .help("check that the token endpoint of the discovery document is the provider's, then run the probe again")
                .at(label(context, "OIDC_ISSUER"));
        }
        TokenVerdict::Failed { detail, incomplete } => {
            let finding = sink
                .emit(format!("the token probe could not complete: {} responded with {detail}", result.url))
                .help("check that the provider is up and reachable from this host, then run the probe again later")
                .at(label(context, "OIDC_ISSUER"));
            if *incomplete {
                finding.incomplete();
            }
        }
        _ => {}
    }
}

fn check_token_not_sent(context: &Context, sink: &mut Sink) {
    let Some(results) = provider(context) else { return };
    let Probe::NotSent(reason) = &results.token else { return };
    match reason {
        NotSent::InsecureTokenEndpoint { url } => {
            sink.emit(format!("the token probe was not sent: the token endpoint {url} is not https, and Mastodon sends OIDC_CLIENT_SECRET there in clear text"))
                .help("serve the provider over https, so that the discovery document lists an https token endpoint")
                .at(label(context, "OIDC_ISSUER"))
                .severity(Severity::Warning);
        }
        NotSent::ForeignTokenHost { host, issuer_host } => {
            sink.emit(format!("the token probe was not sent: the token endpoint is on {host}, not on the issuer's host {issuer_host}, so the client secret stays here"))
                .help(format!("if {host} is your provider's, run again with --allow-secret-host {host}"))
                .at(label(context, "OIDC_ISSUER"));
        }
        NotSent::UnsupportedClientAuth(method) => {
            sink.emit(format!(
                "the token probe was not sent: OIDC_CLIENT_AUTH_METHOD selects {}, which the probe cannot reproduce",
                method.metadata_name()
            ))
            .help("delete the OIDC_CLIENT_AUTH_METHOD line so that Mastodon authenticates with HTTP Basic (client_secret_basic), and register the client for that method")
            .at(label(context, "OIDC_CLIENT_AUTH_METHOD"));
        }
        NotSent::ManualTokenEndpoint { manual, discovered } => {
            let manual = manual.as_deref().unwrap_or("no usable URL");
            let discovered = discovered.as_deref().unwrap_or("none");
            sink.emit(format!(
                "the token probe was not sent: with discovery off Mastodon sends the client secret to OIDC_TOKEN_ENDPOINT ({manual}), which is not the discovered token endpoint ({discovered}), and the probe sends it only to the discovered one"
            ))
            .help(format!("set OIDC_TOKEN_ENDPOINT={discovered}, or set OIDC_DISCOVERY=true"))
            .at(label(context, "OIDC_TOKEN_ENDPOINT"))
            .severity(Severity::Warning);
        }
        NotSent::MissingSetting(_) | NotSent::NoEndpoint { .. } | NotSent::FirstUseRisk => {}
    }
}
