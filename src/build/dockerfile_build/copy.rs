//! `COPY`, `ADD` and `WORKDIR`: layers staged from the build context, another stage or an
//! image, with Docker's destination rules.
//!
//! 1. A relative destination is under `WORKDIR`. The destination is a directory when it
//!    ends in `/` (or is `.`), when there are several sources, or when it is a directory
//!    already; a source file lands in it under its own name, else at the destination path.
//! 2. A source directory's contents are copied, not the directory itself.
//! 3. Files keep their mode; owners are 0:0 (`--chown` sets them, by id or by a name from the
//!    stage's `/etc/passwd` and `/etc/group`; `--from` keeps the source's); `--chmod` sets
//!    the mode. Parents the copy creates get the `--chown` owner, existing ones keep theirs.
//! 4. `ADD` of a local tar (plain, gzip or xz) unpacks it into the destination.
//! 5. The cache key: the instruction and the content, mode and name of each file copied
//!    (not their times); for `--from`, the source stage's key.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::dockerfile::{CopyInstruction, CopySource, Instruction, Located};
use crate::oci::TempTree;

use super::super::BuildError;
use super::Executor;
use super::context::ContextEntry;
use super::error::located;
use super::lower::LowerTree;
use super::state::StageState;
use crate::error::FromIo;

/// Where a copy reads from.
enum Origin {
    Context,
    /// A stage's or image's layers, and the key of their content.
    Layers(Vec<crate::oci::Layer>, String),
}

/// A `COPY`'s parsed flags.
#[derive(Default)]
struct CopyFlags {
    from: Option<String>,
    chown: Option<String>,
    chmod: Option<u32>,
}

/// A source found: its path in the origin, what it is, and where its bytes are.
struct Found {
    name: String,
    path: PathBuf,
    /// `None` for a path in `--from`'s layers, read when the layer is made.
    metadata: Option<std::fs::Metadata>,
    /// A context directory's contents that `.dockerignore` keeps, parents first, by their
    /// path inside it.
    children: Vec<(String, PathBuf, std::fs::Metadata)>,
}

/// What a copy writes, decided before the layer is made.
struct Plan {
    dest: String,
    dest_is_dir: bool,
    sources: Vec<Found>,
    heredocs: Vec<(String, String)>,
    chown: Option<String>,
    chmod: Option<u32>,
    add: bool,
    from_layers: bool,
    /// `--from`'s layers.
    origin_layers: Vec<crate::oci::Layer>,
    /// The Dockerfile's name and the instruction, for errors found while staging.
    file: String,
    line: Located<()>,
}

