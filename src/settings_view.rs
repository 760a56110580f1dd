//! `mastodon-oidc-check settings`: the effective OIDC settings as Mastodon
//! will use them. Values pass through Ruby dotenv's parsing, the Rails file
//! precedence, the process environment (`--env`) and Mastodon's defaults.
//! Each comes with the place it was set and, where it matters, Mastodon's
//! reading of it.
//!
//! Facts about the meaning of values hold for Mastodon 4.3 to 4.5 with
//! omniauth_openid_connect 0.6.1 and rack-oauth2 1.21.3 (see `crate::mastodon`).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use serde_json::{json, Map, Value as Json};

use crate::envfile::{EnvSet, Entry, LoadError, Origin, Value};
use crate::mastodon::{self, ClientAuth, Parse, Settings, Variable};
use crate::redact::Redactor;

/// Arguments of `settings`.
#[derive(Debug, clap::Args)]
pub struct SettingsArgs {
    /// An env file, or a Mastodon directory (reads .env.production.local, .env.local, .env.production, .env).
    #[arg(default_value = ".env.production")]
    pub path: PathBuf,

    /// List every variable of the files and of --env, not only Mastodon's OIDC ones.
    #[arg(long)]
    pub all: bool,

    /// Print secret values instead of masking them.
    #[arg(long)]
    pub show_secrets: bool,

    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: SettingsFormat,

    /// A variable of Mastodon's process environment, which beats the files (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = crate::cli::parse_env)]
    pub env: Vec<(String, String)>,
}

/// Output formats of `settings`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SettingsFormat {
    /// One line per variable, with notes below it.
    Human,
    /// One JSON object whose `values` maps each name to its value and source.
    Json,
}

/// The origin of an effective value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    File { path: String, line: usize },
    /// `--env`, standing for Mastodon's process environment.
    Process,
    /// Unset: Mastodon's default applies.
    Default,
}

impl Source {
    fn to_json(&self) -> Json {
        match self {
            Source::File { path, line } => json!({"path": path, "line": line}),
            Source::Process => json!("process"),
            Source::Default => json!("default"),
        }
    }

    fn describe(&self) -> String {
        match self {
            Source::File { path, line } => format!("{path}:{line}"),
            Source::Process => "process environment".into(),
            Source::Default => "default".into(),
        }
    }
}

/// One variable as Mastodon reads it.
#[derive(Clone, Debug)]
pub struct Setting {
    pub name: String,
    /// The effective text; `None` when it is masked, or unset without a literal default.
    pub value: Option<String>,
    pub source: Source,
    /// Length in characters of a secret value that was not printed.
    pub masked: Option<usize>,
    /// Mastodon's reading of the value: a flag's boolean, the scope list or
    /// the client authentication method.
    pub parsed: Option<Json>,
    pub notes: Vec<String>,
    /// Other assignments of the same name, which Mastodon does not use.
    pub shadowed: Vec<Source>,
}

/// Reads the files the arguments name and renders the settings in the requested format.
pub fn render(args: &SettingsArgs) -> Result<String, LoadError> {
    let env = EnvSet::load(&args.path, args.env.iter().cloned().collect())?;
    let settings = collect(&env, args.all, args.show_secrets);
    let text = match args.format {
        SettingsFormat::Human => render_human(&env, &settings),
        SettingsFormat::Json => render_json(&env, &settings),
    };

    // Values built from a secret (`OIDC_SCOPE=openid,$OIDC_CLIENT_SECRET`) and
    // the notes derived from them carry it too, so the whole output is masked.
    if args.show_secrets {
        Ok(text)
    } else {
        Ok(secret_redactor(&env).redact(&text))
    }
}

