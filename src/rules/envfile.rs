//! Rules about the env files themselves: what Ruby dotenv 3.1.4 does to them.

use crate::envfile::{Entry, Quote};
use crate::finding::{Label, Severity};
use crate::mastodon;

use super::{Context, Input, Rule, Sink};

/// Variables whose damage breaks the login outright.
const CRITICAL: [&str; 4] = ["OIDC_CLIENT_SECRET", "OIDC_ISSUER", "OIDC_REDIRECT_URI", "OIDC_CLIENT_ID"];

fn is_secret(entry: &Entry) -> bool {
    mastodon::is_secret_name(&entry.key) || mastodon::is_secret_value(&entry.value)
}

/// Severity for a damaged value: error for the login's essential variables.
fn damage_severity(key: &str, default: Severity) -> Severity {
    if CRITICAL.contains(&key) {
        Severity::Error
    } else {
        default
    }
}

/// Iterates over every entry of every file, with its file index.
fn entries<'a>(context: &Context<'a>) -> impl Iterator<Item = (usize, &'a Entry)> + 'a {
    context
        .env
        .files
        .iter()
        .enumerate()
        .flat_map(|(index, file)| file.entries.iter().map(move |entry| (index, entry)))
}

/// Shows a value in a message, or a placeholder for a secret.
fn shown(entry: &Entry, value: &str) -> String {
    if is_secret(entry) {
        format!("<{} characters, hidden>", value.chars().count())
    } else {
        format!("`{value}`")
    }
}

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: "value-truncated-by-hash",
        severity: Severity::Warning,
        summary: "An unquoted value contains `#`, and Mastodon drops everything from it",
        explanation: "Ruby dotenv 3.1.4, which Mastodon uses to load .env.production, ends an unquoted value at the \
first `#`, whether or not a space precedes it. `OIDC_CLIENT_SECRET=abc#def` gives Mastodon `abc`, and \
`OIDC_REDIRECT_URI=https://host/cb#x` gives `https://host/cb`. The finding shows what Mastodon reads. \
It is an error for OIDC_CLIENT_SECRET, OIDC_CLIENT_ID, OIDC_ISSUER and OIDC_REDIRECT_URI, where the cut \
value makes every login fail, and a warning elsewhere.\n\nFix: quote the value. Single quotes keep it \
literally: KEY='abc#def'.",
        needs: &[Input::Env],
        check: check_truncated_by_hash,
    },
    Rule {
        id: "value-expanded",
        severity: Severity::Warning,
        summary: "A `$NAME` in an unquoted or double-quoted value is replaced by another variable",
        explanation: "Ruby dotenv substitutes `$NAME` and `${NAME}` in unquoted and double-quoted values. An \
undefined name becomes an empty string, so a secret such as `abc$def` reaches Mastodon as `abc`. \
`${NAME:-default}` is not supported: it gives the value of NAME followed by `:-default}`. The finding \
shows the value Mastodon reads. A reference to a defined variable in a non-secret value is reported as \
info; an undefined name or a secret value is a warning, and an error for OIDC_CLIENT_SECRET, \
OIDC_CLIENT_ID, OIDC_ISSUER and OIDC_REDIRECT_URI.\n\nFix: if the `$` is part of the value, use single \
quotes (KEY='abc$def') or escape it as `\\$` inside double quotes.",
        needs: &[Input::Env],
        check: check_expanded,
    },
    Rule {
        id: "command-substitution",
        severity: Severity::Error,
        summary: "A value contains `$(command)`, which Mastodon runs as a shell command at boot",
        explanation: "Ruby dotenv 3.1.4 runs `$(...)` in unquoted and double-quoted values through the shell \
while Mastodon boots, and uses the command's output as the value. This tool never runs the command, so \
it cannot know the value Mastodon gets. A secret that happens to contain `$(` is mangled the same way.\n\n\
Fix: if the text is part of the value, use single quotes. If the command is intended, move it into the \
service manager (systemd ExecStartPre, an EnvironmentFile) so the value is visible and reviewable.",
        needs: &[Input::Env],
        check: check_command_substitution,
    },
    Rule {
        id: "duplicate-key",
        severity: Severity::Warning,
        summary: "A key is assigned twice in one file, and the last assignment wins",
        explanation: "Within one file Ruby dotenv keeps the last assignment of a key, so an earlier line that \
looks active is ignored. Rust's dotenvy keeps the first one, which is one reason tools disagree about \
the same file.\n\nFix: delete the assignment you do not want.",
        needs: &[Input::Env],
        check: check_duplicate_key,
    },
    Rule {
        id: "shadowed-value",
        severity: Severity::Info,
        summary: "A key is defined in several env files or in the process environment",
        explanation: "Mastodon's dotenv Railtie loads .env.production.local, .env.local, .env.production and \
.env, in that order, and never overwrites a value already set: the process environment wins over every \
file, and the first file that defines a key wins over the later ones. The finding names the assignment \
Mastodon uses.\n\nFix: keep one definition per key, or make sure the winning one is the intended one.",
        needs: &[Input::Env],
        check: check_shadowed,
    },
    Rule {
        id: "unread-env-files",
        severity: Severity::Warning,
        summary: "Mastodon also loads env files next to the checked file, which this run did not read",
        explanation: "Mastodon's dotenv Railtie loads .env.production.local, .env.local, .env.production and \
.env from its directory, and the first file that defines a key wins. When a single file was checked and \
.env.production.local or .env.local exists beside it, values there override the checked file, so the \
run may judge values Mastodon never uses (a warning). A `.env` beside it only fills keys the others leave \
unset (info).\n\nFix: check the Mastodon directory instead of one file: mastodon-oidc-check check DIR.",
        needs: &[Input::Env],
        check: check_unread_env_files,
    },
    Rule {
        id: "docker-compose-env-file",
        severity: Severity::Info,
        summary: "Docker Compose passes the env file to the containers, with its own parser",
        explanation: "Mastodon's docker-compose.yml hands .env.production to the web, streaming and sidekiq \
containers with `env_file:`. Docker Compose then parses the file itself and sets the values as process \
environment variables, which beat anything Ruby dotenv reads. Compose's grammar differs from Ruby \
dotenv's in quoting, `#` and `$` handling, so a value this tool reads as Mastodon's Ruby dotenv does can \
reach the container differently.\n\nFix: keep values plain (no `#`, `$`, quotes or spaces), or compare with \
`docker compose config`, which prints the values Compose passes on.",
        needs: &[Input::Env],
        check: check_docker_compose,
    },
    Rule {
        id: "dotenvy-divergence",
        severity: Severity::Info,
        summary: "The Rust crate dotenvy reads some keys of this file differently from Mastodon",
        explanation: "Rust tools commonly read env files with the dotenvy crate (0.15), which disagrees with \
Ruby dotenv 3.1.4 on many constructs: `#` without a space before it, `KEY: value`, unquoted spaces, \
duplicate keys (dotenvy keeps the first), `$VAR_NAME`, unclosed quotes, stray text after quotes, and lone \
CR line endings. This tool reads the file as Mastodon does; the finding warns that another Rust-based \
tool or script reading the same file would see other values for the keys named. Values that refer to \
other variables are left out, because dotenvy also looks into this tool's own environment.\n\nFix: \
nothing is wrong for Mastodon; write the named values in the plainest form (KEY=value, single quotes \
around anything unusual) if other tools read the file too.",
        needs: &[Input::Env],
        check: check_dotenvy_divergence,
    },
    Rule {
        id: "skipped-line",
        severity: Severity::Warning,
        summary: "A line is not an assignment Ruby dotenv understands, and Mastodon silently ignores it",
        explanation: "Lines that match no `KEY=value` form are dropped without an error: a key with a hyphen \
(`MY-KEY=1`), a key without `=`, `=value`, or prose. Whatever the line meant to set stays unset.\n\n\
Fix: write it as KEY=value with a key of letters, digits, `_` and `.`, or turn it into a comment with `#`.",
        needs: &[Input::Env],
        check: check_skipped_line,
    },
    Rule {
        id: "key-case-mismatch",
        severity: Severity::Warning,
        summary: "A key differs from a Mastodon variable only in letter case",
        explanation: "Environment variable names are case-sensitive: `oidc_enabled=true` does not set \
OIDC_ENABLED, and Mastodon reads the upper-case name only.\n\nFix: write the name in upper case.",
        needs: &[Input::Env],
        check: check_key_case,
    },
    Rule {
        id: "unclosed-quote",
        severity: Severity::Warning,
        summary: "A quoted value is not closed, or text follows the closing quote",
        explanation: "Ruby dotenv removes quotes only when they open and close the whole value. `KEY=\"abc` \
gives the value `\"abc` with the quote character, and `KEY=\"a\"b` gives `\"a\"b`. A quoted value can span \
lines, so an unclosed quote may also swallow the following lines when a later line has a matching \
quote.\n\nFix: close the quote, and put nothing but a comment after it.",
        needs: &[Input::Env],
        check: check_unclosed_quote,
    },
    Rule {
        id: "literal-backslash-n",
        severity: Severity::Info,
        summary: "A double-quoted value contains `\\n`, which dotenv 3 keeps as a backslash and `n`",
        explanation: "Since dotenv 3.0 a `\\n` inside double quotes is no longer turned into a line break \
unless DOTENV_LINEBREAK_MODE=legacy is set. Mastodon 4.3 and later use dotenv 3.1, so the value contains \
a backslash followed by `n`.\n\nFix: write a real line break inside the quotes if one is meant.",
        needs: &[Input::Env],
        check: check_literal_backslash_n,
    },
    Rule {
        id: "byte-order-mark",
        severity: Severity::Info,
        summary: "The file starts with a UTF-8 byte order mark",
        explanation: "Ruby reads env files with `bom|utf-8`, so Mastodon strips the mark, but other readers of \
the same file (Docker Compose's env_file, shell scripts that source it) may make it part of the first \
key.\n\nFix: save the file as UTF-8 without a byte order mark.",
        needs: &[Input::Env],
        check: check_bom,
    },
    Rule {
        id: "line-endings",
        severity: Severity::Info,
        summary: "The file uses Windows (CRLF) or old Mac (CR) line endings",
        explanation: "Ruby dotenv turns CRLF and lone CR into LF before parsing, so Mastodon reads the file \
correctly, but shells that source the file keep the CR in every value. A lone CR is a warning: most \
other tools read the whole file as one line.\n\nFix: convert the file to LF line endings (dos2unix).",
        needs: &[Input::Env],
        check: check_line_endings,
    },
    Rule {
        id: "export-unset-variable",
        severity: Severity::Error,
        summary: "An `export KEY` line names a key the file does not define, and Mastodon fails to boot",
        explanation: "Ruby dotenv raises Dotenv::FormatError (\"Line ... has an unset variable\") for a bare \
`export KEY` line whose KEY is not assigned in the same file. The error stops the whole load, so \
Mastodon does not start.\n\nFix: assign the key (`export KEY=value`) or delete the line.",
        needs: &[Input::Env],
        check: check_export_unset,
    },
    Rule {
        id: "invalid-utf8",
        severity: Severity::Error,
        summary: "The file is not valid UTF-8",
        explanation: "Mastodon reads env files as UTF-8; Ruby's regular expressions raise on an invalid byte \
sequence, so Mastodon fails to boot. This tool replaced the invalid bytes to go on checking.\n\nFix: save \
the file as UTF-8.",
        needs: &[Input::Env],
        check: check_invalid_utf8,
    },
];

