//! Rules about OIDC_REDIRECT_URI and the domains it has to agree with.
//!
//! Mastodon 4.3 to 4.5 send OIDC_REDIRECT_URI verbatim, in the authorization
//! request and in the token request. Nothing derives it from LOCAL_DOMAIN or
//! WEB_DOMAIN, and the only working value is
//! `https://<WEB_DOMAIN, else LOCAL_DOMAIN>/auth/auth/openid_connect/callback`.

use url::Url;

use crate::finding::Severity;
use crate::mastodon::CALLBACK_PATH;

use super::{Context, Input, Rule, Sink, Var};

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: "redirect-uri-path",
        severity: Severity::Error,
        summary: "OIDC_REDIRECT_URI does not end in Mastodon's callback path /auth/auth/openid_connect/callback",
        explanation: "Mastodon mounts Devise under `/auth`, Devise puts OmniAuth under its own `/auth` prefix, and \
the provider is named `openid_connect`, so the callback path is `/auth/auth/openid_connect/callback` with \
`auth` twice. Mastodon sends OIDC_REDIRECT_URI verbatim, so with any other path the provider either rejects \
the request or sends the user to a page Mastodon does not serve (404). OmniAuth 2.1 matches the callback \
path ignoring letter case, but Rails' routes are case-sensitive, so a path that differs only in case ends \
on a 404 page after the callback. A fragment is an error: OAuth 2.0 forbids it in a redirect URI. A trailing slash \
or a query is a warning: OmniAuth and Rails still reach the callback, but the provider compares the redirect \
URI as an exact string, so the registration must carry the same deviation.\n\nFix: set OIDC_REDIRECT_URI to \
`https://<WEB_DOMAIN, else LOCAL_DOMAIN>/auth/auth/openid_connect/callback` and register exactly the same \
string at the provider. The finding gives the value.",
        needs: &[Input::Env],
        check: check_path,
    },
    Rule {
        id: "redirect-uri-host",
        severity: Severity::Error,
        summary: "OIDC_REDIRECT_URI's host is not Mastodon's web host",
        explanation: "Rails' host authorization in Mastodon allows only LOCAL_DOMAIN, WEB_DOMAIN and \
ALTERNATE_DOMAINS and answers any other host with 403 Blocked host. The login also keeps its `state`, nonce \
and PKCE verifier in the session cookie, which is host-only and lives on the web host (WEB_DOMAIN, else \
LOCAL_DOMAIN), where the login starts. A callback on another host arrives without that cookie, and the \
login fails with \"Invalid 'state' parameter\". A host from ALTERNATE_DOMAINS is a warning: Rails accepts \
it, and only logins started on that host work. Hosts are compared ignoring letter case. The rule is quiet \
when neither LOCAL_DOMAIN nor WEB_DOMAIN is set.\n\nFix: use the web host in OIDC_REDIRECT_URI and register \
the same string at the provider. The finding gives the value.",
        needs: &[Input::Env],
        check: check_host,
    },
    Rule {
        id: "redirect-uri-scheme",
        severity: Severity::Error,
        summary: "OIDC_REDIRECT_URI is not an absolute https URL without a port",
        explanation: "Mastodon in production serves only https (force_ssl). An `http://` redirect URI sends the \
authorization code over plain http and works only while the web server redirects it to https. A port that \
Mastodon's web host does not use sends the callback to another service. An explicit `:443` reaches Mastodon, \
but the provider compares redirect URIs as exact strings, so it is a warning. A value that is not an \
absolute URL (no `https://`, surrounding spaces, no host) never works.\n\nFix: write \
`https://<WEB_DOMAIN, else LOCAL_DOMAIN>/auth/auth/openid_connect/callback` without a port, and register the \
same string at the provider. The finding gives the value.",
        needs: &[Input::Env],
        check: check_scheme,
    },
    Rule {
        id: "domain-format",
        severity: Severity::Warning,
        summary: "LOCAL_DOMAIN or WEB_DOMAIN is not a bare host name",
        explanation: "Mastodon uses LOCAL_DOMAIN and WEB_DOMAIN verbatim as host names: in account handles, in the \
links it generates and in the hosts Rails' host authorization allows. A scheme (`https://`), a path or a \
trailing slash makes all of them wrong, and the expected redirect URI cannot be built from the value. A \
variable set to an empty string counts as set: Mastodon then uses the empty string and does not fall back \
to the default. A port (`localhost:3000`) belongs only in a local development setup.\n\nFix: write the \
bare host, such as LOCAL_DOMAIN=mastodon.example.",
        needs: &[Input::Env],
        check: check_domain_format,
    },
];

