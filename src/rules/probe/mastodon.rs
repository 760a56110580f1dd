//! Rules on the probe of the running Mastodon: whether it accepts its host,
//! shows the OIDC button, starts the login, and builds the authorization
//! request from the same settings as the env files. Facts hold for Mastodon
//! 4.3 to 4.5 (omniauth_openid_connect 0.6.1, openid_connect 1.4.2).

use url::Url;

use crate::finding::{Label, Severity};
use crate::probe::mastodon::{MastodonResults, MastodonVersion, Presence, ProblemKind, RequestPhase};

use super::super::{Context, Input, Rule, Sink};

/// The help of findings about a running server that differs from the env files.
const STALE: &str = "restart Mastodon's web service (for example `systemctl restart mastodon-web`) so it loads the env files; \
if the difference stays, another env file or the service's environment sets the variable";

fn mastodon<'a>(context: &Context<'a>) -> Option<&'a MastodonResults> {
    context.probes.and_then(|probes| probes.mastodon())
}

fn label(context: &Context, name: &str) -> Option<Label> {
    context.var(name).and_then(|var| var.label)
}

/// Returns the label of WEB_DOMAIN, else of LOCAL_DOMAIN: the host of the
/// probe's default URL.
fn host_label(context: &Context) -> Option<Label> {
    label(context, "WEB_DOMAIN").or_else(|| label(context, "LOCAL_DOMAIN"))
}

