//! authentik caveats that hold for a range of releases. Each rule needs the
//! release (learned from the server or given with --authentik-version) and
//! stays quiet outside its range. When the admin API was read, the rules
//! use the provider object to be precise; they work without it.
//!
//! Mastodon facts hold for Mastodon 4.3 to 4.5 with omniauth_openid_connect
//! 0.6.1: with OMNIAUTH_ONLY=true, sign-out redirects to the end-session
//! endpoint with `post_logout_redirect_uri` set to OIDC_IDP_LOGOUT_REDIRECT_URI
//! (when set) and never with `id_token_hint`.

use crate::finding::Severity;
use crate::providers::authentik::redirect::{self, MatchingMode, RedirectEntry};
use crate::providers::authentik::version::{self, EMAIL_UNVERIFIED_SINCE, GRANT_TYPES_SINCE, LOGOUT_URI_TYPE_SINCE};

use super::super::{Context, Input, Rule, Sink};
use super::{api, facts, known_version, non_empty, provider, provider_page};

pub(in crate::rules) const RULES: &[Rule] = &[
    Rule {
        id: "authentik-email-unverified",
        severity: Severity::Warning,
        summary: "authentik 2025.10 and later mark every email unverified, so new Mastodon accounts stay unconfirmed",
        explanation: "From authentik 2025.10 the default `email` scope mapping returns email_verified=false for \
every user (releases before 2025.10 returned true, and 2025.8.x was not changed). Mastodon creates a new OIDC \
account confirmed only when email_verified is true or OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED is exactly \
`true`. Otherwise the account is unconfirmed until the user clicks the confirmation mail, which never arrives \
without working SMTP, and ALLOW_UNSAFE_AUTH_PROVIDER_REATTACH never links such a login to an existing account. \
The rule is quiet for releases before 2025.10 and when the provider's email mapping (read through the admin \
API) returns email_verified=True. It takes over from email-not-verified for authentik whenever the release is \
known.\n\nOIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED=true is safe only while users cannot change their own email \
address in authentik (\"Allow users to change email\" in System > Settings, off by default) and admins enter \
only addresses they checked. With an admin API token the rule reads that setting: it then says whether the \
flag is safe, and warns when the flag is on while users can change their email, because Mastodon then trusts \
any address a user types.\n\nFix: set OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED=true when users cannot change \
their email; otherwise attach a custom email scope mapping that returns email_verified=True only for checked \
addresses.",
        needs: &[Input::Env, Input::AuthentikVersion],
        check: check_email_unverified,
    },
    Rule {
        id: "authentik-logout-uri-ignored",
        severity: Severity::Info,
        summary: "authentik before 2026.5 ignores post_logout_redirect_uri, and every redirect URI entry accepts logins",
        explanation: "Before authentik 2026.5 the end-session endpoint ignores post_logout_redirect_uri: with \
OMNIAUTH_ONLY=true, Mastodon sends users there with OIDC_IDP_LOGOUT_REDIRECT_URI after sign-out, and they \
stay on authentik's logout page instead of returning. These releases also know only one kind of redirect URI \
entry: every entry is an authorization (login) redirect URI, and an entry meant for the post-logout URI makes \
authentik accept that URI as a login redirect too, where it may send authorization codes. The finding is info \
for the ignored parameter, and a warning when the admin API shows such an entry.\n\nFix: register only \
Mastodon's callback (OIDC_REDIRECT_URI) at the provider, and delete any entry added for the post-logout URI. \
OIDC_IDP_LOGOUT_REDIRECT_URI can stay for a later upgrade, but see authentik-logout-uri-rejected: from \
2026.5 it breaks sign-out.",
        needs: &[Input::Env, Input::AuthentikVersion],
        check: check_logout_uri_ignored,
    },
    Rule {
        id: "authentik-logout-uri-rejected",
        severity: Severity::Warning,
        summary: "authentik 2026.5 and later reject post_logout_redirect_uri without id_token_hint, which Mastodon never sends",
        explanation: "From authentik 2026.5 the end-session endpoint accepts post_logout_redirect_uri only \
together with an id_token_hint, and only for a redirect URI entry of type `logout`; otherwise it shows an \
HTTP 400 page (\"The request is otherwise malformed\"). Mastodon 4.3 to 4.5 (omniauth_openid_connect 0.6.1) \
send OIDC_IDP_LOGOUT_REDIRECT_URI as post_logout_redirect_uri when OMNIAUTH_ONLY=true, but never an \
id_token_hint, so every sign-out ends on that error page and the authentik session stays open. Registering \
the URI with the logout type does not help without the hint. With the admin API the rule also reports an \
entry for the post-logout URI that kept the authorization type, which makes it a login redirect URI as \
well. Such an entry alone, while Mastodon does not send the parameter (OMNIAUTH_ONLY not `true`), is \
info.\n\nFix: remove OIDC_IDP_LOGOUT_REDIRECT_URI. Mastodon then sends users to the end-session endpoint \
without parameters, and authentik runs the provider's invalidation flow.",
        needs: &[Input::Env, Input::AuthentikVersion],
        check: check_logout_uri_rejected,
    },
    Rule {
        id: "authentik-grant-type-missing",
        severity: Severity::Error,
        summary: "authentik 2026.5 and later reject logins when the provider's grant types lack authorization_code",
        explanation: "From authentik 2026.5 each OAuth2 provider has an allow-list of grant types. Providers \
that existed before the upgrade get every grant type, and the admin interface preselects them all, but a \
provider created through the API, a blueprint or Terraform without `grant_types` gets an empty list. \
authentik then redirects every authorization request back with error=invalid_request and answers every token \
request with invalid_grant, whatever the client secret. The discovery document cannot show it: its \
grant_types_supported is the same static list for every provider. With the admin API the rule reads the \
provider's grant types and is an error when authorization_code is missing; without it, the finding is an info \
reminder.\n\nFix: add authorization_code (and refresh_token if other clients need it) to the provider's \
grant types: in the admin interface on the provider's form, or `grant_types: [authorization_code]` in the \
blueprint or Terraform resource.",
        needs: &[Input::Env, Input::AuthentikVersion],
        check: check_grant_type_missing,
    },
    Rule {
        id: "authentik-cve-2024-52289",
        severity: Severity::Warning,
        summary: "authentik before 2024.8.5, and 2024.10.0 to 2024.10.2, treat every redirect URI as a regex (CVE-2024-52289)",
        explanation: "Before authentik 2024.8.5, and in 2024.10.0 to 2024.10.2, a provider's redirect URIs are one \
newline-separated text whose every line is a regular expression (full match), compared as plain text only \
when it does not compile. An unescaped `.` in a registered URI matches any character, so a look-alike host \
matches as well and can receive authorization codes: CVE-2024-52289. 2024.8.5 and 2024.10.3 replaced the \
lines with strict and regex entries, turning each line into a strict entry except `*` and `.*`. With the \
admin API, authentik-redirect-uri-regex-loose names the loose lines.\n\nFix: upgrade authentik to 2024.8.5, \
2024.10.3 or later. Until then, escape every `.` of the registered redirect URI (the finding gives the \
pattern).",
        needs: &[Input::Env, Input::AuthentikVersion],
        check: check_cve_2024_52289,
    },
    Rule {
        id: "authentik-redirect-uri-migration",
        severity: Severity::Warning,
        summary: "authentik 2024.8.5 and 2024.10.3 may have left regex escapes in strict redirect URI entries",
        explanation: "authentik 2024.8.5 and 2024.10.3 migrated each redirect URI line to a strict entry, but kept \
regex escapes such as `\\.` and `\\?` in the URL. A strict entry compares the text literally, so the escaped \
entry never equals the redirect URI Mastodon sends, and logins fail with \"Redirect URI Error\" although \
nothing was changed. Entries written by that migration keep the backslashes until the provider is edited. \
With the admin API the rule names the strict entries that contain a backslash and is quiet when there is \
none; without it, the finding is info.\n\nFix: edit the provider's redirect URI so that the strict entry reads \
exactly OIDC_REDIRECT_URI, without backslashes.",
        needs: &[Input::Env, Input::AuthentikVersion],
        check: check_redirect_uri_migration,
    },
];

