//! Content-addressed scene blobs: a folder of scenes stored under their hash. The coordinator
//! keeps the farm's scenes in one (the source of truth); workers cache what they fetch in one.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tessera_renderer::output::{Durability, OutputError, copy_file, write_with};

use super::archive::{self, ArchiveError};
use super::copy::{Failed, copy};
use super::hash::{SceneHash, SceneHasher};

#[derive(Debug, thiserror::Error)]
pub enum SceneStoreError {
    #[error("no scene with hash {0}")]
    Missing(SceneHash),
    #[error("scene blob does not match its hash: expected {expected}, got {actual}")]
    HashMismatch {
        expected: SceneHash,
        actual: SceneHash,
    },
    /// The blob could not be read from where it comes from (a download broke off).
    #[error("cannot read the scene being stored: {0}")]
    Source(std::io::Error),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("scene store I/O on '{}'", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] OutputError),
}

/// The name of a scene stored alone in its folder (the loader tells `.glb` from `.gltf` by
/// their bytes).
const ALONE: &str = "scene";

/// A cached scene used this recently is kept whatever the cache holds ([`SceneStore::trim`]):
/// a task in hand may be about to load it.
pub const RECENTLY_USED: Duration = Duration::from_secs(3600);

/// How the folders a scene is unpacked into begin, until they are complete and renamed.
const UNPACKING: &str = ".unpacking-";

/// Whether `name` is what an interrupted store left in the folder: a scene being unpacked, or
/// a blob being written (`.HASH.scene.RANDOM.tmp`, see `write_with`). Nothing else is touched:
/// the folder may be one other programs use too.
fn is_leftover(name: &str) -> bool {
    name.starts_with(UNPACKING)
        || name.strip_prefix('.').is_some_and(|rest| {
            rest.ends_with(".tmp")
                && rest
                    .split_once(".scene.")
                    .is_some_and(|(hash, _)| hash.parse::<SceneHash>().is_ok())
        })
}

