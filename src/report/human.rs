//! Human output: miette diagnostics with the `.env` snippet, labels, help and
//! rule id, then a summary of what was checked and what was skipped.

use std::fmt;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents, NamedSource, SourceCode, SourceSpan, SpanContents};

use super::Report;
use crate::finding::{Finding, Severity};

/// Rendering choices that depend on the terminal.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
    pub width: usize,
}

struct Rendered<'a> {
    finding: &'a Finding,
    help: Option<String>,
    source: Option<CharColumns>,
    labels: Vec<LabeledSpan>,
}

impl fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.finding.message)
    }
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.finding.message)
    }
}

impl std::error::Error for Rendered<'_> {}

impl Diagnostic for Rendered<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.finding.rule))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.finding.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Info => miette::Severity::Advice,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.help.as_ref().map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|source| source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.labels.iter().cloned()))
    }
}

/// A source whose header columns count characters, as the JSON and SARIF
/// locations do. miette counts bytes, which disagrees on non-ASCII lines.
struct CharColumns(NamedSource<String>);

impl SourceCode for CharColumns {
    fn read_span<'a>(&'a self, span: &SourceSpan, context_lines_before: usize, context_lines_after: usize) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let contents = self.0.read_span(span, context_lines_before, context_lines_after)?;
        let text = self.0.inner();
        let offset = span.offset().min(text.len());
        let line_start = text[..offset].rfind('\n').map_or(0, |index| index + 1);
        let column = text.get(line_start..offset).map_or(contents.column(), |prefix| prefix.chars().count());
        Ok(Box::new(MietteSpanContents::new_named(
            self.0.name().to_string(),
            contents.data(),
            *contents.span(),
            contents.line(),
            column,
            contents.line_count(),
        )))
    }
}

/// Builds the diagnostic of one finding: labels in the primary file become
/// snippet labels, labels in other files are named in the help text.
fn rendered<'a>(report: &Report, finding: &'a Finding) -> Rendered<'a> {
    let mut help = finding.help.clone();
    let Some(primary) = &finding.primary else {
        return Rendered { finding, help, source: None, labels: Vec::new() };
    };

    let path = report.env.files[primary.file].source.path.display().to_string();
    let source = CharColumns(NamedSource::new(path, report.masked_sources[primary.file].clone()));
    let mut labels = vec![labeled(primary.span, primary.message.clone(), true)];
    for label in &finding.related {
        if label.file == primary.file {
            labels.push(labeled(label.span, label.message.clone(), false));
        } else {
            let location = report.location(label);
            let note = format!("see also {}:{}:{}{}", location.path, location.line, location.column, label.message.as_ref().map(|message| format!(" ({message})")).unwrap_or_default());
            help = Some(match help {
                Some(text) => format!("{text}\n{note}"),
                None => note,
            });
        }
    }
    Rendered { finding, help, source: Some(source), labels }
}

fn labeled(span: crate::envfile::Span, message: Option<String>, primary: bool) -> LabeledSpan {
    let span = SourceSpan::new(span.start.into(), span.len());
    if primary {
        LabeledSpan::new_primary_with_span(message, span)
    } else {
        LabeledSpan::new_with_span(message, span)
    }
}

/// Renders every finding, most severe first, then the summary.
pub fn render(report: &Report, style: Style) -> String {
    let theme = if style.color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    // URLs and values in help texts must stay copyable: no hyphenation and no
    // breaking inside a long word.
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(style.width)
        .with_links(false)
        .with_break_words(false)
        .with_word_separator(textwrap::WordSeparator::AsciiSpace)
        .with_word_splitter(textwrap::WordSplitter::NoHyphenation);

    // Ignored findings get one line each after the diagnostics, so their
    // error and warning marks do not read as active problems.
    let mut ordered: Vec<&Finding> = report.findings.iter().filter(|finding| finding.suppressed.is_none()).collect();
    ordered.sort_by_key(|finding| std::cmp::Reverse(finding.severity));

    let mut out = String::new();
    for finding in ordered {
        let diagnostic = rendered(report, finding);
        let mut text = String::new();
        if handler.render_report(&mut text, &diagnostic).is_err() {
            text = format!("{}: {} [{}]\n", finding.severity, finding.message, finding.rule);
        }
        out.push_str(&text);
        out.push('\n');
    }
    out.push_str(&ignored_list(report));
    out.push_str(&summary(report));
    report.redactor.redact(&out)
}

/// Lists ignored findings, one line each: rule, place, message and the reason.
fn ignored_list(report: &Report) -> String {
    let mut text = String::new();
    for finding in report.findings.iter() {
        let Some(suppression) = &finding.suppressed else { continue };
        let place = finding
            .primary
            .as_ref()
            .map(|label| {
                let location = report.location(label);
                format!(" at {}:{}", location.path, location.line)
            })
            .unwrap_or_default();
        text.push_str(&format!(
            "ignored {} [{}]{place}: {}\n  reason ({}): {}\n",
            finding.severity, finding.rule, finding.message, suppression.source, suppression.reason
        ));
    }
    if !text.is_empty() {
        text.push('\n');
    }
    text
}

fn plural(count: usize, word: &str) -> String {
    if count == 1 {
        format!("{count} {word}")
    } else {
        format!("{count} {word}s")
    }
}

fn summary(report: &Report) -> String {
    let mut lines = Vec::new();
    let checked = &report.checked;
    lines.push(format!("checked: {}", checked.files.join(", ")));
    if let Some(provider) = &checked.provider {
        if provider.kind != crate::providers::ProviderKind::Unknown {
            lines.push(format!("provider: {} ({})", provider.kind.name(), provider.evidence));
        }
    }
    if let Some(discovery) = &checked.discovery {
        lines.push(format!("discovery document: {discovery}"));
    }
    if let Some(jwks) = &checked.jwks {
        lines.push(format!("JWKS: {jwks}"));
    }

    if let Some(authentik) = &checked.authentik {
        match &authentik.version {
            Some(version) => lines.push(format!("authentik version: {version}, from {}", authentik.version_detail)),
            None => lines.push(format!("authentik version: unknown, so the version caveats were not judged ({})", authentik.version_detail)),
        }
        lines.push(format!("authentik admin API: {}", authentik.admin_api));
    }

    if let Some(probes) = &checked.probes {
        lines.push(format!("probes: {}", probes.describe()));
    }
    if !report.skipped.is_empty() {
        // One line per reason with its count, so a long list stays readable.
        let mut reasons: Vec<(&str, usize)> = Vec::new();
        for skipped in &report.skipped {
            match reasons.iter_mut().find(|(reason, _)| *reason == skipped.reason) {
                Some((_, count)) => *count += 1,
                None => reasons.push((skipped.reason.as_str(), 1)),
            }
        }
        lines.push(format!("skipped: {}, because:", plural(report.skipped.len(), "rule")));
        for (reason, count) in reasons {
            lines.push(format!("  {count:>3}  {reason}"));
        }
    }
    let suppressed = report.findings.iter().filter(|finding| finding.suppressed.is_some()).count();
    let mut totals = format!(
        "result: {}, {}, {} info",
        plural(report.count(Severity::Error), "error"),
        plural(report.count(Severity::Warning), "warning"),
        report.count(Severity::Info)
    );
    let incomplete = report.incomplete_count();
    if incomplete > 0 {
        totals.push_str(&format!(", {} could not run", plural(incomplete, "check")));
    }
    if suppressed > 0 {
        totals.push_str(&format!(", {suppressed} ignored"));
    }
    lines.push(totals);
    let mut text = lines.join("\n");
    text.push('\n');
    text
}
