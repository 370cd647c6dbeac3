//! A step's `when`: the endpoints it applies to and the conditions on the
//! request's body and headers.

use super::parse::{Checker, Value};
use super::{BodyCondition, When};
use crate::api::route::Route;
use hyper::header::HeaderName;
use serde_json::Value as Json;
use toml::de::DeValue;

impl Checker<'_> {
    fn endpoints(&mut self, value: &Value<'_>) -> Vec<Route> {
        let items: Vec<&Value<'_>> = match value.get_ref() {
            DeValue::Array(items) => items.iter().collect(),
            _ => vec![value],
        };
        let mut out = Vec::new();
        for item in items {
            let Some(name) = self.string(item, "when.endpoint") else {
                continue;
            };
            match Route::from_name(name) {
                Some(route) => out.push(route),
                None => self.at_value(
                    item,
                    format!(
                        "unknown endpoint {name:?}; endpoints are {}",
                        Route::names()
                    ),
                ),
            }
        }
        out
    }

    /// A TOML value as the JSON value a body must hold.
    fn json(&mut self, value: &Value<'_>) -> Option<Json> {
        Some(match value.get_ref() {
            DeValue::String(s) => Json::from(s.as_ref()),
            DeValue::Boolean(b) => Json::Bool(*b),
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Json::from(n),
                Err(_) => {
                    self.at_value(value, format!("{} is too large", i.as_str()));
                    return None;
                }
            },
            DeValue::Float(f) => match f
                .as_str()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                Some(n) => Json::Number(n),
                None => {
                    self.at_value(value, format!("{} is not a JSON number", f.as_str()));
                    return None;
                }
            },
            DeValue::Array(items) => Json::Array(
                items
                    .iter()
                    .map(|item| self.json(item))
                    .collect::<Option<Vec<_>>>()?,
            ),
            DeValue::Table(table) => {
                let mut map = serde_json::Map::new();
                for (key, item) in table {
                    map.insert(key.get_ref().to_string(), self.json(item)?);
                }
                Json::Object(map)
            }
            other => {
                self.at_value(
                    value,
                    format!("a body value must be JSON: a string, number, boolean, array or table (got {})", other.type_str()),
                );
                return None;
            }
        })
    }

    pub(super) fn when(&mut self, value: &Value<'_>) -> When {
        let mut when = When::default();
        let Some(table) = self.errors.table(value, "when") else {
            return when;
        };
        for (key, value) in table {
            match key.get_ref().as_ref() {
                "claim-type" => {
                    if let Some(text) = self.string(value, "when.claim-type") {
                        when.body.push(BodyCondition {
                            pointer: "/claim-type".into(),
                            equals: Json::from(text),
                            absent: None,
                        });
                    }
                }
                "sandbox" => match value.get_ref() {
                    DeValue::Boolean(b) => when.body.push(BodyCondition {
                        pointer: "/sandbox".into(),
                        equals: Json::Bool(*b),
                        absent: Some(Json::Bool(false)),
                    }),
                    other => self.at_value(
                        value,
                        format!(
                            "when.sandbox must be true or false (got {})",
                            other.type_str()
                        ),
                    ),
                },
                "endpoint" => when.endpoints = self.endpoints(value),
                "body" => {
                    let Some(conditions) = self.errors.table(value, "when.body") else {
                        continue;
                    };
                    for (pointer, value) in conditions {
                        if !pointer.get_ref().starts_with('/') {
                            self.at(
                                Some(pointer.span()),
                                format!("when.body keys are JSON pointers starting with '/', like \"/claim-type\" (got {:?})", pointer.get_ref()),
                            );
                            continue;
                        }
                        if let Some(equals) = self.json(value) {
                            when.body.push(BodyCondition {
                                pointer: pointer.get_ref().to_string(),
                                equals,
                                absent: None,
                            });
                        }
                    }
                }
                "header" => {
                    let Some(headers) = self.errors.table(value, "when.header") else {
                        continue;
                    };
                    for (name, value) in headers {
                        let Ok(header) = HeaderName::from_bytes(name.get_ref().as_bytes()) else {
                            self.at(
                                Some(name.span()),
                                format!("{:?} is not a valid header name", name.get_ref()),
                            );
                            continue;
                        };
                        if let Some(text) =
                            self.string(value, &format!("when.header.{}", name.get_ref()))
                        {
                            when.headers.push((header, text.to_string()));
                        }
                    }
                }
                other => self.at(
                    Some(key.span()),
                    format!("unknown key `{other}` in when; allowed: endpoint, claim-type, sandbox, body, header"),
                ),
            }
        }
        when
    }
}