/// Lists Mastodon's OIDC variables (set or defaulted), every other `OIDC_*`
/// variable that is set, and with `all` every variable of the files and the
/// process environment.
pub fn collect(env: &EnvSet, all: bool, show_secrets: bool) -> Vec<Setting> {
    let redactor = if show_secrets { Redactor::default() } else { secret_redactor(env) };
    // Every assignment of each name, in precedence order, gathered in one
    // pass so that a large file with many keys is not scanned once per key.
    let mut assignments: HashMap<&str, Vec<(usize, &Entry)>> = HashMap::new();
    for (index, file) in env.files.iter().enumerate() {
        for entry in &file.entries {
            assignments.entry(entry.key.as_str()).or_default().push((index, entry));
        }
    }
    let view = View { env, settings: Settings::new(env), redactor, show_secrets, assignments };

    let mut names: Vec<&str> = mastodon::VARIABLES.iter().map(|variable| variable.name).collect();
    let mut seen: HashSet<&str> = names.iter().copied().collect();
    let mut others: Vec<&str> = env.files.iter().flat_map(|file| file.entries.iter().map(|entry| entry.key.as_str())).collect();
    let mut process: Vec<&str> = env.process.keys().map(String::as_str).collect();
    process.sort_unstable();
    others.extend(process);
    for name in others {
        let listed = all || name.starts_with("OIDC_");
        if listed && seen.insert(name) {
            names.push(name);
        }
    }
    names.iter().map(|name| view.setting(name)).collect()
}

struct View<'a> {
    env: &'a EnvSet,
    settings: Settings<'a>,
    redactor: Redactor,
    show_secrets: bool,
    assignments: HashMap<&'a str, Vec<(usize, &'a Entry)>>,
}

impl View<'_> {
    fn setting(&self, name: &str) -> Setting {
        let variable = mastodon::variable(name);
        let mut setting = match self.effective(name) {
            Some(value) => self.set_value(name, value),
            None => default_setting(name, variable, &self.settings),
        };
        if setting.masked.is_none() {
            if let Some(variable) = variable {
                self.interpret(variable, &mut setting);
            }
        }
        if variable.is_none() {
            setting.notes.extend(unread_note(name));
        }
        setting
    }

    /// Returns the value Mastodon reads, as `EnvSet::get` does: the process
    /// environment first, then the last assignment in the first file that has one.
    fn effective(&self, name: &str) -> Option<Value<'_>> {
        if let Some((key, value)) = self.env.process.get_key_value(name) {
            return Some(Value { key, value, origin: Origin::Process, entry: None });
        }
        let assignments = self.assignments.get(name)?;
        let first_file = assignments.first()?.0;
        let (index, entry) = assignments.iter().rev().find(|(index, _)| *index == first_file)?;
        Some(Value { key: &entry.key, value: &entry.value, origin: Origin::File(*index), entry: Some(*entry) })
    }

    /// Builds the row of a variable that is set in a file or the process environment.
    fn set_value(&self, name: &str, value: Value<'_>) -> Setting {
        let source = match (value.origin, value.entry) {
            (Origin::File(index), Some(entry)) => Source::File { path: self.env.files[index].source.path.display().to_string(), line: entry.line },
            _ => Source::Process,
        };
        let shadowed = self
            .assignments
            .get(name)
            .into_iter()
            .flatten()
            .filter(|(_, entry)| !value.entry.is_some_and(|effective| std::ptr::eq(effective, *entry)))
            .map(|(index, entry)| Source::File { path: self.env.files[*index].source.path.display().to_string(), line: entry.line })
            .collect();

        // A value built from a secret (`OIDC_SCOPE=openid,$OIDC_CLIENT_SECRET`)
        // is masked whole: split or escaped, pieces of it would escape the
        // substring masking.
        let embeds_secret = self.redactor.redact(value.value) != value.value
            || value.entry.is_some_and(|entry| entry.references.iter().any(|reference| mastodon::is_secret_name(&reference.name)));
        if (is_secret(name, value.value) || embeds_secret) && !self.show_secrets && !value.value.is_empty() {
            return Setting {
                name: name.to_string(),
                value: None,
                source,
                masked: Some(value.value.chars().count()),
                parsed: None,
                notes: Vec::new(),
                shadowed,
            };
        }

        let mut notes = Vec::new();
        if let Some(entry) = value.entry {
            for command in &entry.commands {
                notes.push(self.redactor.redact(&format!(
                    "Mastodon runs `{command}` through the shell at boot and uses its output here; this tool never runs it, so the value shown is the text as written"
                )));
            }
            for reference in entry.references.iter().filter(|reference| reference.resolved.is_none()) {
                notes.push(format!("`${}` is not defined when the file is loaded, so Mastodon reads an empty string in its place", reference.name));
            }
        }
        Setting {
            name: name.to_string(),
            value: Some(self.redactor.redact(value.value)),
            source,
            masked: None,
            parsed: None,
            notes,
            shadowed,
        }
    }

    /// Adds what Mastodon makes of a value of one of its variables.
    fn interpret(&self, variable: &Variable, setting: &mut Setting) {
        let raw = self.settings.raw(variable.name);
        match variable.parse {
            Parse::Flag => {
                let default_on = variable.default == "true";
                let on = raw.map_or(default_on, |raw| raw == "true");
                setting.parsed = Some(Json::Bool(on));
                if let Some(raw) = raw.filter(|raw| *raw != "true" && *raw != "false") {
                    let mut note = format!("only the exact text `true` turns this on, so `{raw}` reads as false");
                    if default_on {
                        note.push_str(", which turns off what is on by default");
                    }
                    setting.notes.push(self.redactor.redact(&note));
                }
            }
            Parse::CommaList => {
                if let Some(scopes) = self.settings.scopes() {
                    setting.parsed = Some(json!(scopes));
                    let sent = self.settings.authorize_scopes().join(" ");
                    setting.notes.push(format!("the authorization request asks for the scope `{sent}`"));
                }
            }
            Parse::Removed if raw.is_some() => setting.notes.push(format!("no effect: {}", variable.summary)),
            Parse::Text | Parse::Secret | Parse::Removed => {}
        }

        match variable.name {
            "OIDC_CLIENT_AUTH_METHOD" => {
                let method = self.settings.client_auth();
                setting.parsed = Some(json!(method.metadata_name()));
                setting.notes.push(client_auth_note(method, raw));
            }
            "OIDC_DISPLAY" if raw.is_some() => setting.notes.push("no effect: omniauth_openid_connect 0.6.1 never sends `display`".into()),
            "OIDC_TOKEN_ENDPOINT" | "OIDC_USER_INFO_ENDPOINT" | "OIDC_JWKS_URI" | "OIDC_END_SESSION_ENDPOINT" if self.settings.discovery() => {
                let note = if raw.is_some() { "no effect on the login: OIDC_DISCOVERY=true replaces it with the discovered value" } else { "OIDC_DISCOVERY=true replaces this default with the discovered value" };
                setting.notes.push(note.into());
            }
            "OIDC_AUTH_ENDPOINT" if raw.is_some() && self.settings.discovery() => {
                setting.notes.push("the login uses the discovered authorization endpoint; Mastodon uses this value only for the CSP form-action".into());
            }
            "OIDC_AUTH_ENDPOINT" if self.settings.discovery() => {
                setting.notes.push("the login uses the discovered authorization endpoint".into());
            }
            "ONE_CLICK_SSO_LOGIN" if self.settings.flag("ONE_CLICK_SSO_LOGIN", false) && !self.settings.flag("OMNIAUTH_ONLY", false) => {
                setting.notes.push("no effect unless OMNIAUTH_ONLY=true as well".into());
            }
            _ => {}
        }
    }
}

