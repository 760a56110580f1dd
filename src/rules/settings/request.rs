//! Values Mastodon puts into the authorization and token requests.

use super::*;

pub(super) fn check_client_auth_method_name(context: &Context, sink: &mut Sink) {
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

pub(super) fn check_response_type(context: &Context, sink: &mut Sink) {
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

pub(super) fn check_response_mode(context: &Context, sink: &mut Sink) {
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

pub(super) fn check_display_ignored(context: &Context, sink: &mut Sink) {
    let Some(var) = context.var("OIDC_DISPLAY") else { return };
    sink.emit(format!(
        "OIDC_DISPLAY is {}, but omniauth_openid_connect 0.6.1 never sends the `display` parameter, so it has no effect",
        describe(var.value)
    ))
    .at(value_label(&var, "never sent"))
    .help("delete the line");
}

pub(super) const PROMPT_VALUES: [&str; 4] = ["none", "login", "consent", "select_account"];

pub(super) fn check_prompt_value(context: &Context, sink: &mut Sink) {
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
