//! Rules that apply to one provider family: authentik, Keycloak, Kanidm,
//! Entra ID and Google.

use url::Url;

use crate::finding::Severity;
use crate::providers::{authentik, ProviderKind};

use super::{Context, Input, Rule, Sink};

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: "pkce-required",
        severity: Severity::Error,
        summary: "The provider enforces PKCE, and OIDC_USE_PKCE is not `true`",
        explanation: "Kanidm rejects authorization requests without a PKCE challenge by default (\"No PKCE code \
challenge was provided with client in enforced PKCE mode\"). Mastodon sends one only when \
OIDC_USE_PKCE=true, which Mastodon 4.3 introduced; older releases cannot send it at all. Turning PKCE \
enforcement off for the client at Kanidm also works, but weakens the login.\n\nFix: set OIDC_USE_PKCE=true \
on Mastodon 4.3 or later.",
        needs: &[Input::Env],
        check: check_pkce_required,
    },
    Rule {
        id: "kanidm-client-id-mismatch",
        severity: Severity::Warning,
        summary: "Kanidm's issuer names another client than OIDC_CLIENT_ID",
        explanation: "Kanidm's issuer is https://HOST/oauth2/openid/<client name>, and the client name is the \
OAuth2 client id. When the issuer names another client than OIDC_CLIENT_ID, one of the two was copied from \
another application, and the token exchange or the ID token audience check fails.\n\nFix: use the same \
client name in OIDC_ISSUER and OIDC_CLIENT_ID.",
        needs: &[Input::Env],
        check: check_kanidm_client_id,
    },
    Rule {
        id: "authelia-auth-method",
        severity: Severity::Info,
        summary: "Authelia accepts only the client authentication method registered for the client",
        explanation: "Authelia 4.38 and later enforce the token_endpoint_auth_method of each registered client: \
a client registered with client_secret_post that authenticates with HTTP Basic gets invalid_client, and \
the other way round. The discovery document lists every method Authelia supports, not the one a client is \
registered with. Mastodon uses HTTP Basic (client_secret_basic) unless OIDC_CLIENT_AUTH_METHOD names \
another method.\n\nFix: register the client in Authelia with the method the finding names, or change \
OIDC_CLIENT_AUTH_METHOD to match the registration.",
        needs: &[Input::Env, Input::Discovery],
        check: check_authelia_auth_method,
    },
    Rule {
        id: "entra-issuer",
        severity: Severity::Error,
        summary: "The Entra ID issuer is not the tenant-specific v2.0 issuer",
        explanation: "Entra ID answers with `https://login.microsoftonline.com/<tenant GUID>/v2.0` as issuer. The \
multi-tenant aliases `common`, `organizations` and `consumers` return the literal placeholder `{tenantid}` \
in the issuer, and a tenant given by domain name returns the GUID form, so Mastodon's exact issuer check \
fails for all of them. `https://sts.windows.net/<GUID>/` is the v1 issuer of v1 tokens (a warning: it works \
only if the app registration issues v1 tokens).\n\nFix: set OIDC_ISSUER to \
https://login.microsoftonline.com/<tenant GUID>/v2.0, with the GUID from the app registration's overview.",
        needs: &[Input::Env],
        check: check_entra_issuer,
    },
    Rule {
        id: "google-issuer",
        severity: Severity::Error,
        summary: "Google's issuer is written with a path or trailing slash",
        explanation: "Google's issuer is exactly `https://accounts.google.com`, without a trailing slash or \
path, and Mastodon compares it byte for byte with the discovery document and the ID token.\n\nFix: set \
OIDC_ISSUER=https://accounts.google.com.",
        needs: &[Input::Env],
        check: check_google_issuer,
    },
    Rule {
        id: "keycloak-legacy-path",
        severity: Severity::Warning,
        summary: "The Keycloak issuer has the `/auth` prefix that Keycloak 17 and later dropped",
        explanation: "Keycloak 17 (the Quarkus distribution) serves realms under /realms/<realm>; the /auth \
prefix of older guides gives a 404 (\"RESTEASY003210: Could not find resource\") unless the server was \
started with --http-relative-path=/auth. Discovery then fails, and with ONE_CLICK_SSO_LOGIN Mastodon may \
not even boot.\n\nFix: remove `/auth` from OIDC_ISSUER, unless the discovery document at the current URL \
loads.",
        needs: &[Input::Env],
        check: check_keycloak_legacy,
    },
    Rule {
        id: "issuer-trailing-slash",
        severity: Severity::Error,
        summary: "An authentik issuer lacks the trailing slash authentik puts in its issuer",
        explanation: "authentik's per-provider issuer is https://HOST/application/o/<slug>/ with a trailing \
slash, and Mastodon compares OIDC_ISSUER with it byte for byte (\"Issuer mismatch\"). This rule works \
without the discovery document; when the document is available, issuer-mismatch compares the real value \
instead and this rule stays quiet.\n\nFix: add the trailing slash to OIDC_ISSUER.",
        needs: &[Input::Env],
        check: check_issuer_trailing_slash,
    },
    Rule {
        id: "authentik-global-issuer",
        severity: Severity::Error,
        summary: "The authentik provider uses the global issuer mode",
        explanation: "With issuer mode \"Same identifier is used for all providers\", authentik's issuer is the \
bare https://HOST/, while the discovery document is still served under /application/o/<slug>/. Mastodon \
fetches discovery from OIDC_ISSUER and then requires the document's issuer to equal it, which can never \
hold: the slug URL gives an issuer mismatch, the root URL a 404.\n\nFix: switch the provider's issuer mode \
to \"Each provider has a different issuer, based on the application slug\", then use the per-provider \
issuer with its trailing slash.",
        needs: &[Input::Discovery],
        check: check_authentik_global_issuer,
    },
    Rule {
        id: "authentik-encryption-key",
        severity: Severity::Error,
        summary: "The authentik provider encrypts ID tokens, which Mastodon cannot decrypt",
        explanation: "authentik 2024.10 and later encrypt ID tokens (JWE) when the provider has an encryption \
key, and then list id_token_encryption_alg_values_supported in discovery. Mastodon's gem expects a signed \
token (JWS) and fails to decode the encrypted one.\n\nFix: clear the provider's encryption key in authentik.",
        needs: &[Input::Discovery],
        check: check_authentik_encryption,
    },
    Rule {
        id: "authentik-openid-mapping",
        severity: Severity::Info,
        summary: "The authentik provider must have the `openid` scope mapping selected",
        explanation: "Since authentik 2024.2 the userinfo endpoint requires a token with the `openid` scope, and \
the token carries only scopes whose mapping is attached to the provider. Mastodon always calls userinfo, \
so a provider without the \"authentik default OAuth Mapping: OpenID 'openid'\" mapping fails every login \
with 403 \"Scope mismatch\". The discovery document cannot show it: authentik always lists `openid` in \
scopes_supported. With an admin API token, authentik-scope-mapping-missing checks the attached mappings and \
this reminder stays quiet.\n\nFix: in the provider's advanced protocol settings, select the openid, email and \
profile scope mappings.",
        needs: &[Input::Env],
        check: check_authentik_openid_mapping,
    },
];

