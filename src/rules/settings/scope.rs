//! OIDC_SCOPE: `openid` and the comma-separated form.

use super::*;

/// Splits OIDC_SCOPE into the scope tokens a provider receives: the comma-separated
/// parts, each split on whitespace as openid_connect does for the authorization request.
pub(super) fn scope_tokens(value: &str) -> Vec<String> {
    mastodon::ruby_split_commas(value).iter().flat_map(|part| part.split_whitespace().map(str::to_string).collect::<Vec<_>>()).collect()
}

/// Builds the OIDC_SCOPE value to suggest: the scopes written, separated by commas,
/// with `openid` first and no duplicates.
pub(super) fn suggested_scope(value: &str) -> String {
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

pub(super) fn check_scope_missing_openid(context: &Context, sink: &mut Sink) {
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

pub(super) fn check_scope_format(context: &Context, sink: &mut Sink) {
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
