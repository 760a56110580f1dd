//! The rule about inline ignore comments in the env files. The comments are
//! parsed in `crate::suppress`; `crate::report::policy` applies the valid ones.

use crate::finding::{Label, Severity};
use crate::suppress::{self, Directive, Problem};

use super::{Context, Input, Rule, Sink};

pub(super) const RULES: &[Rule] = &[Rule {
    id: "invalid-ignore-comment",
    severity: Severity::Warning,
    summary: "A `# mastodon-oidc-check: ignore` comment is malformed, names an unknown rule, or has no reason",
    explanation: "A comment line `# mastodon-oidc-check: ignore RULE[,RULE] -- reason` in an env file ignores \
the named rules' findings on the next line with content, normally the next KEY=value assignment. Ruby \
dotenv skips comment lines, so such a comment never changes what Mastodon reads. This tool applies only \
what it can read in full: an unknown rule id is dropped, and a comment without a reason after ` -- ` \
ignores nothing, because every ignore must say why. A directive at the end of a `KEY=value` line, or one \
with no line after it, applies to nothing. The check reports these mistakes as findings instead of \
stopping, because the env file is the production file and the check should still run.\n\nFix: write the \
comment on its own line right above the assignment, with known rule ids (`mastodon-oidc-check rules` \
lists them) and a reason, for example `# mastodon-oidc-check: ignore pkce-recommended -- Mastodon 4.2 \
cannot send PKCE`.",
    needs: &[Input::Env],
    check: check_ignore_comments,
}];

const EXAMPLE: &str = "# mastodon-oidc-check: ignore pkce-recommended -- our provider does not offer PKCE";

fn check_ignore_comments(context: &Context, sink: &mut Sink) {
    for directive in suppress::directives(context.env) {
        for problem in &directive.problems {
            report(sink, &directive, problem);
        }
    }
}

fn report(sink: &mut Sink, directive: &Directive, problem: &Problem) {
    let label = Some(Label::new(directive.file, directive.span));
    let named = directive.rules.iter().map(|rule| format!("`{rule}`")).collect::<Vec<_>>().join(", ");
    match problem {
        Problem::UnknownCommand(command) => {
            sink.emit(format!("the comment starts with `mastodon-oidc-check:` but `{command}` is not a known directive, so it ignores nothing"))
                .at(label.map(|label| label.with_message("not a directive")))
                .help(format!("the only directive is `ignore`: {EXAMPLE}"));
        }
        Problem::NoRules => {
            sink.emit("the ignore comment names no rule, so it ignores nothing")
                .at(label.map(|label| label.with_message("no rule id")))
                .help(format!("name the rule ids printed in brackets after each finding: {EXAMPLE}"));
        }
        Problem::UnknownRule { id, suggestion } => {
            let help = match suggestion {
                Some(nearest) => format!("did you mean `{nearest}`? `mastodon-oidc-check rules` lists every rule id"),
                None => "`mastodon-oidc-check rules` lists every rule id".to_string(),
            };
            sink.emit(format!("the ignore comment names `{id}`, which is not a rule, so that part ignores nothing"))
                .at(label.map(|label| label.with_message("unknown rule id")))
                .help(help);
        }
        Problem::MissingReason => {
            let rules = if named.is_empty() { "the named rules".to_string() } else { named };
            sink.emit(format!("the ignore comment for {rules} has no reason after ` -- `, so it ignores nothing"))
                .at(label.map(|label| label.with_message("no reason")))
                .help(format!("append ` -- ` and why the finding does not apply: {EXAMPLE}"));
        }
        Problem::NoTarget => {
            sink.emit("the ignore comment has no line after it, so it ignores nothing")
                .at(label.map(|label| label.with_message("nothing follows")))
                .help("put the comment right above the KEY=value line whose findings it should ignore");
        }
        Problem::Trailing { key } => {
            sink.emit(format!("the ignore comment follows the value of {key} on the same line, where it ignores nothing"))
                .at(label.map(|label| label.with_message("directive after a value")))
                .help(format!("move the comment to its own line right above `{key}=`"));
        }
    }
}