impl Executor<'_, '_> {
    pub(super) fn copy(
        &mut self,
        state: &mut StageState,
        instruction: &Located<Instruction>,
        copy: &CopyInstruction,
    ) -> Result<(), BuildError> {
        let flags = self.copy_flags(state, instruction, copy)?;
        let origin = self.origin(instruction, flags.from.as_deref())?;
        let dest = self.expand_at(state, instruction, &copy.dest)?;
        let mut plan = Plan {
            dest_is_dir: dest.ends_with('/') || dest == "." || copy.sources.len() > 1,
            dest: absolute(&state.config.working_dir, &dest),
            sources: Vec::new(),
            heredocs: Vec::new(),
            chown: flags.chown,
            chmod: flags.chmod,
            add: copy.add,
            from_layers: matches!(origin, Origin::Layers(..)),
            origin_layers: match &origin {
                Origin::Layers(layers, _) => layers.clone(),
                Origin::Context => Vec::new(),
            },
            file: self.name.clone(),
            line: Located {
                line: instruction.line,
                source: instruction.source.clone(),
                value: (),
            },
        };
        if copy.sources.len() > 1 && !dest.ends_with('/') {
            return Err(self.at(
                instruction,
                "with several sources the destination must be a directory ending in `/`"
                    .to_string(),
            ));
        }
        let mut parts = vec![
            format!("copy add={}", copy.add),
            format!("dest {} {}", plan.dest, plan.dest_is_dir),
            format!("chown {:?} chmod {:?}", plan.chown, plan.chmod),
        ];
        if let Origin::Layers(_, key) = &origin {
            parts.push(format!("from {key}"));
        }
        for source in &copy.sources {
            match source {
                CopySource::Heredoc {
                    name,
                    content,
                    expand,
                } => {
                    let content = if *expand {
                        state
                            .expand_heredoc(self.file.escape, content)
                            .map_err(|error| self.at(instruction, error.to_string()))?
                    } else {
                        content.clone()
                    };
                    parts.push(format!(
                        "heredoc {name} {}",
                        crate::sha256::sha256_hex(content.as_bytes())
                    ));
                    plan.heredocs.push((name.clone(), content));
                }
                CopySource::Path(path) => {
                    let path = self.expand_at(state, instruction, path)?;
                    if copy.add
                        && (path.starts_with("http://")
                            || path.starts_with("https://")
                            || path.starts_with("git@"))
                    {
                        return Err(located(
                            &self.name,
                            instruction,
                            format!("`ADD {path}`: downloading is not supported by mlpack"),
                            vec!["download it in a `RUN` (`curl -fsSLo FILE URL`), or put the file in the build context".to_string()],
                        )
                        .into());
                    }
                    self.find_sources(instruction, &origin, &path, &mut parts, &mut plan)?;
                }
            }
        }
        state.advance(&parts);
        let key = state.key.clone();
        let description = format!("{}: {}", self.location(instruction), instruction.source);
        let builder = self.builder;
        let below: Vec<_> = state
            .layers
            .iter()
            .map(|(_, layer)| layer.clone())
            .collect();
        let layer = builder.cached_or_made(&key, description, || {
            let lower = LowerTree::open(builder, &below)?;
            let origin = LowerTree::open(builder, &plan.origin_layers)?;
            let staging = builder.staging()?;
            stage_copy(&plan, &lower, &origin, staging.path())?;
            write(builder, staging)
        })?;
        state.add_layer(format!("{} # buildkit", instruction.source), layer);
        Ok(())
    }

    fn expand_at(
        &self,
        state: &StageState,
        instruction: &Located<Instruction>,
        text: &str,
    ) -> Result<String, BuildError> {
        state
            .expand(self.file.escape, text)
            .map_err(|error| self.at(instruction, error.to_string()))
    }

    fn copy_flags(
        &self,
        state: &StageState,
        instruction: &Located<Instruction>,
        copy: &CopyInstruction,
    ) -> Result<CopyFlags, BuildError> {
        let mut flags = CopyFlags::default();
        for flag in &copy.flags {
            let value = self.expand_at(
                state,
                instruction,
                flag.value.as_deref().unwrap_or_default(),
            )?;
            match flag.name.as_str() {
                "from" if !copy.add => flags.from = Some(value),
                "chown" => flags.chown = Some(value),
                "chmod" => {
                    flags.chmod = Some(u32::from_str_radix(&value, 8).map_err(|_| {
                        self.at(
                            instruction,
                            format!("`--chmod={value}`: expected an octal mode such as `755`"),
                        )
                    })?);
                }
                "link" => {}
                other => return Err(self.at(instruction, format!("unknown flag `--{other}`"))),
            }
        }
        Ok(flags)
    }

    /// The layers `--from` names (a stage, built first, or an image), else the context.
    fn origin(
        &mut self,
        instruction: &Located<Instruction>,
        from: Option<&str>,
    ) -> Result<Origin, BuildError> {
        let Some(from) = from else {
            return Ok(Origin::Context);
        };
        if let Some(stage) = self.file.stage_index(from) {
            self.build_stage(stage)?;
            let state = self.stages[stage].as_ref().ok_or_else(|| {
                self.at(
                    instruction,
                    format!("`--from={from}` names this stage or a later one"),
                )
            })?;
            let layers = state
                .layers
                .iter()
                .map(|(_, layer)| layer.clone())
                .collect();
            return Ok(Origin::Layers(layers, state.key.clone()));
        }
        let line = Located {
            line: instruction.line,
            source: instruction.source.clone(),
            value: from.to_string(),
        };
        let image = self.base_image(&line, from)?;
        let key = image.manifest_digest()?.to_string();
        Ok(Origin::Layers(
            super::super::image_base::layers(&image)?,
            key,
        ))
    }

