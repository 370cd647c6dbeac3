//! Scenario sets: the built-in scenarios, folders and files, loaded all at
//! once so that every problem in every file is reported together.

use super::Scenario;
use super::parse::{file_error, parse_scenario};
use crate::diag::{ConfigError, ConfigErrors};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

// `BUILTIN: &[(&str, &str)]`: the name and text of every file in `scenarios/`.
include!(concat!(env!("OUT_DIR"), "/builtin_scenarios.rs"));

/// Every scenario available, by name.
#[derive(Debug, Clone, Default)]
pub struct ScenarioSet {
    /// Scenarios by name, sorted for listings.
    scenarios: BTreeMap<String, Arc<Scenario>>,
}

impl ScenarioSet {
    /// The built-in scenarios, then every `*.toml` of `dirs`, then `files`;
    /// a later scenario replaces an earlier one of the same name only if the
    /// earlier one is built in. All problems of all files are reported.
    pub fn load(dirs: &[PathBuf], files: &[PathBuf]) -> Result<ScenarioSet, ConfigErrors> {
        let mut set = ScenarioSet::default();
        let mut errors = Vec::new();
        for (name, text) in BUILTIN {
            let path = PathBuf::from(format!("scenarios/{name}.toml"));
            match parse_scenario(name, text, &path, "built-in") {
                Ok(scenario) => {
                    set.scenarios.insert(name.to_string(), Arc::new(scenario));
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        let mut paths = Vec::new();
        for dir in dirs {
            match std::fs::read_dir(dir) {
                Ok(entries) => {
                    let mut found: Vec<PathBuf> = entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                        .collect();
                    found.sort();
                    paths.extend(found);
                }
                Err(e) => errors.push(file_error(
                    dir,
                    format!("cannot read the scenarios folder: {e}"),
                )),
            }
        }
        paths.extend(files.iter().cloned());
        for path in paths {
            match load_file(&path) {
                Ok(scenario) => match set.scenarios.get(&scenario.name) {
                    Some(existing) if existing.origin != "built-in" => errors.push(file_error(
                        &path,
                        format!(
                            "scenario \"{}\" is also defined in {}; scenario names must be unique",
                            scenario.name, existing.origin
                        ),
                    )),
                    _ => {
                        set.scenarios
                            .insert(scenario.name.clone(), Arc::new(scenario));
                    }
                },
                Err(mut e) => errors.append(&mut e),
            }
        }
        if errors.is_empty() {
            Ok(set)
        } else {
            errors.sort_by(|a, b| (&a.path, a.position).cmp(&(&b.path, b.position)));
            Err(ConfigErrors(errors))
        }
    }

    /// This set with `scenario` added, replacing one of the same name.
    pub fn with(&self, scenario: Arc<Scenario>) -> ScenarioSet {
        let mut scenarios = self.scenarios.clone();
        scenarios.insert(scenario.name.clone(), scenario);
        ScenarioSet { scenarios }
    }

    /// The scenario called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Scenario>> {
        self.scenarios.get(name)
    }

    /// Every scenario, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Scenario>> {
        self.scenarios.values()
    }

    /// The name most like `name` (by edit distance, at most a third of its
    /// length and at least 2, or a name it is the start of), to suggest in
    /// messages.
    pub fn closest(&self, name: &str) -> Option<&str> {
        let limit = (name.chars().count() / 3).max(2);
        self.scenarios
            .keys()
            .map(|candidate| {
                let distance = if candidate.starts_with(name) && !name.is_empty() {
                    0
                } else {
                    edit_distance(name, candidate)
                };
                (distance, candidate.as_str())
            })
            .filter(|(distance, _)| *distance <= limit)
            .min_by_key(|(distance, _)| *distance)
            .map(|(_, candidate)| candidate)
    }

    /// ` (did you mean "x"?)` when a scenario is like `name`, else nothing.
    pub fn suggestion(&self, name: &str) -> String {
        self.closest(name)
            .map(|c| format!(" (did you mean {c:?}?)"))
            .unwrap_or_default()
    }

    /// The names, sorted and joined with ", " (for error messages).
    pub fn names(&self) -> String {
        self.scenarios
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The built-in scenarios' names and descriptions, sorted by name.
pub fn built_in() -> Vec<(String, String)> {
    let set = ScenarioSet::load(&[], &[]).expect("the built-in scenarios are valid");
    set.iter()
        .map(|s| (s.name.clone(), s.description.clone()))
        .collect()
}

/// Levenshtein distance, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// The scenario name a file stands for: its stem.
pub fn scenario_name(path: &Path) -> Option<&str> {
    path.file_stem().and_then(|s| s.to_str())
}

fn load_file(path: &Path) -> Result<Scenario, Vec<ConfigError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![file_error(
            path,
            format!("cannot read the scenario file: {e}"),
        )]
    })?;
    let name = scenario_name(path).unwrap_or("");
    parse_scenario(name, &text, path, &path.display().to_string())
}

/// Whether a scenario setting names a file rather than a scenario.
pub fn is_scenario_path(value: &str) -> bool {
    value.ends_with(".toml") || value.contains('/') || value.contains('\\')
}
