//! File-system trees built from untrusted archives: the rules every writer of a tree follows,
//! in one place. Image layers (`runtime`'s unpacking, `build`'s inspection of a base image,
//! `oci`'s tar writer), Debian roots (`debian`'s extraction and offline setup) and wheel
//! installs (`wheel`) all take paths, links and deletions from archives someone else made.
//!
//! - [`entry_path`]: which archive entry names are safe, and what they name below the root.
//! - [`Root`]: paths resolved inside a root as `chroot` would, symlinks followed by this code
//!   and never out of the root; [`create_file`] and [`clear`] replace without following.
//! - [`StagingTree`]: a tree where no symlink is followed at all (wheels); [`merge`] moves
//!   one such tree into another as installing its files there would.
//! - [`whiteout`]: OCI whiteouts in a tar and overlayfs's on disk; [`MergedView`]: a path as
//!   overlayfs resolves it through unpacked layers.
//! - [`PathWalk`]: the component-by-component symlink resolution the resolvers share;
//!   [`xattr`]: extended attributes of a path itself.

pub(crate) mod entry_path;
mod merged_view;
mod path_walk;
mod root;
mod staging;
pub(crate) mod whiteout;
pub(crate) mod xattr;

pub(crate) use self::entry_path::UnsafePath;
pub(crate) use self::merged_view::{Found, MergedView};
pub(crate) use self::path_walk::{PathWalk, Step};
pub(crate) use self::root::{Root, RootError, clear, create_file, set_mode};
pub(crate) use self::staging::{StagingError, StagingTree, merge};
