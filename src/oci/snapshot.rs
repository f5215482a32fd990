//! The store's names and blobs as they were, to put back when what a command brought in is
//! refused after it was written (a `load` or `pull` of an image whose layers do not unpack):
//! `index.json`'s bytes and the list of blobs. The caller holds the store lock from the
//! snapshot to the restore, so nothing else changed either meanwhile.

use std::collections::BTreeSet;

use super::error::OciError;
use super::store::{INDEX_FILE, Store};
use crate::error::FromIo;

/// What [`Store::restore`] puts back.
#[derive(Debug, Clone)]
pub struct StoreSnapshot {
    index: Vec<u8>,
    blobs: BTreeSet<String>,
}

impl Store {
    /// Remember the names and blobs; call with the store lock held.
    pub fn snapshot(&self) -> Result<StoreSnapshot, OciError> {
        let index = self.root().join(INDEX_FILE);
        Ok(StoreSnapshot {
            index: fs_err::read(&index).map_err(|source| OciError::io("read", index, source))?,
            blobs: self.blob_names()?,
        })
    }

    /// Put `index.json` back as it was and remove the blobs written since `snapshot`; call
    /// with the store lock held since then.
    pub fn restore(&self, snapshot: &StoreSnapshot) -> Result<(), OciError> {
        let index = self.root().join(INDEX_FILE);
        if fs_err::read(&index).ok().as_deref() != Some(snapshot.index.as_slice()) {
            self.write_file_atomic(&index, &snapshot.index)?;
        }
        for name in self.blob_names()?.difference(&snapshot.blobs) {
            let path = self.blobs_dir().join(name);
            fs_err::remove_file(&path).map_err(|source| OciError::io("remove", path, source))?;
        }
        Ok(())
    }

    fn blob_names(&self) -> Result<BTreeSet<String>, OciError> {
        let dir = self.blobs_dir();
        let entries =
            fs_err::read_dir(&dir).map_err(|source| OciError::io("list", &dir, source))?;
        let mut names = BTreeSet::new();
        for entry in entries {
            let entry = entry.map_err(|source| OciError::io("list", &dir, source))?;
            names.insert(entry.file_name().to_string_lossy().into_owned());
        }
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use crate::oci::tests::{new_store, tagged_image};

    #[test]
    fn restore_puts_names_and_blobs_back() {
        let (_dir, store) = new_store();
        tagged_image(&store, "kept", "print('kept')\n");
        let before = store.snapshot().unwrap();
        let index = fs_err::read(store.root().join("index.json")).unwrap();
        let blobs = fs_err::read_dir(store.blobs_dir()).unwrap().count();
        // Another image under the same name, and a new one.
        tagged_image(&store, "kept", "print('replaced')\n");
        tagged_image(&store, "new", "print('new')\n");
        store.restore(&before).unwrap();
        assert_eq!(
            fs_err::read(store.root().join("index.json")).unwrap(),
            index
        );
        assert_eq!(fs_err::read_dir(store.blobs_dir()).unwrap().count(), blobs);
        assert!(store.resolve("kept").is_ok());
    }
}