pub(in crate::rules) const RULES: &[Rule] = &[
    Rule {
        id: "mastodon-blocked-host",
        severity: Severity::Error,
        summary: "The running Mastodon rejects its own host with 403 Blocked host",
        explanation: "Rails' host authorization in Mastodon allows only LOCAL_DOMAIN, WEB_DOMAIN and \
ALTERNATE_DOMAINS, and responds to any other Host header with a 403 page \"Blocked host: HOST\". The probe \
sent its requests to WEB_DOMAIN (else LOCAL_DOMAIN) of the env files, or to --mastodon-url, and got this \
page: the running process has other domain settings than the files, or a reverse proxy rewrites the Host \
header. Browsers get the same page, so nobody can sign in.\n\nFix: restart Mastodon's web service so it \
loads the env files; if the page stays, make the proxy pass the original Host header, or add the host to \
ALTERNATE_DOMAINS.",
        needs: &[Input::MastodonProbe],
        check: check_blocked_host,
    },
    Rule {
        id: "mastodon-oidc-not-loaded",
        severity: Severity::Error,
        summary: "The running Mastodon has no OIDC login although the env files enable it",
        explanation: "Mastodon registers the `openid_connect` strategy and shows its button on `/auth/sign_in` \
only when OIDC_ENABLED is exactly `true` at boot. The env files enable it, but the running server's \
sign-in page has no link or form to `/auth/auth/openid_connect`, and `GET /auth/auth/openid_connect` \
responds with Mastodon's 404 page instead of OmniAuth's \"Not found. Authentication passthru.\", or the \
request phase responds with 404. The web service has not loaded these files: it needs a restart, or another \
env file or the service's environment wins. When the strategy is registered and only the button is \
missing, the page was changed (a theme or a fork), and the finding is a warning.\n\nFix: restart \
Mastodon's web service; if the login stays missing, look for OIDC_ENABLED in .env.production.local, \
.env.local, the systemd unit or the container environment.",
        needs: &[Input::MastodonProbe],
        check: check_oidc_not_loaded,
    },
    Rule {
        id: "mastodon-request-phase-failed",
        severity: Severity::Error,
        summary: "The running Mastodon cannot start the OIDC login and names the reason",
        explanation: "The probe clicked the OIDC button as a browser does (a POST to `/auth/auth/openid_connect` \
with the page's CSRF token), and Mastodon responded with a redirect back to `/auth/sign_in` and a flash \
message \"Could not authenticate you from OpenIDConnect because ...\". The request phase fails on the \
server before any redirect to the provider: typical reasons are \"Issuer mismatch\" (the discovery \
document's issuer differs from OIDC_ISSUER), \"No host info\" (a relative endpoint without OIDC_HOST), \
\"'identifier' required.\" (no client id) and connection or TLS errors while fetching the discovery \
document. Users see the same message.\n\nFix: correct the setting the reason names (the static checks of \
this run point at it) and restart Mastodon's web service.",
        needs: &[Input::MastodonProbe],
        check: check_request_phase_failed,
    },
    Rule {
        id: "mastodon-running-config-differs",
        severity: Severity::Error,
        summary: "The running Mastodon's OIDC request differs from the env files",
        explanation: "The request phase of the running Mastodon responded with a redirect to the provider, whose \
URL carries the authorization request Mastodon builds from its settings: the authorization endpoint, \
client_id, redirect_uri, scope (OIDC_SCOPE split on commas, `openid` appended), response_type, \
response_mode, prompt, a nonce (unless OIDC_SEND_NONCE is set to anything but `true`) and a PKCE \
challenge (with OIDC_USE_PKCE=true). The probe compares each with the env files. A difference means the \
running server has not loaded these files: the web service needs a restart, or another env file or the \
service's environment wins. Differences in the request are errors. A different button label \
(OIDC_DISPLAY_NAME), a password form that OMNIAUTH_ONLY should hide or show, and a `domain` of \
`/api/v2/instance` other than LOCAL_DOMAIN are warnings.\n\nFix: restart Mastodon's web service; if the \
difference stays, find the env file or environment variable that sets the value.",
        needs: &[Input::MastodonProbe],
        check: check_running_config,
    },
    Rule {
        id: "mastodon-probe-inconclusive",
        severity: Severity::Warning,
        summary: "The Mastodon probe could not complete or got an unexpected response",
        explanation: "The probe reads Mastodon's version, loads `/auth/sign_in` and posts its CSRF token to \
`/auth/auth/openid_connect`. It stops at a response it does not expect: no response, a redirect (an \
`http://` URL responded with https, or a maintenance page), a sign-in page without \
`<meta name=\"csrf-token\">`, a request phase rejected as a forgery (which points at the probe's cookie or \
a proxy that drops cookies, not at the OIDC settings), or an unexpected status. No response, a server error \
(5xx) or a rate limit (429) means the check could not complete: the exit status is then 3 unless another \
finding is an error.\n\nFix: check that --mastodon-url (default https://WEB_DOMAIN) is Mastodon's public \
https URL and that the server is up; the finding names the step and the response.",
        needs: &[Input::MastodonProbe],
        check: check_inconclusive,
    },
    Rule {
        id: "mastodon-version-untested",
        severity: Severity::Info,
        summary: "The running Mastodon is outside the 4.3 to 4.5 releases whose OIDC behaviour this tool knows",
        explanation: "The facts behind these rules hold for Mastodon 4.3 to 4.5 (omniauth_openid_connect 0.6.1, \
openid_connect 1.4.2, dotenv 3.1.4). Releases before 4.3 are a warning: they send no PKCE challenge \
(OIDC_USE_PKCE arrived in 4.3), and the other facts were not checked against them. Later releases are a \
note: their behaviour may have changed.\n\nFix: upgrade to a \
supported Mastodon release; for a newer release, check the findings against its changelog.",
        needs: &[Input::MastodonProbe],
        check: check_version_untested,
    },
    Rule {
        id: "mastodon-pkce-unsupported",
        severity: Severity::Error,
        summary: "OIDC_USE_PKCE=true, but the running Mastodon is older than 4.3 and ignores it",
        explanation: "Mastodon reads OIDC_USE_PKCE since 4.3; earlier releases never send a PKCE challenge. With \
a provider that requires PKCE (Kanidm, public clients in most providers) every login fails; with others \
the setting silently does nothing.\n\nFix: upgrade Mastodon to 4.3 or later, or turn off the provider's \
PKCE requirement and remove OIDC_USE_PKCE.",
        needs: &[Input::MastodonProbe],
        check: check_pkce_unsupported,
    },
    Rule {
        id: "mastodon-prerelease-csp",
        severity: Severity::Warning,
        summary: "A 4.3.0 pre-release with one-click SSO has a Content-Security-Policy that blocks the login button",
        explanation: "Mastodon 4.3.0's beta and release-candidate builds set a `form-action` directive that listed \
only the provider's origin and not Mastodon's own. With OMNIAUTH_ONLY=true and ONE_CLICK_SSO_LOGIN=true the \
login button is a form posting to Mastodon itself, so browsers refuse to submit it and the button does \
nothing. Mastodon 4.3.0 final lists its own origin again, so the rule fires only for 4.3.0 \
pre-releases.\n\nFix: upgrade to a 4.3 release.",
        needs: &[Input::MastodonProbe],
        check: check_prerelease_csp,
    },
];