fn check_pkce_required(context: &Context, sink: &mut Sink) {
    if !context.is_provider(ProviderKind::Kanidm) || !context.settings.oidc_enabled() || context.settings.pkce() {
        return;
    }
    let written = context.var("OIDC_USE_PKCE");
    let state = written.as_ref().map_or("unset".to_string(), |var| format!("`{}`", var.value));
    sink.emit(format!("Kanidm enforces PKCE by default and OIDC_USE_PKCE is {state}: every login fails with \"No PKCE code challenge was provided\""))
        .at(written.and_then(|var| var.label).or_else(|| context.var("OIDC_ISSUER").and_then(|var| var.label)))
        .help("set OIDC_USE_PKCE=true (needs Mastodon 4.3 or later); disabling PKCE enforcement at Kanidm is the insecure alternative");
}

fn check_kanidm_client_id(context: &Context, sink: &mut Sink) {
    if !context.is_provider(ProviderKind::Kanidm) {
        return;
    }
    let (Some(issuer), Some(client)) = (context.var("OIDC_ISSUER"), context.var("OIDC_CLIENT_ID")) else { return };
    let Ok(url) = Url::parse(issuer.value) else { return };
    let Some(name) = url.path().strip_prefix("/oauth2/openid/").map(|rest| rest.trim_end_matches('/')) else { return };
    if name.is_empty() || name == client.value {
        return;
    }
    sink.emit(format!("OIDC_ISSUER names the Kanidm client `{name}`, but OIDC_CLIENT_ID is `{}`", client.value))
        .at(client.label)
        .related(issuer.label.map(|label| label.with_message("client name in the issuer")))
        .help("use the same Kanidm client name in OIDC_ISSUER and OIDC_CLIENT_ID");
}

