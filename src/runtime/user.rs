//! `mlpack run --user` (`docker run -u`): a user spec resolved against the container's own
//! `/etc/passwd` and `/etc/group`, never the host's, the way runc's `GetExecUser` does it.
//!
//! Specs: <https://docs.docker.com/reference/dockerfile/#user>,
//! <https://github.com/opencontainers/runc/blob/v1.2.0/libcontainer/user/user.go>, passwd(5), group(5).

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};

use crate::error::{Diagnostic, FromIo, IoError};

/// runc's bounds for IDs: `0..=2^31-1`, which keeps them clear of `-1` (`(uid_t) -1` means
/// "unchanged" to `setresuid`).
const MAX_ID: u32 = i32::MAX.unsigned_abs();
/// More than any real `/etc/passwd`; stops an image from making the runtime read gigabytes.
const MAX_FILE_BYTES: u64 = 64 << 20;

/// Who a container's process runs as.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ContainerUser {
    pub uid: u32,
    pub gid: u32,
    /// Every group for `setgroups`: the primary `gid` first, then the groups whose member
    /// lists name the user (only when no group was given, as in runc). Docker puts the
    /// primary group in since the fix for CVE-2023-25173.
    pub additional_gids: Vec<u32>,
    /// The home directory from passwd, or `/` when unknown, like Docker.
    pub home: String,
}

impl ContainerUser {
    /// Resolve `spec` (`None` = the image's default = root; `name`, `uid`, `name:group`,
    /// `uid:gid`, `name:gid`, `uid:group`) against `etc` = the container's `/etc` dir (files
    /// `passwd` and `group`; either may be missing).
    ///
    /// The steps follow runc's `GetExecUser`:
    /// 1. A numeric user is always a UID, a name is looked up; the first passwd match wins.
    /// 2. A UID with no passwd entry is allowed, with GID 0 and home `/`; an unknown name is not.
    /// 3. An explicit group replaces the passwd GID: a number is always a GID (listed in
    ///    `/etc/group` or not), a name must be listed.
    /// 4. Without one, a user found in passwd also gets the groups that list it as a member.
    pub fn resolve(spec: Option<&str>, etc: &Path) -> Result<Self, UserSpecError> {
        let (user, group) = match spec {
            // runc's default is "the current user", uid 0, looked up like `0` would be.
            None => (Id::Number(0), None),
            Some(spec) => parse_spec(spec)?,
        };
        let passwd = EtcFile::read(etc, "passwd")?;
        let (mut resolved, name) = Self::from_passwd(user, &passwd)?;
        let mut member_of = Vec::new();
        if group.is_some() || name.is_some() {
            let groups = EtcFile::read(etc, "group")?;
            match (group, name) {
                (Some(group), _) => resolved.gid = find_gid(group, &groups)?,
                (None, Some(name)) => member_of = groups.member_of(name),
                (None, None) => {}
            }
        }
        resolved.additional_gids.push(resolved.gid);
        for gid in member_of {
            if !resolved.additional_gids.contains(&gid) {
                resolved.additional_gids.push(gid);
            }
        }
        Ok(resolved)
    }

    /// Steps 1 and 2: the user, and its passwd name when it has an entry.
    fn from_passwd<'a>(
        user: Id<'_>,
        passwd: &'a EtcFile,
    ) -> Result<(Self, Option<&'a str>), UserSpecError> {
        let entry = passwd
            .passwd_entries()
            .find(|entry| user.matches(entry.name, entry.uid));
        match (entry, user) {
            (Some(entry), _) => Ok((
                Self {
                    uid: entry.uid,
                    gid: entry.gid,
                    additional_gids: Vec::new(),
                    home: entry.home.to_string(),
                },
                Some(entry.name),
            )),
            (None, Id::Number(uid)) => Ok((
                Self {
                    uid,
                    gid: 0,
                    additional_gids: Vec::new(),
                    home: "/".to_string(),
                },
                None,
            )),
            (None, Id::Name(name)) => Err(UserSpecError::UnknownUser {
                name: name.to_string(),
                path: passwd.path.clone(),
                file_exists: passwd.text.is_some(),
                suggestion: closest(name, passwd.passwd_entries().map(|entry| entry.name)),
            }),
        }
    }
}

