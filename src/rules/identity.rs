//! Rules about who a login becomes in Mastodon: the uid claim, the email and
//! its verification, and linking to existing accounts.
//!
//! Facts hold for Mastodon 4.3 to 4.5 (`User::Omniauthable`) with
//! omniauth_openid_connect 0.6.1, whose uid is the claim named by
//! OIDC_UID_FIELD in the ID token merged with the userinfo response, or `sub`
//! when that claim is absent.

use crate::finding::Severity;
use crate::providers::ProviderKind;

use super::{Context, Input, Rule, Sink};

/// Standard claims of OpenID Connect Core 1.0 section 5.4 and the scope that requests each.
const CLAIM_SCOPES: &[(&str, &str)] = &[
    ("name", "profile"),
    ("family_name", "profile"),
    ("given_name", "profile"),
    ("middle_name", "profile"),
    ("nickname", "profile"),
    ("preferred_username", "profile"),
    ("profile", "profile"),
    ("picture", "profile"),
    ("website", "profile"),
    ("gender", "profile"),
    ("birthdate", "profile"),
    ("zoneinfo", "profile"),
    ("locale", "profile"),
    ("updated_at", "profile"),
    ("email", "email"),
    ("email_verified", "email"),
    ("phone_number", "phone"),
    ("phone_number_verified", "phone"),
    ("address", "address"),
];