fn check_authelia_auth_method(context: &Context, sink: &mut Sink) {
    if !context.is_provider(ProviderKind::Authelia) || !context.settings.oidc_enabled() {
        return;
    }
    let method = context.settings.client_auth().metadata_name();
    sink.emit(format!("Authelia pins one authentication method per client, and Mastodon uses {method}"))
        .at(context.var("OIDC_CLIENT_AUTH_METHOD").and_then(|var| var.label))
        .help(format!("register the client in Authelia with token_endpoint_auth_method: {method}"));
}

fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    groups.len() == 5 && groups.iter().zip(lengths).all(|(group, length)| group.len() == length && group.chars().all(|c| c.is_ascii_hexdigit()))
}

fn check_entra_issuer(context: &Context, sink: &mut Sink) {
    let Some(issuer) = context.var("OIDC_ISSUER") else { return };
    let Ok(url) = Url::parse(issuer.value) else { return };
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let segments: Vec<&str> = url.path().split('/').filter(|segment| !segment.is_empty()).collect();

    if host == "sts.windows.net" {
        sink.emit(format!("`{}` is Entra ID's v1 issuer; Mastodon's exact issuer check passes only if the app issues v1 tokens", issuer.value))
            .severity(Severity::Warning)
            .at(issuer.label)
            .help("use https://login.microsoftonline.com/<tenant GUID>/v2.0");
        return;
    }
    if host != "login.microsoftonline.com" {
        return;
    }
    let tenant = segments.first().copied().unwrap_or("");
    let suggestion = if is_guid(tenant) {
        format!("https://login.microsoftonline.com/{tenant}/v2.0")
    } else {
        "https://login.microsoftonline.com/<tenant GUID>/v2.0".to_string()
    };
    let problem = if matches!(tenant.to_ascii_lowercase().as_str(), "common" | "organizations" | "consumers") {
        Some(format!("`{tenant}` is a multi-tenant alias whose discovery issuer contains the placeholder {{tenantid}}, so the issuer check always fails"))
    } else if !is_guid(tenant) {
        Some(format!("the tenant `{tenant}` is not a GUID; Entra ID answers with the GUID form, so the issuer check fails"))
    } else if segments.get(1) != Some(&"v2.0") || segments.len() != 2 || issuer.value.ends_with('/') {
        Some("the v2.0 issuer is https://login.microsoftonline.com/<tenant GUID>/v2.0, without a trailing slash".to_string())
    } else {
        None
    };
    if let Some(problem) = problem {
        sink.emit(format!("OIDC_ISSUER `{}`: {problem}", issuer.value)).at(issuer.label).help(format!("set OIDC_ISSUER={suggestion}"));
    }
}

fn check_google_issuer(context: &Context, sink: &mut Sink) {
    let Some(issuer) = context.var("OIDC_ISSUER") else { return };
    let Ok(url) = Url::parse(issuer.value) else { return };
    if url.host_str() != Some("accounts.google.com") || issuer.value == "https://accounts.google.com" {
        return;
    }
    sink.emit(format!("Google's issuer is exactly `https://accounts.google.com`, not `{}`", issuer.value))
        .at(issuer.label)
        .help("set OIDC_ISSUER=https://accounts.google.com");
}

