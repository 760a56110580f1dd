//! The cross-check of Mastodon's settings with the authentik provider read
//! through the admin API (`--authentik-token-file` or AUTHENTIK_TOKEN).
//! Client secrets are compared, never shown.

use crate::finding::Severity;
use crate::providers::authentik::api::{SecretComparison, ScopeMapping};
use crate::providers::authentik::redirect::{self, Looseness, MatchingMode, RedirectEntry, UriType};
use crate::providers::authentik::version;

use super::super::{Context, Input, Rule, Sink};
use super::{api, facts, non_empty, provider, provider_page};

pub(in crate::rules) const RULES: &[Rule] = &[
    Rule {
        id: "authentik-api-incomplete",
        severity: Severity::Warning,
        summary: "The authentik admin API did not return everything the cross-check reads",
        explanation: "With an admin API token the tool reads the release (/api/v3/admin/version/), the \
application the issuer names and its OAuth2 provider, the scope mappings, the system settings and, for a \
provider without signing key, the certificate-key pairs. A refused token (HTTP 403 \"Token invalid/expired\"), \
a token whose user lacks a permission (reading the system settings needs \
authentik_rbac.view_system_settings), a provider that is not found, or a field in a shape this tool does not \
know leaves part of the cross-check undone; the finding names each request and field, and the rules that \
need the missing object are skipped or say what they could not judge. Field shapes differ by release: \
redirect_uris is one string before 2024.8.5, redirect_uri_type and grant_types exist from 2026.5. The \
finding marks the run incomplete (exit status 3 when nothing else is wrong).\n\nFix: use a token of an \
authentik administrator with the API intent (Directory > Tokens and App passwords), and check that \
OIDC_ISSUER names the application and OIDC_CLIENT_ID its provider.",
        needs: &[Input::Env],
        check: check_api_incomplete,
    },
    Rule {
        id: "authentik-redirect-uri-unregistered",
        severity: Severity::Error,
        summary: "OIDC_REDIRECT_URI matches no authorization redirect URI of the authentik provider",
        explanation: "authentik accepts a login only for a redirect URI that a redirect URI entry of type \
authorization accepts: a strict entry by plain string equality (letter case, trailing slash, scheme, port \
and query all count), a regex entry by a case-sensitive full match. Entries stored before authentik 2026.5 \
have no type and count as authorization entries; logout entries never accept a login. Mastodon sends \
OIDC_REDIRECT_URI verbatim, so when no entry accepts it, authentik shows \"Redirect URI Error\" (HTTP 400) \
for every login and answers the token request with invalid_client. The finding names the entries that \
almost match and what differs, regex entries that do not compile (authentik skips them), and a logout entry \
that matches.\n\nFix: make the provider's strict entry equal OIDC_REDIRECT_URI, which for Mastodon is \
https://<WEB_DOMAIN or LOCAL_DOMAIN>/auth/auth/openid_connect/callback. The finding gives the exact value and \
which side to change.",
        needs: &[Input::Env, Input::AuthentikApi],
        check: check_redirect_uri_unregistered,
    },
    Rule {
        id: "authentik-redirect-uri-first-use",
        severity: Severity::Error,
        summary: "The authentik provider has no authorization redirect URI, so the first request registers its own",
        explanation: "When a provider has no redirect URI entry of type authorization, authentik's authorize \
endpoint stores the redirect_uri of the first request it receives as a strict entry, even from a caller \
that is not logged in, and rejects every other URI afterwards. Whoever sends the first request, an attacker \
included, decides where authentik sends this client's authorization codes; if it is not Mastodon's \
callback, Mastodon's logins fail from then on. From 2026.5 that first request also replaces the whole list, \
dropping logout entries.\n\nFix: add OIDC_REDIRECT_URI as a strict redirect URI entry to the provider now.",
        needs: &[Input::Env, Input::AuthentikApi],
        check: check_redirect_uri_first_use,
    },
    Rule {
        id: "authentik-redirect-uri-regex-loose",
        severity: Severity::Warning,
        summary: "A regex redirect URI entry has an unescaped `.` or a wildcard and accepts more than Mastodon's callback",
        explanation: "authentik matches a regex redirect URI entry with a full, case-sensitive regular \
expression match. An unescaped `.` matches any character, so `https://mastodon.example/...` also accepts \
`https://mastodonXexample/...`; `.*` in the host accepts any host. An attacker who controls a host the \
pattern accepts can have authorization codes for this client sent there. A pattern that accepts any host is \
an error, an unescaped `.` in the host a warning, and a loose path (other paths on the same host) info. \
Before authentik 2024.8.5 (and in 2024.10.0 to 2024.10.2) every line of the redirect URIs is a regex, so \
the rule reads those lines the same way.\n\nFix: use a strict entry equal to OIDC_REDIRECT_URI, or escape the \
pattern; the finding gives both.",
        needs: &[Input::Env, Input::AuthentikApi],
        check: check_redirect_uri_regex_loose,
    },
    Rule {
        id: "authentik-client-id-mismatch",
        severity: Severity::Error,
        summary: "OIDC_CLIENT_ID differs from the client ID of the authentik provider the issuer names",
        explanation: "The issuer's application slug names the application and, through it, the OAuth2 provider \
whose discovery document Mastodon reads. authentik looks the client up by client_id at the authorize \
endpoint, so a client ID of another provider (or none) gives \"Client ID Error\", or logs the user in to \
another application whose ID tokens then fail Mastodon's audience and issuer checks. Client IDs are not \
secret, so the finding shows both values.\n\nFix: set OIDC_CLIENT_ID to the provider's client ID, as the \
finding gives it.",
        needs: &[Input::Env, Input::AuthentikApi],
        check: check_client_id_mismatch,
    },
    Rule {
        id: "authentik-client-secret-mismatch",
        severity: Severity::Error,
        summary: "OIDC_CLIENT_SECRET differs from the authentik provider's client secret",
        explanation: "authentik checks the client secret of a confidential client at the token endpoint and \
answers a wrong one with invalid_client, so every login fails after the user signed in at authentik. The \
admin API returns the provider's secret, and the tool compares it with OIDC_CLIENT_SECRET without printing \
either. The finding says when the values differ only in surrounding whitespace, or when Mastodon's value is \
the start of the provider's secret (cut short, as an unquoted `#` or `$` does in .env.production). Public \
clients are skipped: authentik never checks their secret (see authentik-client-public).\n\nFix: copy the \
client secret from the provider's edit form into OIDC_CLIENT_SECRET, in single quotes when it contains `#`, \
`$` or spaces.",
        needs: &[Input::Env, Input::AuthentikApi],
        check: check_client_secret_mismatch,
    },
    Rule {
        id: "authentik-client-public",
        severity: Severity::Warning,
        summary: "The authentik provider is a public client, so authentik never checks the client secret",
        explanation: "For a provider of client type `public`, authentik's token endpoint skips the client \
secret check entirely and does not require PKCE either. Mastodon keeps its secret on the server and can be a \
confidential client; as a public client, anyone who obtains an authorization code for it can redeem the \
code without the secret. With OIDC_USE_PKCE=true Mastodon's codes are bound to its PKCE verifier, which \
limits the damage, but the secret is still unused.\n\nFix: set the provider's client type to Confidential \
and keep OIDC_CLIENT_SECRET equal to its client secret.",
        needs: &[Input::Env, Input::AuthentikApi],
        check: check_client_public,
    },
    Rule {
        id: "authentik-signing-key-missing",
        severity: Severity::Warning,
        summary: "The authentik provider has no signing key, so ID tokens are HS256 with the client secret",
        explanation: "Without a signing key, authentik signs ID tokens with HS256 keyed with the client secret, \
lists only HS256 in the discovery document and serves an empty JWKS (`{}`). Mastodon 4.3 to 4.5 verify \
such tokens with OIDC_CLIENT_SECRET, so logins work, but anyone who knows the secret can mint ID tokens \
Mastodon accepts, and a wrong secret shows up as a signature failure. The admin API shows the provider's \
signing_key as null; the finding names the certificate-key pairs that could sign. When this rule reads the \
provider, signing-alg-symmetric-only leaves the finding to it.\n\nFix: select a certificate-key pair as the \
provider's signing key, for example \"authentik Self-signed Certificate\" (RSA, giving RS256).",
        needs: &[Input::Env, Input::AuthentikApi],
        check: check_signing_key_missing,
    },
    Rule {
        id: "authentik-scope-mapping-missing",
        severity: Severity::Error,
        summary: "The authentik provider lacks a scope mapping for a scope Mastodon requests",
        explanation: "authentik grants only the scopes whose scope mapping is attached to the provider and \
silently drops the others. Since authentik 2024.2 the userinfo endpoint requires the `openid` scope, and \
Mastodon always calls userinfo, so a provider without the openid mapping fails every login with 403 \"Scope \
mismatch\" (an error). A missing `email` or `profile` mapping means the claims are never sent: new accounts \
get a placeholder email, or a uid derived from `sub` (a warning). The discovery document cannot show it, \
because authentik always lists `openid` in scopes_supported. When this rule reads the mappings, \
authentik-openid-mapping stays quiet.\n\nFix: attach the named mappings to the provider (Advanced protocol \
settings, Scopes); the finding names the mappings that exist for each missing scope.",
        needs: &[Input::Env, Input::AuthentikApi],
        check: check_scope_mapping_missing,
    },
    Rule {
        id: "authentik-uid-claim-unmapped",
        severity: Severity::Warning,
        summary: "No scope mapping of the authentik provider returns the claim OIDC_UID_FIELD names",
        explanation: "Mastodon takes the uid from the claim OIDC_UID_FIELD names and silently falls back to \
`sub` when the claim is absent. authentik returns only what the attached scope mappings return: \
preferred_username, nickname, name, given_name and groups come from the `profile` mapping, email and \
email_verified from the `email` mapping. When no attached mapping returns the claim, every new account's \
username is derived from `sub`, a 64-character hash by default. authentik's own mappings are known; a custom \
mapping counts when its expression names the claim as a quoted key, which is an estimate.\n\nFix: attach a \
mapping that returns the claim, or set OIDC_UID_FIELD to a claim the attached mappings return.",
        needs: &[Input::Env, Input::AuthentikApi],
        check: check_uid_claim_unmapped,
    },
    Rule {
        id: "authentik-uid-changeable",
        severity: Severity::Warning,
        summary: "The uid claim changes when authentik users change their username or email, which authentik allows",
        explanation: "Mastodon finds a login's account by the uid, the claim OIDC_UID_FIELD names. \
preferred_username and nickname are the authentik username, email the email address, and `sub` is one of \
them when the provider's subject mode is \"Based on the User's username\" or \"Based on the User's Email\". \
When authentik's system settings let users change that value (\"Allow users to change username\", \
default_user_change_username; \"Allow users to change email\", default_user_change_email; both off by \
default), a user who changes it gets a new, empty Mastodon account, and whoever takes the old value next \
signs in to the old owner's account, direct messages included. When the settings cannot be read, the \
finding says so, because the risk cannot be ruled out. Groups with the attribute \
goauthentik.io/user/can-change-username allow renames even with the setting off; the API does not show \
that.\n\nFix: disable the setting in authentik (System > Settings). On a new instance, prefer \
OIDC_UID_FIELD=sub with the default subject mode (hashed user ID).",
        needs: &[Input::Env, Input::AuthentikApi],
        check: check_uid_changeable,
    },
];