/// Returns the attached scope mapping for `scope`, when the admin API showed the provider's mappings.
fn attached_mapping<'a>(context: &Context<'a>, scope: &str) -> Option<Option<&'a crate::providers::authentik::api::ScopeMapping>> {
    let (attached, _) = api(context)?.attached_mappings()?;
    Some(attached.into_iter().find(|mapping| mapping.scope_name == scope))
}

fn check_email_unverified(context: &Context, sink: &mut Sink) {
    if !context.settings.oidc_enabled() {
        return;
    }
    let (Some(facts), Some(known)) = (facts(context), known_version(context)) else { return };
    if !known.at_least(EMAIL_UNVERIFIED_SINCE) {
        return;
    }
    let judged = facts.judged_version();
    let change_email = api(context).and_then(|api| api.settings.as_ref()).and_then(|settings| settings.change_email);
    let flag = context.var("OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED");

    if context.settings.assume_email_verified() {
        if change_email != Some(true) {
            return;
        }
        let mut message = "OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED=true while authentik's \"Allow users to change email\" is enabled: \
every authentik user can set any address, and Mastodon treats it as verified"
            .to_string();
        if context.settings.flag("ALLOW_UNSAFE_AUTH_PROVIDER_REATTACH", false) {
            message.push_str(", so with ALLOW_UNSAFE_AUTH_PROVIDER_REATTACH=true a user who enters a victim's address signs in to the victim's local account");
        }
        sink.emit(message)
            .at(flag.and_then(|var| var.label))
            .help("disable \"Allow users to change email\" in authentik (System > Settings), or set OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED=false and attach a custom email scope mapping that returns email_verified=True only for checked addresses");
        return;
    }

    // Without the email scope there is no email claim at all; email-scope-missing reports that.
    if !context.settings.authorize_scopes().iter().any(|scope| scope == "email") {
        return;
    }

    // The attached email mapping decides what authentik sends; a custom one may verify.
    let mapping = attached_mapping(context, "email");
    let mapping_note = match mapping {
        Some(None) => return, // No email mapping: no email claim at all; authentik-scope-mapping-missing reports it.
        Some(Some(mapping)) => match mapping.email_verified_literal() {
            Some(true) => return,
            Some(false) => format!("the provider's email scope mapping `{}` returns email_verified=False", mapping.name),
            None => format!("the provider's email scope mapping `{}` may not return email_verified=True", mapping.name),
        },
        None => "its default email scope mapping returns email_verified=false".to_string(),
    };
    let setting = match &flag {
        Some(var) => format!("OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED is `{}`, which Mastodon reads as false", var.value),
        None => "OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED is not set".to_string(),
    };
    let message = format!(
        "{judged}: {mapping_note}, and {setting}: every new Mastodon account is created unconfirmed and needs the confirmation \
mail (which never arrives without SMTP), and ALLOW_UNSAFE_AUTH_PROVIDER_REATTACH never links it to an existing account"
    );
    let help = match change_email {
        Some(false) => "users cannot change their email in authentik (\"Allow users to change email\" is disabled), so set \
OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED=true"
            .to_string(),
        Some(true) => "users can change their email in authentik (\"Allow users to change email\" is enabled), so do not set \
OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED=true; attach a custom email scope mapping that returns email_verified=True only for checked \
addresses, or disable that setting first"
            .to_string(),
        None => "set OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED=true if users cannot change their email in authentik (System > Settings, \
\"Allow users to change email\" disabled, the default); otherwise attach a custom email scope mapping that returns \
email_verified=True only for checked addresses"
            .to_string(),
    };
    let label = flag.and_then(|var| var.label).or_else(|| context.var("OIDC_ISSUER").and_then(|var| var.label));
    sink.emit(message).at(label).help(help);
}

