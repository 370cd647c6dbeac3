//! Where scenarios live at run time: the set in force (files plus uploads),
//! replaced as a whole when a file changes or a scenario is uploaded, so a
//! request always sees one consistent set.

use super::{Scenario, ScenarioSet, parse_scenario, scenario_name};
use crate::diag::{ConfigError, ConfigErrors};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

/// What the scenario files looked like when last loaded: each file's path,
/// modification time and length.
type Fingerprint = Vec<(PathBuf, Option<SystemTime>, u64)>;

/// The scenarios in force and where they came from.
pub struct ScenarioStore {
    /// Folders of scenario files.
    dirs: Vec<PathBuf>,
    /// Single scenario files (from `--scenario path.toml`).
    files: Vec<PathBuf>,
    /// The scenario of requests that name none.
    default_name: Option<String>,
    /// The set in force; readers clone the `Arc` and never wait on a reload.
    current: RwLock<Arc<ScenarioSet>>,
    /// Uploaded scenarios (which outlive reloads), the files' fingerprint,
    /// and the set the files make without uploads; the lock serialises
    /// changes.
    changes: Mutex<Changes>,
}

/// Uploads, the files' fingerprint, and the files' own set.
type Changes = (
    BTreeMap<String, Arc<Scenario>>,
    Fingerprint,
    Arc<ScenarioSet>,
);

/// Why a scenario cannot be deleted.
#[derive(Debug)]
pub enum DeleteError {
    /// It comes from a file or is built in (its origin).
    NotUploaded(String),
    /// There is no such scenario.
    Unknown,
}

/// How many scenarios can be uploaded (replacing one does not count).
pub const MAX_UPLOADS: usize = 1_000;

/// Why an upload was refused.
#[derive(Debug)]
pub enum UploadError {
    /// The scenario has errors, each placed by line and column.
    Invalid(Vec<ConfigError>),
    /// [`MAX_UPLOADS`] scenarios were uploaded already.
    TooMany,
}

/// Why the store could not be built.
#[derive(Debug)]
pub enum StoreError {
    /// Scenario files with errors.
    Files(ConfigErrors),
    /// The default scenario does not exist.
    UnknownDefault {
        /// The name asked for.
        name: String,
        /// The scenarios there are.
        available: String,
        /// ` (did you mean "x"?)`, or nothing.
        suggestion: String,
    },
}

impl ScenarioStore {
    /// Loads the built-in scenarios, `dirs` and the default: a scenario name
    /// or the path of a `.toml` file.
    pub fn load(dirs: &[PathBuf], default: Option<&str>) -> Result<ScenarioStore, StoreError> {
        let mut files = Vec::new();
        let default_name = match default {
            Some(value) if super::is_scenario_path(value) => {
                let path = PathBuf::from(value);
                let name = scenario_name(&path).unwrap_or_default().to_string();
                files.push(path);
                Some(name)
            }
            Some(name) => Some(name.to_string()),
            None => None,
        };
        let fingerprint = fingerprint(dirs, &files);
        let set = ScenarioSet::load(dirs, &files).map_err(StoreError::Files)?;
        if let Some(name) = &default_name
            && set.get(name).is_none()
        {
            return Err(StoreError::UnknownDefault {
                name: name.clone(),
                available: set.names(),
                suggestion: set.suggestion(name),
            });
        }
        let set = Arc::new(set);
        Ok(ScenarioStore {
            dirs: dirs.to_vec(),
            files,
            default_name,
            current: RwLock::new(set.clone()),
            changes: Mutex::new((BTreeMap::new(), fingerprint, set)),
        })
    }

    /// The set in force.
    pub fn current(&self) -> Arc<ScenarioSet> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The scenario of requests that name none.
    pub fn default_scenario(&self) -> Option<Arc<Scenario>> {
        let name = self.default_name.as_deref()?;
        self.current().get(name).cloned()
    }

    /// Whether any scenario file or folder is watched for changes.
    pub fn watches_files(&self) -> bool {
        !self.dirs.is_empty() || !self.files.is_empty()
    }

    /// Validates `text` as scenario `name` exactly like a file and, if it is
    /// valid, adds it (replacing one of the same name). Nothing changes when
    /// it is invalid.
    pub fn upload(&self, name: &str, text: &str) -> Result<Arc<Scenario>, UploadError> {
        let path = PathBuf::from(format!("{name}.toml"));
        let scenario =
            Arc::new(parse_scenario(name, text, &path, "uploaded").map_err(UploadError::Invalid)?);
        let mut changes = self.lock_changes();
        if changes.0.len() >= MAX_UPLOADS && !changes.0.contains_key(name) {
            return Err(UploadError::TooMany);
        }
        changes.0.insert(name.to_string(), scenario.clone());
        let set = self.current().with(scenario.clone());
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        Ok(scenario)
    }

    /// Deletes an uploaded scenario; a file or built-in scenario of the same
    /// name comes back into force.
    pub fn delete(&self, name: &str) -> Result<(), DeleteError> {
        let mut changes = self.lock_changes();
        if changes.0.remove(name).is_none() {
            return Err(match changes.2.get(name) {
                Some(scenario) => DeleteError::NotUploaded(scenario.origin.clone()),
                None => DeleteError::Unknown,
            });
        }
        let mut set = (*changes.2).clone();
        for uploaded in changes.0.values() {
            set = set.with(uploaded.clone());
        }
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        Ok(())
    }