fn check_blocked_host(context: &Context, sink: &mut Sink) {
    let Some(results) = mastodon(context) else { return };
    for problem in &results.problems {
        let ProblemKind::BlockedHost { host } = &problem.kind else { continue };
        let allowed = context.settings.allowed_hosts();
        let cause = if allowed.iter().any(|allowed| allowed.eq_ignore_ascii_case(host)) {
            format!("`{host}` is in LOCAL_DOMAIN, WEB_DOMAIN or ALTERNATE_DOMAINS of the env files, so the running process has other domain settings or a proxy rewrites the Host header")
        } else {
            format!("`{host}` is not in LOCAL_DOMAIN, WEB_DOMAIN or ALTERNATE_DOMAINS")
        };
        sink.emit(format!("the running Mastodon responds to {} with 403 \"Blocked host: {host}\": {cause}", problem.step.describe()))
            .help(format!("{STALE}; make a reverse proxy pass the original Host header"))
            .at(host_label(context));
        return;
    }
}

fn check_oidc_not_loaded(context: &Context, sink: &mut Sink) {
    let Some(results) = mastodon(context) else { return };
    let at = label(context, "OIDC_ENABLED");
    if results.request_phase == Some(RequestPhase::NotRegistered) {
        sink.emit("the running Mastodon responds to the OIDC request phase (POST /auth/auth/openid_connect) with 404: it has no `openid_connect` strategy, although OIDC_ENABLED is `true` in the env files")
            .help(STALE)
            .at(at);
        return;
    }
    match &results.presence {
        Some(Presence::NotRegistered) => {
            sink.emit("the running Mastodon's sign-in page has no OIDC button, and GET /auth/auth/openid_connect responds with its 404 page: OIDC is not enabled in the running process, although OIDC_ENABLED is `true` in the env files")
                .help(STALE)
                .at(at);
        }
        Some(Presence::Registered) => {
            sink.emit("the running Mastodon has the `openid_connect` strategy (GET /auth/auth/openid_connect responds with \"Authentication passthru.\"), but its sign-in page shows no OIDC button")
                .help("check the theme or fork that renders /auth/sign_in: Mastodon's own page links to /auth/auth/openid_connect with data-method=\"post\"")
                .at(at)
                .severity(Severity::Warning);
        }
        Some(Presence::Unknown { detail }) => {
            sink.emit(format!("the running Mastodon's sign-in page has no OIDC button, and GET /auth/auth/openid_connect responded with {detail}"))
                .help(STALE)
                .at(at)
                .severity(Severity::Warning);
        }
        None => {}
    }
}

fn check_request_phase_failed(context: &Context, sink: &mut Sink) {
    let Some(results) = mastodon(context) else { return };
    let Some(RequestPhase::SignInFailure { flash: Some(flash) }) = &results.request_phase else { return };
    sink.emit(format!("the running Mastodon cannot start the OIDC login: the request phase returns to the sign-in page with \"{flash}\""))
        .help("correct the setting the message names (see the other findings of this run), then restart Mastodon's web service")
        .at(label(context, "OIDC_ISSUER"));
}