/// Returns the authorization entry that accepts the post-logout URI, unless
/// that URI is Mastodon's callback itself.
fn logout_uri_login_entry(context: &Context, logout_uri: &str) -> Option<RedirectEntry> {
    if context.settings.raw("OIDC_REDIRECT_URI") == Some(logout_uri) {
        return None;
    }
    let uris = provider(context)?.redirect_uris.as_ref()?;
    let check = redirect::check_uri(uris, logout_uri);
    check.accepted_by.map(|index| uris.entries()[index].clone())
}

/// Returns true when Mastodon sends users to the end-session endpoint after
/// sign-out. That needs OMNIAUTH_ONLY and an end-session endpoint the gem can
/// use: from discovery, or with discovery off an absolute OIDC_END_SESSION_ENDPOINT.
fn signs_out_at_provider(context: &Context) -> bool {
    let endpoint_known = context.settings.discovery()
        || context.settings.raw("OIDC_END_SESSION_ENDPOINT").is_some_and(|value| value.starts_with("https://") || value.starts_with("http://"));
    context.settings.oidc_enabled() && context.settings.flag("OMNIAUTH_ONLY", false) && endpoint_known
}

fn check_logout_uri_ignored(context: &Context, sink: &mut Sink) {
    let (Some(facts), Some(known)) = (facts(context), known_version(context)) else { return };
    if known.at_least(LOGOUT_URI_TYPE_SINCE) {
        return;
    }
    let Some(logout) = non_empty(context, "OIDC_IDP_LOGOUT_REDIRECT_URI") else { return };
    let login_entry = logout_uri_login_entry(context, logout.value);
    let sent = signs_out_at_provider(context);
    if !sent && login_entry.is_none() {
        return;
    }

    let judged = facts.judged_version();
    let mut parts = Vec::new();
    if sent {
        parts.push(format!(
            "{judged} ignores post_logout_redirect_uri, so after signing out of Mastodon users stay on authentik's logout page instead of returning to `{}`",
            logout.value
        ));
    }
    let mut severity = Severity::Info;
    let mut help = "nothing to change in Mastodon; register only Mastodon's callback at the provider".to_string();
    if let Some(entry) = &login_entry {
        severity = Severity::Warning;
        parts.push(format!(
            "the {} that matches OIDC_IDP_LOGOUT_REDIRECT_URI is a login redirect URI in {judged}, so authentik also sends authorization codes to `{}`",
            entry.describe(),
            logout.value
        ));
        help = format!("delete the redirect URI entry `{}` from the provider; keep only the callback OIDC_REDIRECT_URI", entry.url);
    }
    sink.emit(parts.join("; ")).severity(severity).at(logout.label).help(help);
}

