//! Seccomp: the system calls a container's command may make. By default Docker's profile
//! (`seccomp-default.json`, moby's `profiles/seccomp/default.json` at commit 00f3d18,
//! Apache-2.0): an allow-list of some 350 calls, with argument filters (`clone` without
//! namespace flags, `socket` without `AF_VSOCK`, a few `personality` values) and calls that
//! only a capability makes safe (`mount`, `unshare`, `setns` with `CAP_SYS_ADMIN`, …); the
//! rest, `keyctl`, `add_key` and `request_key` among them, fail with `EPERM`.
//! `--security-opt seccomp=unconfined` turns it off and `seccomp=FILE` takes a profile in
//! Docker's format (<https://docs.docker.com/engine/security/seccomp/>).
//!
//! A profile is resolved as Docker resolves it (moby's `profiles/seccomp/seccomp_linux.go`):
//! an entry applies when the container's capability set holds every `includes.caps` and
//! none of `excludes.caps`, the machine's architecture (Go's names: `amd64`, `arm64`) is in
//! `includes.arches` and not in `excludes.arches`, and the kernel is at least
//! `includes.minKernel` (and older than `excludes.minKernel`). Names this architecture does
//! not have are skipped, as runc does. Several conditions on one argument make one rule each
//! (runc's rule), others one rule together.
//!
//! It is compiled to classic BPF by `seccompiler`, one filter per action, because a
//! seccompiler filter has one action on a match: first a filter that gives the default
//! action to every call no rule names, then one filter per other action that gives it to the
//! calls its rules match, and `SECCOMP_RET_ALLOW` to the rest. The kernel runs them all and
//! takes the strictest answer; between two `ERRNO`s the filter installed last wins
//! (`seccomp_run_filters` in kernel/seccomp.c), which is why the defaults' filter goes first.
//! Only the machine's own architecture is allowed: 32-bit (x86, arm) system calls kill the
//! process, where Docker lets them through.

use std::collections::BTreeMap;
use std::path::Path;

use caps::Capability;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use serde::{Deserialize, Serialize};

use crate::error::Diagnostic;

/// Docker's default profile.
const DOCKER_DEFAULT: &str = include_str!("seccomp-default.json");

/// The errno of an `SCMP_ACT_ERRNO` without `errnoRet`: runc's default.
const EPERM: u32 = 1;

/// Which seccomp profile a container gets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Seccomp {
    /// Docker's default profile, as this mlpack has it.
    #[default]
    Default,
    /// No filter: `--security-opt seccomp=unconfined`.
    Unconfined,
    /// A profile from `--security-opt seccomp=FILE`, read when the container was created.
    Profile(Box<Profile>),
}

impl Seccomp {
    /// `--security-opt SPEC`: `seccomp=unconfined`, `seccomp=FILE` (relative to `cwd`), or
    /// `no-new-privileges`, which every container has anyway.
    pub fn from_security_opt(spec: &str, cwd: &Path) -> Result<Option<Self>, SeccompError> {
        let (key, value) = spec.split_once(['=', ':']).unwrap_or((spec, ""));
        match (key, value) {
            ("no-new-privileges", "" | "true") => Ok(None),
            ("seccomp", "unconfined") => Ok(Some(Self::Unconfined)),
            ("seccomp", "") => Err(SeccompError::UnknownOption {
                spec: spec.to_string(),
            }),
            ("seccomp", file) => {
                let path = cwd.join(file);
                let text = fs_err::read_to_string(&path).map_err(|source| SeccompError::Read {
                    path: path.clone(),
                    source,
                })?;
                let profile = Profile::parse(&text).map_err(|source| SeccompError::Parse {
                    path: path.clone(),
                    source,
                })?;
                // Compile once now, so that a bad profile is refused before anything starts.
                profile.compile(&[], &path.display().to_string())?;
                Ok(Some(Self::Profile(Box::new(profile))))
            }
            _ => Err(SeccompError::UnknownOption {
                spec: spec.to_string(),
            }),
        }
    }

    /// The filters to install, in order, for a container with `capabilities`; none when
    /// unconfined.
    pub(crate) fn compile(
        &self,
        capabilities: &[Capability],
    ) -> Result<Vec<BpfProgram>, SeccompError> {
        match self {
            Self::Unconfined => Ok(Vec::new()),
            Self::Default => default_profile()?.compile(capabilities, "Docker's default profile"),
            Self::Profile(profile) => profile.compile(capabilities, "the container's profile"),
        }
    }
}