fn check_inconclusive(context: &Context, sink: &mut Sink) {
    let Some(results) = mastodon(context) else { return };
    for problem in &results.problems {
        let step = problem.step.describe();
        let (message, help) = match &problem.kind {
            ProblemKind::BlockedHost { .. } => continue,
            ProblemKind::Transport { detail, .. } => (
                format!("the Mastodon probe got no response to {step} from {}: {detail}", results.base_url),
                "check that Mastodon is up and that --mastodon-url (default https://WEB_DOMAIN) is its public URL".to_string(),
            ),
            ProblemKind::Status { status, detail, .. } => (
                format!("the Mastodon probe got HTTP {status} for {step}: {detail}"),
                "check Mastodon's logs and any proxy or firewall in front of it for this request".to_string(),
            ),
            ProblemKind::Redirected { status, location } => (
                format!("the Mastodon probe was redirected (HTTP {status}) to {location} at {step}"),
                "give Mastodon's public https URL with --mastodon-url, or end the maintenance that redirects".to_string(),
            ),
            ProblemKind::NoCsrfToken => (
                format!("the sign-in page at {} has an OIDC button but no <meta name=\"csrf-token\">, so the probe cannot start the login", results.base_url),
                "check the theme or fork that renders /auth/sign_in: Mastodon's layout writes csrf_meta_tags".to_string(),
            ),
            ProblemKind::CsrfRejected { flash } => (
                format!("the running Mastodon rejected the probe's request phase as a forgery (\"{flash}\"), so the OIDC settings could not be compared"),
                "check that a proxy in front of Mastodon keeps the _mastodon_session cookie and the request body".to_string(),
            ),
            ProblemKind::NoVersion { detail } => (
                format!("the Mastodon probe could not read the version: {detail}"),
                "no action needed unless the version rules matter; the other probes ran".to_string(),
            ),
        };
        let finding = sink.emit(message).help(help).at(host_label(context));
        if problem.kind.is_incomplete() {
            finding.incomplete();
        }
    }
    if let Some(RequestPhase::SignInFailure { flash: None }) = &results.request_phase {
        sink.emit("the running Mastodon's request phase returned to the sign-in page without showing a reason")
            .help("read Mastodon's web log for \"Authentication failure\" at the time of this run")
            .at(label(context, "OIDC_ISSUER"));
    }
}