fn check_truncated_by_hash(context: &Context, sink: &mut Sink) {
    for (file, entry) in entries(context) {
        let Some(comment) = entry.attached_comment else { continue };
        let source = &context.env.files[file].source;
        let dropped = source.slice(comment);
        let intended = format!("{}{}", entry.written, dropped);
        let message = format!(
            "{} is cut at `#`: Mastodon reads {} instead of {}",
            entry.key,
            shown(entry, &entry.value),
            shown(entry, &intended)
        );
        let help = if is_secret(entry) {
            format!("quote the value: {}='…' (single quotes keep `#` and `$` literally)", entry.key)
        } else {
            format!("quote the value: {}", single_quoted(&entry.key, &intended))
        };
        sink.emit(message)
            .severity(damage_severity(&entry.key, Severity::Warning))
            .at(Some(Label::new(file, comment).with_message("Ruby dotenv treats this as a comment")))
            .related(Some(Label::new(file, entry.value_span).with_message("the value Mastodon reads")))
            .help(help);
    }
}

/// Writes `KEY='value'`, or a double-quoted form when the value contains `'`.
fn single_quoted(key: &str, value: &str) -> String {
    if value.contains('\'') {
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"").replace('$', "\\$");
        format!("{key}=\"{escaped}\"")
    } else {
        format!("{key}='{value}'")
    }
}