/// Removes `path`, a file or a folder; one already gone (another trim) is no error.
fn remove(path: &Path) -> std::io::Result<()> {
    let removed = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match removed {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// A folder of blobs named by their hash. Used by the coordinator (the source of truth) and by
/// workers (a cache filled over HTTP).
#[derive(Clone, Debug)]
pub struct SceneStore {
    dir: PathBuf,
}

impl SceneStore {
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, SceneStoreError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|source| SceneStoreError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(Self { dir })
    }

    /// Where the blob of `hash` is (or would be).
    pub fn path(&self, hash: SceneHash) -> PathBuf {
        self.dir.join(format!("{hash}.scene"))
    }

    /// The file to load the scene of `hash` from, in a folder of its own beside the blob
    /// (made once): for a scene archive the scene in the folder it is unpacked into, for a
    /// scene stored alone the blob linked into a folder holding nothing else. A file the scene
    /// names then resolves inside that folder, never to another job's blob in this store.
    pub fn scene_file(&self, hash: SceneHash) -> Result<PathBuf, SceneStoreError> {
        let blob = self.path(hash);
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| SceneStoreError::Io { path, source }
        };
        // The header is enough to tell: a large .glb is not read for every tile.
        let mut head = Vec::with_capacity(512);
        std::fs::File::open(&blob)
            .and_then(|f| f.take(512).read_to_end(&mut head))
            .map_err(io(&blob))?;
        let packed = archive::is_archive(&head);
        let dir = self.dir.join(format!("{hash}.d"));
        if !dir.is_dir() {
            // Made aside and renamed, so a folder under its final name is complete.
            let tmp = tempfile::Builder::new()
                .prefix(UNPACKING)
                .tempdir_in(&self.dir)
                .map_err(io(&self.dir))?;
            if packed {
                archive::unpack_file(&blob, tmp.path())?;
            } else {
                let alone = tmp.path().join(ALONE);
                std::fs::hard_link(&blob, &alone)
                    .or_else(|_| std::fs::copy(&blob, &alone).map(drop))
                    .map_err(io(&alone))?;
            }
            if let Err(e) = std::fs::rename(tmp.path(), &dir)
                && !dir.is_dir()
            {
                return Err(io(&dir)(e));
            }
        }
        if packed {
            Ok(archive::scene_in(&dir)?)
        } else {
            Ok(dir.join(ALONE))
        }
    }

    pub fn contains(&self, hash: SceneHash) -> bool {
        self.path(hash).is_file()
    }

    /// Stores the file at `source`, whose hash the caller has taken (`SceneHash::of_file`: a
    /// submission is hashed once, for its quota and its name here). A blob under its hash is
    /// always complete, and on disk before this returns: a job recorded after it can rely on
    /// its scene.
    pub fn put_file(&self, source: &Path, hash: SceneHash) -> Result<(), SceneStoreError> {
        let path = self.path(hash);
        if !path.is_file() {
            copy_file(source, &path, Durability::CrashSafe)?;
        }
        Ok(())
    }

    /// Notes that the scene of `hash` is being used now (its blob's modification time), so that
    /// [`trim`](Self::trim) lets go of scenes unused for longest first.
    pub fn mark_used(&self, hash: SceneHash) -> Result<(), SceneStoreError> {
        let blob = self.path(hash);
        std::fs::File::options()
            .append(true)
            .open(&blob)
            .and_then(|f| f.set_modified(SystemTime::now()))
            .map_err(|source| SceneStoreError::Io { path: blob, source })
    }

    /// Lets go of the scenes unused for longest, each blob with its folder, until the store
    /// holds at most `max_bytes`, keeping `keep` and any scene used in the last
    /// [`RECENTLY_USED`] (so it may hold more); clears what an interrupted unpacking left. For
    /// a worker's cache: the coordinator's store is the farm's record and is never trimmed.
    /// Returns the scenes let go, with the bytes each held.
    pub fn trim(
        &self,
        max_bytes: u64,
        keep: SceneHash,
    ) -> Result<Vec<(SceneHash, u64)>, SceneStoreError> {
        let io = |source| SceneStoreError::Io {
            path: self.dir.clone(),
            source,
        };
        let now = SystemTime::now();
        let idle = |modified: std::io::Result<SystemTime>| {
            modified
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default()
        };
        let mut scenes = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            let stale = idle(meta.modified()) > RECENTLY_USED;
            if is_leftover(&name) && stale {
                remove(&entry.path()).map_err(io)?;
                continue;
            }
            // A folder whose blob went (a trim racing a use that unpacked it again).
            if let Some(hash) = name
                .strip_suffix(".d")
                .and_then(|h| h.parse::<SceneHash>().ok())
                && stale
                && !self.contains(hash)
            {
                remove(&entry.path()).map_err(io)?;
                continue;
            }
            let Some(hash) = name
                .strip_suffix(".scene")
                .and_then(|h| h.parse::<SceneHash>().ok())
            else {
                continue;
            };
            let folder = self.dir.join(format!("{hash}.d"));
            // A scene stored alone is linked into its folder and takes no more room there.
            let unpacked = if self.scene_file_is_alone(&folder) {
                0
            } else {
                folder_bytes(&folder)
            };
            scenes.push((idle(meta.modified()), hash, meta.len() + unpacked));
        }
        let mut held: u64 = scenes.iter().map(|s| s.2).sum();
        let mut let_go = Vec::new();
        scenes.sort_by_key(|s| std::cmp::Reverse(s.0));
        for (idle, hash, bytes) in scenes {
            if held <= max_bytes {
                break;
            }
            if hash == keep || idle < RECENTLY_USED {
                continue;
            }
            // The folder first: a blob without one is unpacked again when next used.
            remove(&self.dir.join(format!("{hash}.d"))).map_err(io)?;
            remove(&self.path(hash)).map_err(io)?;
            let_go.push((hash, bytes));
            held -= bytes;
        }
        Ok(let_go)
    }

    fn scene_file_is_alone(&self, folder: &Path) -> bool {
        std::fs::read_dir(folder).is_ok_and(|entries| {
            let names: Vec<_> = entries.flatten().map(|e| e.file_name()).collect();
            names.len() == 1 && names[0] == ALONE
        })
    }

    /// Stores what `source` reads (a blob from elsewhere, a download), which must hash to
    /// `expected`: written to disk as it arrives, never whole in memory, and stored under its
    /// hash only once it has matched.
    pub fn put_checked(
        &self,
        expected: SceneHash,
        source: impl Read,
    ) -> Result<(), SceneStoreError> {
        let path = self.path(expected);
        if path.is_file() {
            return Ok(());
        }
        write_with(&path, Durability::CrashSafe, |file| {
            let mut hasher = SceneHasher::default();
            copy(source, |piece| {
                hasher.update(piece);
                file.write_all(piece)
            })
            .map_err(|failed| match failed {
                Failed::Reading(e) => SceneStoreError::Source(e),
                Failed::Storing(source) => SceneStoreError::Io {
                    path: path.clone(),
                    source,
                },
            })?;
            match hasher.finish() {
                actual if actual == expected => Ok(()),
                actual => Err(SceneStoreError::HashMismatch { expected, actual }),
            }
        })
    }
}