/// Returns true for a value that is never printed without --show-secrets.
/// Mastodon's own variables are secret only where Mastodon treats them so
/// (OIDC_CLIENT_SECRET), so OIDC_TOKEN_ENDPOINT is shown although its name
/// contains TOKEN; other names are judged by `mastodon::is_secret_name`.
fn is_secret(name: &str, value: &str) -> bool {
    let secret_name = match mastodon::variable(name) {
        Some(variable) => variable.parse == Parse::Secret,
        None => mastodon::is_secret_name(name),
    };
    secret_name || mastodon::is_secret_value(value)
}

/// Collects the secret values, so a value that embeds one (through `$NAME`) is masked too.
fn secret_redactor(env: &EnvSet) -> Redactor {
    let mut redactor = Redactor::default();
    for (name, value) in &env.process {
        if is_secret(name, value) {
            redactor.add(value);
        }
    }
    for entry in env.files.iter().flat_map(|file| file.entries.iter()) {
        if is_secret(&entry.key, &entry.value) {
            redactor.add(&entry.value);
            redactor.add(&entry.written);
        }
    }
    redactor
}

/// Builds the row of a Mastodon variable that is not set.
fn default_setting(name: &str, variable: Option<&Variable>, settings: &Settings<'_>) -> Setting {
    let mut setting = Setting {
        name: name.to_string(),
        value: None,
        source: Source::Default,
        masked: None,
        parsed: None,
        notes: Vec::new(),
        shadowed: Vec::new(),
    };
    let Some(variable) = variable else { return setting };

    if name == "WEB_DOMAIN" {
        setting.value = Some(settings.raw("LOCAL_DOMAIN").unwrap_or("localhost:3000").to_string());
        setting.notes.push("unset, so Mastodon uses LOCAL_DOMAIN".into());
        return setting;
    }
    if name == "OIDC_CLIENT_AUTH_METHOD" {
        // rack-oauth2 1.21.3 uses `:basic` when the option is nil.
        setting.value = Some("basic".into());
        return setting;
    }
    let default = variable.default;
    let descriptive = default.contains(' ') || matches!(default, "none" | "ignored") || mastodon::variable(default).is_some();
    if !descriptive {
        setting.value = Some(default.to_string());
        return setting;
    }
    match default {
        "none" | "ignored" => {}
        _ => setting.notes.push(format!("unset: {}", default.strip_prefix("none: ").unwrap_or(default))),
    }
    setting
}