    /// Add what `path` names in `origin` to the plan and its description to `parts`.
    fn find_sources(
        &self,
        instruction: &Located<Instruction>,
        origin: &Origin,
        path: &str,
        parts: &mut Vec<String>,
        plan: &mut Plan,
    ) -> Result<(), BuildError> {
        match origin {
            Origin::Context => {
                let found = self.context.find(path)?;
                if found.is_empty() {
                    return Err(located(
                        &self.name,
                        instruction,
                        format!("`{path}`: no such file in the build context"),
                        vec!["the path is relative to the build context (the directory given to `mlpack build`), and `.dockerignore` may leave it out".to_string()],
                    )
                    .into());
                }
                for entry in found {
                    parts.push(self.context.describe(&entry, "")?);
                    let mut children = Vec::new();
                    if entry.metadata.is_dir() {
                        for inner in self.context.walk(&entry.relative)? {
                            parts.push(self.context.describe(&inner, &entry.relative)?);
                            let within = inner.relative[entry.relative.len()..]
                                .trim_start_matches('/')
                                .to_string();
                            children.push((within, inner.path, inner.metadata));
                        }
                    }
                    let mut found = from_context(entry);
                    found.children = children;
                    plan.sources.push(found);
                }
            }
            Origin::Layers(..) => {
                parts.push(format!("path {path}"));
                plan.sources.push(Found {
                    name: path.to_string(),
                    path: PathBuf::new(),
                    metadata: None,
                    children: Vec::new(),
                });
            }
        }
        Ok(())
    }

    /// `WORKDIR`: sets the working directory and creates it (a layer).
    pub(super) fn workdir(
        &mut self,
        state: &mut StageState,
        instruction: &Located<Instruction>,
        dir: &str,
    ) -> Result<(), BuildError> {
        let dir = absolute(&state.config.working_dir, dir);
        state.config.working_dir.clone_from(&dir);
        state.advance(&[format!("workdir {dir} as {}", state.config.user)]);
        let key = state.key.clone();
        let builder = self.builder;
        let below: Vec<_> = state
            .layers
            .iter()
            .map(|(_, layer)| layer.clone())
            .collect();
        let description = format!("{}: {}", self.location(instruction), instruction.source);
        let user = state.config.user.clone();
        let layer = builder.cached_or_made(&key, description, || {
            let lower = LowerTree::open(builder, &below)?;
            let staging = builder.staging()?;
            // As `BuildKit`: what `WORKDIR` creates belongs to the `USER` (moby/buildkit#1002).
            let owner = (!user.is_empty())
                .then(|| chown_ids(&lower, &user).ok())
                .flatten();
            make_dirs(&lower, staging.path(), &dir, owner)?;
            write(builder, staging)
        })?;
        state.add_layer(format!("WORKDIR {dir}"), layer);
        Ok(())
    }
}

fn from_context(entry: ContextEntry) -> Found {
    Found {
        name: entry.relative,
        path: entry.path,
        metadata: Some(entry.metadata),
        children: Vec::new(),
    }
}

/// `path` made absolute under `workdir`, cleaned; a trailing `/` is dropped.
fn absolute(workdir: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{workdir}/{path}")
    };
    format!("/{}", crate::dockerfile::ignore::clean(&joined).join("/"))
}

/// Write the staged tree as a layer and hand it to the runtime's layer cache, so the next
/// `RUN` unpacks nothing.
fn write(
    builder: &super::super::Builder<'_>,
    staging: TempTree,
) -> Result<crate::oci::Layer, BuildError> {
    builder.write_adopted(staging, true, |dir| {
        Ok(builder
            .writer
            .write_keeping_owners(builder.store, dir, false, &[])?)
    })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::io("write", path, source)
}