fn default_profile() -> Result<Profile, SeccompError> {
    Profile::parse(DOCKER_DEFAULT).map_err(|source| SeccompError::Parse {
        path: "seccomp-default.json".into(),
        source,
    })
}

/// Install `filters` on the calling thread, in order. `no_new_privs` must be set (it is:
/// [`super::workload`] sets it first); a process must have it or `CAP_SYS_ADMIN` to filter.
pub(crate) fn install(filters: &[BpfProgram]) -> Result<(), String> {
    for filter in filters {
        seccompiler::apply_filter(filter)
            .map_err(|error| format!("install the seccomp filter: {error}"))?;
    }
    Ok(())
}

/// A profile in Docker's JSON format (`types.Seccomp` in moby's `api/types`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    default_action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    syscalls: Vec<Entry>,
}

/// One `syscalls` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    names: Vec<String>,
    /// The older single-name form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    args: Vec<Argument>,
    #[serde(default)]
    includes: Filter,
    #[serde(default)]
    excludes: Filter,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Argument {
    index: u8,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: Operator,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum Operator {
    #[serde(rename = "SCMP_CMP_NE")]
    NotEqual,
    #[serde(rename = "SCMP_CMP_LT")]
    Less,
    #[serde(rename = "SCMP_CMP_LE")]
    LessOrEqual,
    #[serde(rename = "SCMP_CMP_EQ")]
    Equal,
    #[serde(rename = "SCMP_CMP_GE")]
    GreaterOrEqual,
    #[serde(rename = "SCMP_CMP_GT")]
    Greater,
    #[serde(rename = "SCMP_CMP_MASKED_EQ")]
    MaskedEqual,
}

/// `includes` or `excludes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    caps: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    arches: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_kernel: Option<String>,
}

/// What the container's machine is, for `includes` and `excludes`.
struct Host<'a> {
    /// Go's name for the architecture, as profiles write it.
    arch: &'static str,
    kernel: (u32, u32),
    capabilities: &'a [Capability],
}

impl Filter {
    /// Whether every condition holds (`includes`).
    fn all_hold(&self, host: &Host<'_>) -> bool {
        self.caps.iter().all(|cap| host.has(cap))
            && (self.arches.is_empty() || self.arches.iter().any(|arch| arch == host.arch))
            && self
                .min_kernel
                .as_deref()
                .is_none_or(|version| host.kernel >= parse_kernel(version))
    }

    /// Whether any condition holds (`excludes`).
    fn any_holds(&self, host: &Host<'_>) -> bool {
        self.caps.iter().any(|cap| host.has(cap))
            || self.arches.iter().any(|arch| arch == host.arch)
            || self
                .min_kernel
                .as_deref()
                .is_some_and(|version| host.kernel >= parse_kernel(version))
    }
}

impl Host<'_> {
    fn has(&self, name: &str) -> bool {
        self.capabilities
            .iter()
            .any(|cap| cap.to_string().eq_ignore_ascii_case(name))
    }
}

/// `major.minor` of a kernel release such as `6.1.0-18-amd64`; unparsable parts count as 0.
fn parse_kernel(release: &str) -> (u32, u32) {
    let mut numbers = release.split(['.', '-']).map(|part| {
        part.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or(0)
    });
    (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0))
}

/// The calls an action applies to: each always, or when one of its rules (conditions that
/// all hold) matches.
type Coverage = BTreeMap<i64, Option<Vec<Vec<Argument>>>>;

impl Profile {
    fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The filters for this machine and `capabilities`; `what` names the profile in errors.
    fn compile(
        &self,
        capabilities: &[Capability],
        what: &str,
    ) -> Result<Vec<BpfProgram>, SeccompError> {
        let invalid = |reason: String| SeccompError::Invalid {
            profile: what.to_string(),
            reason,
        };
        let arch = TargetArch::try_from(std::env::consts::ARCH)
            .map_err(|_| invalid(format!("{} is not supported", std::env::consts::ARCH)))?;
        let host = Host {
            arch: crate::arch::Arch::host().oci(),
            kernel: nix::sys::utsname::uname().map_or((0, 0), |name| {
                parse_kernel(&name.release().to_string_lossy())
            }),
            capabilities,
        };
        let default = action(&self.default_action, self.default_errno_ret).map_err(invalid)?;
        let by_action = self.resolve(&host).map_err(invalid)?;
        let mut filters = Vec::new();
        if default != SeccompAction::Allow {
            let mut all = Coverage::new();
            for (_, coverage) in &by_action {
                merge(&mut all, coverage);
            }
            filters.push(program(all, default, SeccompAction::Allow, arch).map_err(invalid)?);
        }
        for (entry_action, coverage) in by_action {
            if entry_action != SeccompAction::Allow && !coverage.is_empty() {
                filters.push(
                    program(coverage, SeccompAction::Allow, entry_action, arch).map_err(invalid)?,
                );
            }
        }
        Ok(filters)
    }