fn client_auth_note(method: ClientAuth, raw: Option<&str>) -> String {
    let effect = match method {
        ClientAuth::Basic => "HTTP Basic with the id and secret form-urlencoded first",
        ClientAuth::BasicRaw => "HTTP Basic with the id and secret as written",
        ClientAuth::JwtBearer => "a client_assertion JWT signed with the client secret (HS256)",
        ClientAuth::Saml2Bearer => "a SAML assertion, which Mastodon cannot fill",
        ClientAuth::Mtls => "a TLS client certificate, which Mastodon cannot present",
        ClientAuth::Post => "client_id and client_secret in the POST body",
    };
    match raw {
        Some(raw) if method == ClientAuth::Post => format!("rack-oauth2 does not know `{raw}` as a method name, so the token request sends {effect}"),
        _ => format!("the token request sends {effect}"),
    }
}

/// Returns a note for a variable Mastodon does not read, when it looks like one it does.
fn unread_note(name: &str) -> Option<String> {
    if let Some((_, real)) = mastodon::MISNAMED.iter().find(|(wrong, _)| *wrong == name) {
        return Some(if real.is_empty() {
            "Mastodon does not read this variable and has no setting for it".to_string()
        } else {
            format!("Mastodon does not read this variable; the variable it reads is {real}")
        });
    }
    let upper = name.to_ascii_uppercase();
    if upper != name && mastodon::variable(&upper).is_some() {
        return Some(format!("Mastodon reads {upper}; names are case-sensitive, so this variable has no effect"));
    }
    name.starts_with("OIDC_").then(|| "Mastodon does not read this variable".to_string())
}

/// Lists problems that stop Mastodon from loading a file at all.
fn file_problems(env: &EnvSet) -> Vec<String> {
    let mut problems = Vec::new();
    for file in &env.files {
        let path = file.source.path.display();
        if let Some((span, message)) = &file.format_error {
            let (line, _) = file.source.line_col(span.start);
            problems.push(format!("{path}:{line}: Ruby dotenv raises Dotenv::FormatError ({message}), so Mastodon fails to boot"));
        }
        if file.invalid_utf8 {
            problems.push(format!("{path}: the file is not valid UTF-8, so Ruby raises while loading it and Mastodon fails to boot"));
        }
    }
    problems
}

fn shown_value(setting: &Setting) -> String {
    if let Some(length) = setting.masked {
        return format!("<hidden, {length} characters>");
    }
    match &setting.value {
        Some(value) if value.is_empty() => "\"\"".into(),
        Some(value) if value.chars().any(char::is_control) => format!("\"{}\"", value.escape_debug()),
        Some(value) => value.clone(),
        None => "-".into(),
    }
}