/// Step 3: an explicit group's GID.
fn find_gid(group: Id<'_>, groups: &EtcFile) -> Result<u32, UserSpecError> {
    let entry = groups
        .group_entries()
        .find(|entry| group.matches(entry.name, entry.gid));
    match (entry, group) {
        (Some(entry), _) => Ok(entry.gid),
        (None, Id::Number(gid)) => Ok(gid),
        (None, Id::Name(name)) => Err(UserSpecError::UnknownGroup {
            name: name.to_string(),
            path: groups.path.clone(),
            file_exists: groups.text.is_some(),
            suggestion: closest(name, groups.group_entries().map(|entry| entry.name)),
        }),
    }
}

/// `passwd` or `group` from the container's `/etc`; `text` is `None` when the image has none.
struct EtcFile {
    path: PathBuf,
    text: Option<String>,
}

impl EtcFile {
    fn read(etc: &Path, name: &str) -> Result<Self, UserSpecError> {
        Ok(Self {
            path: etc.join(name),
            text: read_etc_file(etc, name)?,
        })
    }

    fn passwd_entries(&self) -> impl Iterator<Item = PasswdEntry<'_>> {
        self.text.as_deref().map(parse_passwd).into_iter().flatten()
    }

    fn group_entries(&self) -> impl Iterator<Item = GroupEntry<'_>> {
        self.text.as_deref().map(parse_group).into_iter().flatten()
    }

    /// Step 4: the GIDs of the groups whose member lists name `user`.
    fn member_of(&self, user: &str) -> Vec<u32> {
        self.group_entries()
            .filter(|entry| entry.members.clone().any(|member| member.trim() == user))
            .map(|entry| entry.gid)
            .collect()
    }
}

/// One side of a spec: runc treats anything that parses as a number as an ID.
#[derive(Debug, Clone, Copy)]
enum Id<'a> {
    Number(u32),
    Name(&'a str),
}

impl Id<'_> {
    fn matches(self, entry_name: &str, entry_id: u32) -> bool {
        match self {
            Id::Number(id) => id == entry_id,
            Id::Name(name) => name == entry_name,
        }
    }
}

fn parse_spec(spec: &str) -> Result<(Id<'_>, Option<Id<'_>>), UserSpecError> {
    let invalid = |reason| UserSpecError::Invalid {
        spec: spec.to_string(),
        reason,
    };
    if spec.is_empty() {
        return Err(invalid("it is empty"));
    }
    let (user, group) = match spec.split_once(':') {
        None => (spec, None),
        Some((_, group)) if group.contains(':') => {
            return Err(invalid("it has more than one `:`"));
        }
        Some((user, group)) => (user, Some(group)),
    };
    if user.is_empty() {
        return Err(invalid("the user before `:` is empty"));
    }
    if group == Some("") {
        return Err(invalid("the group after `:` is empty"));
    }
    let user = parse_id(spec, user, "user")?;
    let group = group
        .map(|group| parse_id(spec, group, "group"))
        .transpose()?;
    Ok((user, group))
}

fn parse_id<'a>(spec: &str, text: &'a str, what: &'static str) -> Result<Id<'a>, UserSpecError> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Ok(Id::Name(text));
    }
    match text.parse::<u32>() {
        Ok(id) if id <= MAX_ID => Ok(Id::Number(id)),
        _ => Err(UserSpecError::OutOfRange {
            spec: spec.to_string(),
            what,
            value: text.to_string(),
        }),
    }
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: std::str::Split<'a, char>,
}

/// `name:password:UID:GID:GECOS:directory:shell`; lines without a name or with non-numeric
/// IDs (including NIS `+`/`-` lines) are skipped, and the trailing fields may be missing.
fn parse_passwd(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    entry_lines(text).filter_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next().filter(|name| !name.is_empty())?;
        let _password = fields.next()?;
        let uid = fields.next()?.trim().parse().ok()?;
        let gid = fields.next()?.trim().parse().ok()?;
        let _gecos = fields.next();
        let home = fields.next().filter(|home| !home.is_empty()).unwrap_or("/");
        Some(PasswdEntry {
            name,
            uid,
            gid,
            home,
        })
    })
}

/// `name:password:GID:user_list`, the list comma-separated and possibly missing.
fn parse_group(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    entry_lines(text).filter_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next().filter(|name| !name.is_empty())?;
        let _password = fields.next()?;
        let gid = fields.next()?.trim().parse().ok()?;
        let members = fields.next().unwrap_or_default().split(',');
        Some(GroupEntry { name, gid, members })
    })
}

fn entry_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
}