fn check_expanded(context: &Context, sink: &mut Sink) {
    for (file, entry) in entries(context) {
        if entry.references.is_empty() || entry.quote == Quote::Single {
            continue;
        }
        let undefined: Vec<&str> = entry
            .references
            .iter()
            .filter(|reference| reference.resolved.is_none())
            .map(|reference| reference.name.as_str())
            .collect();
        let severity = if is_secret(entry) || !undefined.is_empty() {
            damage_severity(&entry.key, Severity::Warning)
        } else {
            Severity::Info
        };
        // In a secret, the text after `$` is part of the secret, so the
        // names are not shown.
        let message = if is_secret(entry) {
            format!(
                "{} contains `$` followed by letters, which Ruby dotenv replaces with another variable's value; Mastodon reads {}",
                entry.key,
                shown(entry, &entry.value)
            )
        } else {
            let names: Vec<String> = entry.references.iter().map(|reference| format!("${}", reference.name)).collect();
            let mut message = format!("{} refers to {}; Mastodon reads {}", entry.key, names.join(", "), shown(entry, &entry.value));
            if !undefined.is_empty() {
                message.push_str(&format!(" because {} is not defined before it and becomes an empty string", undefined.join(", ")));
            }
            message
        };
        let literal = inner_written(entry);
        // Double quotes still substitute, so the fix is single quotes either way.
        let quoting = if entry.quote == Quote::Double { "double quotes still substitute `$NAME`; use single quotes" } else { "quote it with single quotes" };
        let help = if is_secret(entry) {
            format!("if `$` is part of the value, {quoting}: {}='…'", entry.key)
        } else {
            format!("if `$` is part of the value, {quoting}: {}", single_quoted(&entry.key, &literal))
        };
        sink.emit(message)
            .severity(severity)
            .at(Some(Label::new(file, entry.value_span).with_message("substituted by Ruby dotenv")))
            .help(help);
    }
}

