//! The config file's typed values: strings, lists, booleans, whole
//! numbers, names from a fixed set, token types, and the places where each
//! setting was written.

use super::file::{Reader, Value};
use toml::Spanned;
use toml::de::DeValue;

impl Reader<'_> {
    /// Notes where a setting (or an entry of one) was written.
    pub(super) fn mark(&mut self, key: &'static str, item: Option<&str>, value: &Value<'_>) {
        self.spans
            .insert((key, item.map(str::to_string)), value.span());
    }

    pub(super) fn unknown(
        &mut self,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        name: &str,
        allowed: &[&str],
    ) {
        let expected = match allowed {
            [one] => format!("`{one}`"),
            [a, b] => format!("`{a}` or `{b}`"),
            _ => format!(
                "one of {}",
                allowed
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        self.errors.push(
            Some(key.span()),
            format!("unknown field `{name}`, expected {expected}"),
        );
    }

    /// A string; `mark` (when not empty) notes its place for validation.
    pub(super) fn string(
        &mut self,
        value: &Value<'_>,
        key: &str,
        mark: &'static str,
    ) -> Option<String> {
        match value.get_ref() {
            DeValue::String(text) => {
                if !mark.is_empty() {
                    self.mark(mark, None, value);
                }
                Some(text.to_string())
            }
            other => {
                self.errors.at(
                    value,
                    format!("{key} must be a string (got {})", other.type_str()),
                );
                None
            }
        }
    }

    /// A list of strings, each entry's place noted under `key`.
    pub(super) fn strings(&mut self, value: &Value<'_>, key: &'static str) -> Option<Vec<String>> {
        let DeValue::Array(items) = value.get_ref() else {
            self.errors.at(
                value,
                format!(
                    "{key} must be an array of strings (got {})",
                    value.get_ref().type_str()
                ),
            );
            return None;
        };
        self.mark(key, None, value);
        let mut out = Vec::new();
        for item in items {
            match item.get_ref() {
                DeValue::String(text) => {
                    self.mark(key, Some(text), item);
                    out.push(text.to_string());
                }
                other => self.errors.at(
                    item,
                    format!("{key} entries must be strings (got {})", other.type_str()),
                ),
            }
        }
        Some(out)
    }

    pub(super) fn boolean(&mut self, value: &Value<'_>, key: &str) -> Option<bool> {
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                self.errors.at(
                    value,
                    format!("{key} must be true or false (got {})", other.type_str()),
                );
                None
            }
        }
    }

    pub(super) fn uint(&mut self, value: &Value<'_>, key: &str) -> Option<u64> {
        match value.get_ref() {
            DeValue::Integer(i) => match u64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Some(n),
                Err(_) => {
                    self.errors.at(
                        value,
                        format!(
                            "{key} must be a whole number of at least 0 (got {})",
                            i.as_str()
                        ),
                    );
                    None
                }
            },
            other => {
                self.errors.at(
                    value,
                    format!("{key} must be a whole number (got {})", other.type_str()),
                );
                None
            }
        }
    }

    pub(super) fn variant<T: Copy>(
        &mut self,
        value: &Value<'_>,
        variants: &[(&str, T)],
    ) -> Option<T> {
        let names: Vec<&str> = variants.iter().map(|(n, _)| *n).collect();
        let expected = match names.as_slice() {
            [a, b] => format!("`{a}` or `{b}`"),
            _ => format!(
                "one of {}",
                names
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        match value.get_ref() {
            DeValue::String(text) => {
                if let Some((_, v)) = variants.iter().find(|(n, _)| *n == text.as_ref()) {
                    return Some(*v);
                }
                self.errors.at(
                    value,
                    format!("unknown variant `{text}`, expected {expected}"),
                );
                None
            }
            other => {
                self.errors.at(
                    value,
                    format!("expected {expected} (got {})", other.type_str()),
                );
                None
            }
        }
    }
}