/// Claims in `claims_supported` that describe the token, not the user. The
/// finding leaves them out when it lists the claims a provider offers.
const PROTOCOL_CLAIMS: &[&str] = &["iss", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "azp", "at_hash", "c_hash", "sid", "jti"];

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: "uid-claim-scope-missing",
        severity: Severity::Warning,
        summary: "OIDC_UID_FIELD names a standard claim whose scope OIDC_SCOPE does not request",
        explanation: "omniauth_openid_connect 0.6.1, which Mastodon 4.3 to 4.5 use, takes the uid from the claim \
named by OIDC_UID_FIELD (default `sub`) and silently falls back to `sub` when the claim is absent, with no \
error in the log. Providers send the standard profile claims (preferred_username, nickname, name, \
given_name, family_name) only for the `profile` scope, email only for the `email` scope, and phone_number \
only for the `phone` scope. Without the scope every new account's username is derived from `sub`, which is \
often a UUID or a hash. Keycloak is the exception: it applies its default client scopes (`profile` and \
`email` unless an admin changed them) even when they are not requested, so for Keycloak the finding is \
info.\n\nFix: add the scope to OIDC_SCOPE, comma-separated (for example OIDC_SCOPE=openid,profile,email). \
The finding gives the exact value.",
        needs: &[Input::Env],
        check: check_uid_claim_scope,
    },
    Rule {
        id: "uid-claim-not-advertised",
        severity: Severity::Warning,
        summary: "The discovery document's claims_supported does not list OIDC_UID_FIELD",
        explanation: "When the provider does not send the claim named by OIDC_UID_FIELD, Mastodon silently uses \
`sub` as the uid, so usernames come from `sub` and no error appears. claims_supported is advisory: \
Keycloak does not list claims added by custom protocol mappers, and authentik lists only the claims its \
scope mappings return for an anonymous user. The finding is therefore a warning, and the rule is quiet \
when the document has no claims_supported.\n\nFix: set OIDC_UID_FIELD to a claim the provider sends \
(usually `preferred_username` or `sub`; claim names are case-sensitive), or make sure the custom mapper \
adds the claim to the ID token or the userinfo response.",
        needs: &[Input::Env, Input::Discovery],
        check: check_uid_claim_advertised,
    },
    Rule {
        id: "uid-mutable-claim",
        severity: Severity::Warning,
        summary: "OIDC_UID_FIELD names a claim users or admins can change or reuse",
        explanation: "Mastodon finds a login's account by the pair (provider, uid), where the uid is the value of \
the claim OIDC_UID_FIELD names. If that value changes at the provider, the next login creates a new, \
empty Mastodon account. If the provider later gives the old value to someone else (a recycled username \
or email address), that person signs in to the old owner's Mastodon account, direct messages included. \
Names are also not unique, so two people with the same name share one account. `sub` is the only claim \
OpenID Connect requires to be stable and unique. The finding is info for `preferred_username`, which is \
stable while the provider forbids renames, and a warning for email, name, nickname, given_name, \
family_name and phone_number.\n\nFix: on a new instance, keep OIDC_UID_FIELD=sub. If the claim stays, \
make sure the provider never changes or reuses it: in authentik keep \"Allow users to change username\" \
disabled (System settings), in Keycloak keep the realm's \"Edit username\" setting off (Realm settings, \
Login). Changing OIDC_UID_FIELD on an existing instance disconnects every existing login from its \
account.",
        needs: &[Input::Env],
        check: check_uid_mutable,
    },
    Rule {
        id: "uid-opaque-sub",
        severity: Severity::Info,
        summary: "authentik's default `sub` is a hash, so Mastodon usernames become hex strings",
        explanation: "authentik's default subject mode (\"Based on the Hashed User ID\") sends a 64-character \
hex SHA-256 value as `sub`. Mastodon derives a new account's username from the uid, cut to 30 \
characters, so with OIDC_UID_FIELD=sub (the default) every user gets a username of 30 hex characters. \
This is not an error: `sub` is the stable, safe choice.\n\nFix: for readable usernames on a new \
instance, set OIDC_UID_FIELD=preferred_username and keep authentik's \"Allow users to change username\" \
disabled (see uid-mutable-claim). Changing OIDC_UID_FIELD on an existing instance disconnects every \
existing login from its account.",
        needs: &[Input::Env],
        check: check_uid_opaque_sub,
    },
    Rule {
        id: "email-not-verified",
        severity: Severity::Warning,
        summary: "OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED is not `true`, so new accounts may stay unconfirmed",
        explanation: "Mastodon creates a new OIDC account confirmed only when the provider sends \
email_verified (or verified, or verified_email) as true, or when \
OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED is exactly `true`. Otherwise the account is unconfirmed and \
the user must click the confirmation mail, which never arrives without working SMTP. Linking to an \
existing account with ALLOW_UNSAFE_AUTH_PROVIDER_REATTACH also requires a verified email. authentik's \
default email scope mapping returns email_verified=false since 2025.10 (true before), and Microsoft \
Entra ID sends no email_verified claim, so the finding is a warning for both. For other providers, \
which send the user's real verification state, it is info. When an authentik server's release is known \
(from the server or --authentik-version), authentik-email-unverified judges it instead, for that \
release.\n\nFix: set \
OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED=true only when users cannot change their email address at the \
provider (authentik: \"Allow users to change email\" disabled), or make the provider send a true \
email_verified claim for addresses it has checked (a custom email scope mapping in authentik).",
        needs: &[Input::Env],
        check: check_email_not_verified,
    },
    Rule {
        id: "email-scope-missing",
        severity: Severity::Warning,
        summary: "OIDC_SCOPE does not request `email`, so new accounts get a placeholder address",
        explanation: "Without the `email` scope the provider sends no email claim. Mastodon then stores the \
placeholder address `change@me-<uid>-openid_connect.com` and sends the user to /auth/setup after the \
first login to enter a real one, which then needs the confirmation mail. Keycloak applies its default \
client scopes (`email` unless an admin changed it) even when they are not requested, so for Keycloak \
the finding is info.\n\nFix: add `email` to OIDC_SCOPE, comma-separated (for example \
OIDC_SCOPE=openid,profile,email). The finding gives the exact value.",
        needs: &[Input::Env],
        check: check_email_scope,
    },
    Rule {
        id: "unsafe-reattach",
        severity: Severity::Warning,
        summary: "ALLOW_UNSAFE_AUTH_PROVIDER_REATTACH links OIDC logins to existing accounts by email",
        explanation: "With ALLOW_UNSAFE_AUTH_PROVIDER_REATTACH=true (Mastodon 4.2.6 and later), a first OIDC \
login whose email counts as verified is attached to the existing local account with the same email. \
Whoever can set that email at the provider takes over the account. With \
OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED=true every email the provider sends counts as verified, so any \
provider user who can choose their email address can take over any local account.\n\nFix: turn it on \
only for a one-off migration of existing users to the provider, then remove the line or set it to \
`false`.",
        needs: &[Input::Env],
        check: check_unsafe_reattach,
    },
];

/// Returns the scope that carries a standard claim.
fn scope_for_claim(claim: &str) -> Option<&'static str> {
    CLAIM_SCOPES.iter().find(|(name, _)| *name == claim).map(|(_, scope)| *scope)
}