/// A URL split as written, without normalisation, because the provider compares the exact string Mastodon sends.
#[derive(Debug, PartialEq, Eq)]
struct WrittenUrl<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

/// Splits `scheme://[userinfo@]host[:port]path[?query][#fragment]`, or returns `None` without `://`.
fn split_written(value: &str) -> Option<WrittenUrl<'_>> {
    let (scheme, rest) = value.split_once("://")?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(authority_end);
    let (rest, fragment) = match rest.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (rest, None),
    };
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    let (host, port) = split_host_port(authority);
    Some(WrittenUrl { scheme, host, port, path, query, fragment })
}

/// Splits `[userinfo@]host[:port]`, keeping IPv6 brackets in the host.
fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, after)| after);
    if host_port.starts_with('[') {
        if let Some(end) = host_port.find(']') {
            let port = host_port[end + 1..].strip_prefix(':');
            return (&host_port[..=end], port);
        }
    }
    match host_port.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (host_port, None),
    }
}

/// A host with an optional port, lower-cased.
#[derive(Debug, PartialEq, Eq)]
struct HostSpec {
    host: String,
    port: Option<String>,
}

impl HostSpec {
    fn display(&self) -> String {
        match &self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }
}

/// Reads the host out of a LOCAL_DOMAIN-style value, dropping a scheme, a path
/// or a trailing slash that domain-format reports, so that one malformed domain
/// does not also show up as a wrong redirect host.
fn host_spec(value: &str) -> Option<HostSpec> {
    let value = value.trim();
    let without_scheme = value.split_once("://").map_or(value, |(_, rest)| rest);
    let authority_end = without_scheme.find(['/', '?', '#']).unwrap_or(without_scheme.len());
    let (host, port) = split_host_port(&without_scheme[..authority_end]);
    if host.is_empty() {
        return None;
    }
    Some(HostSpec { host: host.to_ascii_lowercase(), port: port.filter(|port| !port.is_empty()).map(str::to_string) })
}

/// Returns the host of the web interface and the session cookie: WEB_DOMAIN, else LOCAL_DOMAIN.
fn web_host(context: &Context) -> Option<HostSpec> {
    context.settings.web_host().and_then(host_spec)
}

fn expected_uri(web: &HostSpec) -> String {
    format!("https://{}{CALLBACK_PATH}", web.display())
}

/// Returns OIDC_REDIRECT_URI when OIDC is enabled and the value is set and not empty.
fn redirect_uri<'a>(context: &Context<'a>) -> Option<Var<'a>> {
    if !context.settings.oidc_enabled() {
        return None;
    }
    context.var("OIDC_REDIRECT_URI").filter(|var| !var.value.is_empty())
}

/// Returns why a redirect URI is not a usable absolute URL, or `None` when it is one.
fn invalid_reason(value: &str) -> Option<&'static str> {
    if value.trim() != value {
        return Some("it starts or ends with a space");
    }
    if value.chars().any(char::is_whitespace) {
        return Some("it contains a space");
    }
    let Some(written) = split_written(value) else {
        return Some("it does not start with a scheme and `://`");
    };
    if written.host.is_empty() {
        return Some("it has no host");
    }
    match Url::parse(value) {
        Err(_) => Some("it cannot be parsed as a URL"),
        Ok(url) if url.host_str().is_none_or(str::is_empty) => Some("it has no host"),
        Ok(_) => None,
    }
}