/// Returns the written value without its surrounding quotes.
fn inner_written(entry: &Entry) -> String {
    match entry.quote {
        Quote::None => entry.written.clone(),
        _ => entry.written[1..entry.written.len() - 1].to_string(),
    }
}

fn check_command_substitution(context: &Context, sink: &mut Sink) {
    for (file, entry) in entries(context) {
        if entry.commands.is_empty() {
            continue;
        }
        let message = if is_secret(entry) {
            format!("{} contains `$(...)`; Mastodon runs it as a shell command at boot and uses its output", entry.key)
        } else {
            let commands: Vec<String> = entry.commands.iter().map(|command| format!("`{command}`")).collect();
            format!(
                "{} runs {} as a shell command when Mastodon boots; this tool does not run it, so the value Mastodon gets is unknown",
                entry.key,
                commands.join(", ")
            )
        };
        sink.emit(message)
            .at(Some(Label::new(file, entry.value_span).with_message("run by the shell at boot")))
            .help(format!("if `$(` is part of the value, quote it: {}='…'", entry.key));
    }
}

fn check_duplicate_key(context: &Context, sink: &mut Sink) {
    for (index, file) in context.env.files.iter().enumerate() {
        let mut reported = std::collections::HashSet::new();
        for entry in &file.entries {
            if !reported.insert(entry.key.as_str()) {
                continue;
            }
            let assignments: Vec<&Entry> = file.assignments(&entry.key).collect();
            let [earlier @ .., last] = assignments.as_slice() else { continue };
            if earlier.is_empty() {
                continue;
            }
            let lines: Vec<String> = assignments.iter().map(|assignment| assignment.line.to_string()).collect();
            let mut finding = sink
                .emit(format!("{} is assigned on lines {}; Mastodon uses line {}", entry.key, lines.join(", "), last.line))
                .help(format!("delete the {} lines you do not want", entry.key));
            for ignored in earlier {
                finding = finding.at(Some(Label::new(index, ignored.key_span).with_message("ignored")));
            }
            finding.related(Some(Label::new(index, last.key_span).with_message("this assignment wins")));
        }
    }
}