fn check_logout_uri_rejected(context: &Context, sink: &mut Sink) {
    let (Some(facts), Some(known)) = (facts(context), known_version(context)) else { return };
    if !known.at_least(LOGOUT_URI_TYPE_SINCE) {
        return;
    }
    let Some(logout) = non_empty(context, "OIDC_IDP_LOGOUT_REDIRECT_URI") else { return };
    let login_entry = logout_uri_login_entry(context, logout.value);
    let sent = signs_out_at_provider(context);
    if !sent && login_entry.is_none() {
        return;
    }

    let judged = facts.judged_version();
    let mut parts = Vec::new();
    let mut help = Vec::new();
    if sent {
        parts.push(format!(
            "{judged} requires an id_token_hint whenever post_logout_redirect_uri is sent, and Mastodon sends OIDC_IDP_LOGOUT_REDIRECT_URI \
`{}` without one: every sign-out ends on authentik's HTTP 400 page \"The request is otherwise malformed\", and the authentik session stays open",
            logout.value
        ));
        help.push("remove OIDC_IDP_LOGOUT_REDIRECT_URI, so that Mastodon sends users to the end-session endpoint without parameters and authentik runs the invalidation flow".to_string());
    }
    if let Some(entry) = &login_entry {
        parts.push(format!(
            "the {} that matches OIDC_IDP_LOGOUT_REDIRECT_URI has the authorization type, so it is also a login redirect URI where authentik may send authorization codes",
            entry.describe()
        ));
        help.push(format!("delete the redirect URI entry `{}` or change its type to logout", entry.url));
    }
    let severity = if sent { Severity::Warning } else { Severity::Info };
    sink.emit(parts.join("; ")).severity(severity).at(logout.label).help(help.join("; "));
}