/// Create `dir` (absolute in the image) in `root`, each parent as the lower tree has it, or
/// owned by `owner` (else root) with mode 0755 where it does not exist.
fn make_dirs(
    lower: &LowerTree,
    root: &Path,
    dir: &str,
    owner: Option<(u32, u32)>,
) -> Result<(), BuildError> {
    let mut image_path = String::new();
    for component in crate::dockerfile::ignore::clean(dir) {
        image_path.push('/');
        image_path.push_str(&component);
        let staged = root.join(image_path.trim_start_matches('/'));
        if staged.is_dir() {
            continue;
        }
        fs_err::create_dir(&staged).map_err(io(&staged))?;
        let (uid, gid, mode) = if let Some(metadata) = lower
            .metadata(&image_path)
            .filter(std::fs::Metadata::is_dir)
        {
            (metadata.uid(), metadata.gid(), metadata.mode() & 0o7777)
        } else {
            let (uid, gid) = owner.unwrap_or((0, 0));
            (uid, gid, 0o755)
        };
        set_owner(&staged, uid, gid, mode)?;
    }
    Ok(())
}

fn set_owner(path: &Path, uid: u32, gid: u32, mode: u32) -> Result<(), BuildError> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(io(path))?;
    if !fs_err::symlink_metadata(path)
        .map_err(io(path))?
        .is_symlink()
    {
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io(path))?;
    }
    Ok(())
}

/// Stage everything `plan` copies into `root`.
fn stage_copy(
    plan: &Plan,
    lower: &LowerTree,
    origin: &LowerTree,
    root: &Path,
) -> Result<(), BuildError> {
    let owner = match plan.chown.as_deref() {
        Some(spec) => Some(chown_ids(lower, spec).map_err(|message| {
            BuildError::from(super::error::at(&plan.file, &plan.line, message))
        })?),
        None => None,
    };
    let dest_is_dir = plan.dest_is_dir || lower.is_dir(&plan.dest);
    let parent = if dest_is_dir {
        plan.dest.clone()
    } else {
        Path::new(&plan.dest)
            .parent()
            .map_or_else(|| "/".to_string(), |parent| parent.display().to_string())
    };
    make_dirs(lower, root, &parent, owner)?;
    let target_of = |name: &str| {
        if dest_is_dir {
            let base = Path::new(name)
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            root.join(plan.dest.trim_start_matches('/')).join(base)
        } else {
            root.join(plan.dest.trim_start_matches('/'))
        }
    };
    let apply = |path: &Path, source: &std::fs::Metadata| {
        let (uid, gid) = owner
            .or_else(|| plan.from_layers.then(|| (source.uid(), source.gid())))
            .unwrap_or((0, 0));
        let mode = plan.chmod.unwrap_or(source.mode() & 0o7777);
        set_owner(path, uid, gid, mode)
    };
    for (name, content) in &plan.heredocs {
        let target = target_of(name);
        fs_err::write(&target, content).map_err(io(&target))?;
        let mode = plan.chmod.unwrap_or(0o644);
        let (uid, gid) = owner.unwrap_or((0, 0));
        set_owner(&target, uid, gid, mode)?;
    }
    for source in &plan.sources {
        if plan.from_layers {
            let names = if crate::dockerfile::ignore::is_glob(&source.name) {
                origin.glob(&source.name)
            } else {
                vec![source.name.clone()]
            };
            let missing = || {
                BuildError::from(super::error::located(
                    &plan.file,
                    &plan.line,
                    format!(
                        "`{}`: no such file in the `--from` stage or image",
                        source.name
                    ),
                    vec!["`--from` paths are absolute in that stage's file system".to_string()],
                ))
            };
            if names.is_empty() {
                return Err(missing());
            }
            for name in names {
                let path = origin.find(&name).ok_or_else(missing)?;
                let metadata = fs_err::symlink_metadata(&path)
                    .map_err(|error| BuildError::io("read", &path, error))?;
                if metadata.is_dir() {
                    make_dirs(lower, root, &plan.dest, owner)?;
                    let dest = root.join(plan.dest.trim_start_matches('/'));
                    copy_merged_dir(origin, &name, &dest, &apply)?;
                } else {
                    copy_entry(&path, &target_of(&name), &metadata, &apply)?;
                }
            }
        } else if source
            .metadata
            .as_ref()
            .is_some_and(std::fs::Metadata::is_dir)
        {
            let dest = root.join(plan.dest.trim_start_matches('/'));
            make_dirs(lower, root, &plan.dest, owner)?;
            for (within, path, metadata) in &source.children {
                copy_entry(path, &dest.join(within), metadata, &apply)?;
            }
        } else if plan.add && is_archive(&source.path) {
            let dest = root.join(plan.dest.trim_start_matches('/'));
            make_dirs(lower, root, &plan.dest, owner)?;
            unpack(&source.path, &dest)?;
        } else if let Some(metadata) = &source.metadata {
            copy_entry(&source.path, &target_of(&source.name), metadata, &apply)?;
        }
    }
    Ok(())
}