fn check_api_incomplete(context: &Context, sink: &mut Sink) {
    let (Some(facts), Some(api)) = (facts(context), api(context)) else { return };
    let mut problems: Vec<String> = api.failures.iter().map(|failure| format!("the {} at {} ({})", failure.what, failure.url, failure.detail)).collect();
    if let Some(provider) = &api.provider {
        let name = provider.describe();
        problems.extend(provider.unreadable.iter().map(|field| format!("the provider {name}: {field}")));
        if let Some(known) = &facts.version {
            if known.at_least(version::GRANT_TYPES_SINCE) && provider.grant_types.is_none() {
                problems.push(format!(
                    "the provider {name} has no `grant_types` field, although {} has one",
                    facts.judged_version()
                ));
            }
            let modern = !version::every_redirect_uri_is_regex(known.version);
            if modern && provider.redirect_uris.as_ref().is_some_and(|uris| uris.is_legacy_string()) {
                problems.push(format!(
                    "the provider {name} returns redirect_uris as one string, the shape of releases before 2024.8.5, although {} uses entries",
                    facts.judged_version()
                ));
            }
        }
        if provider.redirect_uris.is_none() && !provider.unreadable.iter().any(|field| field.contains("redirect_uris")) {
            problems.push(format!("the provider {name} has no `redirect_uris` field"));
        }
    }
    if problems.is_empty() {
        return;
    }
    sink.emit(format!("the authentik admin API cross-check is incomplete: {}", problems.join("; "))).incomplete().help(incomplete_help(api));
}