/// Explains a wrong callback path, naming the usual mistakes.
fn path_mistake(path: &str) -> String {
    let lower = path.to_ascii_lowercase();
    let lower = lower.strip_suffix('/').unwrap_or(&lower);
    if lower == "/auth/openid_connect/callback" {
        return format!(
            "has the path `{path}` with one `auth` segment, but Mastodon's callback path has two (`{CALLBACK_PATH}`): Devise \
is mounted under /auth and puts OmniAuth under its own /auth prefix"
        );
    }
    if lower == "/users/auth/openid_connect/callback" {
        return format!(
            "has the path `{path}`, the default of other Rails applications, but Mastodon mounts Devise under /auth, so its \
callback path is `{CALLBACK_PATH}`"
        );
    }
    if lower == "/auth/auth/openid_connect" {
        return format!(
            "has the path `{path}`, which starts a login; the callback path is `{CALLBACK_PATH}`"
        );
    }
    if lower.starts_with("/auth/auth/") && lower.ends_with("/callback") {
        return format!(
            "has the path `{path}`, but Mastodon names the provider `openid_connect`, so its callback path is `{CALLBACK_PATH}`"
        );
    }
    if path.is_empty() || path == "/" {
        return format!("has no path, but Mastodon's callback path is `{CALLBACK_PATH}`");
    }
    format!("has the path `{path}`, but Mastodon's callback path is `{CALLBACK_PATH}`")
}

fn check_path(context: &Context, sink: &mut Sink) {
    let Some(var) = redirect_uri(context) else { return };
    if invalid_reason(var.value).is_some() {
        return;
    }
    let Some(written) = split_written(var.value) else { return };

    // OmniAuth 2.1.2 lower-cases the request path and drops one trailing slash
    // before comparing it with the callback path, and Rails' router ignores a
    // trailing slash but not letter case. NOTE: the outcome of the case-only and
    // trailing-slash variants is derived from that source, not observed on a
    // running Mastodon.
    let without_slash = written.path.strip_suffix('/').unwrap_or(written.path);
    let mut problems: Vec<(Severity, String)> = Vec::new();
    if !without_slash.eq_ignore_ascii_case(CALLBACK_PATH) {
        problems.push((
            Severity::Error,
            format!("{}, so the provider rejects the request or sends the user to a page Mastodon does not serve", path_mistake(written.path)),
        ));
    } else if without_slash != CALLBACK_PATH {
        problems.push((
            Severity::Error,
            format!(
                "has the path `{}`, which differs from `{CALLBACK_PATH}` in letter case: OmniAuth accepts it, but Rails' routes \
are case-sensitive, so the login ends on a 404 page",
                written.path
            ),
        ));
    }
    if let Some(fragment) = written.fragment {
        problems.push((
            Severity::Error,
            format!("contains the fragment `#{fragment}`, which OAuth 2.0 forbids in a redirect URI, so providers reject it"),
        ));
    }
    if written.path.len() > 1 && written.path.ends_with('/') && without_slash.eq_ignore_ascii_case(CALLBACK_PATH) {
        problems.push((
            Severity::Warning,
            "ends with `/`: Mastodon still reaches its callback, but the provider compares redirect URIs as exact strings, so its \
registration must end with `/` too"
                .to_string(),
        ));
    }
    if let Some(query) = written.query {
        problems.push((
            Severity::Warning,
            format!(
                "contains the query `?{query}`: Mastodon still reaches its callback, but the provider compares redirect URIs as \
exact strings, so its registration must contain the same query"
            ),
        ));
    }
    if problems.is_empty() {
        return;
    }

    let severity = problems.iter().map(|(severity, _)| *severity).max().unwrap_or(Severity::Error);
    let texts: Vec<&str> = problems.iter().map(|(_, text)| text.as_str()).collect();
    let message = format!("OIDC_REDIRECT_URI `{}` {}", var.value, texts.join("; it also "));
    let expected = match web_host(context) {
        Some(web) => expected_uri(&web),
        None => format!("{}://{}{CALLBACK_PATH}", written.scheme, written.host),
    };
    sink.emit(message)
        .severity(severity)
        .at(var.label)
        .help(format!("set OIDC_REDIRECT_URI={expected} and change the redirect URI registered at the provider to the same string"));
}