/// Copy the contents of the merged directory `dir` of `tree` into `dest`.
fn copy_merged_dir(
    tree: &LowerTree,
    dir: &str,
    dest: &Path,
    apply: &dyn Fn(&Path, &std::fs::Metadata) -> Result<(), BuildError>,
) -> Result<(), BuildError> {
    for name in tree.list(dir) {
        let inner = format!("{}/{name}", dir.trim_end_matches('/'));
        let Some(path) = tree.find(&inner) else {
            continue;
        };
        let metadata = fs_err::symlink_metadata(&path)
            .map_err(|error| BuildError::io("read", &path, error))?;
        let to = dest.join(&name);
        copy_entry(&path, &to, &metadata, apply)?;
        if metadata.is_dir() {
            copy_merged_dir(tree, &inner, &to, apply)?;
        }
    }
    Ok(())
}

/// The uid and gid `--chown=USER[:GROUP]` names in the stage.
fn chown_ids(lower: &LowerTree, spec: &str) -> Result<(u32, u32), String> {
    let (user, group) = spec
        .split_once(':')
        .map_or((spec, None), |(user, group)| (user, Some(group)));
    let uid = lower.id_of("/etc/passwd", user).ok_or_else(|| {
        format!("`--chown={spec}`: no user `{user}` in the stage's `/etc/passwd`")
    })?;
    let gid = match group {
        Some(group) => lower.id_of("/etc/group", group).ok_or_else(|| {
            format!("`--chown={spec}`: no group `{group}` in the stage's `/etc/group`")
        })?,
        None => lower.group_of_user(user).unwrap_or(uid),
    };
    Ok((uid, gid))
}

/// Copy one file or link to `target`, owner and mode by `apply`.
fn copy_entry(
    source: &Path,
    target: &Path,
    metadata: &std::fs::Metadata,
    apply: &dyn Fn(&Path, &std::fs::Metadata) -> Result<(), BuildError>,
) -> Result<(), BuildError> {
    if target.symlink_metadata().is_ok() && !target.is_dir() {
        fs_err::remove_file(target).map_err(io(target))?;
    }
    if metadata.is_symlink() {
        let link =
            fs_err::read_link(source).map_err(|error| BuildError::io("read", source, error))?;
        fs_err::os::unix::fs::symlink(&link, target).map_err(io(target))?;
    } else if metadata.is_dir() {
        if !target.is_dir() {
            fs_err::create_dir(target).map_err(io(target))?;
        }
    } else {
        fs_err::copy(source, target).map_err(io(target))?;
    }
    apply(target, metadata)
}

/// Whether `path` starts like a tar, gzip or xz file.
fn is_archive(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0_u8; 262];
    let Ok(mut file) = fs_err::File::open(path) else {
        return false;
    };
    let read = file.read(&mut head).unwrap_or(0);
    head[..read].starts_with(&[0x1f, 0x8b])
        || head[..read].starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0])
        || (read >= 262 && &head[257..262] == b"ustar")
}

/// Unpack the archive at `path` into `dest` (the tar crate refuses entries that leave it).
fn unpack(path: &Path, dest: &Path) -> Result<(), BuildError> {
    use std::io::Read;
    let file = fs_err::File::open(path).map_err(|error| BuildError::io("read", path, error))?;
    let mut head = [0_u8; 6];
    let mut peek = fs_err::File::open(path).map_err(|error| BuildError::io("read", path, error))?;
    let read = peek.read(&mut head).unwrap_or(0);
    let reader: Box<dyn Read> = if head[..read].starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(file))
    } else if head[..read].starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Box::new(liblzma::read::XzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_overwrite(true);
    archive
        .unpack(dest)
        .map_err(|error| BuildError::io("unpack", path, error))
}
