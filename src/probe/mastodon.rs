//! Probes of the running Mastodon: its version from the public API, its
//! sign-in page, and the OmniAuth request phase that starts an OIDC login,
//! with the redirect to the provider read but never followed.
//!
//! Facts hold for Mastodon 4.3 to 4.5 (Rails 7.1, Devise 4.9.4, omniauth
//! 2.1.2, omniauth-rails_csrf_protection). The sign-in page carries
//! `<meta name="csrf-token">` and a `data-method="post"` link to
//! `/auth/auth/openid_connect`. A POST there with the session cookie and that
//! token gets a 302 to the provider's authorization endpoint. A CSRF or other
//! request-phase failure gets a 302 to `/auth/sign_in` with the reason in the
//! flash message. A host outside LOCAL_DOMAIN, WEB_DOMAIN and
//! ALTERNATE_DOMAINS gets Rails' 403 "Blocked host" page.

use url::Url;

use super::html::{self, SignInPage, REQUEST_PHASE_PATH, SIGN_IN_PATH};
use super::http::{snippet, Response, Sender, TransportError};

/// A Mastodon version as `/api/v2/instance` reports it: `MAJOR.MINOR.PATCH`,
/// then `-PRERELEASE` and `+METADATA` when present (`lib/mastodon/version.rb`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MastodonVersion {
    /// The string as reported, such as `4.3.2+glitch`.
    pub raw: String,
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// `beta.1`, `rc.2`, `alpha.4`; `None` on a release.
    pub prerelease: Option<String>,
    /// The path it was read from.
    pub source: String,
    /// `domain` of `/api/v2/instance` or `uri` of `/api/v1/instance`: the
    /// running process's LOCAL_DOMAIN.
    pub domain: Option<String>,
}

impl MastodonVersion {
    /// Parses a version string; returns `None` when it does not start with
    /// three numbers.
    pub fn parse(raw: &str, source: &str, domain: Option<String>) -> Option<Self> {
        let pattern = regex::Regex::new(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+(.*))?$").expect("the version pattern is valid");
        let captures = pattern.captures(raw.trim())?;
        let number = |index: usize| captures.get(index).and_then(|group| group.as_str().parse().ok());
        Some(MastodonVersion {
            raw: raw.trim().to_string(),
            major: number(1)?,
            minor: number(2)?,
            patch: number(3)?,
            prerelease: captures.get(4).map(|group| group.as_str().to_string()),
            source: source.to_string(),
            domain,
        })
    }

    /// True when this version is before `major.minor` (pre-releases of
    /// `major.minor.0` count as before it).
    pub fn is_before(&self, major: u64, minor: u64) -> bool {
        (self.major, self.minor) < (major, minor) || ((self.major, self.minor, self.patch) == (major, minor, 0) && self.prerelease.is_some())
    }
}

/// The request of the Mastodon probe that a problem belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Version,
    SignInPage,
    PresenceCheck,
    RequestPhase,
}

impl Step {
    pub fn describe(self) -> &'static str {
        match self {
            Step::Version => "the version request (/api/v2/instance)",
            Step::SignInPage => "the sign-in page (/auth/sign_in)",
            Step::PresenceCheck => "the OIDC presence check (GET /auth/auth/openid_connect)",
            Step::RequestPhase => "the OIDC request phase (POST /auth/auth/openid_connect)",
        }
    }
}

/// Something that stopped or weakened the Mastodon probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// Rails' host authorization rejected the host: 403 "Blocked host".
    BlockedHost { host: String },
    /// No response.
    Transport { detail: String, incomplete: bool },
    /// A status the probe does not expect at this step.
    Status { status: u16, detail: String, incomplete: bool },
    /// A redirect the probe does not expect, such as `http://` to `https://`.
    Redirected { status: u16, location: String },
    /// The sign-in page has no `<meta name="csrf-token">`, so no POST can pass.
    NoCsrfToken,
    /// The request phase was rejected as a forgery, which points at the
    /// probe's cookie or a proxy rather than at the OIDC settings.
    CsrfRejected { flash: String },
    /// The instance API responded without a readable version.
    NoVersion { detail: String },
}

