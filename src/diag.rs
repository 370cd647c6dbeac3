//! Mistakes in configuration files, each placed by file, line and column:
//! shared by the config file and scenario files.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One mistake in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line and column, when the mistake has a place.
    pub position: Option<(usize, usize)>,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => {
                write!(
                    f,
                    "{}:{line}:{column}: {}",
                    self.path.display(),
                    self.message
                )
            }
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// Every mistake found in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_lines(f, &self.0)
    }
}

/// Writes each item on a line of its own (no newline after the last).
pub(crate) fn write_lines<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            writeln!(f)?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl std::error::Error for ConfigErrors {}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Collects the errors of one file, placing each by its byte span.
pub struct FileErrors<'a> {
    /// The file, as errors name it.
    pub path: &'a Path,
    /// Its text, to turn spans into lines and columns.
    pub text: &'a str,
    /// The errors so far.
    pub list: Vec<ConfigError>,
}

impl<'a> FileErrors<'a> {
    pub fn new(path: &'a Path, text: &'a str) -> FileErrors<'a> {
        FileErrors {
            path,
            text,
            list: Vec::new(),
        }
    }

    /// An error at a span, or about the whole file.
    pub fn push(&mut self, span: Option<Range<usize>>, message: String) {
        self.list.push(ConfigError {
            path: self.path.to_path_buf(),
            position: span.map(|span| line_column(self.text, span.start)),
            message,
        });
    }

    /// The table `value` is, or an error saying what `key` must be.
    pub fn table<'v, 'i>(
        &mut self,
        value: &'v Spanned<DeValue<'i>>,
        key: &str,
    ) -> Option<&'v DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(table),
            other => {
                self.at(
                    value,
                    format!("{key} must be a table (got {})", other.type_str()),
                );
                None
            }
        }
    }

    /// An error at a value.
    pub fn at<T>(&mut self, value: &Spanned<T>, message: String) {
        self.push(Some(value.span()), message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_from_one() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("é\nx", 3), (2, 1));
    }
}
