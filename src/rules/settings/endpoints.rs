//! Endpoint variables, with and without discovery.

use super::*;

pub(super) fn check_endpoint_ignored_with_discovery(context: &Context, sink: &mut Sink) {
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
pub(super) fn manual_endpoint_problem(name: &str, default: &str, value: Option<&str>, host_set: bool) -> Option<String> {
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

pub(super) fn check_manual_endpoints(context: &Context, sink: &mut Sink) {
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

pub(super) fn check_discovery_disabled(context: &Context, sink: &mut Sink) {
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

pub(super) fn check_host_settings_unused(context: &Context, sink: &mut Sink) {
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

pub(super) fn check_one_click_boot_discovery(context: &Context, sink: &mut Sink) {
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

pub(super) fn check_auth_endpoint_is_discovery_url(context: &Context, sink: &mut Sink) {
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