impl ProblemKind {
    pub fn is_incomplete(&self) -> bool {
        match self {
            ProblemKind::Transport { incomplete, .. } | ProblemKind::Status { incomplete, .. } => *incomplete,
            _ => false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub step: Step,
    pub kind: ProblemKind,
}

/// The result of `GET /auth/auth/openid_connect` when the sign-in page has
/// no OIDC button.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Presence {
    /// 404 `text/plain` "Not found. Authentication passthru.": the strategy
    /// is registered, only the page lacks the button.
    Registered,
    /// 404 HTML error page: no `openid_connect` strategy in the running process.
    NotRegistered,
    /// Any other response.
    Unknown { detail: String },
}

/// The response to the request phase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestPhase {
    /// A redirect away from the sign-in page: the authorization request the
    /// running Mastodon builds. It is read, never followed.
    Redirect { location: String },
    /// A redirect back to `/auth/sign_in`, with the flash message that the
    /// follow-up GET showed.
    SignInFailure { flash: Option<String> },
    /// 404 HTML: the running process has no `openid_connect` strategy.
    NotRegistered,
}

/// Everything the Mastodon probe found.
#[derive(Clone, Debug, Default)]
pub struct MastodonResults {
    /// The base URL of the probe's requests, such as `https://social.example/`.
    pub base_url: String,
    pub version: Option<MastodonVersion>,
    pub sign_in: Option<SignInPage>,
    pub presence: Option<Presence>,
    pub request_phase: Option<RequestPhase>,
    pub problems: Vec<Problem>,
}

impl MastodonResults {
    /// Returns the authorization request of a successful request phase.
    pub fn authorization_request(&self) -> Option<Url> {
        match &self.request_phase {
            Some(RequestPhase::Redirect { location }) => Url::parse(location).ok(),
            _ => None,
        }
    }
}

/// Returns the URL the Mastodon probe starts from: `--mastodon-url`, else
/// `https://WEB_DOMAIN`, else `https://LOCAL_DOMAIN`.
pub fn base_url(explicit: Option<&str>, web_host: Option<&str>) -> Result<Url, String> {
    let text = match (explicit, web_host) {
        (Some(url), _) => url.to_string(),
        (None, Some(host)) => format!("https://{host}/"),
        (None, None) => return Err("neither --mastodon-url nor WEB_DOMAIN or LOCAL_DOMAIN is set".into()),
    };
    let url = Url::parse(&text).map_err(|error| format!("`{text}` is not a URL: {error}"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(format!("`{text}` is not an http or https URL"));
    }
    Ok(url)
}

/// A cookie jar for the one host the probe talks to: names and values only,
/// because every request goes to the same origin.
#[derive(Default)]
struct Cookies(Vec<(String, String)>);

impl Cookies {
    fn update(&mut self, response: &Response) {
        for header in response.header_values("set-cookie") {
            let pair = header.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else { continue };
            let name = name.trim().to_string();
            self.0.retain(|(known, _)| *known != name);
            self.0.push((name, value.trim().to_string()));
        }
    }

    fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.0.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; "))
    }
}

struct Run<'s, 'c> {
    sender: &'s mut Sender<'c>,
    base: Url,
    cookies: Cookies,
    results: MastodonResults,
}

/// Runs the Mastodon probe against `base`: at most six requests, all to its origin.
pub async fn probe_mastodon(sender: &mut Sender<'_>, base: Url) -> MastodonResults {
    let results = MastodonResults { base_url: base.to_string(), ..MastodonResults::default() };
    let mut run = Run { sender, base, cookies: Cookies::default(), results };
    if run.version().await {
        run.sign_in().await;
    }
    run.results
}