    /// Reloads the files if any changed since the last look. Returns the
    /// names of scenarios that changed; on errors the set in force stays.
    ///
    /// This reads files: call it off the async runtime. The files are read
    /// and parsed without holding the lock uploads take; the lock is held
    /// only to merge the uploads and swap the set in.
    pub fn reload_if_changed(&self) -> Result<Vec<String>, ConfigErrors> {
        let now = fingerprint(&self.dirs, &self.files);
        if now == self.lock_changes().1 {
            return Ok(Vec::new());
        }
        let loaded = ScenarioSet::load(&self.dirs, &self.files);
        let mut changes = self.lock_changes();
        if now == changes.1 {
            return Ok(Vec::new());
        }
        changes.1 = now;
        let base = Arc::new(loaded?);
        changes.2 = base.clone();
        let mut set = (*base).clone();
        for uploaded in changes.0.values() {
            set = set.with(uploaded.clone());
        }
        let old = self.current();
        let changed = set
            .iter()
            .filter(|s| old.get(&s.name).is_none_or(|o| o != *s))
            .map(|s| s.name.clone())
            .chain(
                old.iter()
                    .filter(|o| set.get(&o.name).is_none())
                    .map(|o| o.name.clone()),
            )
            .collect();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        Ok(changed)
    }

    fn lock_changes(&self) -> std::sync::MutexGuard<'_, Changes> {
        self.changes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Path, modification time and length of every scenario file watched.
fn fingerprint(dirs: &[PathBuf], files: &[PathBuf]) -> Fingerprint {
    let mut paths: Vec<PathBuf> = files.to_vec();
    for dir in dirs {
        if let Ok(entries) = std::fs::read_dir(dir) {
            paths.extend(
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "toml")),
            );
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let meta = std::fs::metadata(Path::new(&path)).ok();
            let modified = meta.as_ref().and_then(|m| m.modified().ok());
            let len = meta.map_or(0, |m| m.len());
            (path, modified, len)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_bounded_but_replacing_one_is_not_refused() {
        let store = ScenarioStore::load(&[], None).unwrap();
        let text = "description = \"x\"\n[[step]]\nstatus = 500\n";
        for i in 0..MAX_UPLOADS {
            store.upload(&format!("up-{i}"), text).unwrap();
        }
        assert!(matches!(
            store.upload("one-more", text),
            Err(UploadError::TooMany)
        ));
        store
            .upload("up-7", text)
            .expect("replacing an upload is allowed");
        assert!(store.current().get("one-more").is_none());
        store.delete("up-7").unwrap();
        store
            .upload("one-more", text)
            .expect("a deletion frees a place");
    }

    #[test]
    fn deleting_an_upload_brings_back_the_built_in_scenario() {
        let store = ScenarioStore::load(&[], None).unwrap();
        let built_in = store.current().get("slow").unwrap().clone();
        store.upload("slow", "[[step]]\nstatus = 500\n").unwrap();
        assert_eq!(store.current().get("slow").unwrap().origin, "uploaded");
        store.delete("slow").unwrap();
        assert_eq!(store.current().get("slow").unwrap(), &built_in);
        assert!(
            matches!(store.delete("slow"), Err(DeleteError::NotUploaded(origin)) if origin == "built-in")
        );
        assert!(matches!(store.delete("nope"), Err(DeleteError::Unknown)));
    }

    /// A reload that is stuck reading a file (here a FIFO nobody writes
    /// yet) must not hold up uploads: files are read outside the lock.
    #[cfg(unix)]
    #[test]
    fn uploads_do_not_wait_for_a_reload_reading_files() {
        use std::sync::mpsc;
        use std::time::Duration;
        let dir = std::env::temp_dir().join(format!("persona-mock-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Arc::new(ScenarioStore::load(std::slice::from_ref(&dir), None).unwrap());
        let fifo = dir.join("slow.toml");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            std::fs::remove_dir_all(&dir).unwrap();
            return; // no mkfifo here: nothing to check
        }
        let reloading = {
            let store = store.clone();
            std::thread::spawn(move || store.reload_if_changed())
        };
        // Let the reload reach the FIFO and block there.
        std::thread::sleep(Duration::from_millis(100));
        let (done, uploaded) = mpsc::channel();
        {
            let store = store.clone();
            std::thread::spawn(move || {
                let text = "[[step]]\nstatus = 500\n";
                let _ = done.send(store.upload("during-reload", text).is_ok());
            });
        }
        let result = uploaded.recv_timeout(Duration::from_secs(10));
        // Release the reload whatever happened.
        std::fs::write(&fifo, "[[step]]\nstatus = 503\n").unwrap();
        let changed = reloading.join().unwrap().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(result, Ok(true), "the upload waited for the reload");
        assert_eq!(changed, ["slow"]);
        let set = store.current();
        assert!(
            set.get("during-reload").is_some(),
            "the reload kept the upload"
        );
        assert!(set.get("slow").is_some());
    }
}