fn check_keycloak_legacy(context: &Context, sink: &mut Sink) {
    let Some(issuer) = context.var("OIDC_ISSUER") else { return };
    let Ok(url) = Url::parse(issuer.value) else { return };
    let Some(rest) = url.path().strip_prefix("/auth/realms/") else { return };
    // A document that loads from this URL proves the server keeps the old prefix.
    if context.discovery_object().is_some_and(|document| document.str("issuer") == Some(issuer.value)) {
        return;
    }
    let mut fixed = url.clone();
    fixed.set_path(&format!("/realms/{rest}"));
    sink.emit("OIDC_ISSUER uses the `/auth/realms/` prefix, which Keycloak 17 and later no longer serve by default")
        .at(issuer.label)
        .help(format!("try OIDC_ISSUER={}", fixed.as_str().trim_end_matches('/')));
}

fn check_issuer_trailing_slash(context: &Context, sink: &mut Sink) {
    if context.discovery_object().is_some() {
        return;
    }
    let Some(issuer) = context.var("OIDC_ISSUER") else { return };
    let Ok(url) = Url::parse(issuer.value) else { return };
    if url.path().ends_with('/') || authentik::slug_from_issuer_path(url.path()).is_none() {
        return;
    }
    sink.emit(format!("authentik's issuer ends with `/`, and OIDC_ISSUER `{}` does not: Mastodon fails with \"Issuer mismatch\"", issuer.value))
        .at(issuer.label)
        .help(format!("set OIDC_ISSUER={}/", issuer.value));
}

fn check_authentik_global_issuer(context: &Context, sink: &mut Sink) {
    let Some(document) = context.discovery_object() else { return };
    if !context.is_provider(ProviderKind::Authentik) {
        return;
    }
    let Some(discovered) = document.str("issuer").and_then(|issuer| Url::parse(issuer).ok()) else { return };
    if discovered.path() != "/" {
        return;
    }
    // Without discovery Mastodon only compares the ID token's `iss`, which a
    // matching OIDC_ISSUER satisfies in global mode too.
    let matches_issuer = context.var("OIDC_ISSUER").is_some_and(|var| Some(var.value) == document.str("issuer"));
    if !context.settings.discovery() && matches_issuer {
        return;
    }
    sink.emit(format!("the authentik provider uses the global issuer mode (issuer `{discovered}`); Mastodon's discovery cannot work with it"))
        .at(context.var("OIDC_ISSUER").and_then(|var| var.label))
        .help("switch the provider's issuer mode to per-provider and use https://HOST/application/o/<slug>/ as OIDC_ISSUER");
}

fn check_authentik_encryption(context: &Context, sink: &mut Sink) {
    let Some(document) = context.discovery_object() else { return };
    if !context.is_provider(ProviderKind::Authentik) || !document.has("id_token_encryption_alg_values_supported") {
        return;
    }
    sink.emit("the authentik provider has an encryption key, so it sends encrypted ID tokens (JWE) that Mastodon cannot decode")
        .help("clear the encryption key in the provider's settings");
}

fn check_authentik_openid_mapping(context: &Context, sink: &mut Sink) {
    if !context.is_provider(ProviderKind::Authentik) || !context.settings.oidc_enabled() {
        return;
    }
    // The admin API shows the attached mappings; authentik-scope-mapping-missing judges them.
    let mappings_read = context.authentik.and_then(|facts| facts.api.as_ref()).is_some_and(|api| api.attached_mappings().is_some());
    if mappings_read {
        return;
    }
    sink.emit("authentik 2024.2 and later require the `openid` scope mapping on the provider; discovery cannot show whether it is selected")
        .at(context.var("OIDC_SCOPE").and_then(|var| var.label))
        .help("check that the provider's scope mappings include openid, email and profile");
}