fn check_host(context: &Context, sink: &mut Sink) {
    let Some(var) = redirect_uri(context) else { return };
    if invalid_reason(var.value).is_some() {
        return;
    }
    let Some(web) = web_host(context) else { return };
    let Some(written) = split_written(var.value) else { return };
    let host = written.host.to_ascii_lowercase();
    if host == web.host {
        return;
    }

    let local = context.settings.raw("LOCAL_DOMAIN").and_then(host_spec);
    let web_domain = context.settings.raw("WEB_DOMAIN").and_then(host_spec);
    let alternates: Vec<String> = context
        .settings
        .raw("ALTERNATE_DOMAINS")
        .map(|value| value.split(',').filter_map(host_spec).map(|spec| spec.host).collect())
        .unwrap_or_default();
    let web_name = if web_domain.is_some() { "WEB_DOMAIN" } else { "LOCAL_DOMAIN" };
    let state_failure = format!(
        "the login starts on the web host `{}` ({web_name}), and its session cookie, which holds the OAuth `state`, is not sent \
to `{host}`, so the callback fails with \"Invalid 'state' parameter\"",
        web.host
    );

    let (severity, message, related) = if local.as_ref().is_some_and(|local| local.host == host) {
        (
            Severity::Error,
            format!("OIDC_REDIRECT_URI uses the host `{host}` (LOCAL_DOMAIN), but {state_failure}"),
            context.var("LOCAL_DOMAIN").and_then(|var| var.label),
        )
    } else if alternates.contains(&host) {
        (
            Severity::Warning,
            format!(
                "OIDC_REDIRECT_URI uses the host `{host}` from ALTERNATE_DOMAINS: Rails accepts it, but {state_failure}; only \
logins started on `{host}` work"
            ),
            context.var("ALTERNATE_DOMAINS").and_then(|var| var.label),
        )
    } else {
        (
            Severity::Error,
            format!(
                "OIDC_REDIRECT_URI uses the host `{host}`, which is not LOCAL_DOMAIN, WEB_DOMAIN or one of ALTERNATE_DOMAINS: \
Rails' host authorization answers the callback with 403 Blocked host"
            ),
            context.var(web_name).and_then(|var| var.label),
        )
    };
    sink.emit(message).severity(severity).at(var.label).related(related).help(format!(
        "set OIDC_REDIRECT_URI={} and change the redirect URI registered at the provider to the same string",
        expected_uri(&web)
    ));
}

fn check_scheme(context: &Context, sink: &mut Sink) {
    let Some(var) = redirect_uri(context) else { return };
    let web = web_host(context);
    let expected = match &web {
        Some(web) => expected_uri(web),
        None => format!("https://<WEB_DOMAIN, else LOCAL_DOMAIN>{CALLBACK_PATH}"),
    };
    let help = format!("set OIDC_REDIRECT_URI={expected} and change the redirect URI registered at the provider to the same string");

    if let Some(reason) = invalid_reason(var.value) {
        sink.emit(format!(
            "OIDC_REDIRECT_URI `{}` is not a valid absolute URL because {reason}, and Mastodon sends the value verbatim, so no login can complete",
            var.value
        ))
        .at(var.label)
        .help(help);
        return;
    }
    let Some(written) = split_written(var.value) else { return };

    if !written.scheme.eq_ignore_ascii_case("https") {
        sink.emit(format!(
            "OIDC_REDIRECT_URI uses `{}://`: Mastodon in production serves only https, so the authorization code travels over \
plain http and the callback works only while the web server redirects it to https",
            written.scheme
        ))
        .at(var.label.clone())
        .help(help.clone());
    }

    let Some(port) = written.port else { return };
    let web_port = web.as_ref().and_then(|web| web.port.as_deref());
    if web_port == Some(port) {
        return;
    }
    let (severity, message) = if port == "443" && web_port.is_none() {
        (
            Severity::Warning,
            "OIDC_REDIRECT_URI names the default port `:443`: the callback reaches Mastodon, but the provider compares redirect \
URIs as exact strings, so its registration must contain `:443` too"
                .to_string(),
        )
    } else {
        let served = match web_port {
            Some(web_port) => format!("on port {web_port}"),
            None => "on the default https port".to_string(),
        };
        (
            Severity::Error,
            format!("OIDC_REDIRECT_URI names the port `{port}`, but Mastodon's web host is served {served}, so the callback reaches another service or none"),
        )
    };
    sink.emit(message).severity(severity).at(var.label).help(help);
}