/// Reads `etc/<name>`, or `None` when it does not exist.
///
/// The file belongs to the image, which may make it a symlink, even an absolute one
/// (`/etc/passwd -> /etc/passwd.d/all`). Those are resolved inside the container's root
/// (`etc`'s parent) with `openat2(RESOLVE_IN_ROOT)`, as Docker resolves them "in scope":
/// followed on the host, a link could make the runtime read the host's files. `O_NONBLOCK`
/// keeps a FIFO from hanging the open.
fn read_etc_file(etc: &Path, name: &str) -> Result<Option<String>, UserSpecError> {
    let path = etc.join(name);
    let file = match open_in_root(etc, name) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(UserSpecError::io("read", path, source)),
    };
    let is_file = file
        .metadata()
        .map_err(|source| UserSpecError::io("read", &path, source))?
        .is_file();
    if !is_file {
        return Err(UserSpecError::NotAFile { path });
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|source| UserSpecError::io("read", path, source))?;
    // Names are ASCII in practice; a stray byte should cost one line, not the file.
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

fn open_in_root(etc: &Path, name: &str) -> io::Result<File> {
    let flags = OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
    let (root, relative) = match (etc.parent(), etc.file_name()) {
        (Some(parent), Some(dir)) if !parent.as_os_str().is_empty() => {
            (parent, Path::new(dir).join(name))
        }
        (Some(_), Some(dir)) => (Path::new("."), Path::new(dir).join(name)),
        _ => (etc, PathBuf::from(name)),
    };
    let root_dir = File::open(root)?;
    let how = OpenHow::new()
        .flags(flags)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    match openat2(&root_dir, relative.as_path(), how) {
        Ok(fd) => Ok(File::from(fd)),
        // Kernels before 5.6 (and some seccomp profiles) lack `openat2`: refuse to follow a
        // final symlink rather than follow it out of the root.
        Err(Errno::ENOSYS | Errno::EPERM) => std::fs::OpenOptions::new()
            .read(true)
            .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
            .open(root.join(relative)),
        Err(errno) => Err(errno.into()),
    }
}

/// The name in `names` most like `wanted`, for a "did you mean" hint.
fn closest<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> Option<String> {
    names
        .map(|name| (strsim::jaro_winkler(wanted, name), name))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name.to_string())
}

#[derive(Debug, thiserror::Error)]
pub enum UserSpecError {
    #[error("invalid user `{spec}`: {reason}")]
    Invalid { spec: String, reason: &'static str },

    #[error("{what} ID `{value}` in `{spec}` is out of range: IDs go from 0 to {max}", max = MAX_ID)]
    OutOfRange {
        spec: String,
        what: &'static str,
        value: String,
    },

    #[error("no user `{name}` in `{}`{}", path.display(), missing_note(*file_exists))]
    UnknownUser {
        name: String,
        path: PathBuf,
        file_exists: bool,
        /// A passwd name close to `name`, for the hint.
        suggestion: Option<String>,
    },

    #[error("no group `{name}` in `{}`{}", path.display(), missing_note(*file_exists))]
    UnknownGroup {
        name: String,
        path: PathBuf,
        file_exists: bool,
        suggestion: Option<String>,
    },

    #[error("`{}` is not a regular file", path.display())]
    NotAFile { path: PathBuf },

    #[error(transparent)]
    Io(#[from] IoError),
}

fn missing_note(file_exists: bool) -> &'static str {
    if file_exists {
        ""
    } else {
        " (the image has no such file)"
    }
}

impl Diagnostic for UserSpecError {
    /// The `--user` value or the image's user database is at fault.
    fn is_user_error(&self) -> bool {
        true
    }

    fn hints(&self) -> Vec<String> {
        match self {
            Self::Invalid { .. } => vec![
                "write `--user` as `name`, `uid`, `name:group` or `uid:gid`, like `--user 1000:1000`"
                    .to_string(),
            ],
            Self::OutOfRange { .. } => vec![format!("use an ID from 0 to {MAX_ID}")],
            Self::UnknownUser {
                name, suggestion, ..
            } => vec![format!(
                "{}give a numeric ID (`--user 1000`), which needs no entry, or create the user in the image (`useradd {name}`)",
                did_you_mean(suggestion.as_deref())
            )],
            Self::UnknownGroup {
                name, suggestion, ..
            } => vec![format!(
                "{}give a numeric GID (`--user name:1000`), which needs no entry, or create the group in the image (`groupadd {name}`)",
                did_you_mean(suggestion.as_deref())
            )],
            Self::NotAFile { .. } | Self::Io(_) => Vec::new(),
        }
    }
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |name| format!("did you mean `{name}`? Or "))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    const PASSWD: &str = "\
# comment, then a blank line

root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
this line is malformed
+::::::
bad:x:notanumber:1:bad:/bad:/bin/sh
alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash
nohome:x:1001:1001
alice:x:1002:1002:second alice:/elsewhere:/bin/sh
";

