//! Scenario files: every invalid file in tests/scenarios-invalid gives
//! exactly the messages beside it, and every valid one loads.

use persona_mock::testing::{ScenarioSet, parse_scenario};
use std::path::{Path, PathBuf};

fn files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .map(|p| p.strip_prefix(root).unwrap().to_path_buf())
        .collect();
    paths.sort();
    paths
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

#[test]
fn each_invalid_scenario_gives_exactly_its_expected_messages() {
    let invalid = files("tests/scenarios-invalid", "toml");
    assert!(invalid.len() >= 9);
    for path in invalid {
        let name = path.file_stem().unwrap().to_str().unwrap();
        let errors = parse_scenario(name, &read(&path), &path, "test").expect_err(name);
        let actual: String = errors.iter().map(|e| format!("{e}\n")).collect();
        let expected = read(&path.with_extension("expected"));
        assert_eq!(actual, expected, "{}", path.display());
    }
}

#[test]
fn every_scenario_file_of_the_tests_loads() {
    for path in files("tests/scenarios", "toml") {
        let name = path.file_stem().unwrap().to_str().unwrap();
        parse_scenario(name, &read(&path), &path, "test").unwrap_or_else(|e| panic!("{e:?}"));
    }
}

#[test]
fn every_shipped_scenario_loads_with_a_description() {
    let set = ScenarioSet::load(&[], &[]).unwrap();
    let shipped = files("scenarios", "toml");
    assert!(shipped.len() >= 11);
    for path in shipped {
        let name = path.file_stem().unwrap().to_str().unwrap();
        let scenario = set
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not built in"));
        assert!(
            !scenario.description.is_empty(),
            "{name} has no description"
        );
        assert_eq!(scenario.origin, "built-in");
    }
}

#[test]
fn loading_reports_the_problems_of_every_file_at_once() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let errors = ScenarioSet::load(&[root.join("tests/scenarios-invalid")], &[]).unwrap_err();
    let files_named: std::collections::BTreeSet<_> =
        errors.0.iter().map(|e| e.path.clone()).collect();
    assert_eq!(
        files_named.len(),
        files("tests/scenarios-invalid", "toml").len()
    );
}

#[test]
fn a_scenario_name_defined_twice_outside_the_built_ins_is_an_error() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("persona-mock-twice-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("loop.toml");
    std::fs::copy(root.join("tests/scenarios/loop.toml"), &copy).unwrap();
    let errors = ScenarioSet::load(&[root.join("tests/scenarios")], std::slice::from_ref(&copy))
        .unwrap_err();
    assert_eq!(
        errors.to_string(),
        format!(
            "{}: scenario \"loop\" is also defined in {}; scenario names must be unique",
            copy.display(),
            root.join("tests/scenarios/loop.toml").display()
        )
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_file_may_replace_a_built_in_scenario() {
    let dir = std::env::temp_dir().join(format!("persona-mock-override-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("slow.toml"),
        "description = \"faster\"\n[[step]]\nstatus = 200\ndelay-ms = 1\n",
    )
    .unwrap();
    let set = ScenarioSet::load(std::slice::from_ref(&dir), &[]).unwrap();
    assert_eq!(set.get("slow").unwrap().description, "faster");
    std::fs::remove_dir_all(dir).unwrap();
}
