use super::*;

/// The message and its hint, as the CLI prints them, with `root` shown as `[ROOT]`.
fn report(error: &CgroupError, root: &Path) -> String {
    let mut text = error.to_string();
    for hint in error.hints() {
        text = format!("{text}\n\nhint: {hint}");
    }
    text.replace(&root.display().to_string(), "[ROOT]")
}

fn validate(limits: Limits) -> String {
    let error = limits.validate_for(4).unwrap_err();
    assert!(error.is_user_error());
    report(&error, Path::new("/"))
}

#[test]
fn refuses_cpus_out_of_range() {
    insta::assert_snapshot!(validate(Limits { cpus: Some(0.0), memory: None }), @"
        `--cpus 0` is out of range: this host has 4 CPUs, so it must be from 0.01 to 4

        hint: `--cpus` is a number of CPUs' worth of time, like `--cpus 1.5`; the most is 4
        ");
    insta::assert_snapshot!(validate(Limits { cpus: Some(4.5), memory: None }), @"
        `--cpus 4.5` is out of range: this host has 4 CPUs, so it must be from 0.01 to 4

        hint: `--cpus` is a number of CPUs' worth of time, like `--cpus 1.5`; the most is 4
        ");
    for cpus in [-1.0, 0.001, f64::NAN, f64::INFINITY] {
        let limits = Limits {
            cpus: Some(cpus),
            memory: None,
        };
        assert!(limits.validate_for(4).is_err(), "{cpus}");
    }
}

#[test]
fn refuses_memory_below_docker_minimum() {
    insta::assert_snapshot!(validate(Limits { memory: Some(1 << 20), cpus: None }), @"
        `--memory` of 1048576 bytes is below the minimum of 6 MiB (6291456 bytes)

        hint: give at least `6m`, like `--memory 512m`
        ");
}

#[test]
fn accepts_limits_in_range() {
    let limits = Limits {
        memory: Some(6 << 20),
        cpus: Some(4.0),
    };
    assert!(limits.validate_for(4).is_ok());
    let limits = Limits {
        memory: None,
        cpus: Some(0.01),
    };
    assert!(limits.validate_for(1).is_ok());
    assert!(Limits::default().validate_for(1).is_ok());
    assert!(Limits::default().is_empty());
}

#[test]
fn quota_is_cpus_times_period() {
    assert_eq!(cpu_quota_us(0.5), 50_000);
    assert_eq!(cpu_quota_us(1.5), 150_000);
    assert_eq!(cpu_quota_us(2.0), 200_000);
    assert_eq!(cpu_quota_us(0.01), 1_000);
    assert_eq!(cpu_quota_us(1.0 / 3.0), 33_333);
    assert_eq!(cpu_quota_us(0.666_666), 66_667);
}

#[test]
fn refuses_ids_that_leave_the_parent() {
    for id in ["", ".", "..", "a/b", "../x"] {
        let error = Cgroup::create(Path::new("/nonexistent"), id, &Limits::default(), &[]);
        assert!(
            matches!(error, Err(CgroupError::InvalidContainerId { .. })),
            "{id}"
        );
    }
}

/// A v1 host as plain directories: the root is a tmpfs (here, whatever holds the
/// tempdir), with one directory per controller.
fn fake_v1(controllers: &[&str]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    for name in controllers {
        fs::create_dir(root.path().join(name)).unwrap();
    }
    root
}

#[test]
fn detects_v1_controller_mounts() {
    for layout in [
        &["memory", "cpu", "unified"][..],
        &["cpu,cpuacct"],
        &["memory"],
    ] {
        let root = fake_v1(layout);
        assert_eq!(
            Cgroup::detect(root.path()).unwrap(),
            CgroupVersion::V1,
            "{layout:?}"
        );
    }
}

#[test]
fn lists_v1_controllers_by_mount_name() {
    let root = fake_v1(&["memory", "cpu,cpuacct", "pids", "unified"]);
    fs::write(root.path().join("release_agent"), "").unwrap();
    let controllers = Cgroup::controllers(root.path(), CgroupVersion::V1).unwrap();
    assert_eq!(
        controllers.into_iter().collect::<Vec<_>>(),
        ["cpu", "cpuacct", "memory", "pids", "unified"]
    );
    fs::write(root.path().join("cgroup.controllers"), "cpu io memory\n").unwrap();
    let controllers = Cgroup::controllers(root.path(), CgroupVersion::V2).unwrap();
    assert_eq!(
        controllers.into_iter().collect::<Vec<_>>(),
        ["cpu", "io", "memory"]
    );
}

#[test]
fn directory_without_controllers_is_no_cgroup() {
    let root = fake_v1(&["pids", "unified"]);
    let error = Cgroup::detect(root.path()).unwrap_err();
    assert!(error.is_user_error());
    insta::assert_snapshot!(report(&error, root.path()), @"
        `[ROOT]` has no cgroup v2 file system and no cgroup v1 `memory` or `cpu` controller

        hint: boot with cgroups mounted at `/sys/fs/cgroup` (systemd does this): containers run as root get their device allow-list there, and `--memory` and `--cpus` need them
        ");
    let missing = root.path().join("missing");
    assert!(matches!(
        Cgroup::detect(&missing),
        Err(CgroupError::NoCgroup { .. })
    ));
}

/// Compares `detect` on the real `/sys/fs/cgroup` with what `/proc/self/mountinfo` says
/// is mounted there.
#[test]
#[expect(clippy::print_stderr, reason = "says why the test did nothing")]
fn detects_this_host() {
    let root = Path::new("/sys/fs/cgroup");
    let Ok(mountinfo) = fs::read_to_string("/proc/self/mountinfo") else {
        eprintln!("skipped: no /proc/self/mountinfo");
        return;
    };
    // Fields: ID, parent, major:minor, root, mount point, options, tags…, `-`, type, …
    let mounts: Vec<(&str, &str)> = mountinfo
        .lines()
        .filter_map(|line| {
            let point = line.split(' ').nth(4)?;
            let fs_type = line.split(" - ").nth(1)?.split(' ').next()?;
            Some((point, fs_type))
        })
        .collect();
    // The last mount on a point hides the ones below it.
    let unified = mounts
        .iter()
        .rev()
        .find(|(point, _)| *point == "/sys/fs/cgroup")
        .is_some_and(|(_, fs_type)| *fs_type == "cgroup2");
    let v1 = mounts.iter().any(|(point, fs_type)| {
        *fs_type == "cgroup"
            && (point.ends_with("/memory")
                || point.ends_with("/cpu,cpuacct")
                || point.ends_with("/cpu"))
    });
    let detected = Cgroup::detect(root);
    match (unified, v1) {
        (true, _) => assert_eq!(detected.unwrap(), CgroupVersion::V2),
        (false, true) => assert_eq!(detected.unwrap(), CgroupVersion::V1),
        (false, false) => assert!(detected.is_err(), "{detected:?}"),
    }
}

#[test]
fn missing_controller_names_limit_and_mount() {
    let root = fake_v1(&["cpu"]);
    let limits = Limits {
        memory: Some(64 << 20),
        cpus: None,
    };
    let error = Cgroup::create(root.path(), "c1", &limits, &[]).unwrap_err();
    assert!(error.is_user_error());
    insta::assert_snapshot!(report(&error, root.path()), @"
        `--memory` needs the cgroup `memory` controller, which `[ROOT]/memory` does not provide

        hint: run as root, or on cgroup v2 in a delegated scope (`systemd-run --user --scope -p Delegate=yes mlpack run …`), or drop `--memory`
        ");
    assert!(!root.path().join("cpu/mlpack").exists());
}

/// In plain directories the limit files do not appear after `mkdir`, so writing the
/// first one fails the way a kernel without the feature would; the container's
/// directory must be gone afterwards.
#[test]
fn failed_create_leaves_no_container_dir() {
    let root = fake_v1(&["memory", "cpu"]);
    let limits = Limits {
        memory: Some(64 << 20),
        cpus: Some(0.01),
    };
    let error = Cgroup::create(root.path(), "c1", &limits, &[]).unwrap_err();
    insta::assert_snapshot!(report(&error, root.path()), @"
        could not write `[ROOT]/memory/mlpack/c1/memory.limit_in_bytes` for `--memory`

        hint: this kernel does not offer the limit; drop `--memory`
        ");
    assert!(root.path().join("memory/mlpack").is_dir());
    assert!(!root.path().join("memory/mlpack/c1").exists());
    assert!(!root.path().join("cpu/mlpack").exists());
}

#[test]
fn removing_a_missing_cgroup_succeeds() {
    let root = tempfile::tempdir().unwrap();
    let cgroup = Cgroup {
        version: CgroupVersion::V1,
        paths: vec![root.path().join("memory/mlpack/gone")],
    };
    assert!(cgroup.remove().is_ok());
}

/// Creates a real cgroup; runs only as root on a v1 host whose memory controller is
/// writable (as in this project's CI), and skips elsewhere.
#[test]
#[expect(clippy::print_stderr, reason = "says why the test did nothing")]
fn creates_and_removes_a_real_v1_cgroup() {
    let root = Path::new("/sys/fs/cgroup");
    let memory = root.join("memory");
    let writable = nix::unistd::access(&memory, nix::unistd::AccessFlags::W_OK).is_ok();
    if !nix::unistd::geteuid().is_root() || !writable {
        eprintln!("skipped: needs root and a writable `{}`", memory.display());
        return;
    }
    if Cgroup::detect(root).ok() != Some(CgroupVersion::V1) {
        eprintln!("skipped: `{}` is not cgroup v1", root.display());
        return;
    }
    let id = format!(
        "test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos())
    );
    let limits = Limits {
        memory: Some(64 << 20),
        cpus: Some(0.5),
    };
    let rules = super::super::devices::DEFAULT_RULES;
    let cgroup = Cgroup::create(root, &id, &limits, &rules).unwrap();
    let read = |path: &Path| fs::read_to_string(path).unwrap().trim().to_string();
    let [memory_dir, cpu_dir, devices_dir] = cgroup.paths() else {
        panic!("expected a memory, a cpu and a devices cgroup: {cgroup:?}");
    };
    let checked = std::panic::catch_unwind(|| {
        assert_eq!(read(&memory_dir.join("memory.limit_in_bytes")), "67108864");
        let memsw = memory_dir.join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            assert_eq!(read(&memsw), "67108864");
        }
        assert_eq!(read(&cpu_dir.join("cpu.cfs_period_us")), "100000");
        assert_eq!(read(&cpu_dir.join("cpu.cfs_quota_us")), "50000");
        let mut listed: Vec<String> = read(&devices_dir.join("devices.list"))
            .lines()
            .map(str::to_string)
            .collect();
        let mut expected: Vec<String> = rules
            .iter()
            .map(super::super::devices::DeviceRule::v1_line)
            .collect();
        listed.sort();
        expected.sort();
        assert_eq!(listed, expected);
    });
    cgroup.remove().unwrap();
    assert!(!memory_dir.exists() && !cpu_dir.exists() && !devices_dir.exists());
    if let Err(panic) = checked {
        std::panic::resume_unwind(panic);
    }
}