fn check_shadowed(context: &Context, sink: &mut Sink) {
    for key in context.env.keys() {
        let files: std::collections::BTreeSet<usize> = context.env.all_assignments(key).map(|(file, _)| file).collect();
        let in_process = context.env.process.contains_key(key);
        let places = files.len() + usize::from(in_process);
        if places < 2 {
            continue;
        }

        // The process environment beats every file; among files the first wins.
        let winner_file = if in_process { None } else { files.iter().next().copied() };
        let winner = match winner_file {
            Some(file) => context.env.files[file].source.path.display().to_string(),
            None => "the process environment (--env)".to_string(),
        };
        let mut finding = sink
            .emit(format!("{key} is defined in {places} places; Mastodon uses the value from {winner}"))
            .help("keep one definition, in the file that should win");
        for file in files {
            let entry = context.env.files[file].get(key).expect("the file defines the key");
            let note = if Some(file) == winner_file { "used" } else { "ignored" };
            finding = finding.at(Some(Label::new(file, entry.key_span).with_message(note)));
        }
    }
}

fn check_docker_compose(context: &Context, sink: &mut Sink) {
    for compose in &context.env.compose_files {
        sink.emit(format!(
            "{} uses env_file: Docker Compose parses the env file itself and sets process environment variables, which beat Ruby dotenv",
            compose.display()
        ))
        .help("keep values plain (no `#`, `$`, quotes or spaces), and compare with `docker compose config`");
    }
}

/// Returns the value dotenvy 0.15 gives each key of a file, the first one
/// winning as with `dotenvy::from_path`. A key on a line dotenvy rejects is
/// missing from the map.
fn dotenvy_values(text: &str) -> std::collections::HashMap<String, String> {
    let mut values = std::collections::HashMap::new();
    for (key, value) in dotenvy::from_read_iter(text.as_bytes()).flatten() {
        values.entry(key).or_insert(value);
    }
    values
}

fn check_dotenvy_divergence(context: &Context, sink: &mut Sink) {
    for file in &context.env.files {
        let text = file.source.text.strip_prefix('\u{FEFF}').unwrap_or(&file.source.text);
        let theirs = dotenvy_values(text);
        let mut differing: Vec<&str> = Vec::new();
        for entry in &file.entries {
            let ours = file.get(&entry.key).expect("the key was parsed");
            if !std::ptr::eq(ours, entry) || !ours.references.is_empty() || !ours.commands.is_empty() {
                continue;
            }
            if theirs.get(&entry.key) != Some(&ours.value) {
                differing.push(&entry.key);
            }
        }
        if differing.is_empty() {
            continue;
        }
        let shown: Vec<&str> = differing.iter().take(8).copied().collect();
        let more = differing.len().saturating_sub(shown.len());
        let extra = if more > 0 { format!(" and {more} more") } else { String::new() };
        sink.emit(format!(
            "a Rust tool reading {} with dotenvy would see other values than Mastodon for {}{extra}",
            file.source.path.display(),
            shown.join(", ")
        ))
        .help("nothing is wrong for Mastodon; if other tools read this file, write these values plainly or in single quotes");
    }
}