    const GROUP: &str = "\
# groups
root:x:0:
daemon:x:1:
garbage
alice:x:1000:
audio:x:29:alice,bob
video:x:44: bob , alice
users:x:100:bob
wheel:x:10:root
self:x:1000:alice
";

    /// A root file system with `etc/passwd` and `etc/group` where given.
    fn rootfs(passwd: Option<&str>, group: Option<&str>) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let etc = root.path().join("etc");
        fs::create_dir(&etc).unwrap();
        if let Some(passwd) = passwd {
            fs::write(etc.join("passwd"), passwd).unwrap();
        }
        if let Some(group) = group {
            fs::write(etc.join("group"), group).unwrap();
        }
        root
    }

    fn resolve(root: &tempfile::TempDir, spec: Option<&str>) -> ContainerUser {
        ContainerUser::resolve(spec, &root.path().join("etc")).unwrap()
    }

    fn user(uid: u32, gid: u32, additional_gids: &[u32], home: &str) -> ContainerUser {
        ContainerUser {
            uid,
            gid,
            additional_gids: additional_gids.to_vec(),
            home: home.to_string(),
        }
    }

    /// The message and its hint, as the CLI prints them, with the root shown as `[ROOT]`.
    fn error(root: &tempfile::TempDir, spec: Option<&str>) -> String {
        let error = ContainerUser::resolve(spec, &root.path().join("etc")).unwrap_err();
        let mut text = error.to_string();
        for hint in error.hints() {
            text = format!("{text}\n\nhint: {hint}");
        }
        text.replace(&root.path().display().to_string(), "[ROOT]")
    }

    #[test]
    fn default_is_root_from_passwd() {
        let root = rootfs(Some(PASSWD), Some(GROUP));
        assert_eq!(resolve(&root, None), user(0, 0, &[0, 10], "/root"));
        assert_eq!(resolve(&root, Some("root")), resolve(&root, None));
        assert_eq!(resolve(&root, Some("0")), resolve(&root, None));
    }

    #[test]
    fn name_gets_passwd_ids_home_and_member_groups() {
        let root = rootfs(Some(PASSWD), Some(GROUP));
        // `self` repeats the primary GID 1000, which appears once.
        assert_eq!(
            resolve(&root, Some("alice")),
            user(1000, 1000, &[1000, 29, 44], "/home/alice")
        );
        assert_eq!(
            resolve(&root, Some("daemon")),
            user(1, 1, &[1], "/usr/sbin")
        );
    }

    #[test]
    fn numeric_uid_uses_its_passwd_entry() {
        let root = rootfs(Some(PASSWD), Some(GROUP));
        assert_eq!(
            resolve(&root, Some("1000")),
            user(1000, 1000, &[1000, 29, 44], "/home/alice")
        );
        // The first of two entries wins, by name and by UID alike.
        assert_eq!(resolve(&root, Some("1002")).home, "/elsewhere");
    }

    #[test]
    fn unknown_numeric_uid_is_allowed() {
        let root = rootfs(Some(PASSWD), Some(GROUP));
        assert_eq!(resolve(&root, Some("4242")), user(4242, 0, &[0], "/"));
        assert_eq!(resolve(&root, Some("4242:44")), user(4242, 44, &[44], "/"));
        assert_eq!(
            resolve(&root, Some("4242:audio")),
            user(4242, 29, &[29], "/")
        );
    }

    #[test]
    fn explicit_group_replaces_gid_and_member_groups() {
        let root = rootfs(Some(PASSWD), Some(GROUP));
        assert_eq!(
            resolve(&root, Some("alice:users")),
            user(1000, 100, &[100], "/home/alice")
        );
        assert_eq!(
            resolve(&root, Some("alice:4242")),
            user(1000, 4242, &[4242], "/home/alice")
        );
        assert_eq!(
            resolve(&root, Some("1000:44")),
            user(1000, 44, &[44], "/home/alice")
        );
    }

    #[test]
    fn skips_comments_blank_and_malformed_lines() {
        let root = rootfs(Some(PASSWD), Some(GROUP));
        // A passwd line with only four fields still counts; its home falls back to `/`.
        assert_eq!(
            resolve(&root, Some("nohome")),
            user(1001, 1001, &[1001], "/")
        );
        assert!(ContainerUser::resolve(Some("bad"), &root.path().join("etc")).is_err());
        assert!(ContainerUser::resolve(Some("garbage:x"), &root.path().join("etc")).is_err());
    }

    #[test]
    fn missing_files() {
        let root = rootfs(None, None);
        assert_eq!(resolve(&root, None), user(0, 0, &[0], "/"));
        assert_eq!(
            resolve(&root, Some("1000:1000")),
            user(1000, 1000, &[1000], "/")
        );
        insta::assert_snapshot!(error(&root, Some("alice")), @"
        no user `alice` in `[ROOT]/etc/passwd` (the image has no such file)

        hint: give a numeric ID (`--user 1000`), which needs no entry, or create the user in the image (`useradd alice`)
        ");
        insta::assert_snapshot!(error(&root, Some("0:staff")), @"
        no group `staff` in `[ROOT]/etc/group` (the image has no such file)

        hint: give a numeric GID (`--user name:1000`), which needs no entry, or create the group in the image (`groupadd staff`)
        ");
    }

    #[test]
    fn unknown_names() {
        let root = rootfs(Some(PASSWD), Some(GROUP));
        insta::assert_snapshot!(error(&root, Some("alcie")), @"
        no user `alcie` in `[ROOT]/etc/passwd`

        hint: did you mean `alice`? Or give a numeric ID (`--user 1000`), which needs no entry, or create the user in the image (`useradd alcie`)
        ");
        insta::assert_snapshot!(error(&root, Some("alice:staff")), @"
        no group `staff` in `[ROOT]/etc/group`

        hint: give a numeric GID (`--user name:1000`), which needs no entry, or create the group in the image (`groupadd staff`)
        ");
    }

    #[test]
    fn invalid_specs() {
        let root = rootfs(Some(PASSWD), Some(GROUP));
        let messages: Vec<String> = ["", ":", "alice:", ":audio", "a:b:c", "-1", "1:4294967296"]
            .into_iter()
            .map(|spec| {
                let error = ContainerUser::resolve(Some(spec), &root.path().join("etc"));
                error.unwrap_err().to_string()
            })
            .collect();
        insta::assert_snapshot!(messages.join("\n"), @"
        invalid user ``: it is empty
        invalid user `:`: the user before `:` is empty
        invalid user `alice:`: the group after `:` is empty
        invalid user `:audio`: the user before `:` is empty
        invalid user `a:b:c`: it has more than one `:`
        user ID `-1` in `-1` is out of range: IDs go from 0 to 2147483647
        group ID `4294967296` in `1:4294967296` is out of range: IDs go from 0 to 2147483647
        ");
        insta::assert_snapshot!(error(&root, Some("")), @"
        invalid user ``: it is empty

        hint: write `--user` as `name`, `uid`, `name:group` or `uid:gid`, like `--user 1000:1000`
        ");
    }

    /// An absolute link in the image means the image's file, not the host's.
    #[test]
    fn symlinks_resolve_inside_the_root() {
        let root = rootfs(None, Some(GROUP));
        let etc = root.path().join("etc");
        fs::write(
            etc.join("passwd.real"),
            "root:x:0:0:root:/root:/bin/sh\nimage:x:7:7::/image:/bin/sh\n",
        )
        .unwrap();
        std::os::unix::fs::symlink("/etc/passwd.real", etc.join("passwd")).unwrap();
        assert_eq!(resolve(&root, Some("image")), user(7, 7, &[7], "/image"));

        // `..` stops at the root: this finds the root's `passwd.real`, where on the host
        // it would name `/passwd.real`.
        fs::write(
            root.path().join("passwd.real"),
            "image:x:8:8::/climbed:/bin/sh\n",
        )
        .unwrap();
        fs::remove_file(etc.join("passwd")).unwrap();
        std::os::unix::fs::symlink("../../../../../../../../passwd.real", etc.join("passwd"))
            .unwrap();
        assert_eq!(resolve(&root, Some("image")), user(8, 8, &[8], "/climbed"));
    }

    #[test]
    fn refuses_a_fifo() {
        let root = rootfs(None, None);
        let passwd = root.path().join("etc/passwd");
        nix::unistd::mkfifo(&passwd, nix::sys::stat::Mode::S_IRUSR).unwrap();
        insta::assert_snapshot!(error(&root, Some("alice")), @"`[ROOT]/etc/passwd` is not a regular file");
    }
}