    /// The entries that apply on `host`, as the calls each action covers, in the order the
    /// actions first appear.
    fn resolve(&self, host: &Host<'_>) -> Result<Vec<(SeccompAction, Coverage)>, String> {
        let numbers = syscall_numbers_by_name();
        let mut by_action: Vec<(SeccompAction, Coverage)> = Vec::new();
        for entry in &self.syscalls {
            let entry_action = action(&entry.action, entry.errno_ret)?;
            if !entry.includes.all_hold(host) || entry.excludes.any_holds(host) {
                continue;
            }
            if !by_action.iter().any(|(known, _)| *known == entry_action) {
                by_action.push((entry_action.clone(), Coverage::new()));
            }
            let Some((_, coverage)) = by_action
                .iter_mut()
                .find(|(known, _)| *known == entry_action)
            else {
                continue;
            };
            let names = entry.names.iter().chain(&entry.name);
            for number in names.filter_map(|name| numbers.get(name.as_str())) {
                cover(coverage, *number, &entry.args);
            }
        }
        Ok(by_action)
    }
}

/// A profile's action name as seccompiler's action.
fn action(name: &str, errno: Option<u32>) -> Result<SeccompAction, String> {
    Ok(match name {
        "SCMP_ACT_ALLOW" => SeccompAction::Allow,
        "SCMP_ACT_ERRNO" => SeccompAction::Errno(errno.unwrap_or(EPERM)),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => SeccompAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => SeccompAction::KillProcess,
        "SCMP_ACT_TRAP" => SeccompAction::Trap,
        "SCMP_ACT_TRACE" => SeccompAction::Trace(errno.unwrap_or(EPERM)),
        "SCMP_ACT_LOG" => SeccompAction::Log,
        other => return Err(format!("the action `{other}` is not supported")),
    })
}

/// Add `number` under `args` to `coverage`. No arguments: always. Conditions on one argument
/// each: one rule with all of them. Two on the same argument: a rule each (runc's rule, so a
/// profile means on mlpack what it means on Docker).
fn cover(coverage: &mut Coverage, number: i64, args: &[Argument]) {
    let slot = coverage.entry(number).or_insert_with(|| Some(Vec::new()));
    let Some(rules) = slot else {
        return;
    };
    if args.is_empty() {
        *slot = None;
        return;
    }
    let repeated = args
        .iter()
        .enumerate()
        .any(|(i, arg)| args[..i].iter().any(|other| other.index == arg.index));
    if repeated {
        rules.extend(args.iter().map(|arg| vec![*arg]));
    } else {
        rules.push(args.to_vec());
    }
}

fn merge(into: &mut Coverage, from: &Coverage) {
    for (number, rules) in from {
        match rules {
            None => {
                into.insert(*number, None);
            }
            Some(rules) => {
                for rule in rules {
                    cover(into, *number, rule);
                }
            }
        }
    }
}

/// One seccompiler filter: `on_match` for the covered calls, `otherwise` for the rest.
fn program(
    coverage: Coverage,
    otherwise: SeccompAction,
    on_match: SeccompAction,
    arch: TargetArch,
) -> Result<BpfProgram, String> {
    let mut rules = BTreeMap::new();
    for (number, coverage) in coverage {
        let mut compiled = Vec::new();
        for rule in coverage.unwrap_or_default() {
            let conditions = rule
                .iter()
                .map(condition)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| error.to_string())?;
            compiled.push(SeccompRule::new(conditions).map_err(|error| error.to_string())?);
        }
        rules.insert(number, compiled);
    }
    let filter =
        SeccompFilter::new(rules, otherwise, on_match, arch).map_err(|error| error.to_string())?;
    BpfProgram::try_from(filter).map_err(|error| error.to_string())
}