/// Says what to do about each kind of failure the cross-check met.
fn incomplete_help(api: &crate::providers::authentik::api::ApiFacts) -> String {
    use crate::providers::authentik::api::requests;

    let refused = api.failures.iter().any(|failure| failure.detail.contains("Token invalid") || failure.detail.contains("credentials were not provided"));
    if refused {
        return "authentik refused the token: create an API token of an administrator (Directory > Tokens and App passwords, intent API) and pass it with --authentik-token-file".to_string();
    }
    let mut steps = Vec::new();
    if api.failures.iter().any(|failure| failure.detail.starts_with("HTTP 403")) {
        let mut step = "use an API token of an authentik administrator".to_string();
        if api.failure(requests::SETTINGS).is_some() {
            step.push_str(" (reading the system settings needs the permission authentik_rbac.view_system_settings)");
        }
        steps.push(step);
    }
    if api.failure(requests::APPLICATION).is_some() || api.failure(requests::PROVIDER).is_some() {
        steps.push("check that OIDC_ISSUER names the application and OIDC_CLIENT_ID its OAuth2 provider".to_string());
    }
    if api.provider.as_ref().is_some_and(|provider| !provider.unreadable.is_empty()) {
        steps.push("the checks that read the fields named were not run for this authentik release".to_string());
    }
    if steps.is_empty() {
        steps.push("the checks that need the missing objects were not run; run again when the admin API answers".to_string());
    }
    steps.join("; ")
}

