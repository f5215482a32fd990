use super::*;

fn resolve(module: &str) -> Option<(String, String, Reason)> {
    let pins = BTreeMap::new();
    ImportMap::new(&pins, HashSet::new())
        .resolve(module)
        .map(|resolution| {
            (
                resolution.key,
                resolution.distribution.to_string(),
                resolution.reason,
            )
        })
}

fn distribution(module: &str) -> Option<String> {
    resolve(module).map(|(_, name, _)| name)
}

/// The imports pipreqs is known to get wrong.
#[test]
fn known_pipreqs_failures_map_right() {
    for (import, expected) in [
        ("bs4", "beautifulsoup4"),
        ("attr", "attrs"),
        ("cv2", "opencv-python-headless"),
        ("skimage.io", "scikit-image"),
        ("sklearn.datasets", "scikit-learn"),
        ("yaml", "pyyaml"),
        ("hydra", "hydra-core"),
        ("PIL.Image", "pillow"),
        ("google.protobuf.message", "protobuf"),
        ("google.cloud.storage", "google-cloud-storage"),
        ("azure.storage.blob", "azure-storage-blob"),
        ("dateutil.parser", "python-dateutil"),
        ("jwt", "pyjwt"),
    ] {
        assert_eq!(distribution(import).as_deref(), Some(expected), "{import}");
    }
}

#[test]
fn ambiguous_imports_show_their_alternatives() {
    let pins = BTreeMap::new();
    let map = ImportMap::new(&pins, HashSet::new());
    let resolution = map.resolve("cv2").unwrap();
    assert!(matches!(resolution.reason, Reason::Curated { .. }));
    let alternatives: Vec<&str> = resolution.alternatives.iter().map(AsRef::as_ref).collect();
    assert!(alternatives.contains(&"opencv-python"), "{alternatives:?}");
    assert!(!alternatives.contains(&"opencv-python-headless"));
}

#[test]
fn pins_and_explicit_installs_win() {
    let pins = BTreeMap::from([(
        "cv2".to_string(),
        PackageName::from_str("opencv-contrib-python").unwrap(),
    )]);
    let pinned = ImportMap::new(&pins, HashSet::new())
        .resolve("cv2")
        .unwrap();
    assert_eq!(
        (pinned.distribution.as_ref(), &pinned.reason),
        ("opencv-contrib-python", &Reason::Pinned)
    );

    let none = BTreeMap::new();
    let installed = HashSet::from([PackageName::from_str("opencv-python").unwrap()]);
    let chosen = ImportMap::new(&none, installed).resolve("cv2").unwrap();
    assert_eq!(
        (chosen.distribution.as_ref(), &chosen.reason),
        ("opencv-python", &Reason::Installed)
    );
}

#[test]
fn the_longest_prefix_wins() {
    let (key, name, _) = resolve("google.cloud.storage.blob").unwrap();
    assert_eq!(
        (key.as_str(), name.as_str()),
        ("google.cloud.storage", "google-cloud-storage")
    );
}

#[test]
fn same_name_fallback_is_marked() {
    // `ujson` installs a C extension; it is a top-5000 project whose name is its import.
    let (_, name, reason) = resolve("ujson").unwrap();
    assert_eq!(name, "ujson");
    assert!(matches!(
        reason,
        Reason::SameName | Reason::MostDownloaded | Reason::Curated { .. }
    ));
    assert_eq!(resolve("surely_not_a_real_import_name"), None);
}

#[test]
fn prefixes_are_longest_first() {
    assert_eq!(prefixes("a.b.c").collect::<Vec<_>>(), ["a.b.c", "a.b", "a"]);
    assert_eq!(prefixes("a").collect::<Vec<_>>(), ["a"]);
}