/// Bytes of the files under `folder` (none when it is missing); links are not followed.
fn folder_bytes(folder: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => folder_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_stored_under_their_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let store = SceneStore::open(dir.path().join("scenes")).unwrap();
        let source = dir.path().join("abc.glb");
        std::fs::write(&source, b"abc").unwrap();
        let hash = SceneHash::of_file(&source).unwrap();
        store.put_file(&source, hash).unwrap();
        assert_eq!(
            hash.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hash.to_string().parse::<SceneHash>().unwrap(), hash);
        assert_eq!(std::fs::read(store.path(hash)).unwrap(), b"abc");
        assert!(store.contains(hash));
        assert!(!store.contains(SceneHash::of(b"other")));
    }

    #[test]
    fn a_scene_stored_alone_reaches_no_other_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = SceneStore::open(dir.path()).unwrap();
        let other = b"another job's scene";
        let victim = SceneHash::of(other);
        store.put_checked(victim, &other[..]).unwrap();
        // A buffer naming the other blob as the store keeps it, beside this scene's own blob.
        let gltf = format!(
            r#"{{"asset":{{"version":"2.0"}},"buffers":[{{"uri":"{victim}.scene","byteLength":19}}]}}"#
        );
        let hash = SceneHash::of(gltf.as_bytes());
        store.put_checked(hash, gltf.as_bytes()).unwrap();
        let file = store.scene_file(hash).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), gltf.as_bytes());
        let folder: Vec<_> = std::fs::read_dir(file.parent().unwrap()).unwrap().collect();
        assert_eq!(folder.len(), 1, "the scene is alone in its folder");
        let Err(e) = tessera_renderer::scene::Scene::load(&file) else {
            panic!("the scene read another job's blob");
        };
        assert!(e.to_string().contains(&format!("{victim}.scene")), "{e}");
        assert_eq!(store.scene_file(hash).unwrap(), file, "made once");
    }

    #[test]
    fn a_trimmed_cache_lets_go_of_the_scenes_unused_for_longest() {
        let dir = tempfile::tempdir().unwrap();
        let store = SceneStore::open(dir.path()).unwrap();
        let hour = Duration::from_secs(3600);
        // Four scenes of 100 bytes, unused for 4, 3, 2 and 1 hours, each with its folder.
        let scenes: Vec<SceneHash> = (1..=4u32)
            .map(|i| {
                let bytes = [i as u8; 100];
                let hash = SceneHash::of(&bytes);
                store.put_checked(hash, &bytes[..]).unwrap();
                store.scene_file(hash).unwrap();
                std::fs::File::options()
                    .append(true)
                    .open(store.path(hash))
                    .unwrap()
                    .set_modified(SystemTime::now() - hour * (5 - i))
                    .unwrap();
                hash
            })
            .collect();
        store.trim(250, scenes[0]).unwrap();
        let kept: Vec<bool> = scenes.iter().map(|&h| store.contains(h)).collect();
        assert_eq!(kept, [true, false, false, true], "the kept one stays");
        assert!(!dir.path().join(format!("{}.d", scenes[1])).exists());
        // What an interrupted store left goes once stale; what else lies there stays.
        let leftovers = [
            format!("{UNPACKING}x1y2"),
            format!(".{}.scene.abc.tmp", scenes[0]),
        ];
        let others = [".tmpab12".to_owned(), "notes.txt".to_owned()];
        for name in leftovers.iter().chain(&others) {
            let path = dir.path().join(name);
            std::fs::write(&path, b"x").unwrap();
            std::fs::File::options()
                .append(true)
                .open(&path)
                .unwrap()
                .set_modified(SystemTime::now() - 2 * hour)
                .unwrap();
        }
        store.trim(u64::MAX, scenes[0]).unwrap();
        assert!(leftovers.iter().all(|n| !dir.path().join(n).exists()));
        assert!(others.iter().all(|n| dir.path().join(n).exists()));
        // A scene used just now stays, whatever the cache holds.
        store.mark_used(scenes[3]).unwrap();
        store.trim(0, scenes[0]).unwrap();
        assert!(store.contains(scenes[3]) && store.contains(scenes[0]));
    }

    #[test]
    fn a_blob_that_does_not_match_its_hash_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = SceneStore::open(dir.path()).unwrap();
        let expected = SceneHash::of(b"scene");
        let err = store.put_checked(expected, &b"tampered"[..]).unwrap_err();
        assert!(matches!(err, SceneStoreError::HashMismatch { .. }), "{err}");
        assert!(!store.contains(expected));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing left behind"
        );
        store.put_checked(expected, &b"scene"[..]).unwrap();
        assert!(store.contains(expected));
    }

    #[test]
    fn a_download_that_breaks_off_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = SceneStore::open(dir.path()).unwrap();
        let bytes = vec![7u8; 300_000];
        let expected = SceneHash::of(&bytes);
        let broken = (&bytes[..200_000]).chain(BreaksOff);
        let err = store.put_checked(expected, broken).unwrap_err();
        assert!(matches!(err, SceneStoreError::Source(_)), "{err}");
        assert!(err.to_string().contains("connection reset"), "{err}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing left behind"
        );
        store.put_checked(expected, &bytes[..]).unwrap();
        assert_eq!(std::fs::read(store.path(expected)).unwrap(), bytes);
    }

    /// A source that fails as a dropped connection does.
    struct BreaksOff;

    impl Read for BreaksOff {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "connection reset",
            ))
        }
    }
}
