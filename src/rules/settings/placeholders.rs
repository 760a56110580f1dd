//! Values left over from a setup guide.

use super::*;

/// Placeholder forms from setup guides, each with the description a message uses.
pub(super) static PLACEHOLDERS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
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
pub(super) fn find_placeholder(name: &str, value: &str) -> Option<(String, &'static str)> {
    PLACEHOLDERS.iter().enumerate().find_map(|(index, (pattern, what))| {
        // The button label is free text: only a bracketed placeholder is certain there.
        if name == "OIDC_DISPLAY_NAME" && index != 0 {
            return None;
        }
        pattern.find(value).map(|found| (found.as_str().trim_matches(|c: char| !c.is_ascii_alphanumeric() && !"<>{}".contains(c)).to_string(), *what))
    })
}

pub(super) fn placeholder_help(context: &Context, name: &str) -> String {
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

pub(super) fn check_placeholder_value(context: &Context, sink: &mut Sink) {
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