/// Renders the settings as aligned lines, with notes indented below each.
pub fn render_human(env: &EnvSet, settings: &[Setting]) -> String {
    let files: Vec<String> = env.files.iter().map(|file| file.source.path.display().to_string()).collect();
    let mut out = format!("Effective settings from {}, as Mastodon 4.3 to 4.5 read them\n", files.join(", "));
    for problem in file_problems(env) {
        out.push_str(&format!("error: {problem}\n"));
    }
    out.push('\n');

    let name_width = settings.iter().map(|setting| setting.name.chars().count()).max().unwrap_or(0);
    let values: Vec<String> = settings.iter().map(shown_value).collect();
    let value_width = values.iter().map(|value| value.chars().count()).max().unwrap_or(0).min(40);
    for (setting, value) in settings.iter().zip(&values) {
        out.push_str(&format!("{:name_width$}  {:value_width$}  {}\n", setting.name, value, setting.source.describe()));
        let indent = " ".repeat(name_width + 2);
        if let Some(parsed) = &setting.parsed {
            let raw_matches = matches!(parsed, Json::Bool(on) if setting.value.as_deref() == Some(if *on { "true" } else { "false" }));
            if !raw_matches {
                let parsed_text = match parsed {
                    Json::String(text) => text.clone(),
                    other => other.to_string(),
                };
                out.push_str(&format!("{indent}= {parsed_text}\n"));
            }
        }
        for note in &setting.notes {
            out.push_str(&format!("{indent}note: {note}\n"));
        }
        for shadowed in &setting.shadowed {
            out.push_str(&format!("{indent}also set at {}, which Mastodon does not use\n", shadowed.describe()));
        }
    }
    if settings.iter().any(|setting| setting.masked.is_some()) {
        out.push_str("\nSecret values are hidden; --show-secrets prints them.\n");
    }
    out
}