fn check_grant_type_missing(context: &Context, sink: &mut Sink) {
    if !context.settings.oidc_enabled() {
        return;
    }
    let (Some(facts), Some(known)) = (facts(context), known_version(context)) else { return };
    if !known.at_least(GRANT_TYPES_SINCE) {
        return;
    }
    let judged = facts.judged_version();
    let label = context.var("OIDC_CLIENT_ID").and_then(|var| var.label);
    let Some(provider) = provider(context) else {
        sink.emit(format!(
            "{judged} rejects every login for a provider whose grant types lack authorization_code, and a provider created through the \
API, a blueprint or Terraform without grant_types has none; the discovery document cannot show it"
        ))
        .severity(Severity::Info)
        .at(label)
        .help("check that the provider's grant types include authorization_code, or pass an admin API token with --authentik-token-file to check it");
        return;
    };
    // A provider object without `grant_types` on 2026.5 is reported by authentik-api-incomplete.
    let Some(grant_types) = &provider.grant_types else { return };
    if grant_types.iter().any(|grant| grant == "authorization_code") {
        return;
    }
    let state = if grant_types.is_empty() {
        "has no grant types at all, as authentik gives providers created through the API, a blueprint or Terraform without grant_types".to_string()
    } else {
        format!("allows only the grant types `{}`", grant_types.join("`, `"))
    };
    sink.emit(format!(
        "the authentik provider {} {state}: {judged} redirects every Mastodon login back with error=invalid_request and answers the token \
request with invalid_grant",
        provider.describe()
    ))
    .at(label)
    .help(format!(
        "add authorization_code to the provider's grant types ({}), or set `grant_types: [authorization_code]` in the blueprint or Terraform resource",
        provider_page(provider)
    ));
}

fn check_cve_2024_52289(context: &Context, sink: &mut Sink) {
    let (Some(facts), Some(known)) = (facts(context), known_version(context)) else { return };
    if !version::every_redirect_uri_is_regex(known.version) {
        return;
    }
    let redirect = non_empty(context, "OIDC_REDIRECT_URI");
    let mut help = "upgrade authentik to 2024.8.5, 2024.10.3 or later".to_string();
    if let Some(uri) = &redirect {
        help.push_str(&format!("; until then, register the redirect URI with every `.` escaped: {}", redirect::escaped(uri.value)));
    }
    sink.emit(format!(
        "{} treats every redirect URI of a provider as a regular expression (CVE-2024-52289): an unescaped `.` also matches look-alike \
hosts, which can receive authorization codes",
        facts.judged_version()
    ))
    .at(redirect.and_then(|var| var.label))
    .help(help);
}

fn check_redirect_uri_migration(context: &Context, sink: &mut Sink) {
    let (Some(facts), Some(known)) = (facts(context), known_version(context)) else { return };
    if !version::has_redirect_migration_bug(known.version) {
        return;
    }
    let judged = facts.judged_version();
    let redirect = non_empty(context, "OIDC_REDIRECT_URI");
    let label = redirect.as_ref().and_then(|var| var.label.clone());
    let expected = redirect.as_ref().map_or("OIDC_REDIRECT_URI".to_string(), |var| format!("`{}`", var.value));

    let Some(uris) = provider(context).and_then(|provider| provider.redirect_uris.as_ref()) else {
        sink.emit(format!(
            "{judged} migrated redirect URIs to strict entries but kept regex escapes such as `\\.` in them, and a strict entry compares \
them literally, so logins can fail with \"Redirect URI Error\""
        ))
        .severity(Severity::Info)
        .at(label)
        .help(format!("check that the provider's strict redirect URI entry reads exactly {expected}, without backslashes"));
        return;
    };
    let escaped: Vec<RedirectEntry> = uris.entries().into_iter().filter(|entry| entry.matching_mode == MatchingMode::Strict && entry.url.contains('\\')).collect();
    if escaped.is_empty() {
        return;
    }
    let listed: Vec<String> = escaped.iter().map(|entry| format!("`{}`", entry.url)).collect();
    let fixed: Vec<String> = escaped.iter().map(|entry| format!("`{}`", redirect::unescape_regex(&entry.url))).collect();
    sink.emit(format!(
        "{judged} left regex escapes in the strict redirect URI entries {}; a strict entry compares them literally, so they never match",
        listed.join(", ")
    ))
    .at(label)
    .help(format!("edit the entries to read {} (the strict entry for Mastodon must read exactly {expected})", fixed.join(", ")));
}