fn check_domain_format(context: &Context, sink: &mut Sink) {
    if redirect_uri(context).is_none() {
        return;
    }
    for name in ["LOCAL_DOMAIN", "WEB_DOMAIN"] {
        let Some(var) = context.var(name) else { continue };
        if var.value.trim().is_empty() {
            let fallback = if name == "WEB_DOMAIN" { "LOCAL_DOMAIN" } else { "`localhost:3000`" };
            sink.emit(format!("{name} is set but empty: Mastodon uses the empty string as the host instead of {fallback}"))
                .at(context.line_label(name))
                .help(format!("write the host ({name}=mastodon.example) or delete the line"));
            continue;
        }
        let mut problems: Vec<&str> = Vec::new();
        if var.value.contains("://") {
            problems.push("a scheme");
        }
        let without_scheme = var.value.split_once("://").map_or(var.value, |(_, rest)| rest);
        if let Some(slash) = without_scheme.find('/') {
            if slash + 1 == without_scheme.len() {
                problems.push("a trailing slash");
            } else {
                problems.push("a path");
            }
        }
        if var.value.chars().any(char::is_whitespace) {
            problems.push("a space");
        }
        if problems.is_empty() {
            continue;
        }
        let Some(spec) = host_spec(var.value) else { continue };
        let mut help = format!("write the bare host: {name}={}", spec.display());
        if spec.port.is_some() {
            help.push_str(" (keep the port only for a local development setup)");
        }
        sink.emit(format!(
            "{name} is `{}`, which contains {}: Mastodon uses it verbatim as a host name, in account handles, generated links and \
the hosts Rails allows",
            var.value,
            problems.join(" and ")
        ))
        .at(var.label)
        .help(help);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_written_keeps_raw_parts() {
        let written = split_written("HTTPS://Mastodon.Example:8443/Auth/x/?a=1#f").unwrap();
        assert_eq!(written.scheme, "HTTPS");
        assert_eq!(written.host, "Mastodon.Example");
        assert_eq!(written.port, Some("8443"));
        assert_eq!(written.path, "/Auth/x/");
        assert_eq!(written.query, Some("a=1"));
        assert_eq!(written.fragment, Some("f"));
    }

    #[test]
    fn split_written_handles_ipv6_and_userinfo() {
        let written = split_written("https://user@[::1]:3000/cb").unwrap();
        assert_eq!(written.host, "[::1]");
        assert_eq!(written.port, Some("3000"));
        let written = split_written("https://[::1]").unwrap();
        assert_eq!(written.port, None);
        assert_eq!(written.path, "");
    }

    #[test]
    fn host_spec_strips_scheme_path_and_case() {
        let cases = [
            ("mastodon.example", "mastodon.example", None),
            ("https://Mastodon.Example/", "mastodon.example", None),
            ("mastodon.example/", "mastodon.example", None),
            ("localhost:3000", "localhost", Some("3000")),
            ("https://mastodon.example:8443/path", "mastodon.example", Some("8443")),
        ];
        for (value, host, port) in cases {
            let spec = host_spec(value).unwrap();
            assert_eq!(spec.host, host, "value {value}");
            assert_eq!(spec.port.as_deref(), port, "value {value}");
        }
        assert!(host_spec("").is_none());
        assert!(host_spec("https://").is_none());
    }

    #[test]
    fn invalid_reason_for_broken_values() {
        assert!(invalid_reason("https://mastodon.example/auth/auth/openid_connect/callback").is_none());
        for value in [
            "mastodon.example/auth/auth/openid_connect/callback",
            " https://mastodon.example/auth/auth/openid_connect/callback",
            "https:/mastodon.example/auth/auth/openid_connect/callback",
            "https:///auth/auth/openid_connect/callback",
            "https://mastodon example/cb",
        ] {
            assert!(invalid_reason(value).is_some(), "value {value:?}");
        }
    }

    #[test]
    fn path_mistake_names_single_auth_segment() {
        assert!(path_mistake("/auth/openid_connect/callback").contains("one `auth` segment"));
        assert!(path_mistake("/users/auth/openid_connect/callback").contains("other Rails applications"));
        assert!(path_mistake("/auth/auth/oidc/callback").contains("`openid_connect`"));
        assert!(path_mistake("/auth/auth/openid_connect").contains("starts a login"));
    }
}