/// Renders the settings as one JSON object; `values` maps each name to
/// `{value, source}` plus `parsed`, `masked`, `notes` and `shadowed` where they apply.
pub fn render_json(env: &EnvSet, settings: &[Setting]) -> String {
    let mut values = Map::new();
    for setting in settings {
        let mut object = Map::new();
        object.insert("value".into(), setting.value.clone().map_or(Json::Null, Json::String));
        object.insert("source".into(), setting.source.to_json());
        if let Some(length) = setting.masked {
            object.insert("masked".into(), json!(true));
            object.insert("length".into(), json!(length));
        }
        if let Some(parsed) = &setting.parsed {
            object.insert("parsed".into(), parsed.clone());
        }
        if !setting.notes.is_empty() {
            object.insert("notes".into(), json!(setting.notes));
        }
        if !setting.shadowed.is_empty() {
            object.insert("shadowed".into(), Json::Array(setting.shadowed.iter().map(Source::to_json).collect()));
        }
        values.insert(setting.name.clone(), Json::Object(object));
    }
    let document = json!({
        "files": env.files.iter().map(|file| file.source.path.display().to_string()).collect::<Vec<_>>(),
        "problems": file_problems(env),
        "values": values,
    });
    serde_json::to_string_pretty(&document).expect("a JSON value always serializes") + "\n"
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::envfile::SourceFile;

    fn settings_of(text: &str, process: &[(&str, &str)], all: bool) -> Vec<Setting> {
        let process: HashMap<String, String> = process.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect();
        let env = EnvSet::from_sources(vec![SourceFile::new(".env.production", text.as_bytes())], process);
        collect(&env, all, false)
    }

    fn find<'a>(settings: &'a [Setting], name: &str) -> &'a Setting {
        settings.iter().find(|setting| setting.name == name).unwrap_or_else(|| panic!("{name} is listed"))
    }

    #[test]
    fn flag_with_capital_true_reads_false_with_note() {
        let settings = settings_of("OIDC_USE_PKCE=True\n", &[], false);
        let pkce = find(&settings, "OIDC_USE_PKCE");
        assert_eq!(pkce.value.as_deref(), Some("True"));
        assert_eq!(pkce.parsed, Some(Json::Bool(false)));
        assert!(pkce.notes[0].contains("`True` reads as false"), "{:?}", pkce.notes);
        assert_eq!(pkce.source, Source::File { path: ".env.production".into(), line: 1 });
    }

    #[test]
    fn unset_default_on_flag_is_true_from_default() {
        let settings = settings_of("OIDC_ENABLED=true\n", &[], false);
        let nonce = find(&settings, "OIDC_SEND_NONCE");
        assert_eq!(nonce.value.as_deref(), Some("true"));
        assert_eq!(nonce.source, Source::Default);
        assert_eq!(nonce.parsed, Some(Json::Bool(true)));
    }

    #[test]
    fn scope_is_split_without_trimming() {
        let settings = settings_of("OIDC_SCOPE=openid, profile\n", &[], false);
        let scope = find(&settings, "OIDC_SCOPE");
        assert_eq!(scope.parsed, Some(json!(["openid", " profile"])));
        assert!(scope.notes[0].contains("`openid profile`"), "{:?}", scope.notes);
    }

    #[test]
    fn client_auth_standard_name_means_post_body() {
        let settings = settings_of("OIDC_CLIENT_AUTH_METHOD=client_secret_basic\n", &[], false);
        let method = find(&settings, "OIDC_CLIENT_AUTH_METHOD");
        assert_eq!(method.parsed, Some(json!("client_secret_post")));
        assert!(method.notes[0].contains("does not know `client_secret_basic`"), "{:?}", method.notes);
        let unset = settings_of("", &[], false);
        assert_eq!(find(&unset, "OIDC_CLIENT_AUTH_METHOD").parsed, Some(json!("client_secret_basic")));
    }

    #[test]
    fn secret_is_masked_with_length() {
        let settings = settings_of("OIDC_CLIENT_SECRET=abcdefgh\n", &[], false);
        let secret = find(&settings, "OIDC_CLIENT_SECRET");
        assert_eq!(secret.value, None);
        assert_eq!(secret.masked, Some(8));
    }

    #[test]
    fn process_environment_wins_and_file_is_shadowed() {
        let settings = settings_of("OIDC_ISSUER=https://file.example/\n", &[("OIDC_ISSUER", "https://process.example/")], false);
        let issuer = find(&settings, "OIDC_ISSUER");
        assert_eq!(issuer.value.as_deref(), Some("https://process.example/"));
        assert_eq!(issuer.source, Source::Process);
        assert_eq!(issuer.shadowed, vec![Source::File { path: ".env.production".into(), line: 1 }]);
    }

    #[test]
    fn duplicate_key_shows_earlier_assignment_as_shadowed() {
        let settings = settings_of("OIDC_UID_FIELD=sub\nOIDC_UID_FIELD=preferred_username\n", &[], false);
        let uid = find(&settings, "OIDC_UID_FIELD");
        assert_eq!(uid.value.as_deref(), Some("preferred_username"));
        assert_eq!(uid.source, Source::File { path: ".env.production".into(), line: 2 });
        assert_eq!(uid.shadowed, vec![Source::File { path: ".env.production".into(), line: 1 }]);
    }

    #[test]
    fn token_endpoint_is_not_masked() {
        let settings = settings_of("OIDC_TOKEN_ENDPOINT=https://idp.example/token\nDB_PASS=hunter22\n", &[], true);
        assert_eq!(find(&settings, "OIDC_TOKEN_ENDPOINT").value.as_deref(), Some("https://idp.example/token"));
        assert_eq!(find(&settings, "DB_PASS").masked, Some(8));
    }

    #[test]
    fn web_domain_defaults_to_local_domain() {
        let settings = settings_of("LOCAL_DOMAIN=mastodon.example\n", &[], false);
        assert_eq!(find(&settings, "WEB_DOMAIN").value.as_deref(), Some("mastodon.example"));
    }

    #[test]
    fn other_variables_only_with_all() {
        let text = "REDIS_HOST=redis\nOIDC_PKCE=true\n";
        let default = settings_of(text, &[], false);
        assert!(!default.iter().any(|setting| setting.name == "REDIS_HOST"));
        assert!(find(&default, "OIDC_PKCE").notes[0].contains("OIDC_USE_PKCE"));
        let all = settings_of(text, &[], true);
        assert_eq!(find(&all, "REDIS_HOST").value.as_deref(), Some("redis"));
    }

    #[test]
    fn discovery_overrides_endpoint_note() {
        let settings = settings_of("OIDC_DISCOVERY=true\nOIDC_TOKEN_ENDPOINT=https://idp.example/token\n", &[], false);
        assert!(find(&settings, "OIDC_TOKEN_ENDPOINT").notes[0].contains("OIDC_DISCOVERY=true replaces it"));
    }
}