/// A profile's comparison, on the whole 64-bit argument as libseccomp makes it.
fn condition(arg: &Argument) -> Result<SeccompCondition, seccompiler::BackendError> {
    let (operator, value) = match arg.op {
        Operator::NotEqual => (SeccompCmpOp::Ne, arg.value),
        Operator::Less => (SeccompCmpOp::Lt, arg.value),
        Operator::LessOrEqual => (SeccompCmpOp::Le, arg.value),
        Operator::Equal => (SeccompCmpOp::Eq, arg.value),
        Operator::GreaterOrEqual => (SeccompCmpOp::Ge, arg.value),
        Operator::Greater => (SeccompCmpOp::Gt, arg.value),
        // Docker's `value` is the mask and `valueTwo` what the masked argument must equal.
        Operator::MaskedEqual => (SeccompCmpOp::MaskedEq(arg.value), arg.value_two),
    };
    SeccompCondition::new(arg.index, SeccompCmpArgLen::Qword, operator, value)
}

/// This architecture's system call numbers by name.
fn syscall_numbers_by_name() -> BTreeMap<&'static str, i64> {
    (0..4096)
        .filter_map(|number| {
            syscall_numbers::native::sys_call_name(number).map(|name| (name, number))
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("invalid security option `{spec}`")]
    UnknownOption { spec: String },

    #[error("could not read the seccomp profile `{}`", path.display())]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("`{}` is not a seccomp profile in Docker's format", path.display())]
    Parse {
        path: std::path::PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("{profile} cannot be used: {reason}")]
    Invalid { profile: String, reason: String },
}

impl Diagnostic for SeccompError {
    /// The `--security-opt` value or the profile it names is at fault.
    fn is_user_error(&self) -> bool {
        true
    }