/// Writes the OIDC_SCOPE value with `added` appended and `openid` first, in the
/// comma-separated form Mastodon expects. A scope that differs from `added`
/// only in letter case is dropped, because scope names are case-sensitive.
fn scope_with(context: &Context, added: &str) -> String {
    let mut scopes: Vec<String> = vec!["openid".to_string()];
    for scope in context.settings.authorize_scopes() {
        let miswritten = scope != added && scope.eq_ignore_ascii_case(added);
        if !miswritten && !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    if !scopes.iter().any(|scope| scope == added) {
        scopes.push(added.to_string());
    }
    scopes.join(",")
}

/// Describes how OIDC_UID_FIELD is set, for messages.
fn uid_field_shown(context: &Context) -> String {
    match context.var("OIDC_UID_FIELD") {
        Some(var) if var.value.is_empty() => "OIDC_UID_FIELD is empty, which Mastodon's gem treats as `sub`".to_string(),
        Some(var) => format!("OIDC_UID_FIELD is `{}`", var.value),
        None => "OIDC_UID_FIELD is not set, so Mastodon uses `sub`".to_string(),
    }
}

fn check_uid_claim_scope(context: &Context, sink: &mut Sink) {
    if !context.settings.oidc_enabled() || context.settings.scopes().is_none() {
        return;
    }
    let claim = context.settings.uid_field();
    let Some(scope) = scope_for_claim(claim) else { return };
    if context.settings.authorize_scopes().iter().any(|requested| requested == scope) {
        return;
    }
    let scope_value = context.settings.raw("OIDC_SCOPE").unwrap_or_default();
    let mut message = format!(
        "OIDC_UID_FIELD is `{claim}`, a claim providers send only for the `{scope}` scope, but OIDC_SCOPE `{scope_value}` \
does not request `{scope}`: without the claim Mastodon silently uses `sub` as the uid, and new usernames are derived from `sub`"
    );
    let mut severity = Severity::Warning;
    if context.is_provider(ProviderKind::Keycloak) {
        severity = Severity::Info;
        message.push_str(&format!(
            ". Keycloak sends `{scope}` claims anyway while `{scope}` is one of the client's default client scopes"
        ));
    }
    sink.emit(message)
        .severity(severity)
        .at(context.var("OIDC_SCOPE").and_then(|var| var.label))
        .related(context.var("OIDC_UID_FIELD").and_then(|var| var.label))
        .help(format!("request the scope: OIDC_SCOPE={}", scope_with(context, scope)));
}

fn check_uid_claim_advertised(context: &Context, sink: &mut Sink) {
    if !context.settings.oidc_enabled() {
        return;
    }
    let claim = context.settings.uid_field();
    if claim.is_empty() || claim == "sub" {
        return;
    }
    let Some(discovery) = context.discovery_object() else { return };
    let Some(supported) = discovery.strings("claims_supported") else { return };
    if supported.contains(&claim) {
        return;
    }

    let message = format!(
        "OIDC_UID_FIELD is `{claim}`, but the discovery document's claims_supported does not list it: if the provider \
does not send `{claim}`, Mastodon silently uses `sub` as the uid, and new usernames are derived from `sub`"
    );
    let same_but_case = supported.iter().find(|name| name.eq_ignore_ascii_case(claim));
    let help = if let Some(name) = same_but_case {
        format!("claim names are case-sensitive: set OIDC_UID_FIELD={name}")
    } else {
        let offered: Vec<String> = supported
            .iter()
            .filter(|name| !PROTOCOL_CLAIMS.contains(name))
            .map(|name| format!("`{name}`"))
            .collect();
        let listed = if offered.is_empty() { String::new() } else { format!(" (claims_supported lists {})", offered.join(", ")) };
        format!(
            "set OIDC_UID_FIELD to a claim the provider sends{listed}, or make sure the provider's custom mapper adds `{claim}` \
to the ID token or the userinfo response"
        )
    };
    sink.emit(message).at(context.var("OIDC_UID_FIELD").and_then(|var| var.label)).help(help);
}

/// Returns the severity and the consequence of a mutable claim as uid, or `None` for `sub` and custom claims.
fn mutable_claim_risk(claim: &str) -> Option<(Severity, &'static str)> {
    let risk = match claim {
        "preferred_username" => (
            Severity::Info,
            "a user renamed at the provider gets a new, empty Mastodon account, and whoever later receives the old \
username signs in to the old owner's account, direct messages included",
        ),
        "nickname" => (
            Severity::Warning,
            "a changed nickname gives the user a new, empty Mastodon account, and whoever later receives the old \
nickname signs in to the old owner's account, direct messages included",
        ),
        "email" => (
            Severity::Warning,
            "a changed email address gives the user a new, empty Mastodon account, and whoever later receives the \
old address signs in to the old owner's account, direct messages included",
        ),
        "name" | "given_name" | "family_name" => (
            Severity::Warning,
            "names are not unique, so two people with the same name share one Mastodon account, direct messages \
included, and a changed name gives the user a new, empty account",
        ),
        "phone_number" => (
            Severity::Warning,
            "a changed number gives the user a new, empty Mastodon account, and whoever later receives the old \
number signs in to the old owner's account, direct messages included",
        ),
        _ => return None,
    };
    Some(risk)
}

/// Returns the provider setting that keeps a claim from changing, when known.
fn provider_lock_advice(kind: ProviderKind, claim: &str) -> Option<&'static str> {
    match (kind, claim) {
        (ProviderKind::Authentik, "preferred_username" | "nickname") => Some(
            "in authentik, keep \"Allow users to change username\" disabled (System settings, the default), and give no group \
the goauthentik.io/user/can-change-username attribute",
        ),
        (ProviderKind::Authentik, "email") => {
            Some("in authentik, keep \"Allow users to change email\" disabled (System settings, the default)")
        }
        (ProviderKind::Authentik, "name" | "given_name" | "family_name") => Some(
            "in authentik, `name` and `given_name` both hold the full name, and \"Allow users to change name\" is enabled by \
default",
        ),
        (ProviderKind::Keycloak, "preferred_username") => {
            Some("in Keycloak, the realm must not allow users to edit their username (Realm settings, Login, \"Edit username\" off)")
        }
        (ProviderKind::Keycloak, "email") => {
            Some("in Keycloak, make the email attribute read-only for users (Realm settings, User profile)")
        }
        _ => None,
    }
}