fn check_unread_env_files(context: &Context, sink: &mut Sink) {
    let Some(checked) = context.env.files.first() else { return };
    let checked_name = checked.source.path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
    let checked_rank = crate::envfile::RAILS_PRODUCTION_FILES.iter().position(|name| *name == checked_name);
    for sibling in &context.env.unread_siblings {
        let name = sibling.file_name().and_then(|name| name.to_str()).unwrap_or_default();
        let rank = crate::envfile::RAILS_PRODUCTION_FILES.iter().position(|candidate| *candidate == name);
        let overrides = matches!((rank, checked_rank), (Some(rank), Some(checked)) if rank < checked);
        let (severity, effect) = if overrides {
            (Severity::Warning, "its values override the checked file")
        } else {
            (Severity::Info, "it fills keys the checked file leaves unset")
        };
        let dir = sibling.parent().map(|dir| dir.display().to_string()).unwrap_or_else(|| ".".into());
        let dir = if dir.is_empty() { ".".to_string() } else { dir };
        sink.emit(format!("Mastodon also loads {}, which this run did not read: {effect}", sibling.display()))
            .severity(severity)
            .help(format!("check the whole directory: mastodon-oidc-check check {dir}"));
    }
}

fn check_skipped_line(context: &Context, sink: &mut Sink) {
    for (index, file) in context.env.files.iter().enumerate() {
        for span in &file.skipped {
            let text = file.source.slice(*span).trim();
            // `export KEY ...` without `=` is either a valid no-op or the
            // FormatError that export-unset-variable reports.
            if text.split_whitespace().next() == Some("export") {
                continue;
            }
            // A skipped line may carry a secret after its key, so only the
            // first word is ever shown; snippets mask the rest too.
            let key = crate::redact::skipped_line_key(text);
            let shown_key: String = key.chars().take(60).collect();
            let mut help = "write it as KEY=value (letters, digits, `_` and `.` in the key) or comment it out with `#`".to_string();
            if key.contains('-') && text[key.len()..].trim_start().starts_with('=') {
                help = format!("`{key}` contains `-`, which keys cannot contain; use `{}`", key.replace('-', "_"));
            } else if !text.contains('=') {
                help = format!("put `=` between `{shown_key}` and its value, with no space before it: KEY=value");
            }
            let message = format!("the line starting with `{shown_key}` is not a KEY=value assignment; Mastodon ignores it");
            sink.emit(message).at(Some(Label::new(index, *span).with_message("ignored by Ruby dotenv"))).help(help);
        }
    }
}

fn check_key_case(context: &Context, sink: &mut Sink) {
    for (file, entry) in entries(context) {
        let upper = entry.key.to_ascii_uppercase();
        if upper == entry.key || mastodon::variable(&upper).is_none() {
            continue;
        }
        sink.emit(format!("`{}` is not `{upper}`: variable names are case-sensitive, and Mastodon reads only `{upper}`", entry.key))
            .at(Some(Label::new(file, entry.key_span).with_message("wrong letter case")))
            .help(format!("rename the key to {upper}"));
    }
}

fn check_unclosed_quote(context: &Context, sink: &mut Sink) {
    for (file, entry) in entries(context) {
        let first = entry.written.chars().next();
        let Some(quote @ ('"' | '\'')) = first else { continue };
        if entry.quote != Quote::None {
            // `KEY="a" "b"` is quoted as a whole: Ruby strips only the outer
            // pair and keeps the inner quotes.
            let inner = &entry.written[1..entry.written.len() - 1];
            let escaped = format!("\\{quote}");
            if inner.replace(&escaped, "").contains(quote) {
                sink.emit(format!("{} holds two quoted parts; Ruby dotenv strips only the outer quotes, so Mastodon reads {}", entry.key, shown(entry, &entry.value)))
                    .at(Some(Label::new(file, entry.value_span).with_message("quote characters stay in the value")))
                    .help("write the value as one quoted string");
            }
            continue;
        }
        let closed_early = entry.written[1..].contains(quote);
        let message = if closed_early {
            format!("{} has text after its closing quote, so Mastodon keeps the quote characters in the value", entry.key)
        } else {
            format!("{} opens a {quote} quote that is never closed, so Mastodon keeps the quote character in the value", entry.key)
        };
        sink.emit(message)
            .at(Some(Label::new(file, entry.value_span).with_message(format!("Mastodon reads {}", shown(entry, &entry.value)))))
            .help("close the quote and put nothing but a comment after it");
    }
}

