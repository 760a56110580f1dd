//! Source text of one env file, with byte offsets mapped to lines and columns.

use std::path::{Path, PathBuf};

/// Byte range into a [`SourceFile`]'s text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// One file as read from disk. The text is kept exactly as written (BOM and
/// carriage returns included), so spans point at what the admin reads in an editor.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// Builds a source file from raw bytes. Invalid UTF-8 is replaced with
    /// U+FFFD; Ruby would raise on such a file, and the loader reports that.
    pub fn new(path: impl AsRef<Path>, bytes: &[u8]) -> Self {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let mut line_starts = vec![0];
        let raw = text.as_bytes();
        for (index, byte) in raw.iter().enumerate() {
            let next = index + 1;
            // A CR counts as a line end unless a LF follows, because Ruby
            // dotenv turns both CRLF and a lone CR into LF.
            let ends_line = *byte == b'\n' || (*byte == b'\r' && raw.get(next) != Some(&b'\n'));
            if ends_line && next <= raw.len() {
                line_starts.push(next);
            }
        }
        SourceFile {
            path: path.as_ref().to_path_buf(),
            text,
            line_starts,
        }
    }

    /// Returns the 1-based line and the 1-based column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line_index = match self.line_starts.binary_search(&offset) {
            Ok(index) => index,
            Err(index) => index - 1,
        };
        let line_start = self.line_starts[line_index];
        let column = self.text[line_start..offset].chars().count() + 1;
        (line_index + 1, column)
    }

    /// Returns the text of a span.
    pub fn slice(&self, span: Span) -> &str {
        &self.text[span.start..span.end]
    }

    /// Returns the span of the whole line that contains `offset`, without its line break.
    pub fn line_span(&self, offset: usize) -> Span {
        let (line, _) = self.line_col(offset);
        let start = self.line_starts[line - 1];
        let mut end = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len());
        let bytes = self.text.as_bytes();
        while end > start && matches!(bytes[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        Span::new(start, end)
    }
}