/// Returns what a provider must never give to a second user, for claims that name one user.
fn reused_value(claim: &str) -> Option<&'static str> {
    match claim {
        "preferred_username" => Some("username"),
        "nickname" => Some("nickname"),
        "email" => Some("email address"),
        "phone_number" => Some("phone number"),
        _ => None,
    }
}

fn check_uid_mutable(context: &Context, sink: &mut Sink) {
    if !context.settings.oidc_enabled() {
        return;
    }
    let claim = context.settings.uid_field();
    let Some((severity, risk)) = mutable_claim_risk(claim) else { return };

    let message = format!("OIDC_UID_FIELD is `{claim}`: Mastodon keys each account's login by this value, so {risk}");
    let mut steps: Vec<String> = Vec::new();
    match provider_lock_advice(context.provider.kind, claim) {
        Some(advice) => steps.push(advice.to_string()),
        None => steps.push(format!("make sure the provider never lets users or admins change `{claim}`")),
    }
    if let Some(value) = reused_value(claim) {
        steps.push(format!("never give a deleted user's {value} to someone else"));
    }
    steps.push(
        "on a new instance prefer OIDC_UID_FIELD=sub, because changing the field on an existing instance disconnects every \
existing login from its account"
            .to_string(),
    );
    sink.emit(message).severity(severity).at(context.var("OIDC_UID_FIELD").and_then(|var| var.label)).help(steps.join("; "));
}

fn check_uid_opaque_sub(context: &Context, sink: &mut Sink) {
    if !context.settings.oidc_enabled() || !context.is_provider(ProviderKind::Authentik) {
        return;
    }
    let claim = context.settings.uid_field();
    if !claim.is_empty() && claim != "sub" {
        return;
    }
    let message = format!(
        "{} and the provider is authentik, whose default subject mode sends a 64-character hex hash as `sub`: new \
Mastodon usernames become its first 30 hex characters",
        uid_field_shown(context)
    );
    let label = context
        .var("OIDC_UID_FIELD")
        .and_then(|var| var.label)
        .or_else(|| context.var("OIDC_ISSUER").and_then(|var| var.label));
    sink.emit(message).at(label).help(
        "keep `sub` if opaque usernames are acceptable, because it never changes; for readable usernames on a new instance set \
OIDC_UID_FIELD=preferred_username and keep authentik's \"Allow users to change username\" disabled",
    );
}