/// One parameter of the authorization request to compare.
struct Expected {
    variable: &'static str,
    parameter: &'static str,
    /// The value the env files imply, `None` when the parameter must be absent.
    value: Option<String>,
    /// How to compare: exact, as sets of words, or presence only.
    compare: Compare,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Compare {
    Exact,
    WordSet,
    Presence,
}

fn check_running_config(context: &Context, sink: &mut Sink) {
    let Some(results) = mastodon(context) else { return };
    compare_page(context, results, sink);
    compare_domain(context, results, sink);
    let Some(location) = results.authorization_request() else { return };
    compare_endpoint(context, &location, sink);

    let params: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    let settings = &context.settings;
    let pkce_ignored = results.version.as_ref().is_some_and(|version| version.is_before(4, 3));
    let prompt = settings.raw("OIDC_PROMPT").filter(|prompt| !prompt.trim().is_empty());
    let mut expected = vec![
        Expected { variable: "OIDC_CLIENT_ID", parameter: "client_id", value: settings.raw("OIDC_CLIENT_ID").map(str::to_string), compare: Compare::Exact },
        Expected { variable: "OIDC_REDIRECT_URI", parameter: "redirect_uri", value: settings.raw("OIDC_REDIRECT_URI").map(str::to_string), compare: Compare::Exact },
        Expected { variable: "OIDC_SCOPE", parameter: "scope", value: Some(settings.authorize_scopes().join(" ")), compare: Compare::WordSet },
        // rack-oauth2 drops blank parameters (`Util.compact_hash`), so an
        // empty OIDC_RESPONSE_TYPE or OIDC_RESPONSE_MODE is not sent at all.
        Expected { variable: "OIDC_RESPONSE_TYPE", parameter: "response_type", value: Some(settings.response_type().to_string()).filter(|value| !value.trim().is_empty()), compare: Compare::Exact },
        Expected { variable: "OIDC_RESPONSE_MODE", parameter: "response_mode", value: settings.raw("OIDC_RESPONSE_MODE").filter(|value| !value.trim().is_empty()).map(str::to_string), compare: Compare::Exact },
        Expected { variable: "OIDC_PROMPT", parameter: "prompt", value: prompt.map(str::to_string), compare: Compare::Exact },
        Expected { variable: "OIDC_SEND_NONCE", parameter: "nonce", value: settings.flag("OIDC_SEND_NONCE", true).then(String::new), compare: Compare::Presence },
    ];
    if !pkce_ignored {
        expected.push(Expected { variable: "OIDC_USE_PKCE", parameter: "code_challenge", value: settings.pkce().then(String::new), compare: Compare::Presence });
    }
    for item in &expected {
        let sent = params.iter().find(|(name, _)| name == item.parameter).map(|(_, value)| value.as_str());
        if let Some(message) = difference(context, item, sent) {
            sink.emit(message).help(STALE).at(label(context, item.variable).or_else(|| context.key_label(item.variable)));
        }
    }
}

/// Describes how the running server's parameter differs from the files, or `None`.
fn difference(context: &Context, item: &Expected, sent: Option<&str>) -> Option<String> {
    let file = match context.var(item.variable) {
        Some(var) => format!("{} is `{}` in the env files", item.variable, var.value),
        None => format!("{} is unset in the env files", item.variable),
    };
    let parameter = item.parameter;
    match (item.compare, &item.value, sent) {
        (Compare::Presence, Some(_), None) => Some(format!("the running Mastodon sends no `{parameter}`, but {file}, so it should")),
        (Compare::Presence, None, Some(_)) => Some(format!("the running Mastodon sends `{parameter}`, but {file}, so it should not")),
        (Compare::Presence, _, _) => None,
        (_, None, None) => None,
        (_, Some(expected), Some(sent)) if same(item.compare, expected, sent) => None,
        (_, _, Some(sent)) => Some(format!("the running Mastodon sends {parameter}=`{sent}`, but {file}")),
        (_, Some(_), None) => Some(format!("the running Mastodon sends no `{parameter}`, but {file}")),
    }
}

fn same(compare: Compare, expected: &str, sent: &str) -> bool {
    match compare {
        Compare::WordSet => {
            let mut left: Vec<&str> = expected.split_whitespace().collect();
            let mut right: Vec<&str> = sent.split_whitespace().collect();
            left.sort_unstable();
            left.dedup();
            right.sort_unstable();
            right.dedup();
            left == right
        }
        Compare::Exact | Compare::Presence => expected == sent,
    }
}

/// Returns the authorization endpoint Mastodon uses: the discovered one with
/// OIDC_DISCOVERY=true, else OIDC_AUTH_ENDPOINT completed with
/// OIDC_HTTP_SCHEME, OIDC_HOST and OIDC_PORT as rack-oauth2 1.21.3 does.
fn expected_endpoint(context: &Context) -> Option<(String, &'static str)> {
    let settings = &context.settings;
    if settings.discovery() {
        let endpoint = context.discovery_object()?.str("authorization_endpoint")?;
        return Some((endpoint.to_string(), "the discovery document's authorization_endpoint"));
    }
    let endpoint = settings.raw("OIDC_AUTH_ENDPOINT").unwrap_or("/authorize");
    if Url::parse(endpoint).is_ok() {
        return Some((endpoint.to_string(), "OIDC_AUTH_ENDPOINT"));
    }
    let host = settings.raw("OIDC_HOST").filter(|host| !host.is_empty())?;
    let scheme = settings.raw("OIDC_HTTP_SCHEME").unwrap_or("https");
    let port = match settings.raw("OIDC_PORT") {
        Some(port) if !port.is_empty() => format!(":{port}"),
        _ => String::new(),
    };
    Some((format!("{scheme}://{host}{port}{endpoint}"), "OIDC_AUTH_ENDPOINT with OIDC_HOST"))
}

fn compare_endpoint(context: &Context, location: &Url, sink: &mut Sink) {
    let Some((expected, source)) = expected_endpoint(context) else { return };
    let Ok(expected_url) = Url::parse(&expected) else { return };
    if crate::probe::html::same_endpoint(location, &expected_url) {
        return;
    }
    let mut sent = location.clone();
    sent.set_query(None);
    let at = if context.settings.discovery() { label(context, "OIDC_ISSUER") } else { label(context, "OIDC_AUTH_ENDPOINT") };
    sink.emit(format!("the running Mastodon sends users to {sent}, but {source} is {expected}"))
        .help(STALE)
        .at(at)
        .related(label(context, "OIDC_DISCOVERY"));
}

fn compare_page(context: &Context, results: &MastodonResults, sink: &mut Sink) {
    let Some(page) = &results.sign_in else { return };
    if let (Some(entry), Some(name)) = (&page.oidc_entry, context.var("OIDC_DISPLAY_NAME").filter(|var| !var.value.trim().is_empty())) {
        let wanted = name.value.split_whitespace().collect::<Vec<_>>().join(" ");
        if entry.label != wanted {
            sink.emit(format!("the running Mastodon labels its OIDC button `{}`, but OIDC_DISPLAY_NAME is `{}` in the env files", entry.label, name.value))
                .help(STALE)
                .at(name.label)
                .severity(Severity::Warning);
        }
    }
    if page.oidc_entry.is_none() {
        return;
    }
    let omniauth_only = context.settings.flag("OMNIAUTH_ONLY", false);
    if page.password_form == omniauth_only {
        let (shown, should) = if omniauth_only { ("shows", "hides it") } else { ("hides", "shows it") };
        let value = context.var("OMNIAUTH_ONLY").map(|var| format!("`{}`", var.value)).unwrap_or_else(|| "unset".into());
        sink.emit(format!("the running Mastodon {shown} the password form on its sign-in page, but OMNIAUTH_ONLY is {value} in the env files, which {should}"))
            .help(STALE)
            .at(label(context, "OMNIAUTH_ONLY"))
            .severity(Severity::Warning);
    }
}

fn compare_domain(context: &Context, results: &MastodonResults, sink: &mut Sink) {
    let Some(version) = &results.version else { return };
    let (Some(domain), Some(local)) = (&version.domain, context.var("LOCAL_DOMAIN")) else { return };
    if domain.eq_ignore_ascii_case(local.value) {
        return;
    }
    // NOTE: `domain` of /api/v2/instance is taken to be the process's
    // LOCAL_DOMAIN (`Rails.configuration.x.local_domain`); this was read from
    // memory of InstancePresenter, not from a pinned source.
    sink.emit(format!("the running Mastodon reports the domain `{domain}` in {}, but LOCAL_DOMAIN is `{}` in the env files", version.source, local.value))
        .help(STALE)
        .at(local.label)
        .severity(Severity::Warning);
}

fn version<'a>(context: &Context<'a>) -> Option<&'a MastodonVersion> {
    mastodon(context).and_then(|results| results.version.as_ref())
}