fn check_literal_backslash_n(context: &Context, sink: &mut Sink) {
    for (file, entry) in entries(context) {
        if entry.quote != Quote::Double || !entry.value.contains("\\n") {
            continue;
        }
        let legacy_later = context.env.files[file].entries.iter().any(|other| other.key == "DOTENV_LINEBREAK_MODE" && other.value == "legacy" && other.line > entry.line);
        let help = if legacy_later {
            "DOTENV_LINEBREAK_MODE=legacy is set below this line, where it has no effect on it: move it above"
        } else {
            "write a real line break inside the quotes, or set DOTENV_LINEBREAK_MODE=legacy above this line"
        };
        sink.emit(format!("{} contains `\\n`, which dotenv 3 keeps as a backslash followed by `n`", entry.key))
            .at(Some(Label::new(file, entry.value_span)))
            .help(help);
    }
}

fn check_bom(context: &Context, sink: &mut Sink) {
    for (index, file) in context.env.files.iter().enumerate() {
        if let Some(span) = file.bom {
            sink.emit(format!("{} starts with a UTF-8 byte order mark", file.source.path.display()))
                .at(Some(Label::new(index, span)))
                .help("save the file as UTF-8 without a byte order mark");
        }
    }
}

fn check_line_endings(context: &Context, sink: &mut Sink) {
    for (index, file) in context.env.files.iter().enumerate() {
        let path = file.source.path.display();
        if file.cr_only_lines > 0 {
            sink.emit(format!("{path} uses lone CR line endings on {} lines; Mastodon reads them, most other tools do not", file.cr_only_lines))
                .severity(Severity::Warning)
                .at(Some(Label::new(index, crate::envfile::Span::new(0, 0))))
                .help("convert the file to LF line endings");
        } else if file.crlf_lines > 0 {
            sink.emit(format!("{path} uses CRLF line endings on {} lines; Mastodon reads them, shells keep the CR in values", file.crlf_lines))
                .at(Some(Label::new(index, crate::envfile::Span::new(0, 0))))
                .help("convert the file to LF line endings (dos2unix)");
        }
    }
}

fn check_export_unset(context: &Context, sink: &mut Sink) {
    for (index, file) in context.env.files.iter().enumerate() {
        if let Some((span, message)) = &file.format_error {
            // Every word after `export` counts as a name, a trailing comment included.
            let line = file.source.slice(*span);
            let help = if line.contains('#') {
                "Ruby dotenv reads every word after `export` as a key, a trailing comment included: move the comment to its own line, or assign the keys"
            } else {
                "assign the key on this line (export KEY=value) or delete the line"
            };
            sink.emit(format!("Ruby dotenv raises FormatError ({message}); Mastodon does not boot"))
                .at(Some(Label::new(index, *span).with_message("a word here is not a key assigned in this file")))
                .help(help);
        }
    }
}

fn check_invalid_utf8(context: &Context, sink: &mut Sink) {
    for (index, file) in context.env.files.iter().enumerate() {
        if file.invalid_utf8 {
            let offset = file.source.text.find('\u{FFFD}').unwrap_or(0);
            sink.emit(format!("{} contains bytes that are not valid UTF-8; Mastodon fails to boot", file.source.path.display()))
                .at(Some(Label::new(index, crate::envfile::Span::new(offset, offset + '\u{FFFD}'.len_utf8()))))
                .help("save the file as UTF-8");
        }
    }
}