fn check_redirect_uri_unregistered(context: &Context, sink: &mut Sink) {
    let Some(provider) = provider(context) else { return };
    let Some(uris) = &provider.redirect_uris else { return };
    let Some(redirect_uri) = non_empty(context, "OIDC_REDIRECT_URI") else { return };
    if uris.has_no_authorization_entry() {
        return;
    }
    let check = redirect::check_uri(uris, redirect_uri.value);
    if check.accepted_by.is_some() {
        return;
    }
    let entries = uris.entries();
    let mut details: Vec<String> = Vec::new();
    for (index, differences) in &check.near_misses {
        details.push(format!("the {} differs from it only in {}", entries[*index].describe(), differences.join(" and ")));
    }
    if let Some(index) = check.logout_only {
        details.push(format!("only the {} matches it, and logout entries never accept a login", entries[index].describe()));
    }
    for (index, error) in &check.invalid {
        details.push(format!("the {} does not compile ({error}), and authentik skips it", entries[*index].describe()));
    }
    if details.is_empty() {
        let listed: Vec<String> = entries.iter().filter(|entry| entry.is_authorization()).map(RedirectEntry::describe).collect();
        details.push(format!("the provider has {}", listed.join(", ")));
    }
    let message = format!(
        "OIDC_REDIRECT_URI `{}` matches no authorization redirect URI of the authentik provider {}: authentik answers every login with \
\"Redirect URI Error\" and the token request with invalid_client. {}",
        redirect_uri.value,
        provider.describe(),
        capitalise(&details.join("; "))
    );

    // Change Mastodon when the registered entry is the callback Mastodon should use; otherwise change authentik.
    let expected = context.settings.expected_redirect_uri();
    let registered_expected = check
        .near_misses
        .iter()
        .map(|(index, _)| &entries[*index])
        .find(|entry| entry.matching_mode == MatchingMode::Strict && expected.as_deref() == Some(entry.url.as_str()));
    let help = match registered_expected {
        Some(entry) => format!("set OIDC_REDIRECT_URI={}", entry.url),
        None => match check.near_misses.first().map(|(index, _)| &entries[*index]).filter(|entry| entry.matching_mode == MatchingMode::Strict) {
            Some(entry) => format!("change the provider's redirect URI entry `{}` to `{}` ({})", entry.url, redirect_uri.value, provider_page(provider)),
            None => format!("add a strict redirect URI entry `{}` to the provider ({})", redirect_uri.value, provider_page(provider)),
        },
    };
    sink.emit(message).at(redirect_uri.label).help(help);
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

fn check_redirect_uri_first_use(context: &Context, sink: &mut Sink) {
    let Some(provider) = provider(context) else { return };
    let Some(uris) = &provider.redirect_uris else { return };
    if !uris.has_no_authorization_entry() {
        return;
    }
    let redirect_uri = non_empty(context, "OIDC_REDIRECT_URI");
    let mut message = format!(
        "the authentik provider {} has no authorization redirect URI: the first authorization request, even from someone who is not \
logged in, registers its own redirect_uri, so whoever sends it first decides where authentik sends this client's authorization codes",
        provider.describe()
    );
    let logout_entries = uris.entries().iter().filter(|entry| entry.uri_type == UriType::Logout).count();
    if logout_entries > 0 {
        message.push_str(&format!(", and that request replaces the list, dropping its {logout_entries} logout entries"));
    }
    let help = match &redirect_uri {
        Some(uri) => format!("add the strict redirect URI entry `{}` to the provider now ({})", uri.value, provider_page(provider)),
        None => format!("add Mastodon's callback https://<WEB_DOMAIN>/auth/auth/openid_connect/callback as a strict entry now ({})", provider_page(provider)),
    };
    sink.emit(message).at(redirect_uri.and_then(|var| var.label)).help(help);
}

fn check_redirect_uri_regex_loose(context: &Context, sink: &mut Sink) {
    let Some(provider) = provider(context) else { return };
    let Some(uris) = &provider.redirect_uris else { return };
    let redirect_uri = non_empty(context, "OIDC_REDIRECT_URI");
    for entry in uris.entries() {
        if entry.matching_mode != MatchingMode::Regex || !entry.is_authorization() {
            continue;
        }
        let Some(looseness) = redirect::regex_looseness(&entry.url) else { continue };
        let (severity, consequence) = match looseness {
            Looseness::AnyHost => (Severity::Error, "accepts any host, so a site an attacker controls can receive this client's authorization codes"),
            Looseness::DotInHost => (
                Severity::Warning,
                "has an unescaped `.` in the host, which matches any character: look-alike hosts match too and can receive this client's authorization codes",
            ),
            Looseness::LoosePath => (Severity::Info, "has an unescaped `.` or a wildcard in the path, so it accepts other paths on the host"),
        };
        let help = match &redirect_uri {
            Some(uri) => format!(
                "replace it with a strict entry `{}`, or with the regex `{}`",
                uri.value,
                redirect::escaped(uri.value)
            ),
            None => "escape every `.` as `\\.` and replace wildcards with the exact path".to_string(),
        };
        sink.emit(format!("the {} of the authentik provider {} {consequence}", entry.describe(), provider.describe()))
            .severity(severity)
            .at(redirect_uri.as_ref().and_then(|var| var.label.clone()))
            .help(help);
    }
}

fn check_client_id_mismatch(context: &Context, sink: &mut Sink) {
    let Some(provider) = provider(context) else { return };
    let Some(client_id) = provider.client_id.as_deref() else { return };
    let Some(configured) = context.var("OIDC_CLIENT_ID") else { return };
    if configured.value == client_id {
        return;
    }
    let through = api(context).and_then(|api| api.found_through.clone()).unwrap_or_else(|| "the admin API".to_string());
    let hint = if configured.value.trim() == client_id {
        " (they differ only in surrounding whitespace)"
    } else if configured.value.eq_ignore_ascii_case(client_id) {
        " (they differ only in letter case, which counts)"
    } else {
        ""
    };
    sink.emit(format!(
        "OIDC_CLIENT_ID `{}` differs from the client ID `{client_id}` of the authentik provider {}, found through {through}{hint}: authentik \
answers the login with \"Client ID Error\", or with another application's login",
        configured.value,
        provider.describe()
    ))
    .at(configured.label)
    .help(format!("set OIDC_CLIENT_ID={client_id}"));
}

fn check_client_secret_mismatch(context: &Context, sink: &mut Sink) {
    let Some(provider) = provider(context) else { return };
    if provider.client_type.as_deref() == Some("public") {
        return;
    }
    let Some(secret) = non_empty(context, "OIDC_CLIENT_SECRET") else { return };
    let problem = match provider.compare_secret(secret.value) {
        SecretComparison::Equal | SecretComparison::Unknown => return,
        SecretComparison::DiffersInWhitespace => "differs from the client secret of the authentik provider {} only in surrounding whitespace",
        SecretComparison::Truncated => "is the start of the client secret of the authentik provider {}: the value was cut short, as an unquoted `#` or `$` in an env file does",
        SecretComparison::Different => "differs from the client secret of the authentik provider {}",
    };
    sink.emit(format!(
        "OIDC_CLIENT_SECRET {}: authentik answers Mastodon's token request with invalid_client, so every login fails after the user signed in at authentik",
        problem.replace("{}", &provider.describe())
    ))
    .at(secret.label)
    .help(format!(
        "copy the client secret from the provider ({}) into OIDC_CLIENT_SECRET, in single quotes if it contains `#`, `$` or spaces",
        provider_page(provider)
    ));
}

fn check_client_public(context: &Context, sink: &mut Sink) {
    let Some(provider) = provider(context) else { return };
    if provider.client_type.as_deref() != Some("public") {
        return;
    }
    let pkce = if context.settings.pkce() {
        "; OIDC_USE_PKCE=true binds each code to Mastodon's PKCE verifier, but the secret stays unused"
    } else {
        ", and Mastodon sends no PKCE verifier either (OIDC_USE_PKCE is not true)"
    };
    sink.emit(format!(
        "the authentik provider {} is a public client: authentik never checks OIDC_CLIENT_SECRET, so anyone who obtains an authorization \
code for it can redeem it without the secret{pkce}",
        provider.describe()
    ))
    .at(context.var("OIDC_CLIENT_ID").and_then(|var| var.label))
    .help(format!("set the provider's client type to Confidential ({})", provider_page(provider)));
}

fn check_signing_key_missing(context: &Context, sink: &mut Sink) {
    let Some(provider) = provider(context) else { return };
    if !provider.lacks_signing_key() {
        return;
    }
    let certificates = api(context).and_then(|api| api.certificates.as_ref());
    let help = match certificates {
        Some(certificates) if !certificates.is_empty() => {
            let preferred = certificates.iter().find(|certificate| certificate.key_type.as_deref() == Some("rsa")).unwrap_or(&certificates[0]);
            let others: Vec<String> = certificates.iter().filter(|certificate| certificate.name != preferred.name).map(|certificate| format!("`{}`", certificate.name)).collect();
            let mut text = format!("select `{}` as the provider's signing key ({})", preferred.name, provider_page(provider));
            if !others.is_empty() {
                text.push_str(&format!("; other pairs with a private key: {}", others.join(", ")));
            }
            text
        }
        _ => format!(
            "generate a certificate-key pair (System > Certificates > Generate) and select it as the provider's signing key ({})",
            provider_page(provider)
        ),
    };
    sink.emit(format!(
        "the authentik provider {} has no signing key: authentik signs ID tokens with HS256 keyed with the client secret and serves an \
empty JWKS, so anyone who knows OIDC_CLIENT_SECRET can mint ID tokens Mastodon accepts",
        provider.describe()
    ))
    .help(help);
}

/// Returns the names of the instance's mappings for a scope, for the help text.
fn mapping_names(all: &[ScopeMapping], scope: &str) -> Vec<String> {
    all.iter().filter(|mapping| mapping.scope_name == scope).map(|mapping| format!("\"{}\"", mapping.name)).collect()
}

fn check_scope_mapping_missing(context: &Context, sink: &mut Sink) {
    if !context.settings.oidc_enabled() {
        return;
    }
    let (Some(provider), Some(api)) = (provider(context), api(context)) else { return };
    let Some((attached, _)) = api.attached_mappings() else { return };
    let all = api.scope_mappings.as_deref().unwrap_or_default();

    let missing: Vec<String> = context
        .settings
        .authorize_scopes()
        .into_iter()
        .filter(|scope| !attached.iter().any(|mapping| &mapping.scope_name == scope))
        .collect();
    if missing.is_empty() {
        return;
    }

    let openid_missing = missing.iter().any(|scope| scope == "openid");
    let listed: Vec<String> = missing.iter().map(|scope| format!("`{scope}`")).collect();
    let mut message = format!(
        "the authentik provider {} has no scope mapping for {} that Mastodon requests",
        provider.describe(),
        listed.join(", ")
    );
    if openid_missing {
        message.push_str(": since authentik 2024.2 userinfo requires the openid scope, so every login fails with 403 \"Scope mismatch\"");
    } else {
        message.push_str(": authentik drops the scope silently, so Mastodon never receives its claims");
    }

    let mut attach = Vec::new();
    for scope in &missing {
        let names = mapping_names(all, scope);
        if names.is_empty() {
            attach.push(format!("create a scope mapping with scope name `{scope}`"));
        } else {
            attach.push(format!("attach {} for `{scope}`", names.join(" or ")));
        }
    }

    let severity = if openid_missing { Severity::Error } else { Severity::Warning };
    sink.emit(message)
        .severity(severity)
        .at(context.var("OIDC_SCOPE").and_then(|var| var.label))
        .help(format!("{} ({}, Advanced protocol settings, Scopes)", attach.join("; "), provider_page(provider)));
}

fn check_uid_claim_unmapped(context: &Context, sink: &mut Sink) {
    if !context.settings.oidc_enabled() {
        return;
    }
    let claim = context.settings.uid_field();
    if claim.is_empty() || claim == "sub" {
        return;
    }
    let (Some(provider), Some(api)) = (provider(context), api(context)) else { return };
    let Some((attached, _)) = api.attached_mappings() else { return };
    if attached.iter().any(|mapping| mapping.produces(claim)) {
        return;
    }
    let all = api.scope_mappings.as_deref().unwrap_or_default();
    let offering: Vec<String> = all.iter().filter(|mapping| mapping.produces(claim)).map(|mapping| format!("\"{}\" (scope `{}`)", mapping.name, mapping.scope_name)).collect();
    let known_claims = ["preferred_username", "nickname", "name", "email"];
    let alternatives: Vec<String> = known_claims.iter().filter(|other| attached.iter().any(|mapping| mapping.produces(other))).map(|other| format!("`{other}`")).collect();
    let mut help = if offering.is_empty() {
        format!("create and attach a scope mapping that returns `{claim}`")
    } else {
        format!("attach {} to the provider", offering.join(" or "))
    };
    help.push_str(&format!(" ({})", provider_page(provider)));
    if !alternatives.is_empty() {
        help.push_str(&format!(", or set OIDC_UID_FIELD to a claim the attached mappings return: {}", alternatives.join(", ")));
    }
    sink.emit(format!(
        "no scope mapping attached to the authentik provider {} returns the claim `{claim}` that OIDC_UID_FIELD names: Mastodon silently \
uses `sub` as the uid, so new usernames are derived from `sub`",
        provider.describe()
    ))
    .at(context.var("OIDC_UID_FIELD").and_then(|var| var.label))
    .help(help);
}

/// The system setting that lets users change the uid claim, with its name in
/// the admin interface and the value users would change.
struct ChangeableBy {
    setting: Option<bool>,
    label: &'static str,
    field: &'static str,
    value: &'static str,
}

fn check_uid_changeable(context: &Context, sink: &mut Sink) {
    if !context.settings.oidc_enabled() {
        return;
    }
    let (Some(provider), Some(api)) = (provider(context), api(context)) else { return };
    let settings = api.settings.clone().unwrap_or_default();
    let claim = match context.settings.uid_field() {
        "" => "sub",
        other => other,
    };
    let username = ChangeableBy { setting: settings.change_username, label: "Allow users to change username", field: "default_user_change_username", value: "username" };
    let email = ChangeableBy { setting: settings.change_email, label: "Allow users to change email", field: "default_user_change_email", value: "email address" };
    let sub_mode = provider.sub_mode.as_deref();
    let (changeable, source) = match (claim, sub_mode) {
        ("preferred_username" | "nickname", _) => (username, format!("OIDC_UID_FIELD is `{claim}`, which is the authentik username")),
        ("email", _) => (email, "OIDC_UID_FIELD is `email`".to_string()),
        ("sub", Some("user_username")) => (username, format!("the provider {} sends the username as `sub` (subject mode user_username)", provider.describe())),
        ("sub", Some("user_email")) => (email, format!("the provider {} sends the email address as `sub` (subject mode user_email)", provider.describe())),
        _ => return,
    };
    let risk = format!(
        "a user who changes their {value} gets a new, empty Mastodon account, and whoever takes the old {value} next signs in to the old \
owner's account, direct messages included",
        value = changeable.value
    );
    let state = match changeable.setting {
        Some(false) => return,
        Some(true) => format!("authentik's \"{}\" ({}) is enabled", changeable.label, changeable.field),
        None => {
            let why = api.failure(crate::providers::authentik::api::requests::SETTINGS).map_or("the field is missing".to_string(), |failure| failure.detail.clone());
            format!("authentik's \"{}\" ({}) could not be read ({why}), so changes cannot be ruled out", changeable.label, changeable.field)
        }
    };
    // The group attribute governs username changes only.
    let mut help = format!("disable \"{}\" in authentik (System > Settings)", changeable.label);
    if changeable.field == "default_user_change_username" {
        help.push_str(", and give no group the goauthentik.io/user/can-change-username attribute");
    }
    if claim == "sub" {
        help.push_str("; on a new instance, the default subject mode (hashed user ID) never changes");
    } else {
        help.push_str("; on a new instance prefer OIDC_UID_FIELD=sub, because changing it later disconnects existing logins");
    }
    sink.emit(format!("{source}, and {state}: {risk}"))
        .at(context.var("OIDC_UID_FIELD").and_then(|var| var.label).or_else(|| context.var("OIDC_ISSUER").and_then(|var| var.label)))
        .help(help);
}