    fn hints(&self) -> Vec<String> {
        match self {
            Self::UnknownOption { .. } => vec![
                "mlpack takes `--security-opt seccomp=unconfined`, `seccomp=FILE` (a profile in Docker's JSON format) and `no-new-privileges`"
                    .to_string(),
            ],
            Self::Parse { .. } | Self::Invalid { .. } => vec![
                "start from Docker's default profile (https://github.com/moby/moby/blob/master/profiles/seccomp/default.json)"
                    .to_string(),
            ],
            Self::Read { .. } => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docker_capabilities() -> Vec<Capability> {
        super::super::capabilities::for_network(super::super::config::NetworkMode::None)
    }

    /// The default profile's names this architecture lacks: 32-bit calls and other
    /// architectures' own. A typo in the data file would show up here.
    #[test]
    fn default_profile_names_unknown_here_are_other_architectures() {
        let numbers = syscall_numbers_by_name();
        let profile = default_profile().unwrap();
        let mut unknown: Vec<&str> = profile
            .syscalls
            .iter()
            .flat_map(|entry| entry.names.iter())
            .map(String::as_str)
            .filter(|name| !numbers.contains_key(name))
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        let expected: &[&str] = if cfg!(target_arch = "x86_64") {
            &[
                "_llseek",
                "_newselect",
                "arm_fadvise64_64",
                "arm_sync_file_range",
                "breakpoint",
                "cacheflush",
                "chown32",
                "clock_adjtime64",
                "clock_getres_time64",
                "clock_gettime64",
                "clock_nanosleep_time64",
                "clock_settime64",
                "fadvise64_64",
                "fchown32",
                "fcntl64",
                "fstat64",
                "fstatat64",
                "fstatfs64",
                "ftruncate64",
                "futex_time64",
                "getegid32",
                "geteuid32",
                "getgid32",
                "getgroups32",
                "getresgid32",
                "getresuid32",
                "getuid32",
                "io_pgetevents_time64",
                "ipc",
                "lchown32",
                "lstat64",
                "mmap2",
                "mq_timedreceive_time64",
                "mq_timedsend_time64",
                "ppoll_time64",
                "pselect6_time64",
                "recv",
                "recvmmsg_time64",
                "riscv_flush_icache",
                "rt_sigtimedwait_time64",
                "s390_pci_mmio_read",
                "s390_pci_mmio_write",
                "s390_runtime_instr",
                "sched_rr_get_interval_time64",
                "semtimedop_time64",
                "send",
                "sendfile64",
                "set_tls",
                "setfsgid32",
                "setfsuid32",
                "setgid32",
                "setgroups32",
                "setregid32",
                "setresgid32",
                "setresuid32",
                "setreuid32",
                "setuid32",
                "sigprocmask",
                "sigreturn",
                "socketcall",
                "stat64",
                "statfs64",
                "stime",
                "swapcontext",
                "sync_file_range2",
                "timer_gettime64",
                "timer_settime64",
                "timerfd_gettime64",
                "timerfd_settime64",
                "truncate64",
                "ugetrlimit",
                "umount",
                "utimensat_time64",
                "waitpid",
            ]
        } else {
            return;
        };
        assert_eq!(unknown, expected);
    }

    #[test]
    fn default_profile_compiles_for_docker_capabilities() {
        let filters = Seccomp::Default.compile(&docker_capabilities()).unwrap();
        // The defaults' filter, then clone3's ENOSYS (no CAP_SYS_ADMIN).
        assert_eq!(filters.len(), 2);
        let mut admin = docker_capabilities();
        admin.push(Capability::CAP_SYS_ADMIN);
        assert_eq!(Seccomp::Default.compile(&admin).unwrap().len(), 1);
        assert!(Seccomp::Unconfined.compile(&admin).unwrap().is_empty());
    }

    #[test]
    fn capabilities_and_kernel_select_entries() {
        let host = Host {
            arch: "amd64",
            kernel: (5, 10),
            capabilities: &[Capability::CAP_SYS_ADMIN],
        };
        let filter = |json: &str| serde_json::from_str::<Filter>(json).unwrap();
        assert!(filter(r#"{"caps": ["CAP_SYS_ADMIN"]}"#).all_hold(&host));
        assert!(!filter(r#"{"caps": ["CAP_SYS_ADMIN", "CAP_BPF"]}"#).all_hold(&host));
        assert!(filter(r#"{"arches": ["arm64", "amd64"], "minKernel": "4.8"}"#).all_hold(&host));
        assert!(!filter(r#"{"minKernel": "5.11"}"#).all_hold(&host));
        assert!(filter(r#"{"caps": ["CAP_BPF", "CAP_SYS_ADMIN"]}"#).any_holds(&host));
        assert!(!filter(r#"{"arches": ["s390x"]}"#).any_holds(&host));
        assert!(filter("{}").all_hold(&host) && !filter("{}").any_holds(&host));
        assert_eq!(parse_kernel("6.18.44-fc-v1147"), (6, 18));
        assert_eq!(parse_kernel("4.19"), (4, 19));
    }

    /// Two conditions on one argument are two rules; on two arguments, one rule.
    #[test]
    fn conditions_combine_as_runc_combines_them() {
        let arg = |index, value| Argument {
            index,
            value,
            value_two: 0,
            op: Operator::Equal,
        };
        let mut coverage = Coverage::new();
        cover(&mut coverage, 1, &[arg(0, 1), arg(0, 2)]);
        cover(&mut coverage, 2, &[arg(0, 1), arg(1, 2)]);
        cover(&mut coverage, 3, &[arg(0, 1)]);
        cover(&mut coverage, 3, &[]);
        cover(&mut coverage, 3, &[arg(0, 2)]);
        assert_eq!(coverage[&1].as_ref().unwrap().len(), 2);
        assert_eq!(
            coverage[&2].as_ref().unwrap(),
            &[vec![arg(0, 1), arg(1, 2)]]
        );
        assert_eq!(
            coverage[&3], None,
            "an unconditional entry covers every call"
        );
    }

    #[test]
    fn bad_options_and_profiles_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let report = |spec: &str| {
            let error = Seccomp::from_security_opt(spec, dir.path()).unwrap_err();
            let text = format!("{error}\n\nhint: {}", error.hints().join("\n"));
            text.replace(&dir.path().display().to_string(), "[DIR]")
        };
        insta::assert_snapshot!(report("apparmor=unconfined"), @"
        invalid security option `apparmor=unconfined`

        hint: mlpack takes `--security-opt seccomp=unconfined`, `seccomp=FILE` (a profile in Docker's JSON format) and `no-new-privileges`
        ");
        fs_err::write(
            dir.path().join("notify.json"),
            r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#,
        )
        .unwrap();
        insta::assert_snapshot!(report("seccomp=notify.json"), @"
        [DIR]/notify.json cannot be used: the action `SCMP_ACT_NOTIFY` is not supported

        hint: start from Docker's default profile (https://github.com/moby/moby/blob/master/profiles/seccomp/default.json)
        ");
        fs_err::write(dir.path().join("list.json"), "[]").unwrap();
        assert!(
            report("seccomp=list.json").starts_with("`[DIR]/list.json` is not a seccomp profile")
        );
        assert_eq!(
            Seccomp::from_security_opt("no-new-privileges", dir.path()).unwrap(),
            None
        );
        assert_eq!(
            Seccomp::from_security_opt("seccomp=unconfined", dir.path()).unwrap(),
            Some(Seccomp::Unconfined)
        );
    }
}