fn check_email_not_verified(context: &Context, sink: &mut Sink) {
    if !context.settings.oidc_enabled() || context.settings.assume_email_verified() {
        return;
    }
    // With a known release, authentik-email-unverified judges authentik servers instead.
    if context.is_provider(ProviderKind::Authentik) && context.authentik.is_some_and(|facts| facts.version.is_some()) {
        return;
    }
    let flag = context.var("OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED");
    let setting = match &flag {
        Some(var) => format!("OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED is `{}`, which Mastodon reads as false", var.value),
        None => "OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED is not set".to_string(),
    };
    let (severity, provider_note) = match context.provider.kind {
        ProviderKind::Authentik => (
            Severity::Warning,
            "authentik 2025.10 and later sends email_verified=false from its default email mapping",
        ),
        ProviderKind::EntraId => (Severity::Warning, "Microsoft Entra ID sends no email_verified claim"),
        _ => (Severity::Info, "Mastodon then relies on the provider's email_verified claim"),
    };
    let message = format!(
        "{setting}, and {provider_note}: a new account whose email is not marked verified is created unconfirmed and \
needs the confirmation mail (which never arrives without SMTP), and ALLOW_UNSAFE_AUTH_PROVIDER_REATTACH never applies to it"
    );
    let help = if context.is_provider(ProviderKind::Authentik) {
        "set OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED=true only if users cannot change their email in authentik (\"Allow users to \
change email\" disabled), or use a custom email scope mapping that returns email_verified=true for checked addresses"
    } else {
        "set OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED=true only if users cannot change their email address at the provider, or \
make the provider send email_verified=true for addresses it has checked"
    };
    sink.emit(message)
        .severity(severity)
        .at(flag.and_then(|var| var.label))
        .related(context.var("OIDC_ISSUER").and_then(|var| var.label))
        .help(help);
}

fn check_email_scope(context: &Context, sink: &mut Sink) {
    if !context.settings.oidc_enabled() || context.settings.scopes().is_none() {
        return;
    }
    if context.settings.authorize_scopes().iter().any(|scope| scope == "email") {
        return;
    }
    let scope_value = context.settings.raw("OIDC_SCOPE").unwrap_or_default();
    let mut message = format!(
        "OIDC_SCOPE `{scope_value}` does not request `email`: the provider sends no email claim, so Mastodon gives each new \
account the placeholder address `change@me-<uid>-openid_connect.com` and sends the user to /auth/setup to enter one"
    );
    let mut severity = Severity::Warning;
    if context.is_provider(ProviderKind::Keycloak) {
        severity = Severity::Info;
        message.push_str(". Keycloak sends the email claim anyway while `email` is one of the client's default client scopes");
    }
    sink.emit(message)
        .severity(severity)
        .at(context.var("OIDC_SCOPE").and_then(|var| var.label))
        .help(format!("request the scope: OIDC_SCOPE={}", scope_with(context, "email")));
}

fn check_unsafe_reattach(context: &Context, sink: &mut Sink) {
    if !context.settings.oidc_enabled() || !context.settings.flag("ALLOW_UNSAFE_AUTH_PROVIDER_REATTACH", false) {
        return;
    }
    let assume = context.settings.assume_email_verified();
    let message = if assume {
        "ALLOW_UNSAFE_AUTH_PROVIDER_REATTACH=true together with OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED=true: every email the \
provider sends counts as verified, so any provider user who can set an email address signs in to the existing local \
account with that address"
    } else {
        "ALLOW_UNSAFE_AUTH_PROVIDER_REATTACH=true: a first OIDC login is attached to the existing local account with the same \
verified email, so a provider that lets users set an email address it has not checked allows account takeover"
    };
    let related = if assume { context.var("OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED").and_then(|var| var.label) } else { None };
    sink.emit(message)
        .at(context.var("ALLOW_UNSAFE_AUTH_PROVIDER_REATTACH").and_then(|var| var.label))
        .related(related)
        .help("use it only for a one-off migration of existing users, then set ALLOW_UNSAFE_AUTH_PROVIDER_REATTACH=false or remove the line");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_claims_need_profile_scope() {
        for claim in ["preferred_username", "nickname", "name", "given_name", "family_name"] {
            assert_eq!(scope_for_claim(claim), Some("profile"), "claim {claim}");
        }
    }

    #[test]
    fn email_claim_needs_email_scope() {
        assert_eq!(scope_for_claim("email"), Some("email"));
    }

    #[test]
    fn sub_and_custom_claims_need_no_scope() {
        for claim in ["sub", "username", "mastodonusername", "Preferred_Username", ""] {
            assert_eq!(scope_for_claim(claim), None, "claim {claim}");
        }
    }

    #[test]
    fn mutable_claim_severities() {
        assert_eq!(mutable_claim_risk("preferred_username").map(|(severity, _)| severity), Some(Severity::Info));
        for claim in ["email", "name", "nickname", "given_name", "family_name"] {
            assert_eq!(mutable_claim_risk(claim).map(|(severity, _)| severity), Some(Severity::Warning), "claim {claim}");
        }
        for claim in ["sub", "oid", "mastodonusername"] {
            assert!(mutable_claim_risk(claim).is_none(), "claim {claim}");
        }
    }
}
