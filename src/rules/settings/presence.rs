//! Whether OIDC is on, and which variables are set, missing or misnamed.

use super::*;

pub(super) fn check_oidc_not_configured(context: &Context, sink: &mut Sink) {
    if !oidc_keys(context).is_empty() {
        return;
    }
    let files: Vec<String> = context.env.files.iter().map(|file| file.source.path.display().to_string()).collect();
    sink.emit(format!("no OIDC_* variable is set in {}: Mastodon's OIDC login is off", files.join(", ")))
        .help("check the Mastodon directory (the settings may be in .env.production.local), pass the service's environment with --env, or add OIDC_ENABLED=true and the OIDC_* settings");
}

pub(super) fn check_oidc_not_enabled(context: &Context, sink: &mut Sink) {
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
pub(super) fn means_false(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "false" | "0" | "no" | "off" | "n" | "disabled")
}

/// Returns true for values that clearly mean true, which Mastodon reads as false.
pub(super) fn means_true(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on" | "y" | "enabled")
}

pub(super) fn check_boolean_not_true(context: &Context, sink: &mut Sink) {
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

pub(super) fn check_default_on_flag_disabled(context: &Context, sink: &mut Sink) {
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

pub(super) fn check_missing_scope(context: &Context, sink: &mut Sink) {
    if !context.settings.oidc_enabled() || context.var("OIDC_SCOPE").is_some() {
        return;
    }
    sink.emit("OIDC_ENABLED=true but OIDC_SCOPE is not set: Mastodon calls `nil.split` while booting and does not start")
        .at(enabled_label(context, "OIDC_SCOPE is required with this"))
        .help(format!("add OIDC_SCOPE={EXAMPLE_SCOPE}"));
}

pub(super) fn check_missing_required_setting(context: &Context, sink: &mut Sink) {
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

pub(super) fn check_missing_client_secret(context: &Context, sink: &mut Sink) {
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
pub(super) fn nearest_variable(name: &str) -> Option<&'static str> {
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

pub(super) fn check_unknown_variable(context: &Context, sink: &mut Sink) {
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

pub(super) fn rename_help(context: &Context, right: &str) -> String {
    if context.var(right).is_some() {
        format!("delete the line; {right} is already set")
    } else {
        format!("rename the key to {right}")
    }
}

// ---------------------------------------------------------------------------
// Scope
