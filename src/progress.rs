//! The one-line progress indicator on stderr that names the network requests
//! under way. The CLI turns it on only when stderr is a terminal and the
//! report on stdout is the human one; otherwise every call does nothing.

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::document::DocumentKind;

/// A handle to the progress line; cheap to clone, and a no-op by default.
#[derive(Clone, Default)]
pub struct Progress {
    line: Option<Arc<Mutex<Line>>>,
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Progress").field("enabled", &self.line.is_some()).finish()
    }
}

struct Line {
    output: Box<dyn Write + Send>,
    /// Terminal columns; the line is cut to fit, so it never wraps.
    width: usize,
    /// Steps under way, oldest first, with the id their guard removes.
    steps: Vec<(u64, String)>,
    next_id: u64,
    drawn: bool,
}

/// Carriage return, then ANSI "erase entire line": the cursor stays on the line.
const CLEAR: &str = "\r\x1b[2K";

impl Line {
    fn redraw(&mut self) {
        let mut text = String::from(CLEAR);
        if !self.steps.is_empty() {
            let steps: Vec<&str> = self.steps.iter().map(|(_, step)| step.as_str()).collect();
            let line = format!("{}…", steps.join(", "));
            text.extend(line.chars().take(self.width.saturating_sub(1)));
        }
        self.drawn = !self.steps.is_empty();
        // A progress line that cannot be written is not worth failing the run for.
        let _ = self.output.write_all(text.as_bytes());
        let _ = self.output.flush();
    }
}

/// A step under way; dropping it removes the step from the line.
#[must_use = "the step ends when this guard is dropped"]
pub struct Step {
    line: Option<Arc<Mutex<Line>>>,
    id: u64,
}

impl Drop for Step {
    fn drop(&mut self) {
        let Some(line) = &self.line else { return };
        let Ok(mut line) = line.lock() else { return };
        line.steps.retain(|(id, _)| *id != self.id);
        line.redraw();
    }
}

impl Progress {
    /// Creates a progress line on stderr, `width` columns wide.
    pub fn stderr(width: usize) -> Progress {
        Progress::to_writer(Box::new(std::io::stderr()), width)
    }

    /// Creates a progress line written to `output`, for tests.
    pub fn to_writer(output: Box<dyn Write + Send>, width: usize) -> Progress {
        let line = Line { output, width, steps: Vec::new(), next_id: 0, drawn: false };
        Progress { line: Some(Arc::new(Mutex::new(line))) }
    }

    pub fn is_enabled(&self) -> bool {
        self.line.is_some()
    }

    /// Shows `step` (such as "fetching the JWKS from URL") until the returned
    /// guard is dropped. Steps that run at once share the line.
    pub fn start(&self, step: impl Into<String>) -> Step {
        let Some(line) = &self.line else { return Step { line: None, id: 0 } };
        let id = match line.lock() {
            Ok(mut line) => {
                let id = line.next_id;
                line.next_id += 1;
                line.steps.push((id, step.into()));
                line.redraw();
                id
            }
            Err(_) => 0,
        };
        Step { line: Some(line.clone()), id }
    }

    /// Shows "fetching the NOUN from URL" until the returned guard is dropped.
    pub fn fetching(&self, kind: DocumentKind, url: &str) -> Step {
        if !self.is_enabled() {
            return Step { line: None, id: 0 };
        }
        self.start(format!("fetching the {} from {}", kind.noun(), url_for_display(url)))
    }

    /// Erases the line, so the report starts on a clean line.
    pub fn finish(&self) {
        let Some(line) = &self.line else { return };
        let Ok(mut line) = line.lock() else { return };
        line.steps.clear();
        if line.drawn {
            line.redraw();
        }
    }
}

/// Returns the URL without user name, password, query and fragment, which
/// may carry secrets that the redacted reports would mask.
fn url_for_display(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else { return "an invalid URL".to_string() };
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    parsed.set_query(None);
    parsed.set_fragment(None);
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose bytes the test reads back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn disabled_progress_writes_nothing() {
        let progress = Progress::default();
        assert!(!progress.is_enabled());
        let step = progress.start("fetching");
        drop(step);
        progress.finish();
    }

    #[test]
    fn step_is_drawn_then_erased() {
        let captured = Captured::default();
        let progress = Progress::to_writer(Box::new(captured.clone()), 80);
        let step = progress.start("fetching the JWKS");
        assert_eq!(captured.text(), "\r\x1b[2Kfetching the JWKS…");
        drop(step);
        assert_eq!(captured.text(), "\r\x1b[2Kfetching the JWKS…\r\x1b[2K");
    }

    #[test]
    fn concurrent_steps_share_the_line() {
        let captured = Captured::default();
        let progress = Progress::to_writer(Box::new(captured.clone()), 80);
        let discovery = progress.start("fetching the discovery document");
        let jwks = progress.start("fetching the JWKS");
        assert!(captured.text().ends_with("\r\x1b[2Kfetching the discovery document, fetching the JWKS…"));
        drop(discovery);
        assert!(captured.text().ends_with("\r\x1b[2Kfetching the JWKS…"));
        drop(jwks);
        assert!(captured.text().ends_with(CLEAR));
    }

    #[test]
    fn long_step_is_cut_to_width() {
        let captured = Captured::default();
        let progress = Progress::to_writer(Box::new(captured.clone()), 20);
        let _step = progress.start("fetching the discovery document from https://auth.example/");
        let shown = captured.text().trim_start_matches(CLEAR).to_string();
        assert_eq!(shown.chars().count(), 19);
        assert!(!shown.contains('\n'));
    }

    #[test]
    fn fetching_hides_credentials_and_query() {
        let captured = Captured::default();
        let progress = Progress::to_writer(Box::new(captured.clone()), 200);
        let _step = progress.fetching(DocumentKind::Jwks, "https://user:hunter2@auth.example/jwks?token=abc");
        let text = captured.text();
        assert!(text.contains("fetching the JWKS from https://auth.example/jwks…"), "{text}");
        assert!(!text.contains("hunter2"));
        assert!(!text.contains("token"));
    }

    #[test]
    fn finish_without_steps_writes_nothing() {
        let captured = Captured::default();
        let progress = Progress::to_writer(Box::new(captured.clone()), 80);
        progress.finish();
        assert_eq!(captured.text(), "");
    }
}