fn check_version_untested(context: &Context, sink: &mut Sink) {
    let Some(version) = version(context) else { return };
    if version.is_before(4, 3) {
        sink.emit(format!(
            "the running Mastodon is {} (from {}), older than 4.3: it sends no PKCE challenge, and this tool's findings describe 4.3 to 4.5",
            version.raw, version.source
        ))
        .help("upgrade Mastodon to a 4.3 or later release")
        .at(label(context, "OIDC_ENABLED"))
        .severity(Severity::Warning);
    } else if (version.major, version.minor) > (4, 5) {
        sink.emit(format!("the running Mastodon is {} (from {}), newer than 4.5: this tool's findings describe 4.3 to 4.5", version.raw, version.source))
            .help("check the findings against the Mastodon changelog since 4.5")
            .at(label(context, "OIDC_ENABLED"));
    }
}

fn check_pkce_unsupported(context: &Context, sink: &mut Sink) {
    let Some(version) = version(context) else { return };
    if !context.settings.pkce() || !version.is_before(4, 3) {
        return;
    }
    sink.emit(format!("OIDC_USE_PKCE is `true`, but the running Mastodon {} is older than 4.3 and sends no PKCE challenge", version.raw))
        .help("upgrade Mastodon to 4.3 or later, or turn off the provider's PKCE requirement and delete OIDC_USE_PKCE")
        .at(label(context, "OIDC_USE_PKCE"));
}

fn check_prerelease_csp(context: &Context, sink: &mut Sink) {
    let Some(version) = version(context) else { return };
    let affected = (version.major, version.minor, version.patch) == (4, 3, 0) && version.prerelease.is_some();
    if !affected || !context.settings.one_click_sso() {
        return;
    }
    sink.emit(format!(
        "the running Mastodon {} is a 4.3.0 pre-release, whose Content-Security-Policy blocks the one-click login button that OMNIAUTH_ONLY=true and ONE_CLICK_SSO_LOGIN=true show",
        version.raw
    ))
    .help("upgrade to a 4.3 release")
    .at(label(context, "ONE_CLICK_SSO_LOGIN"))
    .related(label(context, "OMNIAUTH_ONLY"));
}