impl Run<'_, '_> {
    fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("the probe's paths are valid relative URLs")
    }

    fn problem(&mut self, step: Step, kind: ProblemKind) {
        self.results.problems.push(Problem { step, kind });
    }

    async fn get(&mut self, purpose: &str, path: &str, accept: &str) -> Result<Response, TransportError> {
        let mut request = self.sender.client().get(self.url(path)).header(reqwest::header::ACCEPT, accept).header(reqwest::header::ACCEPT_LANGUAGE, "en");
        if let Some(cookie) = self.cookies.header() {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        let response = self.sender.send(purpose, request).await?;
        self.cookies.update(&response);
        Ok(response)
    }

    /// Records a response that ends the probe: a blocked host, a rate limit,
    /// a server error, a redirect, or a transport error. Returns true when the
    /// probe can go on.
    fn check_common(&mut self, step: Step, answer: &Result<Response, TransportError>) -> bool {
        let response = match answer {
            Ok(response) => response,
            Err(error) => {
                self.problem(step, ProblemKind::Transport { detail: error.detail.clone(), incomplete: error.is_incomplete() });
                return false;
            }
        };
        if let Some(host) = blocked_host(response) {
            self.problem(step, ProblemKind::BlockedHost { host });
            return false;
        }
        if response.status == 429 || response.status >= 500 {
            let detail = snippet(&html::visible_text(&response.body), 160);
            self.problem(step, ProblemKind::Status { status: response.status, detail, incomplete: true });
            return false;
        }
        true
    }

    /// Reads the version: `/api/v2/instance`, then `/api/v1/instance` for
    /// servers before 4.0, then `/nodeinfo/2.0` when the API wants a user
    /// (limited federation mode responds with 401). Returns false when the server
    /// cannot be probed further.
    async fn version(&mut self) -> bool {
        let mut source = "/api/v2/instance";
        let mut answer = self.get("Mastodon version request", source, "application/json").await;
        if !self.check_common(Step::Version, &answer) {
            return false;
        }
        if answer.as_ref().is_ok_and(|response| response.status == 404) {
            source = "/api/v1/instance";
            answer = self.get("Mastodon version request", source, "application/json").await;
            if !self.check_common(Step::Version, &answer) {
                return false;
            }
        }
        // NodeInfo stays public in limited federation mode (401) and exists on
        // servers without the instance API (404).
        if answer.as_ref().is_ok_and(|response| matches!(response.status, 401 | 404)) {
            source = "/nodeinfo/2.0";
            answer = self.get("Mastodon version request", source, "application/json").await;
            if !self.check_common(Step::Version, &answer) {
                return false;
            }
        }
        let Ok(response) = answer else { return false };

        if response.is_redirect() {
            let location = response.location().unwrap_or_default().to_string();
            self.problem(Step::Version, ProblemKind::Redirected { status: response.status, location });
            return false;
        }
        match read_version(&response, source) {
            Ok(version) => self.results.version = Some(version),
            Err(detail) => self.problem(Step::Version, ProblemKind::NoVersion { detail }),
        }
        true
    }

    /// Loads the sign-in page, then runs the request phase or, without an
    /// OIDC button, the presence check.
    async fn sign_in(&mut self) {
        let answer = self.get("Mastodon sign-in page", SIGN_IN_PATH, "text/html").await;
        if !self.check_common(Step::SignInPage, &answer) {
            return;
        }
        let Ok(response) = answer else { return };
        if response.is_redirect() {
            let location = response.location().unwrap_or_default().to_string();
            self.problem(Step::SignInPage, ProblemKind::Redirected { status: response.status, location });
            return;
        }
        if response.status != 200 {
            let detail = snippet(&html::visible_text(&response.body), 160);
            self.problem(Step::SignInPage, ProblemKind::Status { status: response.status, detail, incomplete: false });
            return;
        }

        let page = html::parse_sign_in(&response.body, &self.url(SIGN_IN_PATH));
        let entry = page.oidc_entry.clone();
        let token = entry.as_ref().and_then(|entry| entry.form_token.clone()).or_else(|| page.csrf_token.clone());
        let param = page.csrf_param.clone().unwrap_or_else(|| "authenticity_token".to_string());
        self.results.sign_in = Some(page);

        match (entry, token) {
            (None, _) => self.presence_check().await,
            (Some(_), None) => self.problem(Step::SignInPage, ProblemKind::NoCsrfToken),
            (Some(_), Some(token)) => self.request_phase(&param, &token).await,
        }
    }

    /// Sends `GET /auth/auth/openid_connect`, which distinguishes a registered
    /// strategy (404 "Authentication passthru.") from none (Mastodon's 404
    /// page) without starting a login.
    async fn presence_check(&mut self) {
        let answer = self.get("Mastodon OIDC presence check", REQUEST_PHASE_PATH, "text/html").await;
        if !self.check_common(Step::PresenceCheck, &answer) {
            return;
        }
        let Ok(response) = answer else { return };
        let plain = response.media_type().is_some_and(|media| media == "text/plain");
        let presence = if response.status == 404 && plain && response.body.to_ascii_lowercase().contains("passthru") {
            Presence::Registered
        } else if response.status == 404 {
            Presence::NotRegistered
        } else {
            Presence::Unknown { detail: format!("HTTP {}: {}", response.status, snippet(&html::visible_text(&response.body), 160)) }
        };
        self.results.presence = Some(presence);
    }

    /// Sends the request phase as a browser's click does, without an Origin
    /// header, and reads the response without following it.
    async fn request_phase(&mut self, param: &str, token: &str) {
        let body = url::form_urlencoded::Serializer::new(String::new()).append_pair("_method", "post").append_pair(param, token).finish();
        let mut request = self
            .sender
            .client()
            .post(self.url(REQUEST_PHASE_PATH))
            .header(reqwest::header::ACCEPT, "text/html")
            .header(reqwest::header::ACCEPT_LANGUAGE, "en")
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        if let Some(cookie) = self.cookies.header() {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        let answer = self.sender.send("Mastodon OIDC request phase", request).await;
        if let Ok(response) = &answer {
            self.cookies.update(response);
        }
        if !self.check_common(Step::RequestPhase, &answer) {
            return;
        }
        let Ok(response) = answer else { return };

        if response.is_redirect() {
            let location = response.location().and_then(|location| self.url(REQUEST_PHASE_PATH).join(location).ok());
            let Some(location) = location else {
                let detail = format!("HTTP {} without a usable Location header", response.status);
                self.problem(Step::RequestPhase, ProblemKind::Status { status: response.status, detail, incomplete: false });
                return;
            };
            // A proxy that rewrites Host can send the failure redirect to another
            // host name; the sign-in path alone marks it. The flash is then read
            // from this probe's own host, never from the Location's.
            let back_to_sign_in = location.path().trim_end_matches('/') == SIGN_IN_PATH;
            if back_to_sign_in {
                self.read_failure().await;
            } else {
                self.results.request_phase = Some(RequestPhase::Redirect { location: location.to_string() });
            }
            return;
        }

        let plain = response.media_type().is_some_and(|media| media == "text/plain");
        if response.status == 404 && !plain {
            self.results.request_phase = Some(RequestPhase::NotRegistered);
            return;
        }
        let detail = snippet(&html::visible_text(&response.body), 160);
        self.problem(Step::RequestPhase, ProblemKind::Status { status: response.status, detail, incomplete: false });
    }

    /// Loads the sign-in page once more with the updated cookie to read the
    /// flash message that names the reason of the failure.
    async fn read_failure(&mut self) {
        let answer = self.get("Mastodon sign-in page after the request phase", SIGN_IN_PATH, "text/html").await;
        let flash = match &answer {
            Ok(response) if response.status == 200 => html::parse_sign_in(&response.body, &self.url(SIGN_IN_PATH)).flash,
            _ => None,
        };
        if let Some(text) = flash.as_deref().filter(|text| is_forgery_reason(text)) {
            self.problem(Step::RequestPhase, ProblemKind::CsrfRejected { flash: text.to_string() });
            return;
        }
        self.results.request_phase = Some(RequestPhase::SignInFailure { flash });
    }
}

/// True when a flash message names Rails' forgery protection rather than an
/// OIDC failure.
fn is_forgery_reason(flash: &str) -> bool {
    let lowered = flash.to_ascii_lowercase();
    lowered.contains("authenticity") || lowered.contains("cross origin") || lowered.contains("cross-origin") || lowered.contains("csrf")
}

/// Returns the host of Rails' "Blocked host: HOST" page.
fn blocked_host(response: &Response) -> Option<String> {
    if response.status != 403 {
        return None;
    }
    let text = html::visible_text(&response.body);
    let start = text.find("Blocked host:")? + "Blocked host:".len();
    Some(text[start..].split_whitespace().next().unwrap_or_default().to_string())
}

/// Reads the version from an instance API or NodeInfo response.
fn read_version(response: &Response, source: &str) -> Result<MastodonVersion, String> {
    if response.status != 200 {
        return Err(format!("HTTP {}: {}", response.status, snippet(&html::visible_text(&response.body), 160)));
    }
    let value: serde_json::Value = serde_json::from_str(&response.body).map_err(|error| format!("not JSON: {error}"))?;
    let raw = if source == "/nodeinfo/2.0" {
        value.pointer("/software/version").and_then(|version| version.as_str())
    } else {
        value.get("version").and_then(|version| version.as_str())
    };
    let raw = raw.ok_or_else(|| format!("no `version` field in {source}"))?;
    let domain = value.get("domain").or_else(|| value.get("uri")).and_then(|domain| domain.as_str()).map(str::to_string);
    MastodonVersion::parse(raw, source, domain).ok_or_else(|| format!("`{raw}` is not a Mastodon version"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_parses_release_prerelease_and_metadata() {
        let release = MastodonVersion::parse("4.3.2", "/api/v2/instance", None).unwrap();
        assert_eq!((release.major, release.minor, release.patch, release.prerelease.as_deref()), (4, 3, 2, None));
        let beta = MastodonVersion::parse("4.4.0-beta.1", "/api/v2/instance", None).unwrap();
        assert_eq!(beta.prerelease.as_deref(), Some("beta.1"));
        let glitch = MastodonVersion::parse("4.3.2+glitch", "/api/v2/instance", None).unwrap();
        assert_eq!((glitch.minor, glitch.prerelease), (3, None));
        assert!(MastodonVersion::parse("not a version", "/", None).is_none());
    }

    #[test]
    fn prerelease_counts_as_before_its_release() {
        let rc = MastodonVersion::parse("4.3.0-rc.1", "/", None).unwrap();
        assert!(rc.is_before(4, 3));
        let release = MastodonVersion::parse("4.3.0", "/", None).unwrap();
        assert!(!release.is_before(4, 3));
        let old = MastodonVersion::parse("4.2.10", "/", None).unwrap();
        assert!(old.is_before(4, 3));
    }

    #[test]
    fn base_url_defaults_to_web_host() {
        assert_eq!(base_url(None, Some("social.example")).unwrap().as_str(), "https://social.example/");
        assert_eq!(base_url(Some("https://other.example:8443"), Some("social.example")).unwrap().as_str(), "https://other.example:8443/");
        assert!(base_url(None, None).is_err());
        assert!(base_url(Some("ftp://social.example"), None).is_err());
    }

    #[test]
    fn cookies_keep_the_latest_value() {
        let mut cookies = Cookies::default();
        let response = |value: &str| Response { status: 200, headers: vec![("set-cookie".into(), value.into())], body: String::new() };
        cookies.update(&response("_mastodon_session=one; path=/; secure; httponly; samesite=lax"));
        cookies.update(&response("_mastodon_session=two; path=/"));
        assert_eq!(cookies.header().as_deref(), Some("_mastodon_session=two"));
    }

    #[test]
    fn blocked_host_page_names_the_host() {
        let response = Response { status: 403, headers: Vec::new(), body: "<html><body><h1>Blocked host: social.example</h1><p>To allow requests…</p></body></html>".into() };
        assert_eq!(blocked_host(&response).as_deref(), Some("social.example"));
    }

    #[test]
    fn forgery_reasons_are_recognised() {
        assert!(is_forgery_reason("Could not authenticate you from OpenIDConnect because \"Actioncontroller::invalidauthenticitytoken\"."));
        assert!(!is_forgery_reason("Could not authenticate you from OpenIDConnect because \"Issuer mismatch\"."));
    }
}
